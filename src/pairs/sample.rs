//! The paper sample: [`sample_paper`] draws `per_split` training and `per_split` withheld items
//! stratified over the bins: each bin gets the same quota of pairs (one training +
//! one withheld item) — with rank bins and enough items that is exactly
//! `per_split / bins` per bin per split (the study's 30 × 20 = 600). A bin with
//! fewer items gives all it has (an odd item out is left) and the shortfall is
//! shared among the larger bins, so both splits always have exactly `per_split`
//! items with the same bin distribution. Items without popularity are never
//! sampled. If fewer than `2 × per_split` items can be placed the sample fails with
//! an error saying how many are available. Within a bin items are shuffled with
//! ChaCha8 seeded by `seed`, so a seed always gives the same sample.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::{assign_bins, BinInfo, Pairing, SampleParams, Split};
use crate::error::{Error, Result};

/// Draws the paper sample: `per_split` training and `per_split` withheld items,
/// stratified over popularity bins (see the module docs). Rows are
/// ordered training first, then withheld, each in the pairing's order.
pub fn sample_paper(pairing: &Pairing, params: &SampleParams) -> Result<Pairing> {
    params.validate()?;
    let bins = assign_bins(&pairing.popularity, params, &pairing.name)?;
    let nb = params.bins as usize;
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); nb];
    for (i, b) in bins.iter().enumerate() {
        if let Some(b) = b {
            members[*b as usize - 1].push(i);
        }
    }
    let capacity: Vec<usize> = members.iter().map(|m| m.len() / 2).collect();
    let total: usize = capacity.iter().sum();
    if total < params.per_split {
        let with_pop = bins.iter().filter(|b| b.is_some()).count();
        return Err(Error::data(
            format!("pairing {}", pairing.name),
            format!(
                "too small for a sample of {} + {} items: {} of {} items have a popularity and at most {} \
                 per split fit the {} bins; lower per_split or use the full set",
                params.per_split,
                params.per_split,
                with_pop,
                pairing.len(),
                total,
                params.bins
            ),
        ));
    }
    let quota = fill_quotas(&capacity, params.per_split);
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    let mut train = Vec::with_capacity(params.per_split);
    let mut withheld = Vec::with_capacity(params.per_split);
    for (b, m) in members.iter_mut().enumerate() {
        m.shuffle(&mut rng);
        train.extend_from_slice(&m[..quota[b]]);
        withheld.extend_from_slice(&m[quota[b]..2 * quota[b]]);
    }
    train.sort_unstable();
    withheld.sort_unstable();
    let order: Vec<usize> = train.iter().chain(withheld.iter()).copied().collect();
    let mut out = pairing.select(&order);
    out.meta.bins = Some(BinInfo {
        binning: params.binning,
        bins: params.bins,
    });
    for (k, &i) in order.iter().enumerate() {
        out.bin[k] = bins[i];
        out.split[k] = if k < train.len() {
            Split::Train
        } else {
            Split::Withheld
        };
    }
    Ok(out)
}

/// Shares `want` among bins with the given capacities as evenly as possible
/// (water-filling: small bins give all they have). Requires Σ capacity ≥ want.
fn fill_quotas(capacity: &[usize], want: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..capacity.len()).filter(|&b| capacity[b] > 0).collect();
    order.sort_by_key(|&b| (capacity[b], b));
    let mut quota = vec![0; capacity.len()];
    let mut remaining = want;
    for (k, &b) in order.iter().enumerate() {
        let fair = remaining / (order.len() - k);
        quota[b] = capacity[b].min(fair);
        remaining -= quota[b];
    }
    // Integer division may leave a few; give them to bins with room, lowest first.
    for b in 0..capacity.len() {
        if remaining == 0 {
            break;
        }
        let add = (capacity[b] - quota[b]).min(remaining);
        quota[b] += add;
        remaining -= add;
    }
    quota
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pairs::{Binning, PairingMeta};

    #[test]
    fn quotas_water_fill() {
        assert_eq!(fill_quotas(&[10, 10, 10], 15), [5, 5, 5]);
        assert_eq!(fill_quotas(&[1, 0, 100, 100], 30), [1, 0, 14, 15]);
        assert_eq!(fill_quotas(&[3, 3, 3], 9), [3, 3, 3]);
        let q = fill_quotas(&[7, 2, 9, 4, 1], 20);
        assert_eq!(q.iter().sum::<usize>(), 20);
        assert!(q.iter().zip([7, 2, 9, 4, 1]).all(|(q, c)| *q <= c));
    }

    #[test]
    fn items_without_popularity_are_not_sampled() {
        let mut p = Pairing::new("t", PairingMeta::default());
        for i in 0..50 {
            let pop = if i % 2 == 0 { Some(i as f64) } else { None };
            p.push(format!("l{i}"), format!("r{i}"), format!("c{i}"), pop);
        }
        let s = sample_paper(
            &p,
            &SampleParams {
                per_split: 10,
                bins: 4,
                seed: 3,
                binning: Binning::Log,
            },
        )
        .unwrap();
        assert_eq!(s.len(), 20);
        assert!(s.popularity.iter().all(Option::is_some));
        assert!(sample_paper(
            &p,
            &SampleParams {
                per_split: 13,
                bins: 4,
                seed: 3,
                binning: Binning::Log,
            }
        )
        .is_err());
        assert!(sample_paper(
            &p,
            &SampleParams {
                per_split: 0,
                bins: 4,
                seed: 3,
                binning: Binning::Log,
            }
        )
        .is_err());
    }
}
