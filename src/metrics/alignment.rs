//! Alignment: is cos(left_i, right_i) of a matched pair higher than the cosine
//! of mismatched pairs (left_i, right_j), j ≠ i? Reported for raw cosines and for
//! mean-centred cosines (each side minus its own mean vector), with the gap of
//! means, Cohen's d and AUC = P(matched > mismatched) + ½ P(tie).
//!
//! ```
//! use ndarray::array;
//! use lexalign::metrics::alignment::{alignment, AlignmentConfig};
//! let x = array![[1.0f32, 0.0], [0.0, 1.0], [-1.0, 0.2]];
//! let a = alignment(x.view(), x.view(), &AlignmentConfig::default()).unwrap();
//! assert_eq!(a.raw.auc.estimate, 1.0);
//! ```

use ndarray::{Array2, ArrayView2};
use rand::{seq::index::sample, Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;

use super::{check_pair, unit_rows};
use crate::error::{Error, Result};
use crate::linalg::dot_f32;
use crate::stats::{auc, bootstrap_joint, cohens_d, BootstrapConfig, Interval};

/// Options of [`alignment`].
#[derive(Debug, Clone, Serialize)]
pub struct AlignmentConfig {
    /// Use all n(n−1) mismatched pairs when that many fit, else sample this many
    /// (default 2 000 000).
    pub max_null: usize,
    /// Null cosines kept in the result (histograms) and used by the AUC
    /// bootstrap (default 20 000).
    pub null_keep: usize,
    /// Seed for sampling null pairs and the kept subsample.
    pub seed: u64,
    pub bootstrap: BootstrapConfig,
}

impl Default for AlignmentConfig {
    fn default() -> Self {
        AlignmentConfig {
            max_null: 2_000_000,
            null_keep: 20_000,
            seed: 42,
            bootstrap: BootstrapConfig::default(),
        }
    }
}

/// Where the null cosines came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NullKind {
    /// Every ordered pair (i, j), j ≠ i.
    AllPairs,
    /// `max_null` pairs: i uniform, j uniform over the other n − 1 rows.
    Sampled,
}

/// Matched vs null cosines for one variant (raw or centred).
#[derive(Debug, Clone, Serialize)]
pub struct CosineSummary {
    pub matched_mean: f64,
    pub null_mean: f64,
    /// matched_mean − null_mean.
    pub gap: f64,
    /// (matched_mean − null_mean) / pooled SD; None when both are constant.
    pub cohens_d: Option<f64>,
    /// Point estimate on the full null; CI from the two-sample bootstrap.
    pub auc: Interval,
    pub zero_rows_left: usize,
    pub zero_rows_right: usize,
    /// cos(left_i, right_i) per row.
    pub matched: Vec<f32>,
    /// Uniform subsample (≤ null_keep) of the null cosines.
    pub null_sample: Vec<f32>,
}

/// Alignment of one pairing.
#[derive(Debug, Clone, Serialize)]
pub struct Alignment {
    pub n: usize,
    pub dim: usize,
    pub null_kind: NullKind,
    pub null_size: usize,
    /// Zero rows of the raw inputs (cosine defined as 0).
    pub zero_rows_left: usize,
    pub zero_rows_right: usize,
    pub raw: CosineSummary,
    pub centred: CosineSummary,
}

