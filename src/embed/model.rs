//! A model directory loaded for embedding (through [`crate::model`]'s directory,
//! manifest and session builder): the options, the description a loaded model
//! reports, tokenisation and running one batch.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use ndarray::Array2;
use ort::session::{OutputSelector, RunOptions, Session};
use rayon::prelude::*;
use serde::Serialize;
use tokenizers::{Encoding, Tokenizer};

use super::pooling::Pooling;
use super::signature::Signature;
use super::tokens::{self, PieceConvention};
use crate::assets;
use crate::error::{Error, Result};
use crate::model::{Device, GraphOpt, KvCache, KvShape, ModelDir, ModelKind, SessionSettings};
use crate::parallel;

/// Options for loading a model; all have sensible defaults.
#[derive(Debug, Clone)]
pub struct ModelOptions {
    /// Threads for ONNX Runtime (intra-op) and for tokenisation; `None` = all cores.
    pub threads: Option<NonZeroUsize>,
    /// The ONNX Runtime library; default [`assets::ort_library_path`].
    pub ort_library: PathBuf,
    /// Graph output to pool (e.g. a hidden layer the export exposes).
    pub output: Option<String>,
    /// Truncation length; default from `lexalign.json`, `tokenizer.json`, then `config.json`.
    pub max_length: Option<usize>,
    /// Where ONNX Runtime runs the graph.
    pub device: Device,
    /// ONNX Runtime's graph optimisation level (default: all; docs/PERFORMANCE.md).
    pub graph_opt: GraphOpt,
}

impl Default for ModelOptions {
    fn default() -> Self {
        ModelOptions {
            threads: None,
            ort_library: assets::ort_library_path(),
            output: None,
            max_length: None,
            device: Device::Cpu,
            graph_opt: GraphOpt::default(),
        }
    }
}

impl ModelOptions {
    /// Thread count as a user gives it: `0` = all cores.
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = NonZeroUsize::new(threads);
        self
    }
    pub fn with_ort_library(mut self, path: impl Into<PathBuf>) -> Self {
        self.ort_library = path.into();
        self
    }
    pub fn with_output(mut self, name: impl Into<String>) -> Self {
        self.output = Some(name.into());
        self
    }
    pub fn with_max_length(mut self, len: usize) -> Self {
        self.max_length = Some(len);
        self
    }
    pub fn with_graph_opt(mut self, level: GraphOpt) -> Self {
        self.graph_opt = level;
        self
    }
    /// Checks the options and resolves the thread count.
    fn validate(&self) -> Result<NonZeroUsize> {
        if let Some(0) = self.max_length {
            return Err(Error::param(
                "max_length",
                "0; expected at least 2 (room for special tokens)",
            ));
        }
        parallel::from_setting(self.threads.map_or(0, NonZeroUsize::get))
    }

    /// The session settings these options give, with the thread count resolved.
    pub fn session(&self) -> Result<SessionSettings> {
        Ok(SessionSettings {
            threads: self.validate()?,
            graph_opt: self.graph_opt,
            device: self.device,
            ort_library: self.ort_library.clone(),
        })
    }
}

/// What a loaded model is, for provenance and display.
#[derive(Debug, Clone, Serialize)]
pub struct ModelInfo {
    pub name: String,
    pub variant: Option<String>,
    /// What the weights are, from lexalign.json (e.g. how a GGUF was converted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Written relative to the project, the assets or the working folder (lossy for
    /// a non-UTF-8 path), so provenance never fails and names no machine's folders.
    #[serde(serialize_with = "crate::assets::serialize_shown_path")]
    pub dir: PathBuf,
    pub onnx_sha256: String,
    pub tokenizer_sha256: String,
    pub inputs: Vec<String>,
    pub output: String,
    /// Rank of the chosen output: 3 = per-token states (pooled here), 2 = already pooled.
    pub output_rank: usize,
    pub dim: Option<usize>,
    pub max_length: usize,
    pub vocab_size: usize,
    /// Encoder or decoder: lexalign.json's `kind`, else encoder.
    pub kind: ModelKind,
    /// Layers whose states can be pooled (`--layer 0..=layers`; 0 = token
    /// embeddings, `layers` = the final states); `None` when the graph exposes no
    /// per-layer output.
    pub layers: Option<usize>,
    /// The per-layer output `[layers + 1, batch, seq, dim]`, when there is one.
    pub hidden_states: Option<String>,
    /// The model's own pooling: lexalign.json's `pooling`, else `last` for
    /// decoders and `mean` for encoders.
    pub pooling: Pooling,
    /// The model's own normalisation: lexalign.json's `normalize`, else false.
    pub normalize: bool,
    /// The graph file run: model.onnx, or a decoder's embed_past.onnx (the same
    /// outputs, after an optional KV-cache prefix), which lets strings that begin
    /// with the same tokens share that prefix's computation.
    pub graph: String,
}

