//! Outcome analysis: does a per-item predictor (lexicalisation score, cosine,
//! retrieval rank, log(1 + popularity), token count, …) tell which items a language
//! model got right? [`join`] reads a model's per-item results and a report's
//! per-item table; [`analyse`] computes the statistics; [`Outcome::write`] writes
//! `outcome.json`, `outcome.md`, the joined table and the figures. Formulas and
//! reasons: docs/METRICS.md, section "Outcome statistics".
//!
//! The statistics themselves (a predictor's AUC with bootstrap CI and permutation
//! p-value, Wilson interval, ROC curve, Spearman matrix) are [`crate::stats`], shared
//! with the metrics.
//! - [`logistic`]: logistic regression by Newton–Raphson (IRLS) with Wald intervals,
//!   McFadden's R² and likelihood-ratio tests; separation is an error, not a NaN.

mod analysis;
pub mod finetune;
mod join;
pub mod logistic;
mod markdown;
mod output;

pub use analysis::{
    analyse, cross_validated_model, cross_validated_single, stratified_folds, transfer,
    AccuracyBin, Coefficient, CvAuc, GroupResult, LogisticSummary, LrSummary, OutcomeParams,
    OutcomeResult, PredictorEntry, SpearmanTable, Transfer, WithinBetween, DECILE_TIES,
    DEFAULT_TERMS, GROUP_TERM, MIN_EVENTS_PER_PARAMETER,
};
pub use finetune::{finetune, Change, Finetune, Gain};
pub use join::{
    join, pool, Correctness, Items, JoinStats, Joined, MatchMode, PredictorSpec, ResultsFile,
};
pub use output::{ItemsProvenance, Outcome, OutcomeProvenance, Plan};
