//! `summary.json` as typed structs: the JSON keys are these field names.

use serde::Serialize;

use super::{Cleaning, PairingAnalysis, Provenance, Report, Skipped};
use crate::embed::EmbedStats;
use crate::metrics::alignment::NullKind;
use crate::metrics::popularity::BinSummary;
use crate::metrics::probe::MapScores;
use crate::metrics::retrieval::DirectionRanks;
use crate::stats::Interval;

/// A 95% interval as `[low, high]`.
type Ci = [f64; 2];

fn ci(i: &Interval) -> Ci {
    [i.low, i.high]
}

/// The whole run: provenance, embedding counts and one entry per pairing.
#[derive(Debug, Serialize)]
pub struct Summary<'a> {
    #[serde(flatten)]
    pub provenance: &'a Provenance,
    pub caption: String,
    pub embedding: &'a EmbedStats,
    pub pairings: Vec<PairingSummary<'a>>,
    pub skipped: &'a [Skipped],
    /// Per layer, per pairing (`--layers` only); the entries above are the final layer's.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub layers: &'a [super::LayerResult],
}

impl<'a> Summary<'a> {
    pub fn new(report: &'a Report) -> Self {
        Summary {
            provenance: &report.provenance,
            caption: report.provenance.caption(),
            embedding: &report.embed_stats,
            pairings: report.analyses.iter().map(PairingSummary::new).collect(),
            skipped: &report.skipped,
            layers: &report.layers,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct NullSummary {
    pub kind: NullKind,
    pub size: usize,
}

#[derive(Debug, Serialize)]
pub struct ZeroVectors {
    pub left: usize,
    pub right: usize,
}

#[derive(Debug, Serialize)]
pub struct DirectionSummary {
    pub top1: f64,
    pub top10: f64,
    pub mrr: f64,
    pub median_rank: f64,
}

impl From<&DirectionRanks> for DirectionSummary {
    fn from(d: &DirectionRanks) -> Self {
        DirectionSummary {
            top1: d.top1,
            top10: d.top10,
            mrr: d.mrr,
            median_rank: d.median_rank,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct RetrievalSummary {
    pub centred: bool,
    pub left_to_right: DirectionSummary,
    pub right_to_left: DirectionSummary,
}

#[derive(Debug, Serialize)]
pub struct ProbeSummary<'a> {
    /// The map whose scores the flat fields give.
    pub map: &'static str,
    pub train_top1: f64,
    pub withheld_top1: f64,
    pub train_top10: f64,
    pub withheld_top10: f64,
    pub gap: f64,
    pub chance_withheld_top1: f64,
    pub n_train: usize,
    pub n_withheld: usize,
    pub ridge: &'a MapScores,
}

/// One pairing's headline numbers (centred alignment unless a key says raw).
#[derive(Debug, Serialize)]
pub struct PairingSummary<'a> {
    pub name: &'a str,
    pub description: &'a str,
    /// Keys into the summary's `data` list, where each source is cited in full.
    pub sources: &'a [crate::source::Source],
    pub n: usize,
    pub cleaning: &'a Cleaning,
    pub auc: f64,
    pub auc_ci: Ci,
    pub centred_matched_mean: f64,
    pub centred_null_mean: f64,
    pub centred_gap: f64,
    pub cohens_d_centred: Option<f64>,
    pub auc_raw: f64,
    pub auc_raw_ci: Ci,
    pub matched_mean: f64,
    pub null_mean: f64,
    pub raw_gap: f64,
    pub cohens_d_raw: Option<f64>,
    pub null: NullSummary,
    pub zero_vectors: ZeroVectors,
    pub top1: f64,
    pub top10: f64,
    pub mrr: f64,
    pub retrieval: RetrievalSummary,
    pub lexicalization: f64,
    pub lexicalization_ci: Ci,
    pub spearman_popularity: Option<f64>,
    pub spearman_popularity_ci: Option<Ci>,
    pub popularity_proxy: &'a str,
    /// How `popularity_bins` were made (`None`: no popularity, or bins given in the file).
    pub binning: Option<crate::pairs::BinInfo>,
    pub popularity_bins: &'a [BinSummary],
    /// Why popularity was not (fully) analysed, if it was not.
    pub popularity_skipped: Option<String>,
    pub probe: Option<ProbeSummary<'a>>,
    /// Why the probe did not run, if it did not.
    pub probe_skipped: Option<String>,
    pub pca_explained_variance_ratio: &'a [f64],
}

impl<'a> PairingSummary<'a> {
    pub fn new(a: &'a PairingAnalysis) -> Self {
        let (c, r) = (&a.alignment.centred, &a.alignment.raw);
        let probe = a.probe.as_ref().map(|p| ProbeSummary {
            map: "procrustes",
            train_top1: p.procrustes.train_top1,
            withheld_top1: p.procrustes.withheld_top1,
            train_top10: p.procrustes.train_top10,
            withheld_top10: p.procrustes.withheld_top10,
            gap: p.procrustes.gap,
            chance_withheld_top1: p.chance_withheld_top1,
            n_train: p.n_train,
            n_withheld: p.n_withheld,
            ridge: &p.ridge,
        });
        PairingSummary {
            name: &a.pairing.name,
            description: &a.pairing.meta.description,
            sources: &a.pairing.meta.sources,
            n: a.pairing.len(),
            cleaning: &a.cleaning,
            auc: c.auc.estimate,
            auc_ci: ci(&c.auc),
            centred_matched_mean: c.matched_mean,
            centred_null_mean: c.null_mean,
            centred_gap: c.gap,
            cohens_d_centred: c.cohens_d,
            auc_raw: r.auc.estimate,
            auc_raw_ci: ci(&r.auc),
            matched_mean: r.matched_mean,
            null_mean: r.null_mean,
            raw_gap: r.gap,
            cohens_d_raw: r.cohens_d,
            null: NullSummary {
                kind: a.alignment.null_kind,
                size: a.alignment.null_size,
            },
            zero_vectors: ZeroVectors {
                left: a.alignment.zero_rows_left,
                right: a.alignment.zero_rows_right,
            },
            top1: a.retrieval.left_to_right.top1,
            top10: a.retrieval.left_to_right.top10,
            mrr: a.retrieval.left_to_right.mrr,
            retrieval: RetrievalSummary {
                centred: a.retrieval.centred,
                left_to_right: (&a.retrieval.left_to_right).into(),
                right_to_left: (&a.retrieval.right_to_left).into(),
            },
            lexicalization: a.lexicalization.mean.estimate,
            lexicalization_ci: ci(&a.lexicalization.mean),
            spearman_popularity: a.popularity.spearman.as_ref().map(|s| s.estimate),
            spearman_popularity_ci: a.popularity.spearman.as_ref().map(ci),
            popularity_proxy: &a.pairing.meta.popularity_proxy,
            binning: a.pairing.meta.bins,
            popularity_bins: &a.popularity.bins,
            popularity_skipped: a.popularity_skipped(),
            probe,
            probe_skipped: a.probe_skipped(),
            pca_explained_variance_ratio: &a.pca.explained_variance_ratio,
        }
    }
}
