//! One pairing's analysis: clean the pairs, then alignment, retrieval,
//! lexicalisation, popularity, the memorisation probe and a joint PCA, all from
//! embeddings computed once.

use std::collections::HashSet;

use ndarray::{concatenate, Array2, ArrayView2, Axis};
use serde::Serialize;

use super::Config;
use crate::embed::{EmbedOptions, Model, TokenStats};
use crate::error::{Error, Result};
use crate::metrics::alignment::{alignment, Alignment, AlignmentConfig};
use crate::metrics::lexicalization::{from_ranks, Lexicalization};
use crate::metrics::popularity::{popularity, Popularity};
use crate::metrics::probe::{probe, Probe, ProbeConfig};
use crate::metrics::retrieval::{retrieval, Retrieval, RetrievalConfig};
use crate::metrics::stats::BootstrapConfig;
use crate::pairs::{Pairing, Split};
use crate::project::{fit_pca, Pca};

/// What cleaning removed before the analysis, reported in the summary.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Cleaning {
    pub input_rows: usize,
    /// Rows whose two sides are the same string (ignoring case): trivially aligned.
    pub identical_dropped: usize,
    /// Repeated (left, right) rows beyond the first.
    pub duplicates_dropped: usize,
    pub rows: usize,
}

/// Everything measured on one pairing.
#[derive(Debug, Clone)]
pub struct PairingAnalysis {
    /// The cleaned pairing the numbers refer to.
    pub pairing: Pairing,
    pub cleaning: Cleaning,
    /// How each identifier (right side) tokenises.
    pub right_tokens: Vec<TokenStats>,
    pub alignment: Alignment,
    pub retrieval: Retrieval,
    pub lexicalization: Lexicalization,
    pub popularity: Popularity,
    /// None when the pairing has no training/withheld split (full sets).
    pub probe: Option<Probe>,
    /// Joint PCA of left and right rows.
    pub pca: Pca,
    /// `[2n, 2]`: rows 0..n are the left strings, n..2n the right ones.
    pub projection: Array2<f32>,
}

/// Drops identical and duplicate pairs; returns the kept row indices.
pub fn clean(pairing: &Pairing) -> (Vec<usize>, Cleaning) {
    let mut seen = HashSet::new();
    let mut keep = Vec::with_capacity(pairing.len());
    let mut c = Cleaning {
        input_rows: pairing.len(),
        ..Default::default()
    };
    for i in 0..pairing.len() {
        if pairing.left[i].trim().to_lowercase() == pairing.right[i].trim().to_lowercase() {
            c.identical_dropped += 1;
        } else if !seen.insert((pairing.left[i].as_str(), pairing.right[i].as_str())) {
            c.duplicates_dropped += 1;
        } else {
            keep.push(i);
        }
    }
    c.rows = keep.len();
    (keep, c)
}

/// Embeds a pairing with `model` and analyses it (the notebook entry point):
/// the same measures [`super::run`] computes for each pairing of a report.
///
/// ```no_run
/// use lexalign::embed::Model;
/// use lexalign::pairs::{default_processed_dir, load_processed, Sample};
/// use lexalign::report::{analyse_pairing, Config};
/// let model = Model::load_default()?;
/// let pairing = load_processed(&default_processed_dir(), "gene-name-symbol", Sample::Paper)?;
/// let a = analyse_pairing(&model, &pairing, &Config::paper())?;
/// println!("centred AUC {:.3}, top-1 {:.3}", a.alignment.centred.auc.estimate, a.retrieval.left_to_right.top1);
/// # Ok::<(), lexalign::Error>(())
/// ```
pub fn analyse_pairing(
    model: &Model,
    pairing: &Pairing,
    config: &Config,
) -> Result<PairingAnalysis> {
    let (keep, _) = clean(pairing);
    let cleaned = pairing.select(&keep);
    let options = EmbedOptions::default()
        .with_pooling(config.pooling_kind()?)
        .with_cache(config.cache.then(crate::embed::default_cache_dir))
        .with_progress(config.progress);
    let left = model.embed(&cleaned.left, &options)?;
    let right = model.embed(&cleaned.right, &options)?;
    let tokens = model.token_stats(&cleaned.right)?;
    analyse(
        pairing,
        left.vectors.view(),
        right.vectors.view(),
        &tokens,
        config,
    )
}

