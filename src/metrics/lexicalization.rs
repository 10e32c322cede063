//! Lexicalisation score of each identifier (right row): how high its true name
//! ranks among all names when the identifier is the query, on centred cosine.
//! score = 1 − (rank − 1)/(N − 1): 1 = the identifier points straight at its
//! concept's name, 0.5 = chance, 0 = its name is the least similar of all.
//!
//! ```
//! use lexalign::metrics::lexicalization::scores_from_ranks;
//! assert_eq!(scores_from_ranks(&[1.0, 2.0, 3.0]).unwrap(), vec![1.0, 0.5, 0.0]);
//! ```

use ndarray::ArrayView2;
use serde::Serialize;

use super::retrieval::{retrieval, RetrievalConfig};
use crate::error::{Error, Result};
use crate::stats::{mean_ci, BootstrapConfig, Interval};

/// Per-identifier scores of one pairing and their mean.
#[derive(Debug, Clone, Serialize)]
pub struct Lexicalization {
    pub n: usize,
    /// Mean score with a percentile-bootstrap CI over identifiers.
    pub mean: Interval,
    /// Score per right row, in input order.
    pub scores: Vec<f64>,
}

/// Scores from right→left ranks among N = `ranks.len()` candidates.
pub fn scores_from_ranks(ranks: &[f64]) -> Result<Vec<f64>> {
    let n = ranks.len();
    if n < 2 {
        return Err(Error::data(
            "lexicalisation",
            format!("{n} candidates; need at least 2"),
        ));
    }
    if let Some(r) = ranks.iter().find(|r| !(**r >= 1.0 && **r <= n as f64)) {
        return Err(Error::data(
            "lexicalisation",
            format!("rank {r} outside 1..={n}"),
        ));
    }
    Ok(ranks
        .iter()
        .map(|r| 1.0 - (r - 1.0) / (n - 1) as f64)
        .collect())
}

/// Lexicalisation from embeddings (centred cosine, exact ranks).
pub fn lexicalization(
    left: ArrayView2<f32>,
    right: ArrayView2<f32>,
    boot: &BootstrapConfig,
) -> Result<Lexicalization> {
    let r = retrieval(
        left,
        right,
        &RetrievalConfig {
            centred: true,
            ..Default::default()
        },
    )?;
    from_ranks(&r.right_to_left.ranks, boot)
}

/// Lexicalisation from right→left ranks already computed by [`retrieval`].
pub fn from_ranks(ranks: &[f64], boot: &BootstrapConfig) -> Result<Lexicalization> {
    let scores = scores_from_ranks(ranks)?;
    Ok(Lexicalization {
        n: scores.len(),
        mean: mean_ci(&scores, boot)?,
        scores,
    })
}
