//! A model directory (`model.onnx` + `tokenizer.json`, optional `config.json` and
//! `lexalign.json`) loaded into an ONNX Runtime session, with its graph inputs and
//! output detected rather than assumed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use ndarray::Array2;
use ort::session::{builder::GraphOptimizationLevel, Session};
use ort::value::{Tensor, TensorElementType};
use rayon::prelude::*;
use serde::Serialize;
use tokenizers::{Encoding, Tokenizer, TruncationParams};

use super::tokens::PieceConvention;
use crate::assets;
use crate::error::{Error, Result};

/// Graph inputs lexalign knows how to feed.
pub const KNOWN_INPUTS: &[&str] = &[
    "input_ids",
    "attention_mask",
    "token_type_ids",
    "position_ids",
];
/// Output names tried in order when none is chosen.
pub const DEFAULT_OUTPUTS: &[&str] = &["last_hidden_state", "token_embeddings"];

/// Options for loading a model; all have sensible defaults.
#[derive(Debug, Clone)]
pub struct ModelOptions {
    /// Threads for ONNX Runtime (intra-op) and for tokenisation.
    pub threads: usize,
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
            threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            ort_library: assets::ort_library_path(),
            output: None,
            max_length: None,
        }
    }
}

impl ModelOptions {
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads;
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
    fn validate(&self) -> Result<()> {
        if self.threads == 0 || self.threads > 1024 {
            return Err(Error::param(
                "threads",
                format!("{}; expected 1..=1024", self.threads),
            ));
        }
        if let Some(0) = self.max_length {
            return Err(Error::param(
                "max_length",
                "0; expected at least 2 (room for special tokens)",
            ));
        }
        Ok(())
    }
}

/// What a loaded model is, for provenance and display.
#[derive(Debug, Clone, Serialize)]
pub struct ModelInfo {
    pub name: String,
    pub variant: Option<String>,
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

#[derive(Debug, Clone, Copy, PartialEq)]
enum InputKind {
    Ids,
    Mask,
    TypeIds,
    Positions,
}

#[derive(Debug, Clone)]
struct GraphInput {
    name: String,
    kind: InputKind,
    int32: bool,
}

/// A transformer exported to ONNX, ready to embed strings.
pub struct Model {
    pub(crate) info: ModelInfo,
    pub(crate) tokenizer: Tokenizer,
    pub(crate) convention: PieceConvention,
    pub(crate) unk_id: Option<u32>,
    session: Mutex<Session>,
    inputs: Vec<GraphInput>,
    /// Threads for tokenisation; the rayon pool is built per call, so a model made
    /// in one evcxr cell (which has its own copy of rayon) works in later cells.
    threads: usize,
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

