//! PCA projection of embedding rows to k dimensions (for figures).
//!
//! Two exact routes, both returning the leading eigenvectors of the covariance
//! of the centred rows:
//! - the covariance route (the default): C = XcᵀXc/(n−1) accumulated over row
//!   blocks in f64, then a symmetric eigendecomposition (faer). One pass over
//!   the data; 2,400 × 576 decoder rows take well under a second where the
//!   linfa route took 13–17 s (2026-11-26), and above [`LARGE_N`] rows only it is used.
//! - linfa-reduction's `Pca` ([`PcaRoute::Linfa`], a cross-check), asked for all
//!   min(n, d) components so its LOBPCG solver starts from the whole space (its
//!   first Rayleigh–Ritz step is then a full eigendecomposition) and truncated
//!   to k. The data are scaled to unit Frobenius norm first so its absolute
//!   stopping tolerance is reachable. Its result is checked (finite,
//!   orthonormal, eigen-residual small, descending); a failure or panic falls
//!   back to the covariance route.
//!
//! Variances are always computed here, not taken from linfa-reduction (whose
//! explained variance divides by the number of components and whose ratio is
//! normalised over the retained components only): explained_variance_j =
//! ‖Xc v_j‖²/(n−1) = s_j²/(n−1), ratio_j = explained_variance_j / trace(C).
//! Sign convention: each component's largest-|value| loading is positive.
//!
//! ```
//! use ndarray::array;
//! use lexalign::project::fit_pca;
//! let x = array![[0.0f32, 0.0], [2.0, 0.0], [0.0, 1.0], [2.0, 1.0]];
//! let pca = fit_pca(x.view(), 1).unwrap();
//! assert!((pca.components[[0, 0]] - 1.0).abs() < 1e-9); // x varies most
//! assert!((pca.explained_variance_ratio[0] - 0.8).abs() < 1e-9); // 4/3 of 5/3
//! ```

use std::panic::{catch_unwind, AssertUnwindSafe};

use ndarray::{s, Array1, Array2, ArrayView2, Axis};
use rayon::prelude::*;
use serde::Serialize;

use crate::error::{Error, Result, ResultExt};
use crate::linalg::{from_nd16, to_nd16};

/// Above this many rows the covariance route is used even when linfa is asked for.
pub const LARGE_N: usize = 20_000;

const BLOCK: usize = 4096;

/// Which exact route produced the components.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PcaMethod {
    LinfaReduction,
    Covariance,
}

/// A fitted PCA.
#[derive(Debug, Clone, Serialize)]
pub struct Pca {
    pub n: usize,
    pub dim: usize,
    pub method: PcaMethod,
    /// Column means (d).
    #[serde(serialize_with = "rows_of")]
    pub mean: Array1<f64>,
    /// Unit principal axes as rows (k × d), by decreasing variance.
    #[serde(serialize_with = "rows_of")]
    pub components: Array2<f64>,
    /// Variance along each axis: s_j² / (n − 1).
    pub explained_variance: Vec<f64>,
    /// explained_variance / total_variance.
    pub explained_variance_ratio: Vec<f64>,
    /// s_j = ‖Xc v_j‖, singular values of the centred data.
    pub singular_values: Vec<f64>,
    /// trace of the covariance = Σ over all components of the variance.
    pub total_variance: f64,
}

/// Serialises an array as nested lists (ndarray's serde feature is off).
fn rows_of<D: ndarray::Dimension, S: serde::Serializer>(
    a: &ndarray::Array<f64, D>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    if a.ndim() == 1 {
        return s.collect_seq(a.iter());
    }
    let view = a
        .view()
        .into_dimensionality::<ndarray::Ix2>()
        .map_err(serde::ser::Error::custom)?;
    let mut seq = s.serialize_seq(Some(view.nrows()))?;
    for row in view.outer_iter() {
        seq.serialize_element(&row.to_vec())?;
    }
    seq.end()
}

