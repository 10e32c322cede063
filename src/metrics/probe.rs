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
//!
//! The whole ridge path comes from one eigendecomposition XᵀX = Q diag(μ) Qᵀ of
//! the training rows: W(λ) = Q diag(1/(μ + λ)) QᵀXᵀY for every λ, and each fold's
//! held-out error in closed form (no refit): with H = X (XᵀX + λI)⁻¹ Xᵀ and the
//! all-rows residuals R = Y − XW(λ), the rows F of a fold, predicted by the ridge
//! map fitted without them, miss by E_F = (I − H_FF)⁻¹ R_F (the block form of the
//! leave-one-out identity, exact by the Woodbury formula). Only H_FF (|F| × |F|)
//! is solved per fold and λ, so the selection equals refitting on each fold's
//! complement, at the cost of a few small matrix products.

use ndarray::{Array2, ArrayView2, Axis};
use rand::{seq::SliceRandom, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::retrieval::rank_both;
use super::{check_pair, MIN_ROWS};
use crate::error::{Error, Result, ResultExt};
use crate::linalg::{eigh, matmul, solve, svd};

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

impl ProbeConfig {
    /// Rows the probe needs: (training, withheld).
    pub fn min_rows(&self) -> (usize, usize) {
        (MIN_ROWS.max(self.folds), MIN_ROWS)
    }
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
    let (need_tr, need_wh) = config.min_rows();
    if tr.len() < need_tr || wh.len() < need_wh {
        return Err(Error::data(
            "probe",
            format!(
                "{} training and {} withheld rows; need ≥ {need_tr} and ≥ {need_wh}",
                tr.len(),
                wh.len(),
            ),
        ));
    }
    let x = prepare(left, &tr)?;
    let y = prepare(right, &tr)?;
    let (xt, yt) = (x.select(Axis(0), &tr), y.select(Axis(0), &tr));
    let (xw, yw) = (x.select(Axis(0), &wh), y.select(Axis(0), &wh));

    let procrustes_w = procrustes(&xt, &yt)?;
    let path = RidgePath::new(&xt, &yt)?;
    let lambda = choose_lambda(&path, &yt, config)?;
    let ridge_w = path.weights(lambda);
    let score = |w: &Array2<f64>, lambda: Option<f64>| {
        let (t1, t10) = top_k(&matmul(xt.view(), w.view()), &yt);
        let (w1, w10) = top_k(&matmul(xw.view(), w.view()), &yw);
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
    let m = matmul(x.t(), y.view());
    let (u, _, vt) = svd(&m).context("procrustes")?;
    Ok(matmul(u.view(), vt.view()))
}

/// The ridge path of the training rows from one eigendecomposition of XᵀX.
struct RidgePath {
    /// Eigenvalues of XᵀX, clamped at 0 (rounding can make them slightly negative).
    mu: Vec<f64>,
    /// Eigenvectors of XᵀX (columns).
    q: Array2<f64>,
    /// Z = XQ: the rows in the eigenbasis.
    z: Array2<f64>,
    /// C = QᵀXᵀY.
    c: Array2<f64>,
}

impl RidgePath {
    fn new(x: &Array2<f64>, y: &Array2<f64>) -> Result<Self> {
        let (mu, q) = eigh(&matmul(x.t(), x.view())).context("ridge")?;
        let z = matmul(x.view(), q.view());
        let c = matmul(q.t(), matmul(x.t(), y.view()).view());
        Ok(RidgePath {
            mu: mu.iter().map(|m| m.max(0.0)).collect(),
            q,
            z,
            c,
        })
    }

    /// W(λ) = Q diag(1/(μ + λ)) C.
    fn weights(&self, lambda: f64) -> Array2<f64> {
        let mut scaled = self.c.clone();
        for (mut row, &m) in scaled.outer_iter_mut().zip(&self.mu) {
            row /= m + lambda;
        }
        matmul(self.q.view(), scaled.view())
    }

    /// Summed squared error on the rows `held` of the ridge map fitted on all the
    /// other rows: ‖(I − H_FF)⁻¹ R_F‖², with H_FF = Z_F G Z_Fᵀ, R_F = Y_F − Z_F G C
    /// and G = diag(1/(μ + λ)).
    fn held_out_error(&self, y: &Array2<f64>, held: &[usize], lambda: f64) -> f64 {
        let zf = self.z.select(Axis(0), held);
        let mut zg = zf.clone();
        for mut row in zg.outer_iter_mut() {
            row.iter_mut()
                .zip(&self.mu)
                .for_each(|(v, m)| *v /= m + lambda);
        }
        let mut b = matmul(zg.view(), zf.t());
        b.mapv_inplace(|v| -v);
        b.diag_mut().mapv_inplace(|v| v + 1.0);
        let r = y.select(Axis(0), held) - matmul(zg.view(), self.c.view());
        solve(&b, &r).mapv(|v| v * v).sum()
    }
}

/// Penalty with the smallest summed squared held-out error over seeded folds.
fn choose_lambda(path: &RidgePath, y: &Array2<f64>, config: &ProbeConfig) -> Result<f64> {
    let n = y.nrows();
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
        for (e, &l) in errors.iter_mut().zip(&config.lambdas) {
            *e += path.held_out_error(y, &held, l);
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

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    fn random(rng: &mut ChaCha8Rng, n: usize, d: usize) -> Array2<f64> {
        Array2::from_shape_fn((n, d), |_| rng.gen::<f64>() - 0.5)
    }

    /// The closed-form fold error equals refitting the ridge map without the fold,
    /// also with fewer rows than dimensions in the fit (XᵀX singular) and λ tiny.
    #[test]
    fn held_out_error_equals_refit() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for (n, d, k) in [(60, 8, 5), (30, 40, 3), (12, 5, 12)] {
            let x = random(&mut rng, n, d);
            let y = &x.dot(&random(&mut rng, d, 4)) + &random(&mut rng, n, 4);
            let path = RidgePath::new(&x, &y).unwrap();
            for lambda in [1e-3, 0.1, 10.0] {
                for f in 0..k {
                    let held: Vec<usize> = (0..n).filter(|i| i % k == f).collect();
                    let fit: Vec<usize> = (0..n).filter(|i| i % k != f).collect();
                    let (xf, yf) = (x.select(Axis(0), &fit), y.select(Axis(0), &fit));
                    let w = RidgePath::new(&xf, &yf).unwrap().weights(lambda);
                    let (xh, yh) = (x.select(Axis(0), &held), y.select(Axis(0), &held));
                    let refit = (xh.dot(&w) - &yh).mapv(|v| v * v).sum();
                    let closed = path.held_out_error(&y, &held, lambda);
                    assert!(
                        (closed - refit).abs() <= 1e-9 * refit.max(1e-12),
                        "n={n} d={d} λ={lambda} fold {f}: {closed} vs refit {refit}"
                    );
                }
            }
            // λ → W solves the normal equations
            let w = path.weights(0.5);
            let normal = x.t().dot(&x).dot(&w) + &(&w * 0.5);
            let want = x.t().dot(&y);
            assert!((&normal - &want).iter().all(|v| v.abs() < 1e-9));
        }
    }
}