/// Matched-vs-mismatched cosine statistics, raw and centred.
pub fn alignment(
    left: ArrayView2<f32>,
    right: ArrayView2<f32>,
    config: &AlignmentConfig,
) -> Result<Alignment> {
    if config.max_null == 0 {
        return Err(Error::param("max_null", "must be at least 1"));
    }
    if config.null_keep == 0 {
        return Err(Error::param("null_keep", "must be at least 1"));
    }
    config.bootstrap.validate()?;
    check_pair(left, right)?;
    let n = left.nrows();
    let all_pairs = (n as u128) * (n as u128 - 1) <= config.max_null as u128;
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let pairs: Option<Vec<(u32, u32)>> = if all_pairs {
        None
    } else {
        Some(
            (0..config.max_null)
                .map(|_| {
                    let i = rng.gen_range(0..n);
                    let j = rng.gen_range(0..n - 1);
                    (i as u32, if j >= i { j + 1 } else { j } as u32)
                })
                .collect(),
        )
    };
    let null_size = if all_pairs {
        n * (n - 1)
    } else {
        config.max_null
    };
    let keep: Vec<usize> = if null_size <= config.null_keep {
        (0..null_size).collect()
    } else {
        let mut k = sample(&mut rng, null_size, config.null_keep).into_vec();
        k.sort_unstable();
        k
    };
    let variant = |centred: bool| -> Result<(CosineSummary, AucBounds)> {
        let (l, zl) = unit_rows(left, centred);
        let (r, zr) = unit_rows(right, centred);
        let matched: Vec<f32> = (0..n).map(|i| dot_f32(l.row(i), r.row(i))).collect();
        let null = null_cosines(&l, &r, pairs.as_deref());
        summarise(matched, null, &keep, zl, zr)
    };
    // independent, so both run at once (rayon, in the caller's pool)
    let (raw, centred) = rayon::join(|| variant(false), || variant(true));
    let ((mut raw, raw_bounds), (mut centred, centred_bounds)) = (raw?, centred?);
    // both bootstraps draw the same indices (same seed and sizes): one set of draws serves both
    [raw.auc, centred.auc] = auc_bootstrap(
        [&raw_bounds, &centred_bounds],
        [raw.auc.estimate, centred.auc.estimate],
        &config.bootstrap,
    )?;
    Ok(Alignment {
        n,
        dim: left.ncols(),
        null_kind: if all_pairs {
            NullKind::AllPairs
        } else {
            NullKind::Sampled
        },
        null_size,
        zero_rows_left: raw.zero_rows_left,
        zero_rows_right: raw.zero_rows_right,
        raw,
        centred,
    })
}

/// Cosines of the null pairs: every off-diagonal entry of L̂R̂ᵀ in row-major
/// order, or the listed pairs.
fn null_cosines(l: &Array2<f32>, r: &Array2<f32>, pairs: Option<&[(u32, u32)]>) -> Vec<f32> {
    match pairs {
        None => {
            let gram = l.dot(&r.t());
            let n = l.nrows();
            let mut out = Vec::with_capacity(n * (n - 1));
            for (i, row) in gram.outer_iter().enumerate() {
                out.extend(
                    row.iter()
                        .enumerate()
                        .filter(|&(j, _)| j != i)
                        .map(|(_, &v)| v),
                );
            }
            out
        }
        Some(p) => {
            // Sampled pairs hit random rows of both sides. Visiting them grouped
            // by left row (a stable counting sort by i) keeps that row in cache
            // across its ~max_null/n pairs; each cosine is the same dot product
            // and goes back to its pair's position, so the output is unchanged.
            let mut first = vec![0usize; l.nrows() + 1];
            for &(i, _) in p {
                first[i as usize + 1] += 1;
            }
            for k in 0..l.nrows() {
                first[k + 1] += first[k];
            }
            let mut by_row = vec![(0usize, 0u32, 0u32); p.len()];
            for (k, &(i, j)) in p.iter().enumerate() {
                let slot = &mut first[i as usize];
                by_row[*slot] = (k, i, j);
                *slot += 1;
            }
            let cos: Vec<f32> = by_row
                .par_iter()
                .map(|&(_, i, j)| dot_f32(l.row(i as usize), r.row(j as usize)))
                .collect();
            let mut out = vec![0f32; p.len()];
            for (&(k, _, _), c) in by_row.iter().zip(cos) {
                out[k] = c;
            }
            out
        }
    }
}