/// Which route [`fit_pca_with`] may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PcaRoute {
    /// The covariance route (faer).
    Auto,
    /// Always the covariance route.
    Covariance,
    /// linfa-reduction up to [`LARGE_N`] rows (covariance if it fails), covariance above.
    Linfa,
}

/// Fits a k-component PCA to the rows of `x` (automatic route).
pub fn fit_pca(x: ArrayView2<f32>, k: usize) -> Result<Pca> {
    fit_pca_with(x, k, PcaRoute::Auto)
}

/// Fits a k-component PCA to the rows of `x` by the given route.
pub fn fit_pca_with(x: ArrayView2<f32>, k: usize, route: PcaRoute) -> Result<Pca> {
    let (n, d) = x.dim();
    if n < 2 {
        return Err(Error::data("pca", format!("{n} rows; need at least 2")));
    }
    if d == 0 {
        return Err(Error::data("pca", "rows have zero dimensions"));
    }
    if k == 0 || k > n.min(d) {
        return Err(Error::param(
            "components",
            format!(
                "{k} is not in 1..={} (min of {n} rows and {d} dimensions)",
                n.min(d)
            ),
        ));
    }
    crate::metrics::check_finite("pca input", x)?;
    let mean = column_mean(x);
    let total_ss = centred_sum_of_squares(x, &mean);
    let total_variance = total_ss / (n - 1) as f64;
    let linfa = if route == PcaRoute::Linfa && n <= LARGE_N {
        linfa_components(x, &mean, total_ss, k)
    } else {
        None
    };
    let (method, components) = match linfa {
        Some(c) => (PcaMethod::LinfaReduction, c),
        None => (PcaMethod::Covariance, covariance_components(x, &mean, k)?),
    };
    let components = orient(components);
    let ss = projected_sum_of_squares(x, &mean, &components);
    let explained_variance: Vec<f64> = ss.iter().map(|s| s / (n - 1) as f64).collect();
    Ok(Pca {
        n,
        dim: d,
        method,
        explained_variance_ratio: explained_variance
            .iter()
            .map(|v| {
                if total_variance > 0.0 {
                    v / total_variance
                } else {
                    0.0
                }
            })
            .collect(),
        singular_values: ss.iter().map(|s| s.sqrt()).collect(),
        explained_variance,
        total_variance,
        mean,
        components,
    })
}

impl Pca {
    /// Coordinates of the rows of `x` on the components: (x − mean) Vᵀ.
    pub fn project(&self, x: ArrayView2<f32>) -> Result<Array2<f32>> {
        if x.ncols() != self.dim {
            return Err(Error::data(
                "pca projection",
                format!(
                    "rows have {} dimensions; the PCA was fitted on {}",
                    x.ncols(),
                    self.dim
                ),
            ));
        }
        let vt = self.components.t();
        let blocks: Vec<Array2<f32>> = (0..x.nrows())
            .into_par_iter()
            .step_by(BLOCK)
            .map(|start| {
                let end = (start + BLOCK).min(x.nrows());
                let xc = x.slice(s![start..end, ..]).mapv(|v| v as f64) - &self.mean;
                xc.dot(&vt).mapv(|v| v as f32)
            })
            .collect();
        let views: Vec<_> = blocks.iter().map(|b| b.view()).collect();
        ndarray::concatenate(Axis(0), &views)
            .map_err(|e| Error::data("pca projection", e.to_string()))
    }
}

fn column_mean(x: ArrayView2<f32>) -> Array1<f64> {
    let mut sum = Array1::<f64>::zeros(x.ncols());
    for row in x.outer_iter() {
        sum.zip_mut_with(&row, |s, &v| *s += v as f64);
    }
    sum / x.nrows() as f64
}

fn centred_sum_of_squares(x: ArrayView2<f32>, mean: &Array1<f64>) -> f64 {
    sum_over_blocks(
        x.nrows(),
        0.0,
        |rows| {
            x.slice(s![rows, ..])
                .outer_iter()
                .map(|row| {
                    row.iter()
                        .zip(mean)
                        .map(|(&v, m)| (v as f64 - m).powi(2))
                        .sum::<f64>()
                })
                .sum()
        },
        |a, b| a + b,
    )
}

