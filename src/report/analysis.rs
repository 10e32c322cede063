//! One pairing's analysis: clean the pairs, then alignment, retrieval,
//! lexicalisation, popularity, the memorisation probe and a joint PCA, all from
//! embeddings computed once.

use std::collections::{HashMap, HashSet};
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

/// Why an input row takes no part in the analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exclusion {
    /// Both sides are the same string (ignoring case and surrounding space): trivially aligned.
    Identical,
    /// The same (left, right) pair as the input row given (0-based); it shares that row's numbers.
    Duplicate(usize),
}

/// What cleaning removed before the analysis, reported in the summary.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Cleaning {
    pub input_rows: usize,
    pub identical_dropped: usize,
    /// Repeated (left, right) rows beyond the first.
    pub duplicates_dropped: usize,
    /// Rows whose id repeats an earlier row's id (kept; flagged in the per-item table).
    pub duplicate_ids: usize,
    pub rows: usize,
    /// Per input row: `None` when analysed.
    #[serde(skip)]
    pub excluded: Vec<Option<Exclusion>>,
    /// Input rows analysed, in order (row k of the analysis is input row `kept[k]`).
    #[serde(skip)]
    pub kept: Vec<usize>,
}

/// Everything measured on one pairing.
#[derive(Debug, Clone)]
pub struct PairingAnalysis {
    /// The cleaned pairing the numbers refer to.
    pub pairing: Pairing,
    /// The pairing as given, every row (the per-item table follows it).
    pub input: Pairing,
    pub cleaning: Cleaning,
    /// How each left string (name) tokenises.
    pub left_tokens: Vec<TokenStats>,
    /// How each identifier (right side) tokenises.
    pub right_tokens: Vec<TokenStats>,
    pub alignment: Alignment,
    pub retrieval: Retrieval,
    pub lexicalization: Lexicalization,
    pub popularity: Popularity,
    /// None when the pairing has no training/withheld split or too few rows in
    /// one (see [`PairingAnalysis::probe_skipped`]).
    pub probe: Option<Probe>,
    /// Rows the probe needs: (training, withheld).
    pub probe_min_rows: (usize, usize),
    /// Joint PCA of left and right rows.
    pub pca: Pca,
    /// `[2n, 2]`: rows 0..n are the left strings, n..2n the right ones.
    pub projection: Array2<f32>,
    /// Wall-clock seconds of each measure (not part of the results).
    pub seconds: StageSeconds,
}

/// Wall-clock seconds of one pairing's measures (alignment and retrieval run at
/// once, so their seconds overlap).
#[derive(Debug, Clone, Default, Serialize)]
pub struct StageSeconds {
    pub alignment: f64,
    /// Retrieval, lexicalisation and popularity.
    pub retrieval: f64,
    pub probe: f64,
    /// Joint PCA fit and projection.
    pub pca: f64,
}

impl PairingAnalysis {
    /// Why the probe did not run, when it did not.
    pub fn probe_skipped(&self) -> Option<String> {
        if self.probe.is_some() {
            return None;
        }
        let count = |s: Split| self.pairing.split.iter().filter(|&&x| x == s).count();
        let (train, withheld) = (count(Split::Train), count(Split::Withheld));
        Some(if train + withheld == 0 {
            "not run: no training/withheld split (no split column)".into()
        } else {
            let (need_train, need_withheld) = self.probe_min_rows;
            format!(
                "not run: needs at least {need_train} training and {need_withheld} withheld rows, has {train} and {withheld}"
            )
        })
    }

    /// Why popularity was not analysed, when it was not.
    pub fn popularity_skipped(&self) -> Option<String> {
        let p = &self.popularity;
        let mut values = self.pairing.popularity.iter().flatten();
        let constant = values.next().filter(|&first| values.all(|v| v == first));
        if p.n_used == 0 {
            Some("not analysed: no popularity values".into())
        } else if let Some(v) = constant {
            Some(format!(
                "not analysed: popularity is the same ({v}) for every item, so it ranks nothing (no bins, no figure 4)"
            ))
        } else if p.spearman.is_none() {
            Some(format!(
                "Spearman not computed: {} rows with popularity, or popularity or score constant",
                p.n_used
            ))
        } else {
            None
        }
    }
}

/// Marks identical and duplicate pairs; the analysed rows are `kept`.
pub fn clean(pairing: &Pairing) -> Cleaning {
    let mut first: HashMap<(&str, &str), usize> = HashMap::new();
    let mut ids = HashSet::new();
    let mut c = Cleaning {
        input_rows: pairing.len(),
        excluded: vec![None; pairing.len()],
        ..Default::default()
    };
    for i in 0..pairing.len() {
        if !ids.insert(pairing.concept_id[i].as_str()) {
            c.duplicate_ids += 1;
        }
        if pairing.left[i].trim().to_lowercase() == pairing.right[i].trim().to_lowercase() {
            c.identical_dropped += 1;
            c.excluded[i] = Some(Exclusion::Identical);
        } else if let Some(&j) = first.get(&(pairing.left[i].as_str(), pairing.right[i].as_str())) {
            c.duplicates_dropped += 1;
            c.excluded[i] = Some(Exclusion::Duplicate(j));
        } else {
            first.insert((pairing.left[i].as_str(), pairing.right[i].as_str()), i);
            c.kept.push(i);
        }
    }
    c.rows = c.kept.len();
    c
}

