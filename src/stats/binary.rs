//! One predictor against per-item correctness: AUC with a percentile-bootstrap CI
//! and a two-sided permutation p-value, the Wilson interval of an accuracy, the ROC
//! curve, the normal quantile, and the Spearman matrix of the predictors. Builds on
//! the ranks, AUC and bootstrap of [`crate::stats`] instead of repeating them.
//!
//! ```
//! use lexalign::stats::{predictor_auc, BootstrapConfig};
//! // correct items: values 1 and 3; incorrect: 1 and 2.
//! // pairs (1,1) tie, (1,2) loss, (3,1) win, (3,2) win → (2 + 0.5) / 4
//! let r = predictor_auc(&[1.0, 3.0, 1.0, 2.0], &[true, true, false, false],
//!                       &BootstrapConfig::default(), 100).unwrap();
//! assert_eq!(r.auc, 0.625);
//! ```

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use statrs::distribution::{ContinuousCDF, Normal};

use super::{auc, average_ranks, bootstrap, pearson, resample_indices, BootstrapConfig, Interval};
use crate::error::{Error, Result};

/// A bootstrap resample holding only one class is redrawn at most this many times;
/// after that it is skipped (dropped from the interval's sample). With both classes
/// present in the data a resample misses one with probability at most ½ (two items)
/// and about e⁻¹ (one item of a class among many), so this limit is never reached
/// in practice; it only keeps the loop finite.
pub const MAX_REDRAWS: usize = 1000;

/// AUC of one predictor for telling correct from incorrect items.
#[derive(Debug, Clone, Serialize)]
pub struct PredictorAuc {
    /// Items used.
    pub n: usize,
    /// Items answered correctly.
    pub n_correct: usize,
    /// P(value of a correct item > value of an incorrect one) + ½ P(tie).
    pub auc: f64,
    /// Percentile-bootstrap interval of the AUC (items resampled with replacement).
    pub ci: Interval,
    /// Two-sided permutation p-value: (1 + #{|AUC_perm − ½| ≥ |AUC − ½|}) / (1 + B).
    pub p_value: f64,
    /// Number of label permutations B behind `p_value`.
    pub permutations: usize,
}

/// Equal lengths, finite values, at least one item of each class; returns n_correct.
fn check_labelled(what: &str, values: &[f64], correct: &[bool]) -> Result<usize> {
    crate::ensure!(
        values.len() == correct.len(),
        Error::data(
            what,
            format!(
                "{} values but {} correctness labels",
                values.len(),
                correct.len()
            )
        )
    );
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(Error::data(
            what,
            format!("value {i} is {} (must be finite)", values[i]),
        ));
    }
    let n_correct = correct.iter().filter(|&&c| c).count();
    crate::ensure!(
        n_correct > 0 && n_correct < correct.len(),
        Error::data(
            what,
            format!(
                "{n_correct} of {} items are correct; both correct and incorrect items are needed",
                correct.len()
            )
        )
    );
    Ok(n_correct)
}

