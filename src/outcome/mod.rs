//! Outcome statistics: does a per-item predictor (lexicalisation score, cosine,
//! retrieval rank, log(1 + popularity), token count, …) tell which items a language
//! model got right? Inputs are plain slices and matrices of already-joined items;
//! nothing here reads files or prints. Formulas and reasons: docs/METRICS.md,
//! section "Outcome statistics".
//!
//! - [`stats`]: AUC of one predictor against correctness with a bootstrap CI and a
//!   permutation p-value, Wilson interval of an accuracy, ROC curve, Spearman matrix.
//! - [`logistic`]: logistic regression by Newton–Raphson (IRLS) with Wald intervals,
//!   McFadden's R² and likelihood-ratio tests; separation is an error, not a NaN.

pub mod logistic;
pub mod stats;
