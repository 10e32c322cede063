//! Memorisation vs generalisation probe: fit a linear map left → right on the
//! training pairs, then retrieve each mapped left row among the right rows of
//! the same split. A map that only memorises pairs retrieves well on the
//! training split and at chance (top-1 ≈ 1/n_withheld) on the withheld split; a
//! systematic name↔identifier relation generalises.
//!
//! Both sides are centred with the training rows' means and scaled to unit rows.
//! Maps (x ↦ xW):
//! - orthogonal Procrustes: W = U Vᵀ from the SVD XᵀY = U S Vᵀ (training rows);
//! - ridge: W = (XᵀX + λI)⁻¹ XᵀY, λ chosen by seeded k-fold CV on the training
//!   rows (smallest summed squared error over a log grid), then refitted on all
//!   training rows.

use ndarray::{Array2, ArrayView2, Axis};
use rand::{seq::SliceRandom, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::retrieval::rank_both;
use super::{check_pair, MIN_ROWS};
use crate::error::{Error, Result};
use crate::linalg::{from_nd16, to_nd16};

/// Options of [`probe`].
#[derive(Debug, Clone, Serialize)]
pub struct ProbeConfig {
    /// Cross-validation folds for the ridge penalty (default 5).
    pub folds: usize,
    /// Candidate penalties (default 13 values, 10^-3 … 10^3 in half decades).
    pub lambdas: Vec<f64>,
    /// Seed of the fold assignment.
    pub seed: u64,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        ProbeConfig {
            folds: 5,
            lambdas: (0..13).map(|i| 10f64.powf(-3.0 + 0.5 * i as f64)).collect(),
            seed: 42,
        }
    }
}

