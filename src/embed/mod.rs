//! Embeddings: strings → vectors through an ONNX-exported transformer, on the
//! model layer ([`crate::model`]: manifest, tokenizer, session, KV cache).
//!
//! - [`Model`] loads a model directory (`model.onnx` + `tokenizer.json`) and detects
//!   which inputs the graph takes and which output to pool.
//! - [`Model::embed`] gives one vector per string (contextual, pooled; or static:
//!   the mean of the input-embedding rows of the string's tokens). Distinct strings
//!   are embedded once, in length-sorted batches padded to their own longest
//!   member, and results come back in input order; an on-disk cache skips strings
//!   seen before.
//! - [`Model::token_embeddings`] gives per-token contextual vectors with offsets;
//!   [`Model::token_stats`] how each string tokenises.
//!
//! The pipeline's stages, in order: prepare (template, dedup, encode) → cache
//! partition → plan (padded batches, or shared prefixes: `prefix.rs`) → run →
//! pool → check (width, finite) → cache write → assemble (input order).
//!
//! ```no_run
//! use lexalign::embed::{EmbedOptions, Model, Pooling};
//! let model = Model::load_default()?;
//! let emb = model.embed(&["BRCA1", "HGNC:1100"], &EmbedOptions::default().with_pooling(Pooling::Mean))?;
//! assert_eq!(emb.vectors.nrows(), 2);
//! # Ok::<(), lexalign::Error>(())
//! ```

mod batch;
mod cache;
mod model;
mod pooling;
mod prefix;
mod segment;
mod shard;
mod signature;
mod tokens;
mod weights;

pub use batch::{BatchLimits, Packing};
pub use cache::default_cache_dir;
use model::BatchStates;
pub use model::{Model, ModelInfo, ModelOptions};
pub use pooling::{default_pooling, Pooling};
#[cfg(test)]
pub(crate) use weights::external_matrix;
// The model layer's types, where embedding code has always found them.
use crate::model::VectorSetting;
pub use crate::model::{onnxruntime_build_info, Device, GraphOpt, ModelKind};
pub use shard::Shard;
pub use tokens::{DigitPieces, TokenStats};

use std::path::PathBuf;

use ndarray::{Array2, ArrayView1};
use serde::Serialize;
use tokenizers::Encoding;

use batch::{padded_tokens, plan_batches};
use cache::{CacheWriter, EmbeddingCache, TextKey};
use pooling::{l2_normalize, pool};

use crate::error::{Error, Result};
use crate::progress;

/// Which vector a string gets (contextual or static). Not to be confused with
/// [`ModelKind`], what the model is (encoder or decoder); this was `embed::Kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum VectorKind {
    /// The model's output states, pooled.
    #[default]
    Contextual,
    /// The mean of the input-embedding rows of the string's own tokens (no context).
    Static,
}

/// Options for [`Model::embed`]; build with `with_*`.
#[derive(Debug, Clone)]
pub struct EmbedOptions {
    pub pooling: Pooling,
    pub normalize: bool,
    pub kind: VectorKind,
    pub limits: BatchLimits,
    /// Cache folder; `None` disables the cache.
    pub cache: Option<PathBuf>,
    /// Show a progress bar (on stderr) for long runs.
    pub progress: bool,
    /// Layer whose states are pooled: 0 = token embeddings, 1.. = the output of
    /// layer i, `ModelInfo::layers` = the final states; `None` = the model's
    /// chosen output (`last_hidden_state`). Contextual embeddings only.
    pub layer: Option<usize>,
    /// Text each string is wrapped in before tokenisation, with exactly one `{}`
    /// where the string goes (`None` or `"{}"`: the string alone). With `last`
    /// pooling (decoders) the vector is the whole prompt's last token.
    pub template: Option<String>,
    /// Run a prefix that several strings begin with once, and each string on from
    /// its KV cache (decoders with embed_past.onnx, `last` pooling; same vectors to
    /// float rounding). On by default; off runs every string whole.
    pub share_prefixes: bool,
    /// How batches are cut for padding; `None`: the model's kind decides (decoders
    /// tight, encoders loose).
    pub packing: Option<Packing>,
}

impl Default for EmbedOptions {
    fn default() -> Self {
        EmbedOptions {
            pooling: Pooling::Mean,
            normalize: false,
            kind: VectorKind::Contextual,
            limits: BatchLimits::default(),
            cache: Some(default_cache_dir()),
            progress: false,
            layer: None,
            template: None,
            share_prefixes: true,
            packing: None,
        }
    }
}

