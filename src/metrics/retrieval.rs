//! Exact retrieval ranks in both directions: for each left row, the rank of its
//! partner among all right rows by cosine (and vice versa). One blocked matrix
//! product S = L̂ R̂ᵀ (faer's GEMM, tile by tile) serves both directions: rows of
//! a block give left→right ranks, its columns accumulate right→left counts.
//! Blocks run in parallel in the current rayon pool and the full n×n matrix is
//! never held.
//!
//! rank = 1 + #{j ≠ i: s_ij > c_i + tol} + ½ #{j ≠ i: |s_ij − c_i| ≤ tol}, c_i = cos(q_i, t_i)
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
use crate::linalg::{dot_f32, matmul_abt_f32};
use faer::Par;

/// Options of [`retrieval`].
#[derive(Debug, Clone, Serialize)]
pub struct RetrievalConfig {
    /// Subtract each side's mean vector before the cosine (default true): raw
    /// transformer embeddings share a large common direction that makes every
    /// cosine high and blurs ranks; centring removes it.
    pub centred: bool,
    /// Queries per matrix-product block (default 256).
    pub block: usize,
    /// Cosines closer than this count as tied (default 1e-6, f32 resolution).
    pub tie_tolerance: f32,
}

impl Default for RetrievalConfig {
    fn default() -> Self {
        RetrievalConfig {
            centred: true,
            block: 256,
            tie_tolerance: 1e-6,
        }
    }
}