impl ModelInfo {
    fn describe(
        files: &ModelDir,
        tokenizer: &Tokenizer,
        signature: &Signature,
        max_length: usize,
        graph: &Path,
    ) -> Result<Self> {
        let output = &signature.output;
        let manifest = &files.manifest;
        let kind = manifest.kind();
        let layers = match (&signature.hidden_states, manifest.layers) {
            (None, _) => None,
            (Some(h), declared) => {
                let seen = h.entries.map(|e| e.saturating_sub(1));
                if let (Some(a), Some(b)) = (seen, declared) {
                    crate::ensure!(
                        a == b,
                        files.error(format!(
                            "lexalign.json says {b} layers but output {:?} holds {} entries (expected layers + 1)",
                            h.name,
                            a + 1
                        ))
                    );
                }
                seen.or(declared)
            }
        };
        Ok(ModelInfo {
            name: files.name(),
            variant: manifest.variant.clone(),
            description: manifest.description.clone(),
            dir: files.dir.clone(),
            onnx_sha256: crate::io::sha256_file(&files.onnx)?,
            tokenizer_sha256: crate::io::sha256_file(&files.tokenizer)?,
            inputs: signature.input_names(),
            output: output.name.clone(),
            output_rank: output.rank,
            dim: output.dim.or_else(|| files.hidden_size()),
            max_length,
            vocab_size: tokenizer.get_vocab_size(true),
            kind,
            layers,
            hidden_states: signature.hidden_states.as_ref().map(|h| h.name.clone()),
            pooling: manifest.pooling(),
            normalize: manifest.normalize(),
            graph: graph
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        })
    }
}

/// A transformer exported to ONNX, ready to embed strings.
pub struct Model {
    pub(crate) info: ModelInfo,
    pub(crate) tokenizer: Tokenizer,
    pub(crate) convention: PieceConvention,
    pub(crate) unk_id: Option<u32>,
    /// The special token before every string, which `cls` pooling needs.
    pub(crate) leading_special: Option<String>,
    session: Mutex<Session>,
    signature: Signature,
    /// Threads for tokenisation, resolved at load. Pools come from
    /// [`crate::parallel`] on each call, so a model made in one evcxr cell (which
    /// has its own copy of rayon) works in later cells.
    threads: NonZeroUsize,
    /// How the session was opened (kept for the library handle each call needs).
    settings: SessionSettings,
    static_matrix: OnceLock<(String, Array2<f32>)>,
    onnx_path: PathBuf,
    /// lexalign.json's `word_embeddings.external_data`, when given.
    external_embeddings: Option<crate::model::ExternalMatrix>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model").field("info", &self.info).finish()
    }
}

impl Model {
    /// Loads the default model (all-MiniLM-L6-v2, fp32) with default options:
    /// the model directory and ONNX Runtime installed by `make setup` (or
    /// `$LEXALIGN_ASSETS`, `$ORT_DYLIB_PATH`). In evcxr, load it once and use it
    /// from any later cell.
    ///
    /// ```no_run
    /// use lexalign::embed::{EmbedOptions, Model};
    /// let model = Model::load_default()?;
    /// let emb = model.embed(&["Seizure", "HP:0001250"], &EmbedOptions::default())?;
    /// assert_eq!(emb.vectors.dim(), (2, 384));
    /// # Ok::<(), lexalign::Error>(())
    /// ```
    pub fn load_default() -> Result<Self> {
        Self::load(assets::default_model_dir())
    }

    /// Loads a model directory with default options.
    pub fn load(dir: impl AsRef<Path>) -> Result<Self> {
        Self::load_with(dir, &ModelOptions::default())
    }

