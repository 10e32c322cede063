//! The statistics the metrics and the outcome analysis share, in one place:
//! average ranks, AUC (Mann–Whitney), Cohen's d, Pearson and Spearman correlation
//! and percentile-bootstrap confidence intervals (this file); for a binary
//! outcome, a predictor's AUC with bootstrap CI and permutation p-value, the ROC
//! curve, the Wilson interval, the normal quantile, a paired difference of
//! proportions and the Spearman matrix of predictors (`binary.rs`). All
//! accumulate in f64 and return `Error::Data` instead of a NaN. Logistic
//! regression stays with its one user, [`crate::outcome::logistic`].
//!
//! ```
//! use lexalign::stats::{auc, spearman};
//! // 2 of 4 pairs won, 1 tied: (2 + 0.5) / 4
//! assert_eq!(auc(&[1.0, 3.0], &[1.0, 2.0]).unwrap(), 0.625);
//! assert!((spearman(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]).unwrap() - 1.0).abs() < 1e-12);
//! ```

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::error::{Error, Result};

mod binary;

pub use binary::{
    normal_quantile, paired_difference, predictor_auc, roc_curve, spearman_matrix, wilson,
    PredictorAuc, MAX_REDRAWS,
};

/// Most bootstrap resamples (and `outcome` permutations) a run accepts: 100 times
/// the default, tighter than any figure needs, and a bound on a run's time and
/// memory (docs/FAILURES.md, "No bound on work").
pub const MAX_RESAMPLES: usize = 100_000;

/// How a percentile-bootstrap interval is drawn.
#[derive(Debug, Clone, Serialize)]
pub struct BootstrapConfig {
    /// Number of resamples B (default 1000).
    pub resamples: usize,
    /// Coverage of the interval (default 0.95).
    pub level: f64,
    /// Seed of the ChaCha8 generator.
    pub seed: u64,
}

impl Default for BootstrapConfig {
    fn default() -> Self {
        BootstrapConfig {
            resamples: 1000,
            level: 0.95,
            seed: 42,
        }
    }
}

impl BootstrapConfig {
    /// Rejects B = 0, B above [`MAX_RESAMPLES`] and levels outside (0, 1).
    pub fn validate(&self) -> Result<()> {
        if self.resamples == 0 {
            return Err(Error::param(
                "resamples",
                "need at least one bootstrap resample",
            ));
        }
        if self.resamples > MAX_RESAMPLES {
            return Err(Error::param(
                "resamples",
                format!(
                    "{}; at most {MAX_RESAMPLES} (more narrows no interval visibly and only costs time and memory)",
                    self.resamples
                ),
            ));
        }
        if !(self.level > 0.0 && self.level < 1.0) {
            return Err(Error::param(
                "level",
                format!("{} is not in (0, 1)", self.level),
            ));
        }
        Ok(())
    }
}

/// A point estimate with its percentile-bootstrap interval.
#[derive(Debug, Clone, Serialize)]
pub struct Interval {
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
    pub level: f64,
}

/// 1-based ranks of `x`; tied values share the average of their ranks.
/// NaN values are not allowed (callers validate first).
pub fn average_ranks(x: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_unstable_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut ranks = vec![0.0; x.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && x[order[end]] == x[order[start]] {
            end += 1;
        }
        // positions start..end hold ranks start+1..=end; their mean:
        let rank = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = rank;
        }
        start = end;
    }
    ranks
}

fn check_finite(name: &str, x: &[f64]) -> Result<()> {
    match x.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(Error::data(
            name,
            format!("value {i} is {} (must be finite)", x[i]),
        )),
        None => Ok(()),
    }
}

/// AUC = P(X > Y) + 0.5 P(X = Y) for X drawn from `pos`, Y from `neg`: the
/// Mann–Whitney U statistic over n·m, in O((n + m) log m).
///
/// U = Σ over positives x of (#neg < x + ½ #neg = x), which equals the
/// average-rank sum of the positives minus n(n + 1)/2. It is counted here in
/// integers (2U exactly), from the sorted negatives, so the value is the exact U
/// the rank-sum form gives in f64 too (its terms are halves far below 2⁵³), at a
/// fraction of the cost of ranking n + m values: the alignment's null has 2M.
pub fn auc(pos: &[f64], neg: &[f64]) -> Result<f64> {
    if pos.is_empty() || neg.is_empty() {
        return Err(Error::data("auc", "both samples need at least one value"));
    }
    check_finite("auc positives", pos)?;
    check_finite("auc negatives", neg)?;
    let mut sorted = neg.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    let twice_u: u64 = pos
        .iter()
        .map(|&x| {
            let below = sorted.partition_point(|&y| y < x);
            let at_most = sorted.partition_point(|&y| y <= x);
            (below + at_most) as u64
        })
        .sum();
    let n = pos.len() as f64;
    Ok(twice_u as f64 / 2.0 / (n * neg.len() as f64))
}