impl EmbedOptions {
    pub fn with_pooling(mut self, pooling: Pooling) -> Self {
        self.pooling = pooling;
        self
    }
    pub fn with_normalize(mut self, normalize: bool) -> Self {
        self.normalize = normalize;
        self
    }
    pub fn with_static(mut self, on: bool) -> Self {
        self.kind = if on {
            VectorKind::Static
        } else {
            VectorKind::Contextual
        };
        self
    }
    pub fn with_batch_size(mut self, strings: usize) -> Self {
        self.limits.max_strings = strings;
        self
    }
    pub fn with_batch_tokens(mut self, tokens: usize) -> Self {
        self.limits.max_tokens = tokens;
        self
    }
    pub fn with_cache(mut self, dir: Option<PathBuf>) -> Self {
        self.cache = dir;
        self
    }
    pub fn with_progress(mut self, on: bool) -> Self {
        self.progress = on;
        self
    }
    /// Pools the states of `layer` (`None` = the model's chosen output).
    pub fn with_layer(mut self, layer: Option<usize>) -> Self {
        self.layer = layer;
        self
    }
    /// Wraps each string in `template` (see [`EmbedOptions::template`]); `"{}"` is
    /// the same as none (same vectors, same cache key).
    pub fn with_template(mut self, template: Option<String>) -> Self {
        self.template = template.filter(|t| t != "{}");
        self
    }
    /// Shares prefixes between strings where the model allows it (see
    /// [`EmbedOptions::share_prefixes`]).
    pub fn with_share_prefixes(mut self, on: bool) -> Self {
        self.share_prefixes = on;
        self
    }
    /// Cuts batches this way instead of the model's kind's way.
    pub fn with_packing(mut self, packing: Option<Packing>) -> Self {
        self.packing = packing;
        self
    }
    /// The template in effect (`"{}"` counts as none).
    pub fn active_template(&self) -> Option<&str> {
        self.template.as_deref().filter(|t| *t != "{}")
    }
    /// Checks a template: exactly one `{}`.
    pub fn check_template(template: &str) -> Result<()> {
        crate::model::check_template(template)
    }
    /// Pooling, normalisation and template as resolved for a model.
    pub fn with_setting(self, setting: &VectorSetting) -> Self {
        self.with_pooling(setting.pooling)
            .with_normalize(setting.normalize)
            .with_template(setting.template.clone())
    }
    fn validate(&self) -> Result<()> {
        if let Some(t) = &self.template {
            Self::check_template(t)?;
        }
        if self.limits.max_strings == 0 {
            return Err(Error::param("batch_size", "0; expected at least 1"));
        }
        if self.limits.max_tokens < 2 {
            return Err(Error::param(
                "batch_tokens",
                format!("{}; expected at least 2", self.limits.max_tokens),
            ));
        }
        Ok(())
    }
    /// What the cached vectors depend on besides the graph; `layer` is added only
    /// when one is chosen, so caches made before layers existed stay valid.
    fn cache_key(&self, info: &ModelInfo, layer: Option<usize>) -> String {
        let mut key = format!(
            "kind={:?};pooling={};normalize={};output={};max_length={}",
            self.kind,
            self.pooling.as_str(),
            self.normalize,
            info.output,
            info.max_length
        );
        if let Some(l) = layer {
            key.push_str(&format!(";layer={l}"));
        }
        if let Some(t) = self.active_template() {
            key.push_str(&format!(";template={t:?}"));
        }
        key
    }
}

/// What an embedding run did, for reports and provenance.
#[derive(Debug, Clone, Serialize, Default)]
pub struct EmbedStats {
    pub strings: usize,
    pub distinct: usize,
    pub from_cache: usize,
    pub computed: usize,
    pub truncated: usize,
    /// Strings with no token of their own: for encoders, empty or whitespace-only
    /// strings (contextual vectors come from the special tokens alone); for decoders,
    /// the empty string (whitespace is real tokens there). Static vectors are zero.
    pub empty: usize,
    /// Strings that tokenise to nothing at all (a decoder's empty string: no
    /// BOS, so zero tokens). They never reach the model; every vector of theirs
    /// (contextual, any layer, or static) is all zeros. Counted in `empty` too.
    pub no_tokens: usize,
    pub real_tokens: usize,
    /// Token slots computed, padding included.
    pub padded_tokens: usize,
    /// Real tokens not computed because several strings began with them and that
    /// prefix ran once (decoders; [`EmbedOptions::share_prefixes`]).
    pub shared_tokens: usize,
    pub batches: usize,
    pub cache_state: Option<String>,
    /// A cache problem the run went on without (also printed on stderr).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_warning: Option<String>,
}

impl EmbedStats {
    /// Real tokens computed ÷ token slots computed over the batches run (shared
    /// prefix tokens count once).
    pub fn padding_efficiency(&self) -> f64 {
        if self.padded_tokens == 0 {
            1.0
        } else {
            self.real_tokens.saturating_sub(self.shared_tokens) as f64 / self.padded_tokens as f64
        }
    }
}

/// Vectors for a list of strings, row i for `texts[i]`.
#[derive(Debug, Clone)]
pub struct Embeddings {
    pub vectors: Array2<f32>,
    pub texts: Vec<String>,
    pub model: ModelInfo,
    pub pooling: Pooling,
    pub normalize: bool,
    pub kind: VectorKind,
    /// The layer pooled (`None` = the model's chosen output), as in [`EmbedOptions::layer`].
    pub layer: Option<usize>,
    pub stats: EmbedStats,
}