/// Retrieval of mapped left rows on each split.
#[derive(Debug, Clone, Serialize)]
pub struct MapScores {
    pub train_top1: f64,
    pub train_top10: f64,
    pub withheld_top1: f64,
    pub withheld_top10: f64,
    /// train_top1 − withheld_top1.
    pub gap: f64,
    /// Chosen ridge penalty (None for Procrustes).
    pub lambda: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Probe {
    pub n_train: usize,
    pub n_withheld: usize,
    /// Withheld top-1 of a map that knows nothing: 1 / n_withheld.
    pub chance_withheld_top1: f64,
    pub procrustes: MapScores,
    pub ridge: MapScores,
}

/// Fits both maps on rows with `train[i] == true` and scores them on both splits.
pub fn probe(
    left: ArrayView2<f32>,
    right: ArrayView2<f32>,
    train: &[bool],
    config: &ProbeConfig,
) -> Result<Probe> {
    check_pair(left, right)?;
    if train.len() != left.nrows() {
        return Err(Error::data(
            "probe",
            format!(
                "split mask has {} entries for {} rows",
                train.len(),
                left.nrows()
            ),
        ));
    }
    if config.folds < 2 {
        return Err(Error::param("folds", format!("{} < 2", config.folds)));
    }
    if config.lambdas.is_empty() || config.lambdas.iter().any(|l| !(l.is_finite() && *l > 0.0)) {
        return Err(Error::param(
            "lambdas",
            "need at least one finite penalty > 0",
        ));
    }
    let tr: Vec<usize> = (0..train.len()).filter(|&i| train[i]).collect();
    let wh: Vec<usize> = (0..train.len()).filter(|&i| !train[i]).collect();
    if tr.len() < MIN_ROWS.max(config.folds) || wh.len() < MIN_ROWS {
        return Err(Error::data(
            "probe",
            format!(
                "{} training and {} withheld rows; need ≥ {} and ≥ {MIN_ROWS}",
                tr.len(),
                wh.len(),
                MIN_ROWS.max(config.folds)
            ),
        ));
    }
    let x = prepare(left, &tr)?;
    let y = prepare(right, &tr)?;
    let (xt, yt) = (x.select(Axis(0), &tr), y.select(Axis(0), &tr));
    let (xw, yw) = (x.select(Axis(0), &wh), y.select(Axis(0), &wh));

    let procrustes_w = procrustes(&xt, &yt)?;
    let lambda = choose_lambda(&xt, &yt, config)?;
    let ridge_w = ridge_solutions(&xt, &yt, &[lambda])?.remove(0);
    let score = |w: &Array2<f64>, lambda: Option<f64>| {
        let (t1, t10) = top_k(&xt.dot(w), &yt);
        let (w1, w10) = top_k(&xw.dot(w), &yw);
        MapScores {
            train_top1: t1,
            train_top10: t10,
            withheld_top1: w1,
            withheld_top10: w10,
            gap: t1 - w1,
            lambda,
        }
    };
    Ok(Probe {
        n_train: tr.len(),
        n_withheld: wh.len(),
        chance_withheld_top1: 1.0 / wh.len() as f64,
        procrustes: score(&procrustes_w, None),
        ridge: score(&ridge_w, Some(lambda)),
    })
}

/// Rows minus the training mean, scaled to unit length (zero rows stay zero), f64.
fn prepare(x: ArrayView2<f32>, train: &[usize]) -> Result<Array2<f64>> {
    let x = x.mapv(|v| v as f64);
    let mean = x
        .select(Axis(0), train)
        .mean_axis(Axis(0))
        .ok_or_else(|| Error::too_few("probe training rows", 0, MIN_ROWS))?;
    let mut c = x - &mean;
    for mut row in c.outer_iter_mut() {
        let norm = row.dot(&row).sqrt();
        if norm > 0.0 {
            row /= norm;
        }
    }
    Ok(c)
}

/// W = U Vᵀ from the SVD of XᵀY: the rotation minimising ‖XW − Y‖.
fn procrustes(x: &Array2<f64>, y: &Array2<f64>) -> Result<Array2<f64>> {
    use linfa_linalg::svd::SVD;
    let m = to_nd16(&x.t().dot(y));
    let (u, _, vt) = m
        .svd(true, true)
        .map_err(|e| Error::data("procrustes", format!("SVD failed: {e}")))?;
    let (Some(u), Some(vt)) = (u, vt) else {
        return Err(Error::data(
            "procrustes",
            "SVD returned no singular vectors",
        ));
    };
    Ok(from_nd16(&u).dot(&from_nd16(&vt)))
}

/// Ridge maps for several penalties from one eigendecomposition of XᵀX:
/// W(λ) = Q diag(1/(μ + λ)) Qᵀ XᵀY.
fn ridge_solutions(x: &Array2<f64>, y: &Array2<f64>, lambdas: &[f64]) -> Result<Vec<Array2<f64>>> {
    use linfa_linalg::eigh::Eigh;
    let (mu, q) = to_nd16(&x.t().dot(x))
        .eigh()
        .map_err(|e| Error::data("ridge", format!("eigendecomposition failed: {e}")))?;
    let q = from_nd16(&q);
    let c = q.t().dot(&x.t().dot(y));
    Ok(lambdas
        .iter()
        .map(|&l| {
            let mut scaled = c.clone();
            for (mut row, &m) in scaled.outer_iter_mut().zip(mu.iter()) {
                row /= m.max(0.0) + l;
            }
            q.dot(&scaled)
        })
        .collect())
}

/// Penalty with the smallest summed squared held-out error over seeded folds.
fn choose_lambda(x: &Array2<f64>, y: &Array2<f64>, config: &ProbeConfig) -> Result<f64> {
    let n = x.nrows();
    let mut idx: Vec<usize> = (0..n).collect();
    idx.shuffle(&mut ChaCha8Rng::seed_from_u64(config.seed));
    let mut errors = vec![0.0; config.lambdas.len()];
    for f in 0..config.folds {
        let held: Vec<usize> = idx
            .iter()
            .enumerate()
            .filter(|(p, _)| p % config.folds == f)
            .map(|(_, &i)| i)
            .collect();
        let fit: Vec<usize> = idx
            .iter()
            .enumerate()
            .filter(|(p, _)| p % config.folds != f)
            .map(|(_, &i)| i)
            .collect();
        let (xf, yf) = (x.select(Axis(0), &fit), y.select(Axis(0), &fit));
        let (xh, yh) = (x.select(Axis(0), &held), y.select(Axis(0), &held));
        for (e, w) in errors
            .iter_mut()
            .zip(ridge_solutions(&xf, &yf, &config.lambdas)?)
        {
            *e += (xh.dot(&w) - &yh).mapv(|v| v * v).sum();
        }
    }
    let best = (0..errors.len())
        .min_by(|&a, &b| errors[a].total_cmp(&errors[b]))
        .ok_or_else(|| Error::param("lambdas", "need at least one finite penalty > 0"))?;
    Ok(config.lambdas[best])
}

/// Top-1 and top-10 of mapped rows retrieving their partner among `targets`.
fn top_k(mapped: &Array2<f64>, targets: &Array2<f64>) -> (f64, f64) {
    let unit = |a: &Array2<f64>| {
        let mut out = a.mapv(|v| v as f32);
        for mut row in out.outer_iter_mut() {
            let norm = row.dot(&row).sqrt();
            if norm > 0.0 {
                row /= norm;
            }
        }
        out
    };
    let (ranks, _) = rank_both(&unit(mapped), &unit(targets), 512, 1e-6);
    let n = ranks.len() as f64;
    let hits = |k: f64| ranks.iter().filter(|&&r| r <= k).count() as f64 / n;
    (hits(1.0), hits(10.0))
}