/// Mean and unbiased (n − 1) variance.
pub fn mean_var(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let ss: f64 = x.iter().map(|v| (v - mean) * (v - mean)).sum();
    (mean, if x.len() > 1 { ss / (n - 1.0) } else { 0.0 })
}

/// Cohen's d = (mean(a) − mean(b)) / s_pooled with
/// s_pooled² = ((n_a − 1) s_a² + (n_b − 1) s_b²) / (n_a + n_b − 2).
pub fn cohens_d(a: &[f64], b: &[f64]) -> Result<f64> {
    if a.len() < 2 || b.len() < 2 {
        return Err(Error::data(
            "cohens_d",
            "each sample needs at least two values",
        ));
    }
    check_finite("cohens_d a", a)?;
    check_finite("cohens_d b", b)?;
    let (ma, va) = mean_var(a);
    let (mb, vb) = mean_var(b);
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let pooled = (((na - 1.0) * va + (nb - 1.0) * vb) / (na + nb - 2.0)).sqrt();
    if pooled == 0.0 {
        return Err(Error::data(
            "cohens_d",
            "both samples are constant; the effect size is undefined",
        ));
    }
    Ok((ma - mb) / pooled)
}

/// Pearson correlation; `Error::Data` when either side is constant.
pub fn pearson(x: &[f64], y: &[f64]) -> Result<f64> {
    if x.len() != y.len() || x.len() < 3 {
        return Err(Error::data(
            "correlation",
            format!(
                "need two equally long samples of at least 3 values, got {} and {}",
                x.len(),
                y.len()
            ),
        ));
    }
    let (mx, _) = mean_var(x);
    let (my, _) = mean_var(y);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    if sxx == 0.0 || syy == 0.0 {
        return Err(Error::data(
            "correlation",
            "a sample is constant; the correlation is undefined",
        ));
    }
    Ok(sxy / (sxx * syy).sqrt())
}

/// Spearman's rho: Pearson correlation of average ranks (ties handled exactly).
pub fn spearman(x: &[f64], y: &[f64]) -> Result<f64> {
    check_finite("spearman x", x)?;
    check_finite("spearman y", y)?;
    pearson(&average_ranks(x), &average_ranks(y))
}

/// Quantile with linear interpolation between order statistics (numpy's default):
/// position q·(n − 1) in the sorted sample.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// Percentile bootstrap: `stat` is called B times with a fresh generator-driven
/// resample (it draws what it needs from the rng); resamples where the statistic
/// is undefined (`None`) are dropped. The interval is the (1−level)/2 and
/// (1+level)/2 quantiles of the defined values.
pub fn bootstrap<F>(config: &BootstrapConfig, estimate: f64, mut stat: F) -> Result<Interval>
where
    F: FnMut(&mut ChaCha8Rng) -> Option<f64>,
{
    let [one] = bootstrap_joint(config, [estimate], |rng| [stat(rng)])?;
    Ok(one)
}

/// K percentile bootstraps from the same resamples: `stat` draws one resample and
/// returns each statistic's value on it. Each interval equals what [`bootstrap`] gives
/// for that statistic alone when it draws the same numbers, so statistics whose
/// resamples are drawn alike (same seed, same sizes) can share the draws.
pub fn bootstrap_joint<const K: usize, F>(
    config: &BootstrapConfig,
    estimates: [f64; K],
    mut stat: F,
) -> Result<[Interval; K]>
where
    F: FnMut(&mut ChaCha8Rng) -> [Option<f64>; K],
{
    config.validate()?;
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut values: [Vec<f64>; K] = std::array::from_fn(|_| Vec::with_capacity(config.resamples));
    for _ in 0..config.resamples {
        for (v, x) in values.iter_mut().zip(stat(&mut rng)) {
            v.extend(x.filter(|x| x.is_finite()));
        }
    }
    let tail = (1.0 - config.level) / 2.0;
    let mut out = Vec::with_capacity(K);
    for (mut v, estimate) in values.into_iter().zip(estimates) {
        if v.is_empty() {
            return Err(Error::data(
                "bootstrap",
                "the statistic was undefined in every resample",
            ));
        }
        v.sort_unstable_by(f64::total_cmp);
        out.push(Interval {
            estimate,
            low: quantile_sorted(&v, tail),
            high: quantile_sorted(&v, 1.0 - tail),
            level: config.level,
        });
    }
    Ok(out
        .try_into()
        .unwrap_or_else(|_| unreachable!("K intervals")))
}