/// Contextual vectors of every token of one string.
#[derive(Debug, Clone)]
pub struct TokenEmbeddings {
    pub text: String,
    pub tokens: Vec<String>,
    pub ids: Vec<u32>,
    /// Character offsets `[start, end)` into `text` (special tokens: `(0, 0)`).
    pub offsets: Vec<(usize, usize)>,
    /// The same offsets in bytes of `text`'s UTF-8 (a byte-level piece inside a
    /// multi-byte character covers the whole character).
    pub byte_offsets: Vec<(usize, usize)>,
    /// The layer these states come from (`None` = the model's chosen output).
    pub layer: Option<usize>,
    pub special: Vec<bool>,
    /// `[tokens, dim]`.
    pub vectors: Array2<f32>,
}

/// Gets each finished batch: its indices into the texts, and the vectors so far.
type SaveBatch<'a> = dyn FnMut(&[usize], &[Vec<Vec<f32>>]) + 'a;

/// Where the vector width a run checks against comes from.
#[derive(Debug, Clone, Copy)]
enum Width {
    Declared,
    Seen,
}

/// Where a row of a contextual run comes from.
enum Source<'c> {
    Cached(&'c [f32]),
    /// Index into the vectors computed in this run.
    Computed(usize),
}

/// Splits rows into cache hits and the indices still to compute: a string is
/// computed (for every cache) unless every cache has it. `sources[c][i]` is row
/// `i`'s source for cache `c`.
fn partition<'c>(
    caches: &[Option<&'c EmbeddingCache>],
    keys: &[TextKey],
) -> (Vec<Vec<Source<'c>>>, Vec<usize>) {
    let mut todo = Vec::new();
    let mut sources: Vec<Vec<Source<'c>>> = caches
        .iter()
        .map(|_| Vec::with_capacity(keys.len()))
        .collect();
    for (i, key) in keys.iter().enumerate() {
        let hits: Option<Vec<&'c [f32]>> =
            caches.iter().map(|c| c.and_then(|c| c.get(key))).collect();
        match hits {
            Some(hits) => {
                for (s, v) in sources.iter_mut().zip(hits) {
                    s.push(Source::Cached(v));
                }
            }
            None => {
                for s in sources.iter_mut() {
                    s.push(Source::Computed(todo.len()));
                }
                todo.push(i);
            }
        }
    }
    (sources, todo)
}

/// Strings cut at the model's maximum length.
fn truncated(encodings: &[Encoding]) -> usize {
    encodings
        .iter()
        .filter(|e| !e.get_overflowing().is_empty())
        .count()
}

/// Most padded tokens in one batch when per-layer states are asked for: the
/// stacked output is (layers + 1)× the final one (31× for SmolLM2-135M, so
/// 2048 tokens × 576 × 4 B × 31 ≈ 146 MB).
const HIDDEN_STATES_BATCH_TOKENS: usize = 2048;

/// Byte offsets from character offsets into `text`.
fn byte_offsets(text: &str, chars: &[(usize, usize)]) -> Vec<(usize, usize)> {
    let mut starts: Vec<usize> = text.char_indices().map(|(b, _)| b).collect();
    starts.push(text.len());
    let at = |c: usize| starts.get(c).copied().unwrap_or(text.len());
    chars.iter().map(|&(s, e)| (at(s), at(e))).collect()
}

/// Stage prepare's result: every string encoded, its token count, and which
/// strings can run (at least one token), in order.
struct Prepared {
    encodings: Vec<Encoding>,
    lengths: Vec<usize>,
    runnable: Vec<usize>,
    limits: BatchLimits,
}

impl Prepared {
    /// What the encodings say about the strings, into `stats`.
    fn note(&self, stats: &mut EmbedStats) {
        stats.truncated = truncated(&self.encodings);
        stats.empty = self
            .encodings
            .iter()
            .filter(|e| e.get_special_tokens_mask().iter().all(|&m| m == 1))
            .count();
        stats.no_tokens = self.encodings.len() - self.runnable.len();
        stats.real_tokens = self.lengths.iter().sum();
    }

    /// Stage plan (padded): length-sorted batches of the runnable strings, as
    /// indices into the strings. The one batcher of vectors, layers and token vectors.
    fn padded_batches(&self, packing: Packing) -> Vec<Vec<usize>> {
        let run_lengths: Vec<usize> = self.runnable.iter().map(|&i| self.lengths[i]).collect();
        plan_batches(&run_lengths, self.limits, packing)
            .into_iter()
            .map(|b| b.into_iter().map(|k| self.runnable[k]).collect())
            .collect()
    }

    fn members(&self, batch: &[usize]) -> Vec<&Encoding> {
        batch.iter().map(|&i| &self.encodings[i]).collect()
    }

    /// Each member's real (unpadded) token count.
    fn real(&self, batch: &[usize]) -> Vec<usize> {
        batch.iter().map(|&i| self.lengths[i]).collect()
    }
}