/// The summary of one variant, its AUC interval still to be bootstrapped (an
/// interval of zero width at the point estimate until then), and what that needs.
fn summarise(
    matched: Vec<f32>,
    null: Vec<f32>,
    keep: &[usize],
    zl: usize,
    zr: usize,
) -> Result<(CosineSummary, AucBounds)> {
    let m64: Vec<f64> = matched.iter().map(|&v| v as f64).collect();
    let n64: Vec<f64> = null.iter().map(|&v| v as f64).collect();
    let matched_mean = m64.iter().sum::<f64>() / m64.len() as f64;
    let null_mean = n64.iter().sum::<f64>() / n64.len() as f64;
    let auc_point = auc(&m64, &n64)?;
    let null_sample: Vec<f32> = keep.iter().map(|&k| null[k]).collect();
    let bounds = AucBounds::new(&m64, &null_sample);
    Ok((
        CosineSummary {
            matched_mean,
            null_mean,
            gap: matched_mean - null_mean,
            cohens_d: cohens_d(&m64, &n64).ok(),
            auc: Interval {
                estimate: auc_point,
                low: auc_point,
                high: auc_point,
                level: 0.0,
            },
            zero_rows_left: zl,
            zero_rows_right: zr,
            matched,
            null_sample,
        },
        bounds,
    ))
}

/// For each matched cosine x, where it falls in the sorted null sample: the
/// counts of null values < x and ≤ x.
struct AucBounds {
    null_len: usize,
    bounds: Vec<(usize, usize)>,
}

impl AucBounds {
    fn new(matched: &[f64], null_sample: &[f32]) -> Self {
        let mut sorted: Vec<f64> = null_sample.iter().map(|&v| v as f64).collect();
        sorted.sort_unstable_by(f64::total_cmp);
        let bounds = matched
            .iter()
            .map(|&x| {
                (
                    sorted.partition_point(|&y| y < x),
                    sorted.partition_point(|&y| y <= x),
                )
            })
            .collect();
        AucBounds {
            null_len: sorted.len(),
            bounds,
        }
    }
}