/// AUC of `values` for separating correct items (`correct[i]`) from incorrect ones,
/// with a percentile-bootstrap CI (`boot`) and a two-sided permutation p-value from
/// `permutations` shuffles of the labels.
///
/// - Direction: AUC > ½ means correct items tend to have *higher* values. For a rank
///   (lower is better) an AUC below ½ means better-ranked items are more often correct.
/// - Bootstrap: items are resampled with replacement; a resample holding only one
///   class is redrawn (up to [`MAX_REDRAWS`] times, then skipped). Each resample's AUC
///   is computed from the multiplicities in one pass over the values sorted once.
/// - Permutations: a ChaCha8 generator seeded with `boot.seed` on stream 1 (the
///   bootstrap uses stream 0 of the same seed) draws which items are "correct"
///   (a uniformly random subset of the same size); the ranks are computed once, so
///   each permutation is a sum of ranks. A permutation counts when
///   |AUC_perm − ½| ≥ |AUC_obs − ½| − 1e-12; p = (1 + count) / (1 + permutations).
///
/// Errors: lengths differ, a non-finite value, no correct or no incorrect item,
/// `permutations == 0`, or an invalid `boot`.
pub fn predictor_auc(
    values: &[f64],
    correct: &[bool],
    boot: &BootstrapConfig,
    permutations: usize,
) -> Result<PredictorAuc> {
    let n_correct = check_labelled("predictor auc", values, correct)?;
    boot.validate()?;
    crate::ensure!(
        permutations > 0,
        Error::param(
            "permutations",
            "need at least one label permutation for a p-value"
        )
    );
    let n = values.len();
    let pos: Vec<f64> = (0..n).filter(|&i| correct[i]).map(|i| values[i]).collect();
    let neg: Vec<f64> = (0..n).filter(|&i| !correct[i]).map(|i| values[i]).collect();
    let estimate = auc(&pos, &neg)?;

    // Bootstrap over items. `groups` are runs of equal values in ascending order.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_unstable_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut groups: Vec<(usize, usize)> = Vec::new();
    let mut start = 0;
    while start < n {
        let mut end = start + 1;
        while end < n && values[order[end]] == values[order[start]] {
            end += 1;
        }
        groups.push((start, end));
        start = end;
    }
    let mut counts = vec![0u64; n];
    let ci = bootstrap(boot, estimate, |rng| {
        for _ in 0..MAX_REDRAWS {
            counts.iter_mut().for_each(|c| *c = 0);
            for i in resample_indices(rng, n) {
                counts[i] += 1;
            }
            if let Some(a) = weighted_auc(&order, &groups, correct, &counts) {
                return Some(a);
            }
        }
        None
    })?;

    // Permutation test on fixed ranks: doubled average ranks are integers.
    let twice_rank: Vec<u64> = average_ranks(values)
        .iter()
        .map(|r| (2.0 * r) as u64)
        .collect();
    let total: u64 = twice_rank.iter().sum();
    let n1 = n_correct as u64;
    let n0 = (n - n_correct) as u64;
    let pairs = (n1 * n0) as f64;
    // AUC from the doubled rank sum of the correct items: U = R1 − n1(n1+1)/2.
    let auc_of = |twice_r1: u64| (twice_r1 - n1 * (n1 + 1)) as f64 / (2.0 * pairs);
    let observed = (estimate - 0.5).abs() - 1e-12;
    // Draw the smaller class (fewer draws); the other's rank sum is the rest.
    let draw_correct = n_correct <= n - n_correct;
    let k = if draw_correct {
        n_correct
    } else {
        n - n_correct
    };
    let mut rng = ChaCha8Rng::seed_from_u64(boot.seed);
    rng.set_stream(1);
    let mut idx: Vec<usize> = (0..n).collect();
    let mut extreme = 0usize;
    for _ in 0..permutations {
        let (chosen, _) = idx.partial_shuffle(&mut rng, k);
        let s: u64 = chosen.iter().map(|&i| twice_rank[i]).sum();
        let twice_r1 = if draw_correct { s } else { total - s };
        if (auc_of(twice_r1) - 0.5).abs() >= observed {
            extreme += 1;
        }
    }
    Ok(PredictorAuc {
        n,
        n_correct,
        auc: estimate,
        ci,
        p_value: (1 + extreme) as f64 / (1 + permutations) as f64,
        permutations,
    })
}

/// AUC of a resample given as multiplicities `counts`; `None` when a class is absent.
/// Exact: U is accumulated in integers (doubled, so ties add 1 instead of ½).
fn weighted_auc(
    order: &[usize],
    groups: &[(usize, usize)],
    correct: &[bool],
    counts: &[u64],
) -> Option<f64> {
    let (mut twice_u, mut neg_below, mut n1) = (0u128, 0u64, 0u64);
    for &(start, end) in groups {
        let (mut p, mut m) = (0u64, 0u64);
        for &i in &order[start..end] {
            if correct[i] {
                p += counts[i];
            } else {
                m += counts[i];
            }
        }
        twice_u += p as u128 * (2 * neg_below + m) as u128;
        neg_below += m;
        n1 += p;
    }
    let n0 = neg_below;
    if n1 == 0 || n0 == 0 {
        return None;
    }
    Some(twice_u as f64 / (2.0 * n1 as f64 * n0 as f64))
}