/// Stages pool → check → cache write, batch by batch as runs finish; then
/// zero vectors for strings that never ran.
struct Pooler<'a, 's> {
    model: &'a Model,
    texts: &'a [&'a str],
    layers: &'a [Option<usize>],
    options: &'a EmbedOptions,
    save: &'a mut SaveBatch<'s>,
    /// `[layer][text]`.
    vectors: Vec<Vec<Vec<f32>>>,
    width: Option<(usize, Width)>,
    batches: usize,
    bar: indicatif::ProgressBar,
}

impl<'a, 's> Pooler<'a, 's> {
    fn new(
        model: &'a Model,
        texts: &'a [&'a str],
        layers: &'a [Option<usize>],
        options: &'a EmbedOptions,
        save: &'a mut SaveBatch<'s>,
    ) -> Self {
        Pooler {
            model,
            texts,
            layers,
            options,
            save,
            vectors: vec![vec![Vec::new(); texts.len()]; layers.len()],
            width: model.info.dim.map(|d| (d, Width::Declared)),
            batches: 0,
            bar: progress::bar(
                options.progress && texts.len() > 256,
                texts.len() as u64,
                "embedding",
            ),
        }
    }

    /// One finished batch (`real[r]`: row r's real positions): checked, pooled,
    /// checked finite, handed to the cache.
    fn take(&mut self, batch: &[usize], states: BatchStates, real: &[usize]) -> Result<()> {
        let model = self.model;
        let (seq, d) = (states.seq, states.dim);
        model.check_width(d, seq, &mut self.width)?;
        for (k, hidden) in states.values.iter().enumerate() {
            crate::ensure!(
                hidden.len() == batch.len() * seq * d,
                Error::Model {
                    path: model.info.dir.clone(),
                    message: format!(
                        "states of layer {:?} hold {} values for a [{}, {seq}, {d}] batch",
                        self.layers[k],
                        hidden.len(),
                        batch.len()
                    ),
                }
            );
            for (r, &i) in batch.iter().enumerate() {
                let rows = &hidden[r * seq * d..(r + 1) * seq * d];
                let v = model.pooled(rows, d, real[r].min(seq).max(1), self.options);
                if let Some(bad) = v.iter().position(|x| !x.is_finite()) {
                    return Err(Error::data(
                        format!("embedding {:?}", self.texts[i]),
                        format!("model output is not finite at dimension {bad}"),
                    ));
                }
                self.vectors[k][i] = v;
            }
        }
        (self.save)(batch, &self.vectors);
        self.batches += 1;
        self.bar.inc(batch.len() as u64);
        Ok(())
    }

    /// The vectors and their width; strings with no tokens get zero vectors.
    fn finish(mut self, lengths: &[usize]) -> (Vec<Vec<Vec<f32>>>, usize) {
        self.bar.finish_and_clear();
        let dim = self.width.map_or(0, |(d, _)| d);
        for layer_vectors in self.vectors.iter_mut() {
            for (i, v) in layer_vectors.iter_mut().enumerate() {
                if lengths[i] == 0 {
                    *v = vec![0f32; dim];
                }
            }
        }
        (self.vectors, dim)
    }
}

impl Model {
    /// The options this model asks for: its own pooling and normalisation
    /// (lexalign.json; `last` for decoders), the rest default.
    pub fn embed_options(&self) -> EmbedOptions {
        EmbedOptions::default()
            .with_pooling(self.info.pooling)
            .with_normalize(self.info.normalize)
    }

    /// `asked` resolved over this model's own settings (read from its manifest at load).
    pub fn setting(&self, asked: &crate::model::Asked) -> Result<VectorSetting> {
        VectorSetting::over(self.info.pooling, self.info.normalize, asked)
    }

    /// One vector per string, in input order.
    pub fn embed<S: AsRef<str>>(&self, texts: &[S], options: &EmbedOptions) -> Result<Embeddings> {
        let mut all = self.embed_at(texts, &[options.layer], options)?;
        all.pop()
            .ok_or_else(|| Error::data("embedding", "no result for the layer asked"))
    }

    /// One [`Embeddings`] per entry of `layers` (0 = token embeddings …
    /// `ModelInfo::layers` = final states), all from one pass of the model over
    /// the strings (batches are kept under [`HIDDEN_STATES_BATCH_TOKENS`] padded
    /// tokens, as the per-layer output is large). `options.layer` is ignored;
    /// each layer has its own cache entries.
    pub fn embed_layers<S: AsRef<str>>(
        &self,
        texts: &[S],
        layers: &[usize],
        options: &EmbedOptions,
    ) -> Result<Vec<Embeddings>> {
        let layers: Vec<Option<usize>> = layers.iter().map(|&l| Some(l)).collect();
        self.embed_at(texts, &layers, options)
    }

