//! A model directory loaded into an ONNX Runtime session: the options, the
//! description a loaded model reports, tokenisation and running one batch.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use ndarray::Array2;
use ort::session::{builder::GraphOptimizationLevel, Session};
use rayon::prelude::*;
use serde::Serialize;
use tokenizers::{Encoding, Tokenizer};

use super::directory::ModelDir;
use super::signature::Signature;
use super::tokens::{self, PieceConvention};
use crate::assets;
use crate::error::{Error, Result};
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
}

impl Default for ModelOptions {
    fn default() -> Self {
        ModelOptions {
            threads: None,
            ort_library: assets::ort_library_path(),
            output: None,
            max_length: None,
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
}

/// What a loaded model is, for provenance and display.
#[derive(Debug, Clone, Serialize)]
pub struct ModelInfo {
    pub name: String,
    pub variant: Option<String>,
    /// Written as text (lossy for a non-UTF-8 path), so provenance never fails.
    #[serde(serialize_with = "display_path")]
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
}

fn display_path<S: serde::Serializer>(path: &Path, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.collect_str(&path.display())
}

impl ModelInfo {
    fn describe(
        files: &ModelDir,
        tokenizer: &Tokenizer,
        signature: &Signature,
        max_length: usize,
    ) -> Result<Self> {
        let output = &signature.output;
        Ok(ModelInfo {
            name: files.name(),
            variant: files.variant(),
            dir: files.dir.clone(),
            onnx_sha256: crate::io::sha256_file(&files.onnx)?,
            tokenizer_sha256: crate::io::sha256_file(&files.tokenizer)?,
            inputs: signature.input_names(),
            output: output.name.clone(),
            output_rank: output.rank,
            dim: output.dim.or_else(|| files.hidden_size()),
            max_length,
            vocab_size: tokenizer.get_vocab_size(true),
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
    ort_library: PathBuf,
    static_matrix: OnceLock<(String, Array2<f32>)>,
    onnx_path: PathBuf,
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
        let threads = options.validate()?;
        let files = ModelDir::locate(dir.as_ref())?;
        let (tokenizer, max_length) = files.tokenizer(options.max_length)?;
        let session = open_session(&files, &options.ort_library, threads)?;
        let signature = Signature::detect(&session, options.output.as_deref(), &files.dir)?;
        let info = ModelInfo::describe(&files, &tokenizer, &signature, max_length)?;
        Ok(Model {
            info,
            convention: PieceConvention::of(&tokenizer),
            unk_id: tokens::unknown_id(&tokenizer),
            leading_special: tokens::leading_special(&tokenizer),
            tokenizer,
            session: Mutex::new(session),
            signature,
            threads,
            ort_library: options.ort_library.clone(),
            static_matrix: OnceLock::new(),
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

    /// Runs one batch (right-padded to its longest member) and returns the chosen
    /// output as `[batch, seq, dim]` (or `[batch, 1, dim]` for pooled outputs) with `seq`.
    pub(crate) fn run_batch(&self, batch: &[&Encoding]) -> Result<(Vec<f32>, usize, usize)> {
        // A no-op once loaded; in evcxr, a later cell has its own copy of `ort` whose
        // library handle must be set before any ort call from it.
        super::runtime::environment(&self.ort_library)?;
        let b = batch.len();
        let feeds = self.signature.feeds(batch)?;
        let mut session = self.session.lock().unwrap_or_else(|p| p.into_inner());
        let outputs = session.run(feeds)?;
        let model_err = |message: String| Error::Model {
            path: self.info.dir.clone(),
            message,
        };
        let value = outputs.get(&self.info.output).ok_or_else(|| {
            model_err(format!(
                "output {:?} missing from the run's results",
                self.info.output
            ))
        })?;
        let (shape, data) = value
            .try_extract_tensor::<f32>()
            .map_err(|e| model_err(format!("output {:?} is not float32: {e}", self.info.output)))?;
        let dims: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
        match dims.as_slice() {
            [bb, s, d] if *bb == b => Ok((data.to_vec(), *s, *d)),
            [bb, d] if *bb == b => Ok((data.to_vec(), 1, *d)),
            other => Err(model_err(format!(
                "output {:?} has shape {other:?} for a batch of {b}",
                self.info.output
            ))),
        }
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
        let loaded = super::weights::word_embeddings(&self.onnx_path, self.info.vocab_size)?;
        Ok(self.static_matrix.get_or_init(|| loaded))
    }
}

/// An ONNX Runtime session on model.onnx with `threads` intra-op threads.
fn open_session(files: &ModelDir, ort_library: &Path, threads: NonZeroUsize) -> Result<Session> {
    let env = super::runtime::environment(ort_library)?;
    Session::builder(&env)?
        .with_optimization_level(GraphOptimizationLevel::All)
        .map_err(ort::Error::from)?
        .with_intra_threads(threads.get())
        .map_err(ort::Error::from)?
        .with_inter_threads(1)
        .map_err(ort::Error::from)?
        .commit_from_file(&files.onnx)
        .map_err(|e| files.error(format!("ONNX Runtime could not load model.onnx: {e}")))
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