    /// Loads a model directory: finds its files, sets up the tokenizer, opens
    /// the graph and detects its signature.
    pub fn load_with(dir: impl AsRef<Path>, options: &ModelOptions) -> Result<Self> {
        let settings = options.session()?;
        let files = ModelDir::locate(dir.as_ref())?;
        let (tokenizer, max_length) = files.tokenizer(options.max_length)?;
        let graph = files.graphs()?.embedding().to_path_buf();
        let session = settings.open(&graph, &files.dir)?;
        let signature = Signature::detect(
            &session,
            options.output.as_deref(),
            files.manifest.hidden_states_output.as_deref(),
            &files.dir,
        )?;
        let info = ModelInfo::describe(&files, &tokenizer, &signature, max_length, &graph)?;
        Ok(Model {
            info,
            convention: PieceConvention::of(&tokenizer),
            unk_id: tokens::unknown_id(&tokenizer),
            leading_special: tokens::leading_special(&tokenizer),
            tokenizer,
            session: Mutex::new(session),
            signature,
            threads: settings.threads,
            settings,
            static_matrix: OnceLock::new(),
            external_embeddings: files.external_word_embeddings()?,
            onnx_path: files.onnx,
        })
    }

    /// Name, hashes, detected inputs/output, dimension and maximum length.
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// Threads used for inference and tokenisation (resolved when loading).
    pub fn threads(&self) -> NonZeroUsize {
        self.threads
    }

    /// The tokenizer, with lexalign's truncation and no padding.
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// Encodes strings in parallel, with special tokens and truncation.
    pub fn encode(&self, texts: &[&str]) -> Result<Vec<Encoding>> {
        parallel::install(self.threads, || {
            texts
                .par_iter()
                .map(|t| {
                    self.tokenizer
                        .encode_char_offsets(*t, true)
                        .map_err(|e| Error::Tokenizer(format!("{t:?}: {e}")))
                })
                .collect()
        })?
    }

    /// Fails unless every layer asked for exists (`0..=layers`).
    pub(crate) fn check_layers(&self, layers: &[Option<usize>]) -> Result<()> {
        for &layer in layers.iter().flatten() {
            let Some(max) = self.info.layers else {
                return Err(Error::param(
                    "layer",
                    format!(
                        "{layer}: model {} ({}) has no per-layer output (such as hidden_states [layers + 1, batch, seq, dim]); only its final states can be pooled",
                        self.info.name,
                        self.info.dir.display()
                    ),
                ));
            };
            crate::ensure!(
                layer <= max,
                Error::param(
                    "layer",
                    format!(
                        "{layer}; model {} has layers 0 (token embeddings) to {max} (final states)",
                        self.info.name
                    )
                )
            );
        }
        Ok(())
    }

    /// Whether a layer is the chosen output itself (the last entry of
    /// `hidden_states` is `last_hidden_state`), so the smaller output serves.
    fn is_final(&self, layer: Option<usize>) -> bool {
        match layer {
            None => true,
            Some(l) => self.info.output == "last_hidden_state" && Some(l) == self.info.layers,
        }
    }

    /// Runs one batch asking ONNX Runtime only for the outputs needed, and returns
    /// the states of each entry of `layers` (`None` = the chosen output) as
    /// `[batch, seq, dim]`.
    pub(crate) fn run_layers(
        &self,
        batch: &[&Encoding],
        layers: &[Option<usize>],
    ) -> Result<BatchStates> {
        self.settings.ready()?;
        let feeds = self.signature.feeds(batch)?;
        self.run_feeds(feeds, batch.len(), layers)
    }

    /// How tightly batches are cut for padding: as asked, else tight for
    /// decoders, whose tokens are costly.
    pub(crate) fn packing(&self, asked: Option<super::batch::Packing>) -> super::batch::Packing {
        asked.unwrap_or(match self.info.kind {
            ModelKind::Decoder => super::batch::Packing::Tight,
            _ => super::batch::Packing::Loose,
        })
    }

    /// The KV cache a graph with one takes, if this model's does.
    pub(crate) fn past_shape(&self) -> Option<KvShape> {
        self.signature.past
    }

    /// Runs rows of new tokens, each after its cached prefix (`pasts`, one per
    /// row), and returns the new tokens' states as [`Model::run_layers`] does.
    pub(crate) fn run_after(
        &self,
        rows: &[&[u32]],
        pasts: &[Option<&KvCache>],
        layers: &[Option<usize>],
    ) -> Result<BatchStates> {
        self.settings.ready()?;
        let feeds = self.signature.feeds_rows(rows, None, pasts)?;
        self.run_feeds(feeds, rows.len(), layers)
    }

