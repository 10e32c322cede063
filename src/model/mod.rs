//! The model layer: what every command that runs a model shares.
//!
//! - [`Manifest`]: a model directory's `lexalign.json`, typed and read once per load;
//!   [`ModelKind`] (encoder | decoder) and [`Graphs`] (which ONNX graphs the
//!   directory has: model.onnx; a decoder's embed_past.onnx and generate.onnx).
//! - [`ModelDir`]: the directory's files checked, its tokenizer loaded with
//!   lexalign's truncation.
//! - [`SessionSettings`]: the one way an ONNX Runtime session is opened (threads,
//!   [`GraphOpt`], [`Device`], the library), for every graph.
//! - [`KvCache`] / [`KvShape`]: the one KV-cache type, used by `embed` (shared
//!   prefixes) and `generate` (the few-shot prompt start).
//! - [`VectorSetting`]: pooling, normalisation and template resolved once from what
//!   was [`Asked`] over the manifest's defaults, for every command and the notebooks.
//!
//! `embed` (vectors) and `generate` (greedy decoding) sit on this layer and do not
//! reach into each other.

mod directory;
mod kv;
mod manifest;
mod pooling;
pub(crate) mod runtime;
mod session;
mod setting;

pub use directory::Graphs;
pub(crate) use directory::{load_tokenizer, ExternalMatrix, KeptLayout, ModelDir};
pub use kv::{KvCache, KvShape};
pub use manifest::{
    EmbedPastSection, ExternalData, GenerateSection, KeptPart, KeptTable, Manifest, ModelKind,
    WordEmbeddings,
};
pub use pooling::Pooling;
pub use runtime::build_info as onnxruntime_build_info;
pub use session::{Device, GraphOpt, SessionSettings};
pub use setting::{check_template, Asked, VectorSetting};