impl RetrievalConfig {
    pub fn validate(&self) -> Result<()> {
        if self.block == 0 {
            return Err(Error::param("block", "must be at least 1"));
        }
        if !(self.tie_tolerance >= 0.0 && self.tie_tolerance.is_finite()) {
            return Err(Error::param(
                "tie_tolerance",
                format!("{} must be finite and ≥ 0", self.tie_tolerance),
            ));
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
        let median_rank = if sorted.is_empty() {
            f64::NAN
        } else {
            crate::stats::quantile_sorted(&sorted, 0.5)
        };
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
pub fn retrieval(
    left: ArrayView2<f32>,
    right: ArrayView2<f32>,
    config: &RetrievalConfig,
) -> Result<Retrieval> {
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

/// The query rows shard `index` of `count` (1-based) ranks: whole blocks of
/// `block` rows, as even a share of the blocks as they divide, so every shard's
/// products are exactly those of the unsharded run over the same rows.
pub fn shard_rows(n: usize, block: usize, index: usize, count: usize) -> std::ops::Range<usize> {
    let blocks = n.div_ceil(block.max(1));
    let edge = |k: usize| (blocks * k / count.max(1) * block.max(1)).min(n);
    edge(index - 1)..edge(index)
}

/// One shard's share of exact retrieval ([`retrieval_block`]): its query rows
/// ranked against every target, and their counts toward every target's rank.
/// [`merge_blocks`] adds the shards' counts into the unsharded [`Retrieval`].
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct RankBlock {
    /// 1-based shard index K of `shards` N.
    pub shard: usize,
    pub shards: usize,
    pub n: usize,
    pub dim: usize,
    pub centred: bool,
    pub tie_tolerance: f32,
    pub block: usize,
    /// What the vectors were (e.g. their files' SHA-256), set by the caller;
    /// every block of one merge must carry the same.
    pub inputs: String,
    pub zero_rows_left: usize,
    pub zero_rows_right: usize,
    /// First query row of this shard; it ranks rows `start .. start + row_greater.len()`.
    pub start: usize,
    /// Per query row of the shard: targets above / within the tie band.
    pub row_greater: Vec<u32>,
    pub row_at_least: Vec<u32>,
    /// Per target: this shard's query rows above / within its tie band.
    pub col_greater: Vec<u32>,
    pub col_at_least: Vec<u32>,
}

/// Shard `index` of `count` (1-based) of [`retrieval`]: ranks its rows
/// ([`shard_rows`]) against every target. `inputs` identifies the vectors.
pub fn retrieval_block(
    left: ArrayView2<f32>,
    right: ArrayView2<f32>,
    config: &RetrievalConfig,
    (index, count): (usize, usize),
    inputs: &str,
) -> Result<RankBlock> {
    config.validate()?;
    crate::ensure!(
        count >= 1 && (1..=count).contains(&index),
        Error::param(
            "shard",
            format!("{index}/{count}: expected K/N with 1 ≤ K ≤ N")
        )
    );
    check_pair(left, right)?;
    let n = left.nrows();
    let blocks = n.div_ceil(config.block);
    crate::ensure!(
        count <= blocks,
        Error::param(
            "shard",
            format!(
                "{count} shards of {n} rows in blocks of {}: at most {blocks} shards (one block each)",
                config.block
            )
        )
    );
    let (l, zero_rows_left) = unit_rows(left, config.centred);
    let (r, zero_rows_right) = unit_rows(right, config.centred);
    let rows = shard_rows(n, config.block, index, count);
    let c = count_rows(&l, &r, rows.clone(), config.block, config.tie_tolerance);
    Ok(RankBlock {
        shard: index,
        shards: count,
        n,
        dim: left.ncols(),
        centred: config.centred,
        tie_tolerance: config.tie_tolerance,
        block: config.block,
        inputs: inputs.to_string(),
        zero_rows_left,
        zero_rows_right,
        start: rows.start,
        row_greater: c.row_greater,
        row_at_least: c.row_at_least,
        col_greater: c.col_greater,
        col_at_least: c.col_at_least,
    })
}

/// The unsharded [`Retrieval`] from every block of one sharded run, in any
/// order: each shard 1..=N exactly once, all with the same settings and inputs.
/// Equal to [`retrieval`] on the same vectors exactly (the counts are integers
/// over the same products).
pub fn merge_blocks(blocks: &[RankBlock]) -> Result<Retrieval> {
    let first = blocks
        .first()
        .ok_or_else(|| Error::data("retrieval blocks", "no blocks to merge"))?;
    let count = first.shards;
    let n = first.n;
    let bad = |b: &RankBlock, what: String| {
        Error::data(format!("retrieval block {}/{}", b.shard, b.shards), what)
    };
    let mut seen = vec![false; count + 1];
    for b in blocks {
        let same = |field: &str, a: String, e: String| -> Result<()> {
            crate::ensure!(
                a == e,
                bad(
                    b,
                    format!(
                        "{field} is {a} but block {}/{} has {e}; all blocks must come from one run",
                        first.shard, count
                    )
                )
            );
            Ok(())
        };
        same("the shard count", b.shards.to_string(), count.to_string())?;
        same("n", b.n.to_string(), n.to_string())?;
        same("dim", b.dim.to_string(), first.dim.to_string())?;
        same("centred", b.centred.to_string(), first.centred.to_string())?;
        same(
            "tie_tolerance",
            b.tie_tolerance.to_string(),
            first.tie_tolerance.to_string(),
        )?;
        same("block", b.block.to_string(), first.block.to_string())?;
        same("inputs", b.inputs.clone(), first.inputs.clone())?;
        crate::ensure!(
            (1..=count).contains(&b.shard),
            bad(b, format!("shard index outside 1..={count}"))
        );
        crate::ensure!(!seen[b.shard], bad(b, "given twice".into()));
        seen[b.shard] = true;
        let rows = shard_rows(n, b.block, b.shard, count);
        crate::ensure!(
            b.start == rows.start
                && b.row_greater.len() == rows.len()
                && b.row_at_least.len() == rows.len()
                && b.col_greater.len() == n
                && b.col_at_least.len() == n,
            bad(
                b,
                format!(
                    "holds rows {}..{} and {} target counts; expected rows {}..{} and {n}",
                    b.start,
                    b.start + b.row_greater.len(),
                    b.col_greater.len(),
                    rows.start,
                    rows.end
                )
            )
        );
    }
    let missing: Vec<String> = (1..=count)
        .filter(|&k| !seen[k])
        .map(|k| format!("{k}/{count}"))
        .collect();
    crate::ensure!(
        missing.is_empty(),
        Error::data(
            "retrieval blocks",
            format!(
                "missing shard(s) {}: run them, then merge",
                missing.join(", ")
            )
        )
    );
    let mut sorted: Vec<&RankBlock> = blocks.iter().collect();
    sorted.sort_by_key(|b| b.shard);
    let (mut row_greater, mut row_at_least) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut col_greater, mut col_at_least) = (vec![0u32; n], vec![0u32; n]);
    for b in sorted {
        row_greater.extend_from_slice(&b.row_greater);
        row_at_least.extend_from_slice(&b.row_at_least);
        for (x, y) in [
            (&mut col_greater, &b.col_greater),
            (&mut col_at_least, &b.col_at_least),
        ] {
            x.iter_mut().zip(y).for_each(|(x, y)| *x += y);
        }
    }
    Ok(Retrieval {
        n,
        dim: first.dim,
        centred: first.centred,
        tie_tolerance: first.tie_tolerance,
        zero_rows_left: first.zero_rows_left,
        zero_rows_right: first.zero_rows_right,
        left_to_right: DirectionRanks::from_ranks(ranks(&row_greater, &row_at_least)),
        right_to_left: DirectionRanks::from_ranks(ranks(&col_greater, &col_at_least)),
    })
}

/// Seeded synthetic pairs for timing [`retrieval`]: `n` left rows uniform on the
/// unit sphere of `dim` dimensions, each right row its partner plus an independent
/// Gaussian draw of the same scale, renormalised (matched cosine ≈ 0.71).
pub fn synthetic_pairs(n: usize, dim: usize, seed: u64) -> Result<(Array2<f32>, Array2<f32>)> {
    use rand::{Rng, SeedableRng};
    crate::ensure!(
        n >= super::MIN_ROWS,
        Error::param("n", format!("{n} pairs; need at least {}", super::MIN_ROWS))
    );
    crate::ensure!(dim >= 1, Error::param("dim", "must be at least 1"));
    crate::ensure!(
        n.checked_mul(dim)
            .is_some_and(|c| c <= isize::MAX as usize / 8),
        Error::param("n", format!("{n} × {dim} values do not fit in memory"))
    );
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    // Box–Muller: normal draws make the directions uniform on the sphere
    let mut normal = move || {
        let u: f64 = 1.0 - rng.gen::<f64>();
        let v: f64 = rng.gen();
        ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
    };
    let left = Array2::from_shape_fn((n, dim), |_| normal());
    let right = &left + &Array2::from_shape_fn((n, dim), |_| normal());
    Ok((
        unit_rows(left.view(), false).0,
        unit_rows(right.view(), false).0,
    ))
}

/// Integer counts behind the ranks of a band of query rows (`rows`): for each of
/// its rows, the targets above / within the tie band of its true cosine; for
/// every target column, the band's rows above / within the tie band of the
/// target's true cosine. Counts of disjoint bands add up to the whole matrix's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Counts {
    pub rows: std::ops::Range<usize>,
    pub row_greater: Vec<u32>,
    pub row_at_least: Vec<u32>,
    pub col_greater: Vec<u32>,
    pub col_at_least: Vec<u32>,
}

/// Targets per tile: a block × tile product (1 MiB at the default block of 256
/// rows) stays in cache while it is counted.
const TILE: usize = 1024;

/// Ranks (queries → targets, targets → queries) for unit rows `q`, `t` of equal
/// length, where q_i's partner is t_i: [`count_rows`] over every row.
pub(crate) fn rank_both(
    q: &Array2<f32>,
    t: &Array2<f32>,
    block: usize,
    tol: f32,
) -> (Vec<f64>, Vec<f64>) {
    let c = count_rows(q, t, 0..q.nrows(), block, tol);
    (c.row_ranks(), c.col_ranks())
}

impl Counts {
    /// Ranks of the band's query rows.
    pub fn row_ranks(&self) -> Vec<f64> {
        ranks(&self.row_greater, &self.row_at_least)
    }

    /// Ranks of the targets (complete when the band is every row).
    pub fn col_ranks(&self) -> Vec<f64> {
        ranks(&self.col_greater, &self.col_at_least)
    }
}

fn ranks(greater: &[u32], at_least: &[u32]) -> Vec<f64> {
    greater
        .iter()
        .zip(at_least)
        .map(|(&g, &a)| rank(g, a))
        .collect()
}

/// Counts ([`Counts`]) of query rows `rows` against every target.
///
/// The band is cut into blocks of `block` rows starting at `rows.start`; blocks
/// run in parallel in the current rayon pool, each multiplying its rows by a
/// tile of targets at a time (faer's GEMM, sequential inside the block) and
/// counting the tile at once, so memory stays at one block × tile product per
/// thread plus two counters per target. Counts are integers, so they do not
/// depend on the thread count, and a band that starts on a multiple of `block`
/// computes exactly the products the whole matrix's blocks compute there.
///
/// The true cosine c_i = q_i·t_i is computed once; s_ij counts as greater when
/// s_ij > c + tol and as tied when c − tol ≤ s_ij ≤ c + tol (the f32 rounding
/// gap between c_i and the product's own s_ii is far below tol). The partner's
/// own entry is removed from its row and column counts.
pub(crate) fn count_rows(
    q: &Array2<f32>,
    t: &Array2<f32>,
    rows: std::ops::Range<usize>,
    block: usize,
    tol: f32,
) -> Counts {
    let n = q.nrows();
    let block = block.max(1);
    let diag: Vec<f32> = (0..n).map(|i| dot_f32(q.row(i), t.row(i))).collect();
    let hi: Vec<f32> = diag.iter().map(|d| d + tol).collect();
    let lo: Vec<f32> = diag.iter().map(|d| d - tol).collect();
    let starts: Vec<usize> = rows.clone().step_by(block).collect();
    let simd = crate::linalg::has_avx2();
    let band = rows.len();
    let empty = || Counts {
        rows: rows.clone(),
        row_greater: vec![0; band],
        row_at_least: vec![0; band],
        col_greater: vec![0; n],
        col_at_least: vec![0; n],
    };
    starts
        .par_iter()
        .fold(empty, |mut acc, &start| {
            let end = (start + block).min(rows.end);
            let rows_here = end - start;
            let qb = q.slice(s![start..end, ..]);
            let mut sims = vec![0f32; rows_here * TILE.min(n)];
            let off = start - rows.start;
            let row_greater = &mut acc.row_greater[off..off + rows_here];
            let row_at_least = &mut acc.row_at_least[off..off + rows_here];
            for t0 in (0..n).step_by(TILE) {
                let t1 = (t0 + TILE).min(n);
                let width = t1 - t0;
                let sims = &mut sims[..rows_here * width];
                matmul_abt_f32(sims, qb, t.slice(s![t0..t1, ..]), Par::Seq);
                let (chi, clo) = (&hi[t0..t1], &lo[t0..t1]);
                let cg = &mut acc.col_greater[t0..t1];
                let ca = &mut acc.col_at_least[t0..t1];
                for (b, row) in sims.chunks_exact(width).enumerate() {
                    let (rhi, rlo) = (hi[start + b], lo[start + b]);
                    let (g, a) = count_row(row, (rhi, rlo), (chi, clo), (&mut *cg, &mut *ca), simd);
                    row_greater[b] += g;
                    row_at_least[b] += a;
                    // remove the partner's own entry (column i of row i)
                    let i = start + b;
                    if (t0..t1).contains(&i) {
                        let v = row[i - t0];
                        row_greater[b] -= (v > rhi) as u32;
                        row_at_least[b] -= (v >= rlo) as u32;
                        cg[i - t0] -= (v > chi[i - t0]) as u32;
                        ca[i - t0] -= (v >= clo[i - t0]) as u32;
                    }
                }
            }
            acc
        })
        .reduce(empty, |mut a, b| {
            // each block's rows are counted in exactly one fold, the rest are 0
            for (x, y) in [
                (&mut a.row_greater, &b.row_greater),
                (&mut a.row_at_least, &b.row_at_least),
                (&mut a.col_greater, &b.col_greater),
                (&mut a.col_at_least, &b.col_at_least),
            ] {
                x.iter_mut().zip(y).for_each(|(x, y)| *x += y);
            }
            a
        })
}

/// Counts one product row: returns (#{j: v_j > rhi}, #{j: v_j ≥ rlo}) and adds
/// v_j > chi_j, v_j ≥ clo_j to the column counters. All slices have one length.
///
/// This loop runs n² times; the crate is built at opt-level 1 (no
/// auto-vectorisation), so on x86-64 with AVX2 it runs as explicit 8-lane code
/// (same comparisons, same counts; `linalg::has_avx2` says whether it may).
#[inline]
fn count_row(
    row: &[f32],
    (rhi, rlo): (f32, f32),
    (chi, clo): (&[f32], &[f32]),
    (cg, ca): (&mut [u32], &mut [u32]),
    simd: bool,
) -> (u32, u32) {
    let w = row.len();
    assert!(chi.len() == w && clo.len() == w && cg.len() == w && ca.len() == w);
    #[cfg(target_arch = "x86_64")]
    if simd {
        // SAFETY: `simd` is true only when the CPU has AVX2 (`linalg::has_avx2`), and
        // every slice has length w (asserted above), which bounds all accesses.
        return unsafe { avx2::count_row(row, rhi, rlo, chi, clo, cg, ca) };
    }
    let _ = simd;
    count_scalar(row, rhi, rlo, chi, clo, cg, ca)
}

fn count_scalar(
    row: &[f32],
    rhi: f32,
    rlo: f32,
    chi: &[f32],
    clo: &[f32],
    cg: &mut [u32],
    ca: &mut [u32],
) -> (u32, u32) {
    let (mut g, mut a) = (0u32, 0u32);
    for ((((&v, &h), &l), cg), ca) in row.iter().zip(chi).zip(clo).zip(cg).zip(ca) {
        g += (v > rhi) as u32;
        a += (v >= rlo) as u32;
        *cg += (v > h) as u32;
        *ca += (v >= l) as u32;
    }
    (g, a)
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use crate::linalg::avx2::{load_ps, load_si256, store_si256};
    use std::arch::x86_64::*;

    /// [`super::count_scalar`] eight lanes at a time: an ordered `>` / `≥`
    /// comparison gives all-ones (−1) per true lane, subtracted from the counters.
    ///
    /// # Safety
    /// The CPU must have AVX2, and `chi`, `clo`, `cg`, `ca` must be at least as
    /// long as `row`.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn count_row(
        row: &[f32],
        rhi: f32,
        rlo: f32,
        chi: &[f32],
        clo: &[f32],
        cg: &mut [u32],
        ca: &mut [u32],
    ) -> (u32, u32) {
        let w = row.len();
        let body = w - w % 8;
        let (vhi, vlo) = (_mm256_set1_ps(rhi), _mm256_set1_ps(rlo));
        let (mut vg, mut va) = (_mm256_setzero_si256(), _mm256_setzero_si256());
        let mut j = 0;
        while j < body {
            // SAFETY: j + 8 ≤ w ≤ every slice's length
            unsafe {
                let v = load_ps(row.as_ptr().wrapping_add(j));
                let h = load_ps(chi.as_ptr().wrapping_add(j));
                let l = load_ps(clo.as_ptr().wrapping_add(j));
                let gt = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_GT_OQ>(v, vhi));
                let ge = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_GE_OQ>(v, vlo));
                vg = _mm256_sub_epi32(vg, gt);
                va = _mm256_sub_epi32(va, ge);
                let pg = cg.as_mut_ptr().wrapping_add(j);
                let pa = ca.as_mut_ptr().wrapping_add(j);
                let cgt = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_GT_OQ>(v, h));
                let cge = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_GE_OQ>(v, l));
                store_si256(pg, _mm256_sub_epi32(load_si256(pg), cgt));
                store_si256(pa, _mm256_sub_epi32(load_si256(pa), cge));
            }
            j += 8;
        }
        // SAFETY: 8 u32 lanes are 256 bits, any bit pattern a valid u32
        let (lg, la): ([u32; 8], [u32; 8]) = unsafe {
            (
                std::mem::transmute::<__m256i, [u32; 8]>(vg),
                std::mem::transmute::<__m256i, [u32; 8]>(va),
            )
        };
        let (g, a) = super::count_scalar(
            &row[body..],
            rhi,
            rlo,
            &chi[body..w],
            &clo[body..w],
            &mut cg[body..w],
            &mut ca[body..w],
        );
        (g + lg.iter().sum::<u32>(), a + la.iter().sum::<u32>())
    }
}

