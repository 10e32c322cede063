//! Does an identifier's lexicalisation follow its popularity (e.g. publication
//! count)? Spearman's rho between popularity and score over rows whose
//! popularity is known, with a pair-bootstrap CI, and the mean score per
//! popularity bin.
//!
//! ```
//! use lexalign::metrics::popularity::popularity;
//! use lexalign::stats::BootstrapConfig;
//! let p = popularity(&[0.2, 0.5, 0.9, 0.4], &[Some(1.0), Some(2.0), Some(3.0), None],
//!                    &[Some(0), Some(0), Some(1), None], &BootstrapConfig::default()).unwrap();
//! assert_eq!(p.n_used, 3);
//! assert!((p.spearman.unwrap().estimate - 1.0).abs() < 1e-12);
//! ```

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::stats::{mean_ci, spearman_ci, BootstrapConfig, Interval};

/// Score summary of one popularity bin.
#[derive(Debug, Clone, Serialize)]
pub struct BinSummary {
    pub bin: u32,
    pub n: usize,
    /// Mean score with bootstrap CI.
    pub mean: Interval,
}

#[derive(Debug, Clone, Serialize)]
pub struct Popularity {
    /// Rows with a known popularity.
    pub n_used: usize,
    /// None when fewer than 3 rows are usable or either side is constant.
    pub spearman: Option<Interval>,
    /// Bins in ascending order; rows without a bin are skipped.
    pub bins: Vec<BinSummary>,
}

/// Spearman(popularity, score) and per-bin means. The three slices are per row.
pub fn popularity(
    scores: &[f64],
    popularity: &[Option<f64>],
    bins: &[Option<u32>],
    boot: &BootstrapConfig,
) -> Result<Popularity> {
    if scores.len() != popularity.len() || scores.len() != bins.len() {
        return Err(Error::data(
            "popularity",
            format!(
                "{} scores, {} popularity values, {} bins; need one of each per row",
                scores.len(),
                popularity.len(),
                bins.len()
            ),
        ));
    }
    if let Some(i) = scores.iter().position(|s| !s.is_finite()) {
        return Err(Error::data(
            "popularity",
            format!("score of row {i} is not finite"),
        ));
    }
    if let Some(i) = popularity
        .iter()
        .position(|p| matches!(p, Some(v) if !v.is_finite()))
    {
        return Err(Error::data(
            "popularity",
            format!("popularity of row {i} is not finite"),
        ));
    }
    let (pop, sc): (Vec<f64>, Vec<f64>) = popularity
        .iter()
        .zip(scores)
        .filter_map(|(p, &s)| p.map(|p| (p, s)))
        .unzip();
    let spearman = if pop.len() >= 3 {
        spearman_ci(&pop, &sc, boot).ok()
    } else {
        None
    };
    let mut by_bin: BTreeMap<u32, Vec<f64>> = BTreeMap::new();
    for (b, &s) in bins.iter().zip(scores) {
        if let Some(b) = b {
            by_bin.entry(*b).or_default().push(s);
        }
    }
    let bins = by_bin
        .into_iter()
        .map(|(bin, v)| {
            Ok(BinSummary {
                bin,
                n: v.len(),
                mean: mean_ci(&v, boot)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Popularity {
        n_used: pop.len(),
        spearman,
        bins,
    })
}