    fn embed_at<S: AsRef<str>>(
        &self,
        texts: &[S],
        layers: &[Option<usize>],
        options: &EmbedOptions,
    ) -> Result<Vec<Embeddings>> {
        options.validate()?;
        self.check_pooling(options)?;
        self.check_layers(layers)?;
        crate::ensure!(
            options.kind == VectorKind::Contextual || layers.iter().all(Option::is_none),
            Error::param(
                "layer",
                "static embeddings are the input-embedding rows; a layer applies to contextual embeddings only"
            )
        );
        if layers.is_empty() {
            return Ok(Vec::new());
        }
        let refs: Vec<&str> = texts.iter().map(|t| t.as_ref()).collect();
        // What the model reads: each string in its template (the rows keep the strings).
        let wrapped: Vec<String> = match options.active_template() {
            Some(t) => refs.iter().map(|s| t.replacen("{}", s, 1)).collect(),
            None => Vec::new(),
        };
        let inputs: Vec<&str> = if wrapped.is_empty() {
            refs.clone()
        } else {
            wrapped.iter().map(String::as_str).collect()
        };
        let (distinct, index) = model::dedup(&inputs);
        let mut stats = EmbedStats {
            strings: refs.len(),
            distinct: distinct.len(),
            ..Default::default()
        };
        let per_layer = match options.kind {
            VectorKind::Static => {
                vec![self.static_vectors(&distinct, options.normalize, &mut stats)?]
            }
            VectorKind::Contextual => {
                self.contextual_vectors(&distinct, layers, options, &mut stats)?
            }
        };
        (stats.empty, stats.no_tokens) = self.count_empty(&distinct, &index)?;
        let owned: Vec<String> = refs.iter().map(|s| s.to_string()).collect();
        Ok(per_layer
            .into_iter()
            .zip(layers)
            .map(|(distinct_vectors, &layer)| {
                let dim = distinct_vectors.ncols();
                let mut vectors = Array2::<f32>::zeros((refs.len(), dim));
                for (row, &d) in index.iter().enumerate() {
                    vectors.row_mut(row).assign(&distinct_vectors.row(d));
                }
                Embeddings {
                    vectors,
                    texts: owned.clone(),
                    model: self.info.clone(),
                    pooling: options.pooling,
                    normalize: options.normalize,
                    kind: options.kind,
                    layer,
                    stats: stats.clone(),
                }
            })
            .collect())
    }

    /// (empty, with no tokens at all) over every input string, repeats included
    /// (`index`: each input's distinct string). Only a string with no letter or
    /// digit can tokenise to nothing of its own, so only those are tokenised.
    fn count_empty(&self, distinct: &[&str], index: &[usize]) -> Result<(usize, usize)> {
        let candidates: Vec<usize> = (0..distinct.len())
            .filter(|&d| !distinct[d].chars().any(char::is_alphanumeric))
            .collect();
        let texts: Vec<&str> = candidates.iter().map(|&d| distinct[d]).collect();
        let mut kind = vec![(false, false); distinct.len()];
        for (&d, e) in candidates.iter().zip(self.encode(&texts)?) {
            kind[d] = (
                e.get_special_tokens_mask().iter().all(|&m| m == 1),
                e.get_ids().is_empty(),
            );
        }
        let count = |f: fn(&(bool, bool)) -> bool| index.iter().filter(|&&d| f(&kind[d])).count();
        Ok((count(|k| k.0), count(|k| k.1)))
    }

    /// `cls` pooling reads the special token before each string; a tokenizer that
    /// puts none there (decoders) would give the first word's vector instead.
    fn check_pooling(&self, options: &EmbedOptions) -> Result<()> {
        let reads_cls = options.kind == VectorKind::Contextual
            && options.pooling == Pooling::Cls
            && self.info.output_rank == 3;
        crate::ensure!(
            !reads_cls || self.leading_special.is_some(),
            Error::param(
                "pooling",
                format!(
                    "cls: model {} ({}) puts no special token such as [CLS] before each string, so the first position is the string's own first token; use mean or last",
                    self.info.name,
                    self.info.dir.display()
                )
            )
        );
        Ok(())
    }

