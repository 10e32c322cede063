//! Embeddings: strings → vectors through an ONNX-exported transformer.
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
//! ```no_run
//! use lexalign::embed::{EmbedOptions, Model, Pooling};
//! let model = Model::load_default()?;
//! let emb = model.embed(&["BRCA1", "HGNC:1100"], &EmbedOptions::default().with_pooling(Pooling::Mean))?;
//! assert_eq!(emb.vectors.nrows(), 2);
//! # Ok::<(), lexalign::Error>(())
//! ```

mod batch;
mod cache;
mod directory;
mod model;
mod pooling;
pub(crate) mod runtime;
mod segment;
mod signature;
mod tokens;
mod weights;

pub use batch::BatchLimits;
pub use cache::default_cache_dir;
pub use model::{Model, ModelInfo, ModelOptions};
pub use pooling::{default_pooling, Pooling};
pub use tokens::TokenStats;

use std::path::PathBuf;

use ndarray::{Array2, ArrayView1};
use serde::Serialize;
use tokenizers::Encoding;

use batch::{padded_tokens, plan_batches};
use cache::{CacheWriter, EmbeddingCache, TextKey};
use pooling::{l2_normalize, pool};

use crate::error::{Error, Result};
use crate::progress;

/// Which vector a string gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
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
    pub kind: Kind,
    pub limits: BatchLimits,
    /// Cache folder; `None` disables the cache.
    pub cache: Option<PathBuf>,
    /// Show a progress bar (on stderr) for long runs.
    pub progress: bool,
}