/// `f` of each block of BLOCK rows, in parallel, added up in block order: the same bits
/// whatever the thread count or scheduling (rayon's `sum`/`reduce` split adaptively, so
/// their association of float additions varies from run to run).
fn sum_over_blocks<T: Send>(
    n: usize,
    zero: T,
    f: impl Fn(std::ops::Range<usize>) -> T + Sync,
    add: impl Fn(T, T) -> T,
) -> T {
    let parts: Vec<T> = (0..n)
        .into_par_iter()
        .step_by(BLOCK)
        .map(|start| f(start..(start + BLOCK).min(n)))
        .collect();
    parts.into_iter().fold(zero, add)
}

/// ‖Xc v_j‖² per component.
fn projected_sum_of_squares(
    x: ArrayView2<f32>,
    mean: &Array1<f64>,
    comps: &Array2<f64>,
) -> Vec<f64> {
    sum_over_blocks(
        x.nrows(),
        vec![0.0; comps.nrows()],
        |rows| {
            let xc = x.slice(s![rows, ..]).mapv(|v| v as f64) - mean;
            let p = xc.dot(&comps.t());
            p.map_axis(Axis(0), |c| c.iter().map(|v| v * v).sum::<f64>())
                .to_vec()
        },
        |a, b| a.iter().zip(&b).map(|(x, y)| x + y).collect(),
    )
}

/// Flips each row so its largest-|value| entry is positive.
fn orient(mut comps: Array2<f64>) -> Array2<f64> {
    for mut row in comps.outer_iter_mut() {
        let big = row
            .iter()
            .cloned()
            .fold(0.0f64, |a, v| if v.abs() > a.abs() { v } else { a });
        if big < 0.0 {
            row.mapv_inplace(|v| -v);
        }
    }
    comps
}

/// linfa-reduction's components, truncated to k, or None if it fails any check.
fn linfa_components(
    x: ArrayView2<f32>,
    mean: &Array1<f64>,
    total_ss: f64,
    k: usize,
) -> Option<Array2<f64>> {
    use linfa::traits::Fit;
    let (n, d) = x.dim();
    if total_ss <= 0.0 {
        return None;
    }
    let scale = total_ss.sqrt();
    let xc = (x.mapv(|v| v as f64) - mean) / scale;
    let data = linfa::DatasetBase::from(to_nd16(&xc));
    let fitted = catch_unwind(AssertUnwindSafe(|| {
        linfa_reduction::Pca::params(n.min(d)).fit(&data).ok()
    }))
    .ok()??;
    let all = from_nd16(fitted.components());
    if all.nrows() < k {
        return None;
    }
    let comps = all.slice(s![..k, ..]).to_owned();
    check_eigvectors(&xc, &comps).then_some(comps)
}

/// Finite, orthonormal, eigenvectors of XcᵀXc (scaled to trace 1) to 1e-9 and
/// in decreasing order of eigenvalue.
fn check_eigvectors(xc: &Array2<f64>, comps: &Array2<f64>) -> bool {
    if comps.iter().any(|v| !v.is_finite()) {
        return false;
    }
    let gram = comps.dot(&comps.t());
    let k = comps.nrows();
    for i in 0..k {
        for j in 0..k {
            let want = if i == j { 1.0 } else { 0.0 };
            if (gram[[i, j]] - want).abs() > 1e-9 {
                return false;
            }
        }
    }
    // A v for each component (rows): ((Xc vᵀ)ᵀ Xc)
    let av = xc.dot(&comps.t()).t().dot(xc);
    let mut last = f64::INFINITY;
    for (v, a) in comps.outer_iter().zip(av.outer_iter()) {
        let lambda = v.dot(&a);
        let resid = (&a - &(&v * lambda)).mapv(|e| e * e).sum().sqrt();
        if resid > 1e-9 || lambda > last + 1e-12 {
            return false;
        }
        last = lambda;
    }
    true
}