    /// Contextual vectors of distinct strings, one matrix per layer: cached ones
    /// read, the others computed (all layers in one pass) and added to each
    /// layer's cache batch by batch.
    fn contextual_vectors(
        &self,
        texts: &[&str],
        layers: &[Option<usize>],
        options: &EmbedOptions,
        stats: &mut EmbedStats,
    ) -> Result<Vec<Array2<f32>>> {
        let caches: Vec<Option<EmbeddingCache>> = layers
            .iter()
            .map(|&l| self.open_cache(options, l, stats))
            .collect();
        let keys: Vec<TextKey> = texts.iter().map(|t| cache::text_key(t)).collect();
        let cache_refs: Vec<Option<&EmbeddingCache>> = caches.iter().map(Option::as_ref).collect();
        let (sources, todo) = partition(&cache_refs, &keys);
        stats.from_cache = texts.len() - todo.len();
        stats.computed = todo.len();
        let todo_texts: Vec<&str> = todo.iter().map(|&i| texts[i]).collect();
        let mut writers: Vec<Option<CacheWriter>> = caches
            .iter()
            .map(|c| c.as_ref().map(EmbeddingCache::writer))
            .collect();
        // Saved as each batch finishes, so an interrupted run keeps its work.
        let mut save = |batch: &[usize], vectors: &[Vec<Vec<f32>>]| {
            for (w, layer_vectors) in writers.iter_mut().zip(vectors) {
                if let Some(w) = w.as_mut() {
                    w.append(
                        batch
                            .iter()
                            .map(|&i| (&keys[todo[i]], &layer_vectors[i][..])),
                    );
                }
            }
        };
        let (computed, dim) = self.compute(&todo_texts, layers, options, stats, &mut save)?;
        stats.cache_warning = writers
            .iter()
            .flatten()
            .find_map(CacheWriter::problem)
            .or(caches.iter().flatten().find_map(EmbeddingCache::problem))
            .map(str::to_string);
        sources
            .iter()
            .zip(&computed)
            .map(|(s, c)| self.assemble(s, c, dim))
            .collect()
    }

    /// The cache for this model, these options and this layer (when enabled and
    /// the output dimension is known), its state noted in `stats`.
    fn open_cache(
        &self,
        options: &EmbedOptions,
        layer: Option<usize>,
        stats: &mut EmbedStats,
    ) -> Option<EmbeddingCache> {
        let (Some(root), Some(dim)) = (&options.cache, self.info.dim) else {
            return None;
        };
        let c = EmbeddingCache::open(
            root,
            &self.info.onnx_sha256,
            &options.cache_key(&self.info, layer),
            dim,
        );
        let state = format!("{:?} at {}", c.state, crate::assets::shown_path(c.dir()));
        stats.cache_state = Some(match stats.cache_state.take() {
            Some(before) => format!("{before}; {state}"),
            None => state,
        });
        Some(c)
    }

    /// Pooled vectors of `texts` in order for each layer (`[layer][text]`), and
    /// their dimension, in named stages: prepare (encode) → plan (padded batches,
    /// or shared prefixes) → run → pool → check → cache write (`save` gets each
    /// finished batch: indices into `texts`, and the vectors so far). Strings with
    /// no tokens at all never reach the model and get zero vectors.
    fn compute(
        &self,
        texts: &[&str],
        layers: &[Option<usize>],
        options: &EmbedOptions,
        stats: &mut EmbedStats,
        save: &mut SaveBatch<'_>,
    ) -> Result<(Vec<Vec<Vec<f32>>>, usize)> {
        let prepared = self.prepare(texts, layers, options.limits)?;
        prepared.note(stats);
        let mut pooler = Pooler::new(self, texts, layers, options, save);
        let packing = self.packing(options.packing);
        // Last-token pooling reads only each string's final states, so a prefix that
        // several strings share can run once (mean pooling would need its states too).
        let share = options.share_prefixes
            && options.pooling == Pooling::Last
            && self.info.output_rank == 3
            && self.past_shape().is_some();
        if share {
            let ids: Vec<&[u32]> = prepared.encodings.iter().map(|e| e.get_ids()).collect();
            let mut each = |batch: &[usize], states: BatchStates, real: &[usize]| {
                pooler.take(batch, states, real)
            };
            let work = self.run_shared(
                &ids,
                &prepared.runnable,
                layers,
                prepared.limits,
                packing,
                &mut each,
            )?;
            stats.padded_tokens = work.padded;
            stats.shared_tokens = work.shared;
        } else {
            let batches = prepared.padded_batches(packing);
            stats.padded_tokens = padded_tokens(&prepared.lengths, &batches);
            for batch in &batches {
                let states = self.run_layers(&prepared.members(batch), layers)?;
                pooler.take(batch, states, &prepared.real(batch))?;
            }
        }
        stats.batches = pooler.batches;
        Ok(pooler.finish(&prepared.lengths))
    }

    /// Stage prepare: the strings encoded, and the batch bounds for `layers` (a
    /// per-layer output is large, so its batches hold at most
    /// [`HIDDEN_STATES_BATCH_TOKENS`] padded tokens).
    fn prepare(
        &self,
        texts: &[&str],
        layers: &[Option<usize>],
        limits: BatchLimits,
    ) -> Result<Prepared> {
        let encodings = self.encode(texts)?;
        let lengths: Vec<usize> = encodings.iter().map(|e| e.get_ids().len()).collect();
        // Zero-token strings (a decoder's "") are left out of the batches: a T = 0
        // run has no last token, and padding one would pool garbage.
        let runnable: Vec<usize> = (0..texts.len()).filter(|&i| lengths[i] > 0).collect();
        let mut limits = limits;
        if layers.iter().any(|&l| l.is_some()) {
            limits.max_tokens = limits.max_tokens.min(HIDDEN_STATES_BATCH_TOKENS);
        }
        Ok(Prepared {
            encodings,
            lengths,
            runnable,
            limits,
        })
    }