    /// Loads a model directory.
    pub fn load_with(dir: impl AsRef<Path>, options: &ModelOptions) -> Result<Self> {
        options.validate()?;
        let dir = dir.as_ref().to_path_buf();
        let model_err = |message: String| Error::Model {
            path: dir.clone(),
            message,
        };
        if !dir.is_dir() {
            let hint = if dir == assets::default_model_dir() {
                format!(" {}", assets::SETUP_HINT)
            } else {
                String::new()
            };
            return Err(model_err(format!(
                "not a directory; a model directory holds model.onnx and tokenizer.json.{hint}"
            )));
        }
        let onnx_path = dir.join("model.onnx");
        let tokenizer_path = dir.join("tokenizer.json");
        for (p, what) in [
            (&onnx_path, "model.onnx"),
            (&tokenizer_path, "tokenizer.json"),
        ] {
            if !p.is_file() {
                return Err(model_err(format!(
                    "missing {what}; a model directory needs model.onnx and tokenizer.json (e.g. from an optimum/HF export)"
                )));
            }
        }
        let config = read_json(&dir.join("config.json"))?;
        let local = read_json(&dir.join("lexalign.json"))?;

        let mut tokenizer = Tokenizer::from_file(&tokenizer_path)
            .map_err(|e| Error::Tokenizer(format!("{}: {e}", tokenizer_path.display())))?;
        let max_length = options
            .max_length
            .or_else(|| json_usize(&local, "max_length"))
            .or_else(|| tokenizer.get_truncation().map(|t| t.max_length))
            .or_else(|| json_usize(&config, "max_position_embeddings"))
            .unwrap_or(512);
        let strategy = tokenizer
            .get_truncation()
            .map(|t| t.strategy)
            .unwrap_or_default();
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length,
                strategy,
                ..Default::default()
            }))
            .map_err(|e| Error::Tokenizer(format!("{}: {e}", tokenizer_path.display())))?;
        // Padding is done per batch, to the batch's longest string.
        tokenizer.with_padding(None);
        let convention = PieceConvention::of(&tokenizer);
        let unk_id = unknown_token(&tokenizer);

        let env = super::runtime::environment(&options.ort_library)?;
        let session = Session::builder(&env)?
            .with_optimization_level(GraphOptimizationLevel::All)
            .map_err(ort::Error::from)?
            .with_intra_threads(options.threads)
            .map_err(ort::Error::from)?
            .with_inter_threads(1)
            .map_err(ort::Error::from)?
            .commit_from_file(&onnx_path)
            .map_err(|e| model_err(format!("ONNX Runtime could not load model.onnx: {e}")))?;

        let mut inputs = Vec::new();
        for input in session.inputs() {
            let kind = match input.name() {
                "input_ids" => InputKind::Ids,
                "attention_mask" => InputKind::Mask,
                "token_type_ids" => InputKind::TypeIds,
                "position_ids" => InputKind::Positions,
                other => {
                    return Err(model_err(format!(
                        "graph input {other:?} cannot be fed; lexalign feeds {} (decoder exports must be without KV cache)",
                        KNOWN_INPUTS.join(", ")
                    )))
                }
            };
            let int32 = match input.dtype().tensor_type() {
                Some(TensorElementType::Int64) => false,
                Some(TensorElementType::Int32) => true,
                other => {
                    return Err(model_err(format!(
                        "graph input {:?} has element type {other:?}; expected int64 or int32",
                        input.name()
                    )))
                }
            };
            inputs.push(GraphInput {
                name: input.name().to_string(),
                kind,
                int32,
            });
        }
        if !inputs.iter().any(|i| i.kind == InputKind::Ids) {
            return Err(model_err("graph has no input_ids input".into()));
        }
        let outputs: Vec<(String, usize)> = session
            .outputs()
            .iter()
            .map(|o| {
                let rank = o.dtype().tensor_shape().map(|s| s.len()).unwrap_or(0);
                (o.name().to_string(), rank)
            })
            .collect();
        let listed = || {
            outputs
                .iter()
                .map(|(n, r)| format!("{n} (rank {r})"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let chosen = match &options.output {
            Some(name) => outputs.iter().find(|(n, _)| n == name).cloned().ok_or_else(|| {
                model_err(format!("no graph output {name:?}; outputs: {}", listed()))
            })?,
            None => DEFAULT_OUTPUTS
                .iter()
                .find_map(|d| outputs.iter().find(|(n, _)| n == d).cloned())
                .or_else(|| {
                    let rank3: Vec<_> = outputs.iter().filter(|(_, r)| *r == 3).collect();
                    (rank3.len() == 1).then(|| rank3[0].clone())
                })
                .ok_or_else(|| {
                    model_err(format!(
                        "no output named {} and no single rank-3 output; choose one with --output-name. Outputs: {}",
                        DEFAULT_OUTPUTS.join(" or "),
                        listed()
                    ))
                })?,
        };
        if chosen.1 != 3 && chosen.1 != 2 {
            return Err(model_err(format!(
                "output {:?} has rank {}; expected [batch, seq, dim] or [batch, dim]",
                chosen.0, chosen.1
            )));
        }
        let dim = session
            .outputs()
            .iter()
            .find(|o| o.name() == chosen.0)
            .and_then(|o| o.dtype().tensor_shape().and_then(|s| s.last().copied()))
            .filter(|&d| d > 0)
            .map(|d| d as usize)
            .or_else(|| json_usize(&config, "hidden_size"));

        let name = local
            .as_ref()
            .and_then(|v| v.get("name")?.as_str().map(str::to_string))
            .or_else(|| {
                config.as_ref().and_then(|v| {
                    v.get("_name_or_path")?
                        .as_str()
                        .map(|s| s.rsplit('/').next().unwrap_or(s).to_string())
                })
            })
            .unwrap_or_else(|| {
                dir.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            });
        let variant = local
            .as_ref()
            .and_then(|v| v.get("variant")?.as_str().map(str::to_string));
        let info = ModelInfo {
            name,
            variant,
            dir: dir.clone(),
            onnx_sha256: crate::io::sha256_file(&onnx_path)?,
            tokenizer_sha256: crate::io::sha256_file(&tokenizer_path)?,
            inputs: inputs.iter().map(|i| i.name.clone()).collect(),
            output: chosen.0,
            output_rank: chosen.1,
            dim,
            max_length,
            vocab_size: tokenizer.get_vocab_size(true),
        };
        Ok(Model {
            info,
            tokenizer,
            convention,
            unk_id,
            session: Mutex::new(session),
            inputs,
            threads: options.threads,
            ort_library: options.ort_library.clone(),
            static_matrix: OnceLock::new(),
            onnx_path,
        })
    }

    /// Name, hashes, detected inputs/output, dimension and maximum length.
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// The tokenizer, with lexalign's truncation and no padding.
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// Encodes strings in parallel, with special tokens and truncation.
    pub fn encode(&self, texts: &[&str]) -> Result<Vec<Encoding>> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(self.threads)
            .build()
            .map_err(|e| Error::param("threads", e.to_string()))?;
        pool.install(|| {
            texts
                .par_iter()
                .map(|t| {
                    self.tokenizer
                        .encode_char_offsets(*t, true)
                        .map_err(|e| Error::Tokenizer(format!("{t:?}: {e}")))
                })
                .collect()
        })
    }

    /// Runs one batch (right-padded to its longest member) and returns the chosen
    /// output as `[batch, seq, dim]` (or `[batch, 1, dim]` for pooled outputs) with `seq`.
    pub(crate) fn run_batch(&self, batch: &[&Encoding]) -> Result<(Vec<f32>, usize, usize)> {
        // A no-op once loaded; in evcxr, a later cell has its own copy of `ort` whose
        // library handle must be set before any ort call from it.
        super::runtime::environment(&self.ort_library)?;
        let b = batch.len();
        let width = batch
            .iter()
            .map(|e| e.get_ids().len())
            .max()
            .unwrap_or(0)
            .max(1);
        let mut ids = vec![0i64; b * width];
        let mut mask = vec![0i64; b * width];
        let mut types = vec![0i64; b * width];
        for (r, e) in batch.iter().enumerate() {
            for (c, (&id, &t)) in e.get_ids().iter().zip(e.get_type_ids()).enumerate() {
                ids[r * width + c] = id as i64;
                mask[r * width + c] = 1;
                types[r * width + c] = t as i64;
            }
        }
        let positions: Vec<i64> = (0..b).flat_map(|_| 0..width as i64).collect();
        let mut feeds: Vec<(String, ort::session::SessionInputValue<'_>)> = Vec::new();
        for input in &self.inputs {
            let data = match input.kind {
                InputKind::Ids => &ids,
                InputKind::Mask => &mask,
                InputKind::TypeIds => &types,
                InputKind::Positions => &positions,
            };
            let value: ort::session::SessionInputValue<'_> = if input.int32 {
                let v: Vec<i32> = data.iter().map(|&x| x as i32).collect();
                Tensor::from_array((vec![b, width], v))?.into()
            } else {
                Tensor::from_array((vec![b, width], data.clone()))?.into()
            };
            feeds.push((input.name.clone(), value));
        }
        let mut session = self.session.lock().unwrap_or_else(|p| p.into_inner());
        let outputs = session.run(feeds)?;
        let value = outputs.get(&self.info.output).ok_or_else(|| Error::Model {
            path: self.info.dir.clone(),
            message: format!(
                "output {:?} missing from the run's results",
                self.info.output
            ),
        })?;
        let (shape, data) = value
            .try_extract_tensor::<f32>()
            .map_err(|e| Error::Model {
                path: self.info.dir.clone(),
                message: format!("output {:?} is not float32: {e}", self.info.output),
            })?;
        let dims: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
        match dims.as_slice() {
            [bb, s, d] if *bb == b => Ok((data.to_vec(), *s, *d)),
            [bb, d] if *bb == b => Ok((data.to_vec(), 1, *d)),
            other => Err(Error::Model {
                path: self.info.dir.clone(),
                message: format!(
                    "output {:?} has shape {other:?} for a batch of {b}",
                    self.info.output
                ),
            }),
        }
    }

    /// The input embedding matrix `[vocab, dim]` (read once from model.onnx).
    pub fn static_matrix(&self) -> Result<&Array2<f32>> {
        if let Some((_, m)) = self.static_matrix.get() {
            return Ok(m);
        }
        let loaded = super::weights::word_embeddings(&self.onnx_path, self.info.vocab_size)?;
        let _ = self.static_matrix.set(loaded);
        Ok(&self.static_matrix.get().expect("just set").1)
    }

    /// Name of the initializer used for static token embeddings.
    pub fn static_matrix_name(&self) -> Result<&str> {
        self.static_matrix()?;
        Ok(&self.static_matrix.get().expect("loaded").0)
    }
}

fn read_json(path: &Path) -> Result<Option<serde_json::Value>> {
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| Error::json(path, e))
}

fn json_usize(v: &Option<serde_json::Value>, key: &str) -> Option<usize> {
    v.as_ref()?.get(key)?.as_u64().map(|x| x as usize)
}

fn unknown_token(tokenizer: &Tokenizer) -> Option<u32> {
    use tokenizers::ModelWrapper;
    let name = match tokenizer.get_model() {
        ModelWrapper::WordPiece(wp) => Some(wp.unk_token.clone()),
        ModelWrapper::BPE(bpe) => bpe.get_unk_token().clone(),
        ModelWrapper::WordLevel(wl) => Some(wl.unk_token.clone()),
        ModelWrapper::Unigram(_) => ["<unk>", "[UNK]", "<UNK>"]
            .iter()
            .find(|t| tokenizer.token_to_id(t).is_some())
            .map(|t| t.to_string()),
    }?;
    tokenizer.token_to_id(&name)
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