/// Two-sided standard-normal quantile for coverage `level`: Φ⁻¹(1 − (1 − level)/2).
pub fn normal_quantile(level: f64) -> Result<f64> {
    crate::ensure!(
        level > 0.0 && level < 1.0,
        Error::param("level", format!("{level} is not in (0, 1)"))
    );
    Ok(Normal::standard().inverse_cdf(1.0 - (1.0 - level) / 2.0))
}

/// Wilson score interval of an accuracy `successes / n` at coverage `level`:
/// with p̂ = s/n and z = Φ⁻¹(1 − (1 − level)/2),
/// centre = (p̂ + z²/2n) / (1 + z²/n), half-width = z/(1 + z²/n) · √(p̂(1−p̂)/n + z²/4n²).
/// Unlike p̂ ± z·SE it stays inside [0, 1] and is not empty at 0 or n successes.
/// `estimate` is p̂. Errors: n = 0, successes > n, level outside (0, 1).
pub fn wilson(successes: usize, n: usize, level: f64) -> Result<Interval> {
    crate::ensure!(n > 0, Error::data("wilson interval", "no items (n = 0)"));
    crate::ensure!(
        successes <= n,
        Error::data(
            "wilson interval",
            format!("{successes} successes out of only {n} items")
        )
    );
    let z = normal_quantile(level)?;
    let nf = n as f64;
    let p = successes as f64 / nf;
    let z2 = z * z;
    let denom = 1.0 + z2 / nf;
    let centre = (p + z2 / (2.0 * nf)) / denom;
    let half = z / denom * (p * (1.0 - p) / nf + z2 / (4.0 * nf * nf)).sqrt();
    Ok(Interval {
        estimate: p,
        // Exactly 0 at no successes and 1 at all (the formula's values, without rounding).
        low: if successes == 0 {
            0.0
        } else {
            (centre - half).max(0.0)
        },
        high: if successes == n {
            1.0
        } else {
            (centre + half).min(1.0)
        },
        level,
    })
}

/// Interval of a paired difference of proportions, p_after − p_before, from the
/// 2 × 2 table of the same items answered twice: `kept` (right both times), `lost`
/// (right before, wrong after), `gained` (wrong before, right after), `never`.
/// Newcombe's (1998) method 10: the Wilson intervals (l, u) of both accuracies
/// combined with the φ correlation of the table,
/// δ = √((p_a − l_a)² − 2φ(p_a − l_a)(u_b − p_b) + (u_b − p_b)²),
/// ε = √((u_a − p_a)² − 2φ(u_a − p_a)(p_b − l_b) + (p_b − l_b)²),
/// interval (Δ − δ, Δ + ε), with φ = (kept·never − lost·gained) / √(product of the
/// four margins), 0 when a margin is 0. `estimate` is Δ = (gained − lost)/n.
pub fn paired_difference(
    kept: usize,
    lost: usize,
    gained: usize,
    never: usize,
    level: f64,
) -> Result<Interval> {
    let n = kept + lost + gained + never;
    let before = wilson(kept + lost, n, level)?;
    let after = wilson(kept + gained, n, level)?;
    let (a, b, c, d) = (kept as f64, lost as f64, gained as f64, never as f64);
    let margins = (a + b) * (c + d) * (a + c) * (b + d);
    let phi = if margins > 0.0 {
        (a * d - b * c) / margins.sqrt()
    } else {
        0.0
    };
    let (pa, la, ua) = (after.estimate, after.low, after.high);
    let (pb, lb, ub) = (before.estimate, before.low, before.high);
    let delta = ((pa - la).powi(2) - 2.0 * phi * (pa - la) * (ub - pb) + (ub - pb).powi(2))
        .max(0.0)
        .sqrt();
    let eps = ((ua - pa).powi(2) - 2.0 * phi * (ua - pa) * (pb - lb) + (pb - lb).powi(2))
        .max(0.0)
        .sqrt();
    let est = pa - pb;
    Ok(Interval {
        estimate: est,
        low: (est - delta).max(-1.0),
        high: (est + eps).min(1.0),
        level,
    })
}

