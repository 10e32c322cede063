//! Outcome analysis: does a per-item predictor (lexicalisation score, cosine,
//! retrieval rank, log(1 + popularity), token count, …) tell which items a language
//! model got right? [`join`] reads a model's per-item results and a report's
//! per-item table; [`analyse`] computes the statistics; [`Outcome::write`] writes
//! `outcome.json`, `outcome.md`, the joined table and the figures. Formulas and
//! reasons: docs/METRICS.md, section "Outcome statistics".
//!
//! - [`stats`]: AUC of one predictor against correctness with a bootstrap CI and a
//!   permutation p-value, Wilson interval of an accuracy, ROC curve, Spearman matrix.
//! - [`logistic`]: logistic regression by Newton–Raphson (IRLS) with Wald intervals,
//!   McFadden's R² and likelihood-ratio tests; separation is an error, not a NaN.

mod analysis;
mod join;
pub mod logistic;
mod markdown;
mod output;
pub mod stats;

pub use analysis::{
    analyse, AccuracyBin, GroupResult, LogisticSummary, LrSummary, OutcomeParams, OutcomeResult,
    PredictorEntry, SpearmanTable, DEFAULT_TERMS,
};
pub use join::{join, Correctness, IdShape, Items, JoinStats, Joined, MatchMode, ResultsFile};
pub use output::{Outcome, OutcomeProvenance};