/// Embeds a pairing with `model` and analyses it (the notebook entry point):
/// the same measures [`super::run`] computes for each pairing of a report.
///
/// ```no_run
/// use lexalign::embed::Model;
/// use lexalign::pairs::{default_processed_dir, load_processed, Sample};
/// use lexalign::report::{analyse_pairing, Run};
/// let run = Run::paper()?;
/// let model = Model::load_with(run.model_dir(), run.model())?;
/// let pairing = load_processed(&default_processed_dir(), "gene-name-symbol", Sample::Paper)?;
/// let a = analyse_pairing(&model, &pairing, run.embed(), run.analysis())?;
/// println!("centred AUC {:.3}, top-1 {:.3}", a.alignment.centred.auc.estimate, a.retrieval.left_to_right.top1);
/// # Ok::<(), lexalign::Error>(())
/// ```
pub fn analyse_pairing(
    model: &Model,
    pairing: &Pairing,
    embed: &EmbedOptions,
    params: &AnalysisParams,
) -> Result<PairingAnalysis> {
    let cleaning = clean(pairing);
    let cleaned = pairing.select(&cleaning.kept);
    let left = model.embed(&cleaned.left, embed)?;
    let right = model.embed(&cleaned.right, embed)?;
    let tokens = [
        model.token_stats(&cleaned.left)?,
        model.token_stats(&cleaned.right)?,
    ];
    analyse(
        pairing,
        cleaning,
        left.vectors.view(),
        right.vectors.view(),
        tokens,
        params,
    )
}

/// Analyses `pairing` given what its caller already has: its `cleaning`
/// ([`clean`]`(pairing)`), and the embeddings and `tokens` (`[left, right]` token
/// stats) of its *cleaned* rows: row i of each belongs to the i-th kept row.
/// Fewer than 3 rows after cleaning is [`Error::TooFewRows`].
pub fn analyse(
    pairing: &Pairing,
    cleaning: Cleaning,
    left: ArrayView2<f32>,
    right: ArrayView2<f32>,
    tokens: [Vec<TokenStats>; 2],
    params: &AnalysisParams,
) -> Result<PairingAnalysis> {
    check_inputs(pairing, &cleaning, left, right, &tokens)?;
    let cleaned = pairing.select(&cleaning.kept);
    let [left_tokens, right_tokens] = tokens;
    let mut seconds = StageSeconds::default();
    // Alignment and retrieval (with what follows from its ranks) are independent:
    // they run at once in the caller's rayon pool, each timed on its own.
    let (aligned, ranked) = rayon::join(
        || {
            let t = Instant::now();
            alignment(left, right, &params.alignment).map(|a| (a, t.elapsed().as_secs_f64()))
        },
        || {
            let t = Instant::now();
            let retrieval = retrieval(left, right, &params.retrieval)?;
            let lexicalization = from_ranks(&retrieval.right_to_left.ranks, &params.bootstrap)?;
            let popularity = popularity(
                &lexicalization.scores,
                &cleaned.popularity,
                &cleaned.bin,
                &params.bootstrap,
            )?;
            Ok::<_, Error>((
                retrieval,
                lexicalization,
                popularity,
                t.elapsed().as_secs_f64(),
            ))
        },
    );
    let (alignment, secs) = aligned?;
    seconds.alignment = secs;
    let (retrieval, lexicalization, popularity, secs) = ranked?;
    seconds.retrieval = secs;
    let mut clock = Instant::now();
    let mut lap = || {
        let s = clock.elapsed().as_secs_f64();
        clock = Instant::now();
        s
    };
    let probe = split_probe(&cleaned, left, right, params)?;
    seconds.probe = lap();
    let joint = concatenate(Axis(0), &[left, right])
        .map_err(|e| Error::data("joint PCA", e.to_string()))?;
    let pca = fit_pca(joint.view(), 2)?;
    let projection = pca.project(joint.view())?;
    seconds.pca = lap();
    Ok(PairingAnalysis {
        pairing: cleaned,
        input: pairing.clone(),
        cleaning,
        left_tokens,
        right_tokens,
        alignment,
        retrieval,
        lexicalization,
        popularity,
        probe,
        probe_min_rows: params.probe.min_rows(),
        pca,
        projection,
        seconds,
    })
}

/// What [`analyse`] is given fits together: the cleaning is of this pairing, at
/// least 3 rows are left, and one vector and token row per kept row.
fn check_inputs(
    pairing: &Pairing,
    cleaning: &Cleaning,
    left: ArrayView2<f32>,
    right: ArrayView2<f32>,
    tokens: &[Vec<TokenStats>; 2],
) -> Result<()> {
    crate::ensure!(
        cleaning.input_rows == pairing.len(),
        Error::data(
            "analysis",
            format!(
                "a cleaning of {} rows given for a pairing of {}",
                cleaning.input_rows,
                pairing.len()
            )
        )
    );
    let n = cleaning.kept.len();
    let [left_tokens, right_tokens] = tokens;
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
        left.nrows() == n
            && right.nrows() == n
            && left_tokens.len() == n
            && right_tokens.len() == n,
        Error::data(
            "analysis",
            format!(
                "{n} cleaned rows but {} left, {} right vectors and {} + {} token rows",
                left.nrows(),
                right.nrows(),
                left_tokens.len(),
                right_tokens.len()
            ),
        )
    );
    Ok(())
}

/// The memorisation probe over the training/withheld split; `None` without one
/// or with fewer rows on a side than the probe needs ([`crate::metrics::probe::ProbeConfig::min_rows`]):
/// the report then says why, and the rest of the analysis stands.
fn split_probe(
    cleaned: &Pairing,
    left: ArrayView2<f32>,
    right: ArrayView2<f32>,
    params: &AnalysisParams,
) -> Result<Option<Probe>> {
    let count = |s: Split| cleaned.split.iter().filter(|&&x| x == s).count();
    let (need_train, need_withheld) = params.probe.min_rows();
    if count(Split::Train) < need_train || count(Split::Withheld) < need_withheld {
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
