//! Exact retrieval ranks in both directions: for each left row, the rank of its
//! partner among all right rows by cosine (and vice versa). One blocked matrix
//! product S = L̂ R̂ᵀ serves both directions: rows of a block give left→right
//! ranks, its columns accumulate right→left counts. Blocks run in parallel with
//! rayon and the full n×n matrix is never held.
//!
//! rank = 1 + #{j ≠ i: s_ij > s_ii + tol} + ½ #{j ≠ i: |s_ij − s_ii| ≤ tol}
//! (average rank over ties; cosines are f32, so differences below `tol` are ties).
//!
//! ```
//! use ndarray::array;
//! use lexalign::metrics::retrieval::{retrieval, RetrievalConfig};
//! let left = array![[1.0f32, 0.0], [0.0, 1.0], [1.0, 1.0]];
//! let cfg = RetrievalConfig { centred: false, ..Default::default() };
//! let r = retrieval(left.view(), left.view(), &cfg).unwrap();
//! assert_eq!(r.left_to_right.top1, 1.0);
//! ```

use ndarray::{s, Array2, ArrayView2};
use rayon::prelude::*;
use serde::Serialize;

use super::{check_pair, unit_rows};
use crate::error::{Error, Result};

/// Options of [`retrieval`].
#[derive(Debug, Clone, Serialize)]
pub struct RetrievalConfig {
    /// Subtract each side's mean vector before the cosine (default true): raw
    /// transformer embeddings share a large common direction that makes every
    /// cosine high and blurs ranks; centring removes it.
    pub centred: bool,
    /// Queries per matrix-product block (default 512).
    pub block: usize,
    /// Cosines closer than this count as tied (default 1e-6, f32 resolution).
    pub tie_tolerance: f32,
}

impl Default for RetrievalConfig {
    fn default() -> Self {
        RetrievalConfig { centred: true, block: 512, tie_tolerance: 1e-6 }
    }
}

impl RetrievalConfig {
    pub fn validate(&self) -> Result<()> {
        if self.block == 0 {
            return Err(Error::param("block", "must be at least 1"));
        }
        if !(self.tie_tolerance >= 0.0 && self.tie_tolerance.is_finite()) {
            return Err(Error::param("tie_tolerance", format!("{} must be finite and ≥ 0", self.tie_tolerance)));
        }
        Ok(())
    }
}

/// Ranks of one direction and their summaries.
#[derive(Debug, Clone, Serialize)]
pub struct DirectionRanks {
    /// Rank of the true partner per query (1 = best; halves from ties).
    pub ranks: Vec<f64>,
    /// Fraction of queries with rank ≤ 1.
    pub top1: f64,
    /// Fraction of queries with rank ≤ 10.
    pub top10: f64,
    /// Mean of 1 / rank.
    pub mrr: f64,
    pub median_rank: f64,
}

impl DirectionRanks {
    pub fn from_ranks(ranks: Vec<f64>) -> Self {
        let n = ranks.len().max(1) as f64;
        let top = |k: f64| ranks.iter().filter(|&&r| r <= k).count() as f64 / n;
        let mut sorted = ranks.clone();
        sorted.sort_unstable_by(f64::total_cmp);
        let median_rank = if sorted.is_empty() { f64::NAN } else { super::stats::quantile_sorted(&sorted, 0.5) };
        DirectionRanks {
            top1: top(1.0),
            top10: top(10.0),
            mrr: ranks.iter().map(|r| 1.0 / r).sum::<f64>() / n,
            median_rank,
            ranks,
        }
    }
}

/// Retrieval in both directions for one pairing.
#[derive(Debug, Clone, Serialize)]
pub struct Retrieval {
    pub n: usize,
    pub dim: usize,
    pub centred: bool,
    pub tie_tolerance: f32,
    pub zero_rows_left: usize,
    pub zero_rows_right: usize,
    /// Query left_i, candidates all right rows.
    pub left_to_right: DirectionRanks,
    /// Query right_i, candidates all left rows.
    pub right_to_left: DirectionRanks,
}

/// Exact retrieval ranks of every pair in both directions.
pub fn retrieval(left: ArrayView2<f32>, right: ArrayView2<f32>, config: &RetrievalConfig) -> Result<Retrieval> {
    config.validate()?;
    check_pair(left, right)?;
    let (l, zero_rows_left) = unit_rows(left, config.centred);
    let (r, zero_rows_right) = unit_rows(right, config.centred);
    let (l2r, r2l) = rank_both(&l, &r, config.block, config.tie_tolerance);
    Ok(Retrieval {
        n: left.nrows(),
        dim: left.ncols(),
        centred: config.centred,
        tie_tolerance: config.tie_tolerance,
        zero_rows_left,
        zero_rows_right,
        left_to_right: DirectionRanks::from_ranks(l2r),
        right_to_left: DirectionRanks::from_ranks(r2l),
    })
}

