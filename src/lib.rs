//! lexalign: how well do language-model embeddings align biomedical names with their
//! identifiers? The modules follow the data flow:
//! vocabularies → pairs → embeddings → metrics → projection → figures → report.
//!
//! | module | what it is for |
//! |---|---|
//! | [`assets`] | where the installed runtime, models and raw data live; the manifest |
//! | [`source`] | the data sources and their static facts (files, licences, citations) |
//! | [`ids`] | identifier shapes: digits and the zeros that lead them |
//! | [`vocab`] | HGNC, GO and HPO readers (OBO parser, TSV, SQLite) and popularity proxies |
//! | [`pairs`] | pairings (left, right, concept, popularity, bin, split), sampling, user pair files |
//! | [`model`] | the model layer: typed `lexalign.json`, encoder/decoder graphs, tokenizer, one session builder, one KV-cache type |
//! | [`embed`] | the embedding pipeline on that layer: term, token and static embeddings; cache |
//! | [`generate`] | greedy generation with a decoder's generate.onnx (KV cache); `ask` few-shot questions |
//! | [`stats`] | ranks, AUC, ROC, Spearman, bootstrap, Wilson and normal intervals, used by metrics and outcome |
//! | [`metrics`] | alignment, retrieval, lexicalisation, popularity, probe |
//! | [`outcome`] | per-item correctness against predictors: AUC, Wilson, ROC, Spearman matrix, logistic regression |
//! | [`project`] | PCA (covariance route on faer; linfa-reduction as a checked cross-check) |
//! | [`plot`] | paper figures and the notebooks' labelled scatter (PNG + SVG), inline display in evcxr |
//! | [`report`] | one run end to end: tables, figures, `summary.json`, `report.md` |
//! | [`io`] | table/npy readers and atomic writers |
//! | [`bench`] | throughput and retrieval timings against their peers, as data (the CLI prints them) |
//! | [`notebook`] | evcxr helpers: the [`notebook::Html`] display trait, tables, cosine matrices, nearest neighbours |
//! | [`prelude`] | `use lexalign::prelude::*;`: the common types and the `Html` trait in one import |
//!
//! ```no_run
//! use lexalign::report::{run, Config};
//! // Needs `make setup` (assets) and `lexalign vocab build` (pair tables).
//! let settings = Config::paper().resolve()?; // checked once; every stage trusts it
//! let report = run(&settings)?;
//! report.write("results".as_ref(), "figures".as_ref())?;
//! for a in &report.analyses {
//!     println!("{}: AUC {:.3}", a.pairing.name, a.alignment.centred.auc.estimate);
//! }
//! # Ok::<(), lexalign::Error>(())
//! ```

pub mod assets;
pub mod bench;
pub mod error;
pub mod ids;
pub mod io;
mod linalg;
pub mod source;
pub mod stats;

pub mod embed;
pub mod generate;
pub mod metrics;
pub mod model;
pub mod notebook;
pub mod outcome;
pub mod pairs;
pub mod parallel;
pub mod plot;
pub mod prelude;
pub mod progress;
pub mod project;
pub mod report;
pub mod vocab;

pub use error::{Error, Result};