/// ROC curve of `values` as a score for "correct": (false-positive rate,
/// true-positive rate) points from (0, 0) to (1, 1), lowering the threshold through
/// the distinct values from the highest down. Items with equal values enter
/// together, as one (diagonal) step, so the trapezoid area under the points equals
/// [`predictor_auc`]'s AUC with ties counted ½. Errors as for [`predictor_auc`].
pub fn roc_curve(values: &[f64], correct: &[bool]) -> Result<Vec<(f64, f64)>> {
    let n_correct = check_labelled("roc curve", values, correct)?;
    let n = values.len();
    let (n1, n0) = (n_correct as f64, (n - n_correct) as f64);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_unstable_by(|&a, &b| values[b].total_cmp(&values[a]));
    let mut points = vec![(0.0, 0.0)];
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut start = 0;
    while start < n {
        let mut end = start;
        while end < n && values[order[end]] == values[order[start]] {
            if correct[order[end]] {
                tp += 1;
            } else {
                fp += 1;
            }
            end += 1;
        }
        points.push((fp as f64 / n0, tp as f64 / n1));
        start = end;
    }
    Ok(points)
}

/// Pairwise Spearman correlations of the columns (all of one length, at least 3
/// values, finite): a symmetric matrix with 1 on the diagonal. A constant column has
/// no rank correlation; it is an error naming its 0-based index (rather than a
/// matrix with holes), so the caller drops or reports that predictor.
pub fn spearman_matrix(columns: &[&[f64]]) -> Result<Vec<Vec<f64>>> {
    let what = "spearman matrix";
    let Some(first) = columns.first() else {
        return Ok(Vec::new());
    };
    let n = first.len();
    let mut ranks = Vec::with_capacity(columns.len());
    for (j, c) in columns.iter().enumerate() {
        crate::ensure!(
            c.len() == n,
            Error::data(
                what,
                format!("column {j} has {} values, column 0 has {n}", c.len())
            )
        );
        crate::ensure!(n >= 3, Error::too_few(format!("{what} column {j}"), n, 3));
        if let Some(i) = c.iter().position(|v| !v.is_finite()) {
            return Err(Error::data(
                what,
                format!("column {j}, value {i} is {} (must be finite)", c[i]),
            ));
        }
        crate::ensure!(
            c.iter().any(|&v| v != c[0]),
            Error::data(
                what,
                format!("column {j} is constant; its rank correlation is undefined")
            )
        );
        ranks.push(average_ranks(c));
    }
    let k = columns.len();
    let mut m = vec![vec![1.0; k]; k];
    for a in 0..k {
        for b in a + 1..k {
            let r = pearson(&ranks[a], &ranks[b])?;
            m[a][b] = r;
            m[b][a] = r;
        }
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trapezoid(points: &[(f64, f64)]) -> f64 {
        points
            .windows(2)
            .map(|w| (w[1].0 - w[0].0) * (w[0].1 + w[1].1) / 2.0)
            .sum()
    }

    #[test]
    fn auc_with_ties_by_hand() {
        // correct: 2, 2, 5; incorrect: 1, 2, 3.
        // pairs (c, i): 2>1 win, 2=2 tie, 2<3 loss (twice, for both 2s) → 2 × 1.5 = 3;
        // 5 beats all three → 3. AUC = (3 + 3) / 9 = 2/3.
        let v = [2.0, 2.0, 5.0, 1.0, 2.0, 3.0];
        let c = [true, true, true, false, false, false];
        let r = predictor_auc(&v, &c, &BootstrapConfig::default(), 200).unwrap();
        assert!((r.auc - 2.0 / 3.0).abs() < 1e-15);
        assert_eq!((r.n, r.n_correct, r.permutations), (6, 3, 200));
        assert!(r.ci.low <= r.auc && r.auc <= r.ci.high);
        assert!(r.p_value > 0.0 && r.p_value <= 1.0);
        assert!((trapezoid(&roc_curve(&v, &c).unwrap()) - r.auc).abs() < 1e-15);
    }

    #[test]
    fn weighted_auc_matches_plain_auc_on_a_resample() {
        let v: [f64; 7] = [0.3, 0.1, 0.3, 0.9, 0.5, 0.1, 0.7];
        let c = [true, false, false, true, true, true, false];
        let counts = [2u64, 0, 1, 1, 3, 1, 2];
        let mut order: Vec<usize> = (0..v.len()).collect();
        order.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
        let groups = [(0, 2), (2, 4), (4, 5), (5, 6), (6, 7)];
        let (mut pos, mut neg) = (vec![], vec![]);
        for i in 0..v.len() {
            for _ in 0..counts[i] {
                if c[i] {
                    pos.push(v[i]);
                } else {
                    neg.push(v[i]);
                }
            }
        }
        let w = weighted_auc(&order, &groups, &c, &counts).unwrap();
        assert!((w - auc(&pos, &neg).unwrap()).abs() < 1e-15);
        assert!(weighted_auc(&order, &groups, &c, &[1, 0, 0, 1, 1, 1, 0]).is_none());
    }

    #[test]
    fn permutation_p_value_is_small_for_perfect_split_and_seeded() {
        let v: Vec<f64> = (0..40).map(f64::from).collect();
        let c: Vec<bool> = (0..40).map(|i| i >= 20).collect();
        let b = BootstrapConfig::default();
        let r = predictor_auc(&v, &c, &b, 999).unwrap();
        assert_eq!(r.auc, 1.0);
        assert_eq!(r.p_value, 1.0 / 1000.0);
        let again = predictor_auc(&v, &c, &b, 999).unwrap();
        assert_eq!((r.ci.low, r.ci.high), (again.ci.low, again.ci.high));
    }

    #[test]
    fn null_predictor_has_large_p() {
        let v = [1.0, 2.0, 1.0, 2.0];
        let c = [true, true, false, false];
        let r = predictor_auc(&v, &c, &BootstrapConfig::default(), 500).unwrap();
        assert_eq!(r.auc, 0.5);
        assert_eq!(r.p_value, 1.0); // every permutation is at least as extreme
    }

    #[test]
    fn errors_not_nan() {
        let b = BootstrapConfig::default();
        assert!(predictor_auc(&[1.0, 2.0], &[true, true], &b, 10).is_err());
        assert!(predictor_auc(&[1.0, f64::NAN], &[true, false], &b, 10).is_err());
        assert!(predictor_auc(&[1.0, 2.0], &[true], &b, 10).is_err());
        assert!(predictor_auc(&[1.0, 2.0], &[true, false], &b, 0).is_err());
        assert!(roc_curve(&[1.0, 2.0], &[false, false]).is_err());
        assert!(wilson(3, 2, 0.95).is_err());
        assert!(wilson(0, 0, 0.95).is_err());
        assert!(wilson(1, 2, 1.0).is_err());
    }

    #[test]
    fn wilson_edges_stay_in_unit_interval() {
        let w = wilson(0, 10, 0.95).unwrap();
        assert_eq!(w.low, 0.0);
        assert!(w.high > 0.0 && w.high < 0.35);
        let w = wilson(10, 10, 0.95).unwrap();
        assert_eq!(w.high, 1.0);
        assert!(w.low > 0.65);
    }

    #[test]
    fn spearman_matrix_is_symmetric_and_names_constant_column() {
        let a = [1.0, 2.0, 3.0, 4.0];
        let b = [2.0, 1.0, 4.0, 3.0];
        let c = [4.0, 3.0, 2.0, 1.0];
        let m = spearman_matrix(&[&a, &b, &c]).unwrap();
        assert_eq!(m[0][0], 1.0);
        assert_eq!(m[0][2], -1.0);
        assert_eq!(m[0][1], m[1][0]);
        // ranks of b are 2,1,4,3: 1 − 6·Σd²/(n(n²−1)) = 1 − 6·4/60 = 0.6
        assert!((m[0][1] - 0.6).abs() < 1e-12);
        let k = [5.0; 4];
        let e = spearman_matrix(&[&a, &k]).unwrap_err().to_string();
        assert!(e.contains("column 1 is constant"), "{e}");
    }
}
