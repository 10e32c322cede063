//! One pairing's analysis: clean the pairs, then alignment, retrieval,
//! lexicalisation, popularity, the memorisation probe and a joint PCA, all from
//! embeddings computed once.

use std::collections::HashSet;
use std::time::Instant;

use ndarray::{concatenate, Array2, ArrayView2, Axis};
use serde::Serialize;

use super::AnalysisParams;
use crate::embed::{EmbedOptions, Model, TokenStats};
use crate::error::{Error, Result};
use crate::metrics::alignment::{alignment, Alignment};
use crate::metrics::lexicalization::{from_ranks, Lexicalization};
use crate::metrics::popularity::{popularity, Popularity};
use crate::metrics::probe::{probe, Probe};
use crate::metrics::retrieval::{retrieval, Retrieval};
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
    /// Wall-clock seconds of each measure (not part of the results).
    pub seconds: StageSeconds,
}

/// Wall-clock seconds of one pairing's measures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StageSeconds {
    pub alignment: f64,
    /// Retrieval, lexicalisation and popularity.
    pub retrieval: f64,
    pub probe: f64,
    /// Joint PCA fit and projection.
    pub pca: f64,
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
/// use lexalign::report::{analyse_pairing, Run};
/// let run = Run::paper()?;
/// let model = Model::load_with(&run.model_dir, &run.model)?;
/// let pairing = load_processed(&default_processed_dir(), "gene-name-symbol", Sample::Paper)?;
/// let a = analyse_pairing(&model, &pairing, &run.embed, &run.analysis)?;
/// println!("centred AUC {:.3}, top-1 {:.3}", a.alignment.centred.auc.estimate, a.retrieval.left_to_right.top1);
/// # Ok::<(), lexalign::Error>(())
/// ```
pub fn analyse_pairing(
    model: &Model,
    pairing: &Pairing,
    embed: &EmbedOptions,
    params: &AnalysisParams,
) -> Result<PairingAnalysis> {
    let (keep, _) = clean(pairing);
    let cleaned = pairing.select(&keep);
    let left = model.embed(&cleaned.left, embed)?;
    let right = model.embed(&cleaned.right, embed)?;
    let tokens = model.token_stats(&cleaned.right)?;
    analyse(
        pairing,
        left.vectors.view(),
        right.vectors.view(),
        &tokens,
        params,
    )
}

/// Analyses `pairing` given the embeddings of its *cleaned* rows (see [`clean`]):
/// row i of `left`/`right` and `right_tokens[i]` belong to the i-th kept row.
/// Fewer than 3 rows after cleaning is [`Error::TooFewRows`].
pub fn analyse(
    pairing: &Pairing,
    left: ArrayView2<f32>,
    right: ArrayView2<f32>,
    right_tokens: &[TokenStats],
    params: &AnalysisParams,
) -> Result<PairingAnalysis> {
    let (keep, cleaning) = clean(pairing);
    let cleaned = pairing.select(&keep);
    let n = cleaned.len();
    crate::ensure!(
        n >= 3,
        Error::too_few(
            format!(
                "rows after cleaning ({} input, {} identical, {} duplicate)",
                cleaning.input_rows, cleaning.identical_dropped, cleaning.duplicates_dropped
            ),
            n,
            3
        )
    );
    crate::ensure!(
        left.nrows() == n && right.nrows() == n && right_tokens.len() == n,
        Error::data(
            "analysis",
            format!(
                "{n} cleaned rows but {} left, {} right vectors and {} token rows",
                left.nrows(),
                right.nrows(),
                right_tokens.len()
            ),
        )
    );
    let mut seconds = StageSeconds::default();
    let mut clock = Instant::now();
    let mut lap = || {
        let s = clock.elapsed().as_secs_f64();
        clock = Instant::now();
        s
    };
    let alignment = alignment(left, right, &params.alignment)?;
    seconds.alignment = lap();
    let retrieval = retrieval(left, right, &params.retrieval)?;
    let lexicalization = from_ranks(&retrieval.right_to_left.ranks, &params.bootstrap)?;
    let popularity = popularity(
        &lexicalization.scores,
        &cleaned.popularity,
        &cleaned.bin,
        &params.bootstrap,
    )?;
    seconds.retrieval = lap();
    let probe = split_probe(&cleaned, left, right, params)?;
    seconds.probe = lap();
    let joint = concatenate(Axis(0), &[left, right])
        .map_err(|e| Error::data("joint PCA", e.to_string()))?;
    let pca = fit_pca(joint.view(), 2)?;
    let projection = pca.project(joint.view())?;
    seconds.pca = lap();
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
        seconds,
    })
}

/// The memorisation probe over the training/withheld split; `None` without one
/// (fewer than 3 rows on either side).
fn split_probe(
    cleaned: &Pairing,
    left: ArrayView2<f32>,
    right: ArrayView2<f32>,
    params: &AnalysisParams,
) -> Result<Option<Probe>> {
    let count = |s: Split| cleaned.split.iter().filter(|&&x| x == s).count();
    if count(Split::Train) < 3 || count(Split::Withheld) < 3 {
        return Ok(None);
    }
    // Rows outside both splits take no part in the probe.
    let rows: Vec<usize> = (0..cleaned.len())
        .filter(|&i| cleaned.split[i] != Split::Full)
        .collect();
    let l = left.select(Axis(0), &rows);
    let r = right.select(Axis(0), &rows);
    let train: Vec<bool> = rows
        .iter()
        .map(|&i| cleaned.split[i] == Split::Train)
        .collect();
    probe(l.view(), r.view(), &train, &params.probe).map(Some)
}