/// `n` indices drawn uniformly with replacement from 0..n.
pub fn resample_indices(rng: &mut ChaCha8Rng, n: usize) -> Vec<usize> {
    (0..n).map(|_| rng.gen_range(0..n)).collect()
}

/// Mean with a percentile-bootstrap CI (resampling the values with replacement).
pub fn mean_ci(x: &[f64], config: &BootstrapConfig) -> Result<Interval> {
    if x.is_empty() {
        return Err(Error::data("mean", "no values"));
    }
    check_finite("mean", x)?;
    let (mean, _) = mean_var(x);
    bootstrap(config, mean, |rng| {
        let idx = resample_indices(rng, x.len());
        Some(idx.iter().map(|&i| x[i]).sum::<f64>() / x.len() as f64)
    })
}

/// Spearman's rho with a CI from resampling (x, y) pairs.
///
/// Each resample's value is exactly `spearman(xs, ys)` of the drawn pairs, but
/// without sorting them: a value's average rank among the drawn values depends
/// only on how often each original row was drawn, so ranks come from the draw
/// counts walked in the original rows' sorted order (O(n) per resample instead
/// of two O(n log n) sorts), and the correlation sums run in the same order over
/// the same numbers as [`pearson`] would.
pub fn spearman_ci(x: &[f64], y: &[f64], config: &BootstrapConfig) -> Result<Interval> {
    let rho = spearman(x, y)?;
    let n = x.len();
    let (gx, gy) = (TieGroups::new(x), TieGroups::new(y));
    let mut counts = vec![0u32; n];
    let (mut rx, mut ry) = (vec![0.0; n], vec![0.0; n]);
    bootstrap(config, rho, |rng| {
        let idx = resample_indices(rng, n);
        counts.iter_mut().for_each(|c| *c = 0);
        for &i in &idx {
            counts[i] += 1;
        }
        gx.ranks(&counts, &mut rx);
        gy.ranks(&counts, &mut ry);
        pearson_of_drawn(&idx, &rx, &ry)
    })
}

/// Rows grouped by equal value (`==`), groups in ascending order, as
/// [`average_ranks`] groups them.
struct TieGroups {
    /// Row indices in sorted order.
    order: Vec<usize>,
    /// Group boundaries in `order`.
    bounds: Vec<usize>,
}

impl TieGroups {
    fn new(x: &[f64]) -> Self {
        let mut order: Vec<usize> = (0..x.len()).collect();
        order.sort_unstable_by(|&a, &b| x[a].total_cmp(&x[b]));
        let mut bounds = vec![0];
        let mut start = 0;
        while start < order.len() {
            let mut end = start + 1;
            while end < order.len() && x[order[end]] == x[order[start]] {
                end += 1;
            }
            bounds.push(end);
            start = end;
        }
        TieGroups { order, bounds }
    }

    /// `ranks[i]`: the average rank a value of row i gets among the drawn values
    /// (row i drawn `counts[i]` times), as [`average_ranks`] computes it:
    /// (start + 1 + end) / 2 over the drawn values' positions.
    fn ranks(&self, counts: &[u32], ranks: &mut [f64]) {
        let mut start = 0usize;
        for g in self.bounds.windows(2) {
            let rows = &self.order[g[0]..g[1]];
            let drawn: usize = rows.iter().map(|&i| counts[i] as usize).sum();
            let end = start + drawn;
            let rank = (start + 1 + end) as f64 / 2.0;
            for &i in rows {
                ranks[i] = rank;
            }
            start = end;
        }
    }
}