    /// Fails unless a batch's output is as wide as the declared width or, when
    /// none is declared, as the run's earlier batches: a width that follows the
    /// sequence length is not a vector size.
    fn check_width(&self, d: usize, seq: usize, width: &mut Option<(usize, Width)>) -> Result<()> {
        match *width {
            None => *width = Some((d, Width::Seen)),
            Some((w, _)) if w == d => {}
            Some((w, from)) => {
                let from = match from {
                    Width::Declared => "declared by the graph or config.json's hidden_size",
                    Width::Seen => "for an earlier batch",
                };
                return Err(Error::Model {
                    path: self.info.dir.clone(),
                    message: format!(
                        "output {:?} is {d} wide for a batch padded to {seq} tokens but {w} wide {from}; its last dimension must be a fixed hidden size",
                        self.info.output
                    ),
                });
            }
        }
        Ok(())
    }

    /// One string's vector from its `[seq, d]` output rows (`len` real positions).
    fn pooled(&self, rows: &[f32], d: usize, len: usize, options: &EmbedOptions) -> Vec<f32> {
        let mut v = vec![0f32; d];
        if self.info.output_rank == 2 {
            v.copy_from_slice(&rows[..d]);
        } else {
            pool(options.pooling, rows, d, len, &mut v);
        }
        if options.normalize {
            l2_normalize(&mut v);
        }
        v
    }