impl Default for EmbedOptions {
    fn default() -> Self {
        EmbedOptions {
            pooling: Pooling::Mean,
            normalize: false,
            kind: Kind::Contextual,
            limits: BatchLimits::default(),
            cache: Some(default_cache_dir()),
            progress: false,
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
        self.kind = if on { Kind::Static } else { Kind::Contextual };
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
    fn validate(&self) -> Result<()> {
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
    fn cache_key(&self, info: &ModelInfo) -> String {
        format!(
            "kind={:?};pooling={};normalize={};output={};max_length={}",
            self.kind,
            self.pooling.as_str(),
            self.normalize,
            info.output,
            info.max_length
        )
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
    /// Strings with no token of their own (empty or whitespace): contextual vectors
    /// come from the special tokens alone; static vectors are zero.
    pub empty: usize,
    pub real_tokens: usize,
    pub padded_tokens: usize,
    pub batches: usize,
    pub cache_state: Option<String>,
    /// A cache problem the run went on without (also printed on stderr).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_warning: Option<String>,
}

impl EmbedStats {
    /// Real tokens ÷ computed tokens over the batches run.
    pub fn padding_efficiency(&self) -> f64 {
        if self.padded_tokens == 0 {
            1.0
        } else {
            self.real_tokens as f64 / self.padded_tokens as f64
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
    pub kind: Kind,
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
    pub special: Vec<bool>,
    /// `[tokens, dim]`.
    pub vectors: Array2<f32>,
}

/// Gets each finished batch: its indices into the texts, and the vectors so far.
type SaveBatch<'a> = dyn FnMut(&[usize], &[Vec<f32>]) + 'a;

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

/// Splits rows into cache hits and the indices still to compute.
fn partition<'c>(
    cache: Option<&'c EmbeddingCache>,
    keys: &[TextKey],
) -> (Vec<Source<'c>>, Vec<usize>) {
    let mut todo = Vec::new();
    let sources = keys
        .iter()
        .enumerate()
        .map(|(i, key)| match cache.and_then(|c| c.get(key)) {
            Some(v) => Source::Cached(v),
            None => {
                todo.push(i);
                Source::Computed(todo.len() - 1)
            }
        })
        .collect();
    (sources, todo)
}

/// Strings cut at the model's maximum length.
fn truncated(encodings: &[Encoding]) -> usize {
    encodings
        .iter()
        .filter(|e| !e.get_overflowing().is_empty())
        .count()
}

impl Model {
    /// One vector per string, in input order.
    pub fn embed<S: AsRef<str>>(&self, texts: &[S], options: &EmbedOptions) -> Result<Embeddings> {
        options.validate()?;
        self.check_pooling(options)?;
        let refs: Vec<&str> = texts.iter().map(|t| t.as_ref()).collect();
        let (distinct, index) = model::dedup(&refs);
        let mut stats = EmbedStats {
            strings: refs.len(),
            distinct: distinct.len(),
            ..Default::default()
        };
        let distinct_vectors = match options.kind {
            Kind::Static => self.static_vectors(&distinct, options.normalize, &mut stats)?,
            Kind::Contextual => self.contextual_vectors(&distinct, options, &mut stats)?,
        };
        let dim = distinct_vectors.ncols();
        let mut vectors = Array2::<f32>::zeros((refs.len(), dim));
        for (row, &d) in index.iter().enumerate() {
            vectors.row_mut(row).assign(&distinct_vectors.row(d));
        }
        Ok(Embeddings {
            vectors,
            texts: refs.iter().map(|s| s.to_string()).collect(),
            model: self.info.clone(),
            pooling: options.pooling,
            normalize: options.normalize,
            kind: options.kind,
            stats,
        })
    }

    /// `cls` pooling reads the special token before each string; a tokenizer that
    /// puts none there (decoders) would give the first word's vector instead.
    fn check_pooling(&self, options: &EmbedOptions) -> Result<()> {
        let reads_cls = options.kind == Kind::Contextual
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

    /// Contextual vectors of distinct strings: cached ones read, the others
    /// computed and added to the cache batch by batch.
    fn contextual_vectors(
        &self,
        texts: &[&str],
        options: &EmbedOptions,
        stats: &mut EmbedStats,
    ) -> Result<Array2<f32>> {
        let cache = self.open_cache(options, stats);
        let keys: Vec<TextKey> = texts.iter().map(|t| cache::text_key(t)).collect();
        let (sources, todo) = partition(cache.as_ref(), &keys);
        stats.from_cache = texts.len() - todo.len();
        stats.computed = todo.len();
        let todo_texts: Vec<&str> = todo.iter().map(|&i| texts[i]).collect();
        let mut writer = cache.as_ref().map(EmbeddingCache::writer);
        // Saved as each batch finishes, so an interrupted run keeps its work.
        let mut save = |batch: &[usize], vectors: &[Vec<f32>]| {
            if let Some(w) = writer.as_mut() {
                w.append(batch.iter().map(|&i| (&keys[todo[i]], &vectors[i][..])));
            }
        };
        let (computed, dim) = self.compute(&todo_texts, options, stats, &mut save)?;
        stats.cache_warning = writer
            .as_ref()
            .and_then(CacheWriter::problem)
            .or(cache.as_ref().and_then(EmbeddingCache::problem))
            .map(str::to_string);
        self.assemble(&sources, &computed, dim)
    }

    /// The cache for this model and these options (when enabled and the output
    /// dimension is known), its state noted in `stats`.
    fn open_cache(&self, options: &EmbedOptions, stats: &mut EmbedStats) -> Option<EmbeddingCache> {
        let (Some(root), Some(dim)) = (&options.cache, self.info.dim) else {
            return None;
        };
        let c = EmbeddingCache::open(
            root,
            &self.info.onnx_sha256,
            &options.cache_key(&self.info),
            dim,
        );
        stats.cache_state = Some(format!("{:?} at {}", c.state, c.dir().display()));
        Some(c)
    }

    /// Pooled vectors of `texts` in order, and their dimension: encoded, run in
    /// length-sorted batches; `save` gets each finished batch (indices into
    /// `texts`, and the vectors so far).
    fn compute(
        &self,
        texts: &[&str],
        options: &EmbedOptions,
        stats: &mut EmbedStats,
        save: &mut SaveBatch<'_>,
    ) -> Result<(Vec<Vec<f32>>, usize)> {
        let encodings = self.encode(texts)?;
        let lengths: Vec<usize> = encodings.iter().map(|e| e.get_ids().len()).collect();
        let batches = plan_batches(&lengths, options.limits);
        stats.truncated = truncated(&encodings);
        stats.empty = encodings
            .iter()
            .filter(|e| e.get_special_tokens_mask().iter().all(|&m| m == 1))
            .count();
        stats.batches = batches.len();
        stats.real_tokens = lengths.iter().sum();
        stats.padded_tokens = padded_tokens(&lengths, &batches);

        let bar = progress::bar(
            options.progress && texts.len() > 256,
            texts.len() as u64,
            "embedding",
        );
        let mut vectors = vec![Vec::new(); texts.len()];
        let mut width = self.info.dim.map(|d| (d, Width::Declared));
        for batch in &batches {
            let members: Vec<&Encoding> = batch.iter().map(|&i| &encodings[i]).collect();
            let (hidden, seq, d) = self.run_batch(&members)?;
            self.check_width(d, seq, &mut width)?;
            for (r, &i) in batch.iter().enumerate() {
                let rows = &hidden[r * seq * d..(r + 1) * seq * d];
                let v = self.pooled(rows, d, lengths[i].min(seq).max(1), options);
                if let Some(bad) = v.iter().position(|x| !x.is_finite()) {
                    return Err(Error::data(
                        format!("embedding {:?}", texts[i]),
                        format!("model output is not finite at dimension {bad}"),
                    ));
                }
                vectors[i] = v;
            }
            save(batch, &vectors);
            bar.inc(batch.len() as u64);
        }
        bar.finish_and_clear();
        Ok((vectors, width.map_or(0, |(d, _)| d)))
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
            v.copy_from_slice(rows);
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
        if self.info.output_rank != 3 {
            return Err(Error::Model {
                path: self.info.dir.clone(),
                message: format!("output {:?} is already pooled; token embeddings need a [batch, seq, dim] output", self.info.output),
            });
        }
        let refs: Vec<&str> = texts.iter().map(|t| t.as_ref()).collect();
        let encodings = self.encode(&refs)?;
        let mut out = Vec::with_capacity(refs.len());
        for (text, e) in refs.iter().zip(&encodings) {
            let (hidden, seq, d) = self.run_batch(&[e])?;
            let n = e.get_ids().len().min(seq);
            let vectors = Array2::from_shape_vec((n, d), hidden[..n * d].to_vec())
                .map_err(|err| Error::data("token embeddings", err.to_string()))?;
            out.push(TokenEmbeddings {
                text: text.to_string(),
                tokens: e.get_tokens()[..n].to_vec(),
                ids: e.get_ids()[..n].to_vec(),
                offsets: e.get_offsets()[..n].to_vec(),
                special: e.get_special_tokens_mask()[..n]
                    .iter()
                    .map(|&m| m == 1)
                    .collect(),
                vectors,
            });
        }
        Ok(out)
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
        let (sources, todo) = partition(Some(&cache), &keys);
        assert_eq!(todo, vec![0, 2, 3]);
        assert!(matches!(sources[0], Source::Computed(0)));
        assert!(matches!(sources[1], Source::Cached(v) if v == [1.0, 2.0]));
        assert!(matches!(sources[3], Source::Computed(2)));
        let (sources, todo) = partition(None, &keys);
        assert_eq!(todo, vec![0, 1, 2, 3]);
        assert!(matches!(sources[1], Source::Computed(1)));
    }
}