/// Top-k eigenvectors (rows) of the covariance, accumulated over row blocks
/// (faer's GEMM for each block's XcᵀXc, faer's symmetric eigendecomposition).
fn covariance_components(x: ArrayView2<f32>, mean: &Array1<f64>, k: usize) -> Result<Array2<f64>> {
    let d = x.ncols();
    let cov = sum_over_blocks(
        x.nrows(),
        Array2::<f64>::zeros((d, d)),
        |rows| {
            let xc = x.slice(s![rows, ..]).mapv(|v| v as f64) - mean;
            crate::linalg::matmul(xc.t(), xc.view())
        },
        |a, b| a + b,
    );
    let (vals, vecs) = crate::linalg::eigh(&cov).context("pca")?;
    let mut order: Vec<usize> = (0..vals.len()).collect();
    order.sort_by(|&a, &b| vals[b].total_cmp(&vals[a]));
    let mut comps = Array2::<f64>::zeros((k, d));
    for (row, &j) in order.iter().take(k).enumerate() {
        comps.row_mut(row).assign(&vecs.column(j));
    }
    Ok(comps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn routes_agree() {
        let x = array![
            [0.0f32, 0.0, 1.0],
            [2.0, 0.5, 0.0],
            [0.0, 1.0, 3.0],
            [2.0, 1.0, 0.5],
            [1.0, -1.0, 2.0]
        ];
        let p = fit_pca_with(x.view(), 2, PcaRoute::Linfa).unwrap();
        assert_eq!(p.method, PcaMethod::LinfaReduction);
        let mean = column_mean(x.view());
        let c = orient(covariance_components(x.view(), &mean, 2).unwrap());
        assert!(
            (&p.components - &c).iter().all(|v| v.abs() < 1e-9),
            "{:?} vs {:?}",
            p.components,
            c
        );
    }

    #[test]
    fn the_same_bits_in_any_pool() {
        // 3 blocks of rows: an adaptive parallel sum would associate them differently
        let x = crate::metrics::retrieval::synthetic_pairs(5 * BLOCK / 2, 24, 7)
            .unwrap()
            .0;
        let fit = |threads| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| fit_pca(x.view(), 3).unwrap())
        };
        let first = fit(1);
        for threads in [2, 3, 2, 4] {
            let p = fit(threads);
            assert_eq!(p.total_variance.to_bits(), first.total_variance.to_bits());
            assert_eq!(
                p.explained_variance, first.explained_variance,
                "{threads} threads"
            );
            assert_eq!(p.components, first.components, "{threads} threads");
        }
    }

    #[test]
    fn rank_deficient_and_constant_data_do_not_fail() {
        // all rows on one line: the second component carries no variance
        let x = Array2::from_shape_fn((50, 4), |(i, j)| (i as f32) * [1.0, 2.0, -1.0, 0.5][j]);
        let p = fit_pca(x.view(), 2).unwrap();
        assert!((p.explained_variance_ratio[0] - 1.0).abs() < 1e-9);
        assert!(p.explained_variance_ratio[1].abs() < 1e-9);
        let c = Array2::<f32>::ones((10, 3));
        let p = fit_pca(c.view(), 2).unwrap();
        assert_eq!(p.total_variance, 0.0);
        assert!(p.explained_variance_ratio.iter().all(|r| *r == 0.0));
        assert!(p.project(c.view()).unwrap().iter().all(|v| v.is_finite()));
    }

    #[test]
    fn bad_parameters() {
        let x = array![[0.0f32, 0.0], [1.0, 1.0], [2.0, 0.0]];
        assert!(matches!(
            fit_pca(x.view(), 3),
            Err(Error::InvalidParameter { .. })
        ));
        assert!(fit_pca(x.slice(s![..1, ..]), 1).is_err());
        let bad = array![[0.0f32, f32::NAN], [1.0, 1.0], [2.0, 0.0]];
        assert!(fit_pca(bad.view(), 1)
            .unwrap_err()
            .to_string()
            .contains("row 0"));
    }
}
