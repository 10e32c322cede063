//! Metrics on paired embedding arrays: row i of `left` (a name) is paired with
//! row i of `right` (its identifier). Every metric takes `ArrayView2<f32>` views
//! plus plain slices, never reads files or prints, and returns a serialisable
//! struct. Formulas and the reasons for them are in docs/METRICS.md; the shared
//! statistics (ranks, AUC, bootstrap CIs) are [`crate::stats`].
//!
//! - [`alignment`]: matched-pair cosine against a null of mismatched pairs.
//! - [`retrieval`]: exact rank of the true partner among all rows, both directions.
//! - [`cosine`]: cosine matrix and nearest rows of any two sets (notebooks).
//! - [`lexicalization`]: per-identifier score from the identifier→name rank.
//! - [`popularity`]: does the score follow how popular an identifier is?
//! - [`probe`]: memorisation vs generalisation with linear maps left→right.

pub mod alignment;
pub mod cosine;
pub mod lexicalization;
pub mod popularity;
pub mod probe;
pub mod retrieval;

use std::collections::HashSet;

use ndarray::{Array1, Array2, ArrayView2, Axis};

use crate::error::{Error, Result};

/// Fewest rows any paired metric accepts.
pub const MIN_ROWS: usize = 3;

/// Rejects a non-finite value, naming its side and row (0-based).
pub fn check_finite(side: &str, x: ArrayView2<f32>) -> Result<()> {
    for (i, row) in x.outer_iter().enumerate() {
        if let Some(j) = row.iter().position(|v| !v.is_finite()) {
            return Err(Error::data(
                format!("{side} embeddings"),
                format!(
                    "row {i} column {j} is {} (embeddings must be finite)",
                    row[j]
                ),
            ));
        }
    }
    Ok(())
}

/// Checks a left/right pair: same shape, at least `MIN_ROWS` rows, at least one
/// column, finite values.
pub fn check_pair(left: ArrayView2<f32>, right: ArrayView2<f32>) -> Result<()> {
    if left.dim() != right.dim() {
        return Err(Error::data(
            "paired embeddings",
            format!(
                "left is {:?} but right is {:?}; row i of each must describe pair i",
                left.dim(),
                right.dim()
            ),
        ));
    }
    if left.nrows() < MIN_ROWS {
        return Err(Error::data(
            "paired embeddings",
            format!("{} rows; need at least {MIN_ROWS} pairs", left.nrows()),
        ));
    }
    if left.ncols() == 0 {
        return Err(Error::data(
            "paired embeddings",
            "vectors have zero dimensions",
        ));
    }
    check_finite("left", left)?;
    check_finite("right", right)
}

/// Rows scaled to unit length, optionally after subtracting the column mean
/// (computed over this array's own rows, in f64). A row whose norm is at most
/// 1e-7 × the largest row norm (f32 resolution) is a zero row: it stays all
/// zeros, so its cosine with anything is 0. Returns the rows and the zero count.
pub fn unit_rows(x: ArrayView2<f32>, centred: bool) -> (Array2<f32>, usize) {
    let mean: Array1<f64> = if centred {
        x.map(|&v| v as f64)
            .mean_axis(Axis(0))
            .unwrap_or_else(|| Array1::zeros(x.ncols()))
    } else {
        Array1::zeros(x.ncols())
    };
    let rows: Vec<Vec<f64>> = x
        .outer_iter()
        .map(|r| {
            r.iter()
                .zip(mean.iter())
                .map(|(&v, m)| v as f64 - m)
                .collect()
        })
        .collect();
    let norms: Vec<f64> = rows
        .iter()
        .map(|r| r.iter().map(|v| v * v).sum::<f64>().sqrt())
        .collect();
    let max_norm = norms.iter().cloned().fold(0.0, f64::max);
    let mut out = Array2::<f32>::zeros(x.dim());
    let mut zeros = 0;
    for (i, (r, &n)) in rows.iter().zip(&norms).enumerate() {
        if n <= 1e-7 * max_norm || n == 0.0 {
            zeros += 1;
            continue;
        }
        for (o, v) in out.row_mut(i).iter_mut().zip(r) {
            *o = (v / n) as f32;
        }
    }
    (out, zeros)
}

/// Number of rows identical (bit for bit, with −0 = +0) to an earlier row.
/// Identical strings embed identically, so duplicates tie in retrieval.
pub fn count_duplicate_rows(x: ArrayView2<f32>) -> usize {
    let mut seen = HashSet::new();
    x.outer_iter()
        .filter(|r| {
            let key: Vec<u32> = r.iter().map(|v| (v + 0.0).to_bits()).collect();
            !seen.insert(key)
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn duplicates_counted() {
        let x = array![[1.0f32, 0.0], [0.0, 1.0], [1.0, 0.0], [-0.0, 1.0]];
        assert_eq!(count_duplicate_rows(x.view()), 2);
    }

    #[test]
    fn zero_rows_stay_zero() {
        let x = array![[3.0f32, 4.0], [0.0, 0.0], [1.0, 0.0]];
        let (u, z) = unit_rows(x.view(), false);
        assert_eq!(z, 1);
        assert_eq!(u.row(1).to_vec(), vec![0.0, 0.0]);
        assert!((u[[0, 0]] - 0.6).abs() < 1e-7);
    }

    #[test]
    fn nan_is_named() {
        let x = array![[1.0f32, 0.0], [0.0, f32::NAN], [1.0, 1.0]];
        let e = check_pair(x.view(), x.view()).unwrap_err().to_string();
        assert!(e.contains("left") && e.contains("row 1"), "{e}");
    }
}