/// 1 + #greater + ½ #tied, with #tied = #at-least − #greater.
fn rank(greater: u32, at_least: u32) -> f64 {
    1.0 + greater as f64 + 0.5 * (at_least - greater) as f64
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
        let cfg = RetrievalConfig {
            centred: false,
            ..Default::default()
        };
        let r = retrieval(left.view(), right.view(), &cfg).unwrap();
        assert_eq!(r.left_to_right.ranks, vec![1.0, 2.0, 1.0]);
        // r1=(0,1): cos with l1 ≈ 0.0995, with l0 = 0, l2 = 0 → rank 1
        assert_eq!(r.right_to_left.ranks, vec![1.0, 1.0, 1.0]);
        assert!((r.left_to_right.mrr - (1.0 + 0.5 + 1.0) / 3.0).abs() < 1e-12);
    }

    #[test]
    fn tiles_and_blocks_match_brute_force() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let n = TILE + 37; // crosses a tile boundary
        let q = Array2::from_shape_fn((n, 3), |_| rng.gen::<f32>() - 0.5);
        let t = &q + &Array2::from_shape_fn((n, 3), |_| rng.gen::<f32>() - 0.5);
        let (q, _) = unit_rows(q.view(), false);
        let (t, _) = unit_rows(t.view(), false);
        let (qr, tr) = rank_both(&q, &t, 100, 1e-6);
        for i in (0..n).step_by(97) {
            let c = q.row(i).dot(&t.row(i));
            let brute = |sims: Vec<f32>| {
                let (mut g, mut e) = (0.0, 0.0);
                for (j, v) in sims.into_iter().enumerate() {
                    if j != i {
                        g += (v > c + 1e-6) as u8 as f64;
                        e += ((v - c).abs() <= 1e-6) as u8 as f64;
                    }
                }
                1.0 + g + 0.5 * e
            };
            assert_eq!(
                qr[i],
                brute((0..n).map(|j| q.row(i).dot(&t.row(j))).collect())
            );
            assert_eq!(
                tr[i],
                brute((0..n).map(|j| q.row(j).dot(&t.row(i))).collect())
            );
        }
    }

    #[test]
    fn simd_and_scalar_counts_agree() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        for w in [0, 1, 7, 8, 9, 64, 1003] {
            // values on a coarse grid so that many are exactly equal to a threshold
            let mut draw = || (rng.gen_range(-8i32..=8) as f32) / 8.0;
            let row: Vec<f32> = (0..w).map(|_| draw()).collect();
            let chi: Vec<f32> = (0..w).map(|_| draw()).collect();
            let clo: Vec<f32> = chi.iter().map(|h| h - 0.125).collect();
            let (rhi, rlo) = (0.25, 0.125);
            let mut out = Vec::new();
            for simd in [false, crate::linalg::has_avx2()] {
                let (mut cg, mut ca) = (vec![3u32; w], vec![5u32; w]);
                let counts = count_row(&row, (rhi, rlo), (&chi, &clo), (&mut cg, &mut ca), simd);
                out.push((counts, cg, ca));
            }
            assert_eq!(out[0], out[1], "width {w}");
            let want_g = row.iter().filter(|&&v| v > rhi).count() as u32;
            assert_eq!(out[0].0 .0, want_g);
        }
    }

    #[test]
    fn ties_get_average_rank() {
        // right rows 0 and 1 identical: each left query ties its partner with the twin
        let left = array![[1.0f32, 0.0], [1.0, 0.0], [0.0, 1.0]];
        let right = left.clone();
        let cfg = RetrievalConfig {
            centred: false,
            block: 2,
            ..Default::default()
        };
        let r = retrieval(left.view(), right.view(), &cfg).unwrap();
        assert_eq!(r.left_to_right.ranks, vec![1.5, 1.5, 1.0]);
        assert_eq!(r.right_to_left.ranks, vec![1.5, 1.5, 1.0]);
        assert!((r.left_to_right.top1 - 1.0 / 3.0).abs() < 1e-12);
    }
}