    /// Runs prefixes, each after its own cached prefix in `pasts` (one per row, or
    /// empty for none), and returns each one's whole KV cache: past and new tokens.
    pub(crate) fn run_prefixes(
        &self,
        rows: &[&[u32]],
        pasts: &[Option<&KvCache>],
    ) -> Result<Vec<KvCache>> {
        self.settings.ready()?;
        let shape = self.signature.past.ok_or_else(|| Error::Model {
            path: self.info.dir.clone(),
            message: "the graph takes no KV cache".into(),
        })?;
        let b = rows.len();
        let names: Vec<String> = (0..shape.layers)
            .flat_map(|l| [format!("present.{l}.key"), format!("present.{l}.value")])
            .collect();
        let mut selector = OutputSelector::no_default();
        for n in &names {
            selector = selector.with(n.clone());
        }
        let run_options = RunOptions::new()?.with_outputs(selector);
        let feeds = self.signature.feeds_rows(rows, None, pasts)?;
        let mut session = self.session.lock().unwrap_or_else(|p| p.into_inner());
        let outputs = session.run_with_options(feeds, &run_options)?;
        let (kvh, hd) = (shape.kv_heads, shape.head_dim);
        let past_len = |r: usize| pasts.get(r).copied().flatten().map_or(0, |p| p.len);
        let p_max = (0..b).map(past_len).max().unwrap_or(0);
        let mut whole: Vec<KvCache> = rows
            .iter()
            .enumerate()
            .map(|(r, row)| {
                let len = past_len(r) + row.len();
                KvCache {
                    len,
                    data: Vec::with_capacity(len * shape.per_token()),
                }
            })
            .collect();
        for name in &names {
            let (dims, data) = self.output_f32(&outputs, name)?;
            let width = p_max + rows.iter().map(|r| r.len()).max().unwrap_or(0).max(1);
            crate::ensure!(
                dims == [b, kvh, width, hd],
                Error::Model {
                    path: self.info.dir.clone(),
                    message: format!(
                        "output {name:?} has shape {:?}; expected [{b}, {kvh}, {width}, {hd}]",
                        &dims[..]
                    ),
                }
            );
            // A row's past ends at slot p_max, where its new tokens begin: its real
            // slots are one run, from p_max - past to p_max + new.
            for (r, kv) in whole.iter_mut().enumerate() {
                let first = p_max - past_len(r);
                for h in 0..kvh {
                    let start = ((r * kvh + h) * width + first) * hd;
                    kv.data.extend_from_slice(&data[start..start + kv.len * hd]);
                }
            }
        }
        Ok(whole)
    }