/// Two-sample percentile bootstrap of the AUC: each resample draws the n matched
/// cosines with replacement and, independently, the kept null sample with
/// replacement. AUC of a resample = mean over drawn matched x of
/// F(x) = (#null < x + ½ #null = x) / m, read from cumulative counts over the
/// sorted null sample, so a resample costs O(n + m) without sorting. The variants
/// (raw, centred) have the same n and m, so one resample's draws serve both: each
/// interval is what its own bootstrap would give.
fn auc_bootstrap<const K: usize>(
    variants: [&AucBounds; K],
    estimates: [f64; K],
    boot: &BootstrapConfig,
) -> Result<[Interval; K]> {
    let (m, n) = (variants[0].null_len, variants[0].bounds.len());
    if variants
        .iter()
        .any(|v| v.null_len != m || v.bounds.len() != n)
    {
        return Err(Error::data(
            "alignment",
            "the variants' sample sizes differ; their bootstraps cannot share draws",
        ));
    }
    let mut counts = vec![0u32; m];
    let mut cum = vec![0u32; m + 1];
    bootstrap_joint(boot, estimates, |rng| {
        counts.iter_mut().for_each(|c| *c = 0);
        for _ in 0..m {
            counts[rng.gen_range(0..m)] += 1;
        }
        for k in 0..m {
            cum[k + 1] = cum[k] + counts[k];
        }
        let mut total = [0.0; K];
        for _ in 0..n {
            let pick = rng.gen_range(0..n);
            for (t, v) in total.iter_mut().zip(&variants) {
                let (lo, hi) = v.bounds[pick];
                *t += cum[lo] as f64 + 0.5 * (cum[hi] - cum[lo]) as f64;
            }
        }
        total.map(|t| Some(t / (m as f64 * n as f64)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn three_by_two_by_hand() {
        // left = right = unit axes and a diagonal: matched cosines all 1
        let x = array![[1.0f32, 0.0], [0.0, 1.0], [1.0, 1.0]];
        let a = alignment(x.view(), x.view(), &AlignmentConfig::default()).unwrap();
        assert_eq!(a.null_kind, NullKind::AllPairs);
        assert_eq!(a.null_size, 6);
        // off-diagonal cosines: 0, s, 0, s, s, s with s = 1/√2
        let s = std::f64::consts::FRAC_1_SQRT_2;
        assert!((a.raw.null_mean - 4.0 * s / 6.0).abs() < 1e-6);
        assert!((a.raw.matched_mean - 1.0).abs() < 1e-6);
        assert_eq!(a.raw.auc.estimate, 1.0);
    }

    #[test]
    fn zero_row_counted_and_cosine_zero() {
        let l = array![[0.0f32, 0.0], [0.0, 1.0], [1.0, 1.0]];
        let r = array![[1.0f32, 0.0], [0.0, 1.0], [1.0, 1.0]];
        let a = alignment(l.view(), r.view(), &AlignmentConfig::default()).unwrap();
        assert_eq!((a.zero_rows_left, a.zero_rows_right), (1, 0));
        assert_eq!(a.raw.matched[0], 0.0);
    }

    #[test]
    fn sampled_null_when_too_many_pairs() {
        let l = array![[1.0f32, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, -1.0]];
        let cfg = AlignmentConfig {
            max_null: 5,
            ..Default::default()
        };
        let a = alignment(l.view(), l.view(), &cfg).unwrap();
        assert_eq!(a.null_kind, NullKind::Sampled);
        assert_eq!(a.raw.null_sample.len(), 5);
    }

    #[test]
    fn sampled_null_cosines_in_row_order_equal_pair_order() {
        use rand::Rng;
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let (n, d) = (300, 37);
        let l = Array2::from_shape_fn((n, d), |_| rng.gen::<f32>() - 0.5);
        let r = Array2::from_shape_fn((n, d), |_| rng.gen::<f32>() - 0.5);
        let pairs: Vec<(u32, u32)> = (0..5000)
            .map(|_| (rng.gen_range(0..n as u32), rng.gen_range(0..n as u32)))
            .collect();
        let direct: Vec<f32> = pairs
            .iter()
            .map(|&(i, j)| l.row(i as usize).dot(&r.row(j as usize)))
            .collect();
        let ours = null_cosines(&l, &r, Some(&pairs));
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&ours), bits(&direct));
    }

    #[test]
    fn shared_draws_give_each_variant_its_own_interval() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut draw = |n: usize, shift: f64| -> Vec<f64> {
            (0..n).map(|_| rng.gen::<f64>() + shift).collect()
        };
        let (ma, mb) = (draw(40, 0.3), draw(40, 0.1));
        let na: Vec<f32> = draw(300, 0.0).iter().map(|&v| v as f32).collect();
        let nb: Vec<f32> = draw(300, 0.05).iter().map(|&v| v as f32).collect();
        let (a, b) = (AucBounds::new(&ma, &na), AucBounds::new(&mb, &nb));
        let boot = BootstrapConfig {
            resamples: 200,
            ..BootstrapConfig::default()
        };
        let [ja, jb] = auc_bootstrap([&a, &b], [0.7, 0.6], &boot).unwrap();
        let [sa] = auc_bootstrap([&a], [0.7], &boot).unwrap();
        let [sb] = auc_bootstrap([&b], [0.6], &boot).unwrap();
        assert_eq!(
            (ja.low.to_bits(), ja.high.to_bits()),
            (sa.low.to_bits(), sa.high.to_bits())
        );
        assert_eq!(
            (jb.low.to_bits(), jb.high.to_bits()),
            (sb.low.to_bits(), sb.high.to_bits())
        );
        assert!(ja.low != jb.low, "the variants' intervals differ");
        let short = AucBounds::new(&ma[..39], &na);
        assert!(auc_bootstrap([&a, &short], [0.7, 0.7], &boot).is_err());
    }

    #[test]
    fn too_few_rows() {
        let l = array![[1.0f32, 0.0], [0.0, 1.0]];
        assert!(alignment(l.view(), l.view(), &AlignmentConfig::default()).is_err());
    }
}