/// Analyses `pairing` given the embeddings of its *cleaned* rows (see [`clean`]):
/// row i of `left`/`right` and `right_tokens[i]` belong to the i-th kept row.
pub fn analyse(
    pairing: &Pairing,
    left: ArrayView2<f32>,
    right: ArrayView2<f32>,
    right_tokens: &[TokenStats],
    config: &Config,
) -> Result<PairingAnalysis> {
    let context = format!("pairing {}", pairing.name);
    let (keep, cleaning) = clean(pairing);
    let cleaned = pairing.select(&keep);
    let n = cleaned.len();
    if n < 3 {
        return Err(Error::data(
            &context,
            format!(
                "{n} usable rows after cleaning ({} input, {} identical, {} duplicate); need at least 3",
                cleaning.input_rows, cleaning.identical_dropped, cleaning.duplicates_dropped
            ),
        ));
    }
    if left.nrows() != n || right.nrows() != n || right_tokens.len() != n {
        return Err(Error::data(
            &context,
            format!(
                "{n} cleaned rows but {} left, {} right vectors and {} token rows",
                left.nrows(),
                right.nrows(),
                right_tokens.len()
            ),
        ));
    }
    let boot = BootstrapConfig {
        resamples: config.bootstrap,
        level: 0.95,
        seed: config.seed,
    };
    let with_context = |e: Error| match e {
        Error::Data {
            context: c,
            message,
        } => Error::data(format!("{context}: {c}"), message),
        other => other,
    };
    let alignment = alignment(
        left,
        right,
        &AlignmentConfig {
            max_null: config.max_null,
            seed: config.seed,
            bootstrap: boot.clone(),
            ..Default::default()
        },
    )
    .map_err(with_context)?;
    let retrieval = retrieval(left, right, &RetrievalConfig::default()).map_err(with_context)?;
    let lexicalization = from_ranks(&retrieval.right_to_left.ranks, &boot).map_err(with_context)?;
    let popularity = popularity(
        &lexicalization.scores,
        &cleaned.popularity,
        &cleaned.bin,
        &boot,
    )
    .map_err(with_context)?;
    let train: Vec<bool> = cleaned.split.iter().map(|s| *s == Split::Train).collect();
    let n_train = train.iter().filter(|&&t| t).count();
    let n_withheld = cleaned
        .split
        .iter()
        .filter(|&&s| s == Split::Withheld)
        .count();
    let probe = if n_train >= 3 && n_withheld >= 3 {
        // Rows outside both splits take no part in the probe.
        let rows: Vec<usize> = (0..n)
            .filter(|&i| cleaned.split[i] != Split::Full)
            .collect();
        let l = left.select(Axis(0), &rows);
        let r = right.select(Axis(0), &rows);
        let t: Vec<bool> = rows.iter().map(|&i| train[i]).collect();
        Some(
            probe(
                l.view(),
                r.view(),
                &t,
                &ProbeConfig {
                    seed: config.seed,
                    ..Default::default()
                },
            )
            .map_err(with_context)?,
        )
    } else {
        None
    };
    let joint =
        concatenate(Axis(0), &[left, right]).map_err(|e| Error::data(&context, e.to_string()))?;
    let pca = fit_pca(joint.view(), 2).map_err(with_context)?;
    let projection = pca.project(joint.view())?;
    Ok(PairingAnalysis {
        pairing: cleaned,
        cleaning,
        right_tokens: right_tokens.to_vec(),
        alignment,
        retrieval,
        lexicalization,
        popularity,
        probe,
        pca,
        projection,
    })
}