    /// A run's float32 output `name`: its shape and values.
    fn output_f32<'o>(
        &self,
        outputs: &'o ort::session::SessionOutputs<'_>,
        name: &str,
    ) -> Result<(Vec<usize>, &'o [f32])> {
        let model_err = |message: String| Error::Model {
            path: self.info.dir.clone(),
            message,
        };
        let value = outputs
            .get(name)
            .ok_or_else(|| model_err(format!("output {name:?} missing from the run's results")))?;
        let (shape, data) = value
            .try_extract_tensor::<f32>()
            .map_err(|e| model_err(format!("output {name:?} is not float32: {e}")))?;
        Ok((shape.iter().map(|&d| d.max(0) as usize).collect(), data))
    }

    /// Runs prepared feeds for a batch of `b` rows (see [`Model::run_layers`]).
    fn run_feeds(
        &self,
        feeds: Vec<(String, ort::session::SessionInputValue<'static>)>,
        b: usize,
        layers: &[Option<usize>],
    ) -> Result<BatchStates> {
        self.check_layers(layers)?;
        let model_err = |message: String| Error::Model {
            path: self.info.dir.clone(),
            message,
        };
        let need_output = layers.iter().any(|&l| self.is_final(l));
        let need_hidden = layers.iter().any(|&l| !self.is_final(l));
        let hidden_name = self.info.hidden_states.clone().unwrap_or_default();
        let mut selector = OutputSelector::no_default();
        if need_output {
            selector = selector.with(self.info.output.clone());
        }
        if need_hidden {
            selector = selector.with(hidden_name.clone());
        }
        let run_options = RunOptions::new()?.with_outputs(selector);
        let mut session = self.session.lock().unwrap_or_else(|p| p.into_inner());
        let outputs = session.run_with_options(feeds, &run_options)?;
        let extract = |name: &str| self.output_f32(&outputs, name);
        let mut seq_dim: Option<(usize, usize)> = None;
        let mut final_values: Option<Vec<f32>> = None;
        if need_output {
            let (dims, data) = extract(&self.info.output)?;
            let (s, d) = match dims.as_slice() {
                [bb, s, d] if *bb == b => (*s, *d),
                [bb, d] if *bb == b => (1, *d),
                other => {
                    return Err(model_err(format!(
                        "output {:?} has shape {other:?} for a batch of {b}",
                        self.info.output
                    )))
                }
            };
            seq_dim = Some((s, d));
            final_values = Some(data.to_vec());
        }
        let mut hidden: Option<(&[f32], usize)> = None;
        if need_hidden {
            let (dims, data) = extract(&hidden_name)?;
            let entries = self.info.layers.map_or(0, |l| l + 1);
            let (s, d) = match dims.as_slice() {
                [e, bb, s, d] if *e == entries && *bb == b => (*s, *d),
                other => {
                    return Err(model_err(format!(
                        "output {hidden_name:?} has shape {other:?} for a batch of {b}; expected [{entries}, {b}, seq, dim]"
                    )))
                }
            };
            if let Some((s0, d0)) = seq_dim {
                crate::ensure!(
                    (s0, d0) == (s, d),
                    model_err(format!(
                        "output {hidden_name:?} is [{s}, {d}] per row but {:?} is [{s0}, {d0}]",
                        self.info.output
                    ))
                );
            }
            seq_dim = Some((s, d));
            hidden = Some((data, b * s * d));
        }
        let (seq, dim) = seq_dim.unwrap_or((0, 0));
        let values = layers
            .iter()
            .map(|&l| match (l, self.is_final(l), &hidden) {
                (_, true, _) => final_values.clone().unwrap_or_default(),
                (Some(n), false, Some((data, per))) => data[n * per..(n + 1) * per].to_vec(),
                _ => Vec::new(),
            })
            .collect();
        Ok(BatchStates { values, seq, dim })
    }

    /// The input embedding matrix `[vocab, dim]` (read once from model.onnx).
    pub fn static_matrix(&self) -> Result<&Array2<f32>> {
        Ok(&self.static_embeddings()?.1)
    }

    /// Name of the initializer used for static token embeddings.
    pub fn static_matrix_name(&self) -> Result<&str> {
        Ok(&self.static_embeddings()?.0)
    }

    fn static_embeddings(&self) -> Result<&(String, Array2<f32>)> {
        if let Some(loaded) = self.static_matrix.get() {
            return Ok(loaded);
        }
        let loaded = match &self.external_embeddings {
            Some(m) => {
                crate::ensure!(
                    m.rows >= self.info.vocab_size,
                    Error::Model {
                        path: self.info.dir.clone(),
                        message: format!(
                            "lexalign.json: word_embeddings has {} rows but the tokenizer has {} tokens",
                            m.rows, self.info.vocab_size
                        ),
                    }
                );
                (m.name.clone(), super::weights::external_matrix(m)?)
            }
            None => super::weights::word_embeddings(&self.onnx_path, self.info.vocab_size)?,
        };
        Ok(self.static_matrix.get_or_init(|| loaded))
    }
}

/// One batch's states: for each layer asked, `[batch, seq, dim]` row-major.
pub(crate) struct BatchStates {
    pub values: Vec<Vec<f32>>,
    pub seq: usize,
    pub dim: usize,
}

/// Distinct strings in first-seen order, and each input's index into them.
pub(crate) fn dedup<'a>(texts: &[&'a str]) -> (Vec<&'a str>, Vec<usize>) {
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(texts.len());
    let mut distinct = Vec::new();
    let index = texts
        .iter()
        .map(|t| {
            *seen.entry(t).or_insert_with(|| {
                distinct.push(*t);
                distinct.len() - 1
            })
        })
        .collect();
    (distinct, index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_are_resolved_once_and_checked() {
        let options = ModelOptions::default();
        assert_eq!(options.threads, None);
        assert_eq!(options.validate().unwrap(), parallel::available());
        let all = options.clone().with_threads(0);
        assert_eq!(all.validate().unwrap(), parallel::available());
        assert_eq!(options.clone().with_threads(3).validate().unwrap().get(), 3);
        assert!(options.clone().with_threads(5000).validate().is_err());
        assert!(options.with_max_length(0).validate().is_err());
    }
}