    /// Rows in input order from the cache and this run's vectors.
    fn assemble(
        &self,
        sources: &[Source<'_>],
        computed: &[Vec<f32>],
        dim: usize,
    ) -> Result<Array2<f32>> {
        let mut out = Array2::<f32>::zeros((sources.len(), dim));
        for (mut row, source) in out.rows_mut().into_iter().zip(sources) {
            let v = match *source {
                Source::Cached(v) => v,
                Source::Computed(k) => &computed[k][..],
            };
            crate::ensure!(
                v.len() == dim,
                Error::Model {
                    path: self.info.dir.clone(),
                    message: format!(
                        "vectors of {} and of {dim} dimensions in one run (cached or declared dimension differs from the output)",
                        v.len()
                    ),
                }
            );
            row.assign(&ArrayView1::from(v));
        }
        Ok(out)
    }

    /// Static vectors: the mean of the input-embedding rows of each string's own
    /// tokens (zero for a string with none), normalised when asked.
    fn static_vectors(
        &self,
        texts: &[&str],
        normalize: bool,
        stats: &mut EmbedStats,
    ) -> Result<Array2<f32>> {
        let matrix = self.static_matrix()?;
        let encodings = self.encode(texts)?;
        stats.computed = texts.len();
        stats.truncated = truncated(&encodings);
        let dim = matrix.ncols();
        let mut out = Array2::<f32>::zeros((texts.len(), dim));
        for (i, e) in encodings.iter().enumerate() {
            let positions = tokens::real_positions(e.get_special_tokens_mask());
            stats.real_tokens += positions.len();
            if positions.is_empty() {
                stats.empty += 1;
                stats.no_tokens += usize::from(e.get_ids().is_empty());
                continue;
            }
            let mut acc = vec![0f64; dim];
            for &p in &positions {
                let id = e.get_ids()[p] as usize;
                if id >= matrix.nrows() {
                    return Err(Error::Model {
                        path: self.info.dir.clone(),
                        message: format!(
                            "token id {id} is outside the embedding matrix ({} rows)",
                            matrix.nrows()
                        ),
                    });
                }
                for (a, &v) in acc.iter_mut().zip(matrix.row(id).iter()) {
                    *a += v as f64;
                }
            }
            let n = positions.len() as f64;
            let mut v: Vec<f32> = acc.iter().map(|a| (a / n) as f32).collect();
            if normalize {
                l2_normalize(&mut v);
            }
            out.row_mut(i).assign(&ArrayView1::from(&v[..]));
        }
        stats.padded_tokens = stats.real_tokens;
        Ok(out)
    }

    /// Contextual vectors of every token (special tokens included), per string.
    pub fn token_embeddings<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<TokenEmbeddings>> {
        let mut per_string = self.token_embeddings_at(texts, &[None])?;
        Ok(per_string.iter_mut().filter_map(Vec::pop).collect())
    }

    /// Per-token states of each string at each of `layers` (0 = token embeddings
    /// … `ModelInfo::layers` = final states), from one pass of the model:
    /// `result[string][k]` is layer `layers[k]`. A string with no tokens gets
    /// entries with no rows and is never run.
    pub fn token_embeddings_layers<S: AsRef<str>>(
        &self,
        texts: &[S],
        layers: &[usize],
    ) -> Result<Vec<Vec<TokenEmbeddings>>> {
        let layers: Vec<Option<usize>> = layers.iter().map(|&l| Some(l)).collect();
        self.token_embeddings_at(texts, &layers)
    }

    fn token_embeddings_at<S: AsRef<str>>(
        &self,
        texts: &[S],
        layers: &[Option<usize>],
    ) -> Result<Vec<Vec<TokenEmbeddings>>> {
        if self.info.output_rank != 3 {
            return Err(Error::Model {
                path: self.info.dir.clone(),
                message: format!("output {:?} is already pooled; token embeddings need a [batch, seq, dim] output", self.info.output),
            });
        }
        self.check_layers(layers)?;
        let refs: Vec<&str> = texts.iter().map(|t| t.as_ref()).collect();
        let prepared = self.prepare(&refs, layers, BatchLimits::default())?;
        let (encodings, lengths) = (&prepared.encodings, &prepared.lengths);
        let dim = self.info.dim.unwrap_or(0);
        let entry = |i: usize, layer: Option<usize>, vectors: Array2<f32>| {
            let e = &encodings[i];
            let n = vectors.nrows();
            let offsets = e.get_offsets()[..n].to_vec();
            TokenEmbeddings {
                text: refs[i].to_string(),
                tokens: e.get_tokens()[..n].to_vec(),
                ids: e.get_ids()[..n].to_vec(),
                byte_offsets: byte_offsets(refs[i], &offsets),
                offsets,
                special: e.get_special_tokens_mask()[..n]
                    .iter()
                    .map(|&m| m == 1)
                    .collect(),
                layer,
                vectors,
            }
        };
        let mut out: Vec<Vec<TokenEmbeddings>> = (0..refs.len())
            .map(|i| {
                layers
                    .iter()
                    .map(|&l| entry(i, l, Array2::zeros((0, dim))))
                    .collect()
            })
            .collect();
        for members in prepared.padded_batches(self.packing(None)) {
            let states = self.run_layers(&prepared.members(&members), layers)?;
            let (seq, d) = (states.seq, states.dim);
            for (k, hidden) in states.values.iter().enumerate() {
                for (r, &i) in members.iter().enumerate() {
                    let n = lengths[i].min(seq);
                    let rows = hidden
                        .get(r * seq * d..r * seq * d + n * d)
                        .ok_or_else(|| {
                            Error::data("token embeddings", "model output too short for the batch")
                        })?;
                    let vectors = Array2::from_shape_vec((n, d), rows.to_vec())
                        .map_err(|err| Error::data("token embeddings", err.to_string()))?;
                    out[i][k] = entry(i, layers[k], vectors);
                }
            }
        }
        Ok(out)
    }

    /// How each string's digits fall into pieces (the strings as given, no template).
    pub fn digit_pieces<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<DigitPieces>> {
        let refs: Vec<&str> = texts.iter().map(|t| t.as_ref()).collect();
        let encodings = self.encode(&refs)?;
        Ok(refs
            .iter()
            .zip(&encodings)
            .map(|(t, e)| tokens::digit_pieces(t, e))
            .collect())
    }

    /// How each string tokenises (pieces, continuation pieces, unknowns, truncation).
    pub fn token_stats<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<TokenStats>> {
        let refs: Vec<&str> = texts.iter().map(|t| t.as_ref()).collect();
        let encodings = self.encode(&refs)?;
        Ok(refs
            .iter()
            .zip(&encodings)
            .map(|(t, e)| tokens::stats(t, e, &self.convention, self.unk_id))
            .collect())
    }
}

/// Fails unless `dir` is a model directory (model.onnx and tokenizer.json, readable
/// configs), without loading anything: a cheap check before a long run.
pub fn check_model_dir(dir: &std::path::Path) -> Result<()> {
    crate::model::ModelDir::locate(dir).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_keeps_hits_and_lists_misses_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let open = || EmbeddingCache::open(dir.path(), "0123456789abcdef", "test", 2);
        let keys: Vec<TextKey> = ["a", "b", "c", "d"]
            .iter()
            .map(|t| cache::text_key(t))
            .collect();
        open().writer().append([(&keys[1], &[1.0f32, 2.0][..])]);
        let cache = open();
        assert_eq!(cache.state, cache::CacheState::Loaded(1));
        let (sources, todo) = partition(&[Some(&cache)], &keys);
        assert_eq!(todo, vec![0, 2, 3]);
        assert!(matches!(sources[0][0], Source::Computed(0)));
        assert!(matches!(sources[0][1], Source::Cached(v) if v == [1.0, 2.0]));
        assert!(matches!(sources[0][3], Source::Computed(2)));
        let (sources, todo) = partition(&[None], &keys);
        assert_eq!(todo, vec![0, 1, 2, 3]);
        assert!(matches!(sources[0][1], Source::Computed(1)));
        // Two caches: a string is computed unless both have it.
        let (sources, todo) = partition(&[Some(&cache), None], &keys);
        assert_eq!(todo, vec![0, 1, 2, 3]);
        assert!(matches!(sources[0][1], Source::Computed(1)));
        let (sources, todo) = partition(&[Some(&cache), Some(&cache)], &keys);
        assert_eq!(todo, vec![0, 2, 3]);
        assert!(matches!(sources[1][1], Source::Cached(_)));
    }
}