/// [`pearson`] of (rx[i], ry[i]) over the drawn rows `idx`, in draw order (the
/// same operations in the same order); `None` where it is undefined.
fn pearson_of_drawn(idx: &[usize], rx: &[f64], ry: &[f64]) -> Option<f64> {
    if idx.len() < 3 {
        return None;
    }
    let n = idx.len() as f64;
    let mx = idx.iter().map(|&i| rx[i]).sum::<f64>() / n;
    let my = idx.iter().map(|&i| ry[i]).sum::<f64>() / n;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for &i in idx {
        let (a, b) = (rx[i], ry[i]);
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    if sxx == 0.0 || syy == 0.0 {
        return None;
    }
    Some(sxy / (sxx * syy).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_with_ties() {
        assert_eq!(
            average_ranks(&[10.0, 20.0, 10.0, 30.0]),
            vec![1.5, 3.0, 1.5, 4.0]
        );
    }

    #[test]
    fn auc_by_hand() {
        // pairs: (1,1)=tie, (1,2)=loss, (3,1)=win, (3,2)=win → (2 + 0.5)/4
        assert_eq!(auc(&[1.0, 3.0], &[1.0, 2.0]).unwrap(), 0.625);
        assert_eq!(auc(&[5.0], &[1.0, 2.0]).unwrap(), 1.0);
        assert_eq!(auc(&[1.0, 1.0], &[1.0]).unwrap(), 0.5);
    }

    #[test]
    fn auc_equals_the_rank_sum_form_bit_for_bit() {
        // The Mann–Whitney rank-sum definition, with many ties and ±0.
        let rank_sum_auc = |pos: &[f64], neg: &[f64]| {
            let all: Vec<f64> = pos.iter().chain(neg).copied().collect();
            let ranks = average_ranks(&all);
            let n = pos.len() as f64;
            let u = ranks[..pos.len()].iter().sum::<f64>() - n * (n + 1.0) / 2.0;
            u / (n * neg.len() as f64)
        };
        for (np, nn) in [(1, 1), (3, 7), (500, 20_000), (43, 5)] {
            let pos: Vec<f64> = (0..np)
                .map(|i| ((i * 31) % 13) as f64 / 4.0 - 1.0)
                .collect();
            let mut neg: Vec<f64> = (0..nn)
                .map(|i| ((i * 17) % 11) as f64 / 4.0 - 1.5)
                .collect();
            neg[0] = -0.0;
            let (a, b) = (auc(&pos, &neg).unwrap(), rank_sum_auc(&pos, &neg));
            assert_eq!(a.to_bits(), b.to_bits(), "{np} × {nn}: {a} vs {b}");
        }
    }

    #[test]
    fn cohens_d_by_hand() {
        // means 2 and 5, both variances 1 → pooled 1 → d = -3
        assert!((cohens_d(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]).unwrap() + 3.0).abs() < 1e-12);
        assert!(cohens_d(&[1.0, 1.0], &[1.0, 1.0]).is_err());
    }

    #[test]
    fn spearman_with_ties_known_value() {
        // scipy.stats.spearmanr([1,2,2,3],[1,3,2,4]) = 0.9486832980505138
        let r = spearman(&[1.0, 2.0, 2.0, 3.0], &[1.0, 3.0, 2.0, 4.0]).unwrap();
        assert!((r - 0.948_683_298_050_513_8).abs() < 1e-12, "{r}");
        assert!(spearman(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]).is_err());
    }

    #[test]
    fn quantile_matches_numpy_linear() {
        // np.quantile([1,2,3,4], 0.25) = 1.75
        assert_eq!(quantile_sorted(&[1.0, 2.0, 3.0, 4.0], 0.25), 1.75);
    }

    #[test]
    fn spearman_ci_equals_resampled_spearman_bit_for_bit() {
        // The sorting definition, resample by resample, with ties and ±0.
        let x: Vec<f64> = (0..200).map(|i| ((i * 37) % 23) as f64 - 11.0).collect();
        let mut y: Vec<f64> = (0..200).map(|i| ((i * 11) % 17) as f64 * 0.5).collect();
        y[3] = -0.0;
        y[4] = 0.0;
        let c = BootstrapConfig {
            resamples: 300,
            ..Default::default()
        };
        let fast = spearman_ci(&x, &y, &c).unwrap();
        let slow = bootstrap(&c, spearman(&x, &y).unwrap(), |rng| {
            let idx = resample_indices(rng, x.len());
            let xs: Vec<f64> = idx.iter().map(|&i| x[i]).collect();
            let ys: Vec<f64> = idx.iter().map(|&i| y[i]).collect();
            spearman(&xs, &ys).ok()
        })
        .unwrap();
        assert_eq!(fast.low.to_bits(), slow.low.to_bits());
        assert_eq!(fast.high.to_bits(), slow.high.to_bits());
        // tiny samples, where resamples are often constant (undefined)
        let (x, y) = ([1.0, 2.0, 2.0, 3.0], [1.0, 3.0, 2.0, 4.0]);
        let fast = spearman_ci(&x, &y, &c).unwrap();
        let slow = bootstrap(&c, spearman(&x, &y).unwrap(), |rng| {
            let idx = resample_indices(rng, x.len());
            let xs: Vec<f64> = idx.iter().map(|&i| x[i]).collect();
            let ys: Vec<f64> = idx.iter().map(|&i| y[i]).collect();
            spearman(&xs, &ys).ok()
        })
        .unwrap();
        assert_eq!((fast.low, fast.high), (slow.low, slow.high));
    }

    #[test]
    fn mean_ci_is_seeded_and_brackets_mean() {
        let x: Vec<f64> = (0..100).map(|i| i as f64).collect();
        let c = BootstrapConfig::default();
        let a = mean_ci(&x, &c).unwrap();
        let b = mean_ci(&x, &c).unwrap();
        assert_eq!(a.low, b.low);
        assert!(a.low < 49.5 && 49.5 < a.high);
    }
}