/// Per-block partial counts: ranks of the block's queries, and for every
/// target column the number of block rows beating / tying its true cosine.
struct Partial {
    row_ranks: Vec<(usize, f64)>,
    col_greater: Vec<u32>,
    col_ties: Vec<u32>,
}

/// Ranks (queries → targets, targets → queries) for unit rows `q`, `t` of equal
/// length, where q_i's partner is t_i.
pub(crate) fn rank_both(q: &Array2<f32>, t: &Array2<f32>, block: usize, tol: f32) -> (Vec<f64>, Vec<f64>) {
    let n = q.nrows();
    // True cosines for the column direction (the row direction reads them from
    // the product itself); any rounding gap to the product is far below `tol`.
    let diag: Vec<f32> = (0..n).map(|i| q.row(i).dot(&t.row(i))).collect();
    let tt = t.t();
    let starts: Vec<usize> = (0..n).step_by(block).collect();
    let empty = || Partial { row_ranks: Vec::new(), col_greater: vec![0; n], col_ties: vec![0; n] };
    let total = starts
        .par_iter()
        .fold(empty, |mut acc, &start| {
            let end = (start + block).min(n);
            let sims = q.slice(s![start..end, ..]).dot(&tt);
            for (b, row) in sims.outer_iter().enumerate() {
                let i = start + b;
                let row = row.as_slice().expect("fresh product is contiguous");
                let own = row[i];
                let (mut greater, mut ties) = (0u32, 0u32);
                for &v in row {
                    greater += (v > own + tol) as u32;
                    ties += ((v - own).abs() <= tol) as u32;
                }
                ties -= 1; // the partner itself
                acc.row_ranks.push((i, 1.0 + greater as f64 + 0.5 * ties as f64));
                for (((g, e), &v), &d) in acc.col_greater.iter_mut().zip(acc.col_ties.iter_mut()).zip(row).zip(&diag) {
                    *g += (v > d + tol) as u32;
                    *e += ((v - d).abs() <= tol) as u32;
                }
                // undo the partner's own entry in column i
                let v = row[i];
                let d = diag[i];
                acc.col_greater[i] -= (v > d + tol) as u32;
                acc.col_ties[i] -= ((v - d).abs() <= tol) as u32;
            }
            acc
        })
        .reduce(empty, |mut a, b| {
            a.row_ranks.extend(b.row_ranks);
            a.col_greater.iter_mut().zip(&b.col_greater).for_each(|(x, y)| *x += y);
            a.col_ties.iter_mut().zip(&b.col_ties).for_each(|(x, y)| *x += y);
            a
        });
    let mut q_ranks = vec![0.0; n];
    for (i, r) in total.row_ranks {
        q_ranks[i] = r;
    }
    let t_ranks = total
        .col_greater
        .iter()
        .zip(&total.col_ties)
        .map(|(&g, &e)| 1.0 + g as f64 + 0.5 * e as f64)
        .collect();
    (q_ranks, t_ranks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn hand_computed_ranks() {
        // cos(l0,r0)=1 best; l1=(1,0.1) is nearer r0=(1,0) than its partner r1=(0,1)
        let left = array![[1.0f32, 0.0], [1.0, 0.1], [-1.0, 0.0]];
        let right = array![[1.0f32, 0.0], [0.0, 1.0], [-1.0, 0.0]];
        let cfg = RetrievalConfig { centred: false, ..Default::default() };
        let r = retrieval(left.view(), right.view(), &cfg).unwrap();
        assert_eq!(r.left_to_right.ranks, vec![1.0, 2.0, 1.0]);
        // r1=(0,1): cos with l1 ≈ 0.0995, with l0 = 0, l2 = 0 → rank 1
        assert_eq!(r.right_to_left.ranks, vec![1.0, 1.0, 1.0]);
        assert!((r.left_to_right.mrr - (1.0 + 0.5 + 1.0) / 3.0).abs() < 1e-12);
    }

    #[test]
    fn ties_get_average_rank() {
        // right rows 0 and 1 identical: each left query ties its partner with the twin
        let left = array![[1.0f32, 0.0], [1.0, 0.0], [0.0, 1.0]];
        let right = left.clone();
        let cfg = RetrievalConfig { centred: false, block: 2, ..Default::default() };
        let r = retrieval(left.view(), right.view(), &cfg).unwrap();
        assert_eq!(r.left_to_right.ranks, vec![1.5, 1.5, 1.0]);
        assert_eq!(r.right_to_left.ranks, vec![1.5, 1.5, 1.0]);
        assert!((r.left_to_right.top1 - 1.0 / 3.0).abs() < 1e-12);
    }
}
