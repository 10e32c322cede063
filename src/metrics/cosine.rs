//! Raw cosine of every row of one matrix with every row of another, and the rows
//! nearest to a query: the notebook's cosine matrices and vocabulary search.
//!
//! Zero rows follow the rule of every metric ([`unit_rows`], docs/METRICS.md "Zero
//! rows"): a row whose norm is at most 1e-7 × the largest row norm of its own
//! matrix is a zero row, and its cosine with anything is 0. One rule keeps a
//! notebook's numbers equal to the report's; a query is a matrix of one row, so it
//! is a zero row only when it is exactly zero. Rows of different lengths and
//! non-finite values are errors.
//!
//! ```
//! use ndarray::array;
//! use lexalign::metrics::cosine::{cosine, nearest};
//! let a = array![[1.0f32, 0.0], [0.0, 2.0], [0.0, 0.0]];
//! assert_eq!(cosine(a.view(), a.view())?.row(1).to_vec(), vec![0.0, 1.0, 0.0]);
//! let top = nearest(array![1.0f32, 0.1].view(), a.view(), 2)?;
//! assert_eq!(top.iter().map(|t| t.0).collect::<Vec<_>>(), vec![0, 1]);
//! # Ok::<(), lexalign::Error>(())
//! ```

use ndarray::{Array2, ArrayView1, ArrayView2, Axis};

use super::{check_finite, unit_rows};
use crate::error::{Error, Result};

/// Cosines of every row of `a` with every row of `b` (`a.nrows() × b.nrows()`).
pub fn cosine(a: ArrayView2<f32>, b: ArrayView2<f32>) -> Result<Array2<f32>> {
    check_vectors(a, b)?;
    Ok(unit_rows(a, false).0.dot(&unit_rows(b, false).0.t()))
}

/// Indices and cosines of the `k` rows of `candidates` closest to `query`, best
/// first; ties keep candidate order.
pub fn nearest(
    query: ArrayView1<f32>,
    candidates: ArrayView2<f32>,
    k: usize,
) -> Result<Vec<(usize, f32)>> {
    let q = query.insert_axis(Axis(0));
    check_vectors(q, candidates)?;
    let sims = unit_rows(candidates, false)
        .0
        .dot(&unit_rows(q, false).0.row(0));
    let mut idx: Vec<usize> = (0..sims.len()).collect();
    idx.sort_by(|&a, &b| sims[b].total_cmp(&sims[a]).then(a.cmp(&b)));
    Ok(idx.into_iter().take(k).map(|i| (i, sims[i])).collect())
}

/// Both sides have rows of one length and only finite values.
fn check_vectors(a: ArrayView2<f32>, b: ArrayView2<f32>) -> Result<()> {
    crate::ensure!(
        a.ncols() == b.ncols(),
        Error::data(
            "cosine",
            format!(
                "vectors of dimension {} against vectors of dimension {}; expected one dimension",
                a.ncols(),
                b.ncols()
            ),
        )
    );
    check_finite("first", a)?;
    check_finite("second", b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn hand_computed_cosines() {
        // cos((3,4),(4,3)) = 24/25; cos((3,4),(0,-2)) = -4/5; cos((1,0),(4,3)) = 4/5.
        let a = array![[3.0f32, 4.0], [1.0, 0.0]];
        let b = array![[4.0f32, 3.0], [0.0, -2.0]];
        let c = cosine(a.view(), b.view()).unwrap();
        let want = array![[0.96f32, -0.8], [0.8, 0.0]];
        assert!((&c - &want).iter().all(|d| d.abs() < 1e-6), "{c:?}");
    }

    #[test]
    fn zero_rows_have_cosine_zero() {
        // The second row is below f32 resolution next to the first: a zero row, as in
        // every metric, not a direction.
        let a = array![[3.0e6f32, 4.0e6], [1.0e-2, 0.0], [0.0, 0.0]];
        let c = cosine(a.view(), array![[1.0f32, 0.0]].view()).unwrap();
        assert_eq!(c.column(0).to_vec(), vec![0.6, 0.0, 0.0]);
        let top = nearest(array![0.0f32, 0.0].view(), a.view(), 3).unwrap();
        assert!(top.iter().all(|&(_, s)| s == 0.0), "{top:?}");
    }

    #[test]
    fn nearest_is_best_first_with_ties_in_order() {
        let c = array![[0.0f32, 1.0], [1.0, 0.0], [2.0, 0.0], [1.0, 1.0]];
        let top = nearest(array![1.0f32, 0.0].view(), c.view(), 3).unwrap();
        let idx: Vec<usize> = top.iter().map(|t| t.0).collect();
        assert_eq!(idx, vec![1, 2, 3]);
        assert_eq!(
            nearest(array![1.0f32, 0.0].view(), c.view(), 10)
                .unwrap()
                .len(),
            4
        );
    }

    #[test]
    fn mismatched_or_non_finite_vectors_are_errors() {
        let a = array![[1.0f32, 0.0]];
        let wide = array![[1.0f32, 0.0, 0.0]];
        let nan = array![[f32::NAN, 0.0]];
        let err = cosine(a.view(), wide.view()).unwrap_err().to_string();
        assert!(
            err.contains("dimension 2 against vectors of dimension 3"),
            "{err}"
        );
        let err = cosine(a.view(), nan.view()).unwrap_err().to_string();
        assert!(err.contains("second") && err.contains("row 0"), "{err}");
        assert!(nearest(nan.row(0), a.view(), 1).is_err());
        assert!(nearest(a.row(0), wide.view(), 1).is_err());
    }
}
