//! Popularity bins.
//!
//! Bins are numbered from 1 = **most popular**. Two binnings ([`Binning`]):
//! - `rank` (default, as in the study): items are ranked by popularity (rank 1 =
//!   most popular) and the ranks cut into `bins` **equal-count** bins, so every bin
//!   holds ⌊n/bins⌋ or ⌈n/bins⌉ items. Ties in popularity are ordered by a seeded
//!   shuffle, not by input order (which often follows the identifier's age), so a
//!   tie that straddles a bin edge is split at random, reproducibly.
//! - `log`: equal-width intervals of `ln(1 + popularity)` between the smallest and
//!   largest value (the top edge belongs to bin 1). It spreads bins over orders of
//!   magnitude, so the top bins are nearly empty for heavy-tailed popularity.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::SampleParams;
use crate::error::{Error, Result};

/// How popularity is cut into bins (see the module docs). Bin 1 is the most popular.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Binning {
    /// Equal-count bins over popularity rank (the study's binning).
    #[default]
    Rank,
    /// Equal-width bins over ln(1 + popularity).
    Log,
}

impl Binning {
    /// `rank` or `log`, as in configs and outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            Binning::Rank => "rank",
            Binning::Log => "log",
        }
    }

    /// How figures and reports describe `bins` bins of this kind.
    pub fn describe(self, bins: u32) -> String {
        match self {
            Binning::Rank => {
                format!("{bins} equal-count bins over popularity rank, 1 = most popular")
            }
            Binning::Log => {
                format!("{bins} equal-width bins over ln(1 + popularity), 1 = most popular")
            }
        }
    }
}

/// The bins a pairing's `bin` column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BinInfo {
    pub binning: Binning,
    pub bins: u32,
}

/// Popularity bins 1..=`params.bins`, 1 = most popular (see the module docs);
/// `None` for items without popularity. Popularity must be finite and ≥ 0.
pub fn assign_bins(
    popularity: &[Option<f64>],
    params: &SampleParams,
    context: &str,
) -> Result<Vec<Option<u32>>> {
    let bins = params.bins;
    crate::ensure!(bins > 0, Error::param("bins", "must be at least 1"));
    if let Some((i, v)) = popularity
        .iter()
        .enumerate()
        .find_map(|(i, p)| p.filter(|v| !v.is_finite() || *v < 0.0).map(|v| (i, v)))
    {
        return Err(Error::data(
            context,
            format!(
                "popularity of item {} is {v}; expected a finite number ≥ 0",
                i + 1
            ),
        ));
    }
    // One value for every item orders nothing: bins would only follow the
    // tie-break, so there are none (and no popularity figure).
    let mut values = popularity.iter().flatten();
    if let Some(first) = values.next() {
        if values.all(|v| v == first) {
            return Ok(vec![None; popularity.len()]);
        }
    }
    Ok(match params.binning {
        Binning::Rank => rank_bins(popularity, bins, params.seed),
        Binning::Log => log_bins(popularity, bins),
    })
}

/// Equal-count bins over popularity rank; ties ordered by a seeded shuffle.
fn rank_bins(popularity: &[Option<f64>], bins: u32, seed: u64) -> Vec<Option<u32>> {
    let mut order: Vec<usize> = (0..popularity.len())
        .filter(|&i| popularity[i].is_some())
        .collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    // Stable: tied items keep their shuffled order.
    order.sort_by(|&a, &b| popularity[b].unwrap().total_cmp(&popularity[a].unwrap()));
    let n = order.len() as u64;
    let mut out = vec![None; popularity.len()];
    for (rank, &i) in order.iter().enumerate() {
        out[i] = Some((rank as u64 * bins as u64 / n) as u32 + 1);
    }
    out
}

/// Equal-width bins over ln(1 + popularity); the top edge belongs to bin 1.
fn log_bins(popularity: &[Option<f64>], bins: u32) -> Vec<Option<u32>> {
    let x = |v: f64| v.ln_1p();
    let (lo, hi) = popularity
        .iter()
        .flatten()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(x(v)), hi.max(x(v)))
        });
    let width = (hi - lo) / bins as f64;
    popularity
        .iter()
        .map(|p| {
            p.map(|v| {
                let from_bottom = if width > 0.0 {
                    (((x(v) - lo) / width).floor() as u32).min(bins - 1)
                } else {
                    bins - 1
                };
                bins - from_bottom
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(bins: u32, binning: Binning) -> SampleParams {
        SampleParams {
            bins,
            binning,
            ..SampleParams::default()
        }
    }
    #[test]
    fn log_bins_are_equal_width_most_popular_first() {
        // ln(1+p): 0, ln 10, ln 100, ln 1000 → widths of ln(1000)/3 each.
        let pop = [Some(0.0), Some(9.0), Some(99.0), Some(999.0), None];
        let b = assign_bins(&pop, &params(3, Binning::Log), "t").unwrap();
        assert_eq!(b, [Some(3), Some(2), Some(1), Some(1), None]);
        // All equal: popularity ranks nothing, so no bins (issue 24).
        for binning in [Binning::Log, Binning::Rank] {
            assert_eq!(
                assign_bins(&[Some(5.0), None, Some(5.0)], &params(20, binning), "t").unwrap(),
                [None, None, None]
            );
        }
        for binning in [Binning::Log, Binning::Rank] {
            assert!(assign_bins(&[Some(-1.0)], &params(3, binning), "t").is_err());
            assert!(assign_bins(&[Some(f64::NAN)], &params(3, binning), "t").is_err());
            assert!(assign_bins(&[Some(1.0)], &params(0, binning), "t").is_err());
        }
    }

    #[test]
    fn rank_bins_are_equal_count_most_popular_first() {
        // 10 items, 5 bins: two per bin, by descending popularity.
        let pop: Vec<Option<f64>> = (0..10).map(|i| Some(i as f64)).collect();
        let b = assign_bins(&pop, &params(5, Binning::Rank), "t").unwrap();
        let want: Vec<Option<u32>> = [5, 5, 4, 4, 3, 3, 2, 2, 1, 1].map(Some).to_vec();
        assert_eq!(b, want);
        // 7 items, 3 bins: ⌊rank·3/7⌋ + 1 gives sizes 3, 2, 2.
        let b = assign_bins(&pop[..7], &params(3, Binning::Rank), "t").unwrap();
        let count = |k| b.iter().filter(|x| **x == Some(k)).count();
        assert_eq!((count(1), count(2), count(3)), (3, 2, 2));
        // Ties straddling an edge are split by the seeded shuffle: counts stay equal,
        // and the same seed gives the same assignment.
        let mut ties = vec![Some(1.0); 8];
        ties.push(Some(0.0));
        let a1 = assign_bins(&ties, &params(4, Binning::Rank), "t").unwrap();
        assert_eq!(a1.iter().filter(|x| **x == Some(1)).count(), 3);
        assert_eq!(a1[8], Some(4));
        assert_eq!(
            a1,
            assign_bins(&ties, &params(4, Binning::Rank), "t").unwrap()
        );
        let other = SampleParams {
            seed: 7,
            ..params(4, Binning::Rank)
        };
        assert_ne!(a1, assign_bins(&ties, &other, "t").unwrap());
    }
}
