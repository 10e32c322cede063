//! Greedy generation with a decoder's `generate.onnx` (see docs/DECODER.md and docs/ASK.md).
//!
//! [`Decoder`] loads the generation graph of a decoder model directory (`lexalign.json`
//! with a `generate` section, e.g. `--model smollm2`) through the model layer
//! ([`crate::model`]: the typed manifest, [`crate::model::Graphs::Decoder`], the one
//! session builder; the prompt start's cache is a [`crate::model::KvCache`]) and
//! decodes greedily:
//!
//! - [`Decoder::greedy`]: a left-padded batch is prefilled in one call (past length 0,
//!   or a shared [`Prefix`] whose KV cache is computed once and repeated per row), then
//!   one token per step, feeding `present.*` back as `past_key_values.*`.
//! - [`Decoder::greedy_no_cache`]: the reference route; every step re-runs the whole
//!   left-padded sequence with past length 0.
//!
//! Rows that stop early keep being fed their own argmax until the whole batch has
//! stopped; those tokens are discarded. Both routes give the same tokens (checked in
//! `tests/integration/generate_reference.rs` against a numpy float64 greedy decode).
//!
//! [`ask`] builds on it: few-shot prompts for a pairing, answers scored against the truth.

pub mod ask;

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ort::session::{Session, SessionInputValue};
use ort::value::{DynValue, Tensor};
use serde::Serialize;
use tokenizers::Tokenizer;

use crate::error::{Error, Result, ResultExt};
use crate::model::{
    load_tokenizer, Device, GenerateSection, GraphOpt, Graphs, KvCache, KvShape, ModelDir,
    SessionSettings,
};

/// Options for loading a [`Decoder`].
#[derive(Debug, Clone)]
pub struct DecoderOptions {
    /// Intra-op threads for ONNX Runtime; `None` = all cores.
    pub threads: Option<NonZeroUsize>,
    /// The ONNX Runtime library; default [`crate::assets::ort_library_path`].
    pub ort_library: PathBuf,
    /// `cpu` or `cuda` (see [`Device`]).
    pub device: Device,
}

impl DecoderOptions {
    /// The session settings these options give (graph optimisation: all).
    fn session(&self) -> SessionSettings {
        SessionSettings {
            threads: crate::parallel::resolve(self.threads),
            graph_opt: GraphOpt::All,
            device: self.device,
            ort_library: self.ort_library.clone(),
        }
    }
}

impl Default for DecoderOptions {
    fn default() -> Self {
        DecoderOptions {
            threads: None,
            ort_library: crate::assets::ort_library_path(),
            device: Device::Cpu,
        }
    }
}

/// What a loaded decoder is, for provenance.
#[derive(Debug, Clone, Serialize)]
pub struct DecoderInfo {
    pub name: String,
    #[serde(serialize_with = "crate::assets::serialize_shown_path")]
    pub dir: PathBuf,
    /// sha256 of `generate.onnx` (the graph; the weights are in `model.weights`).
    pub generate_onnx_sha256: String,
    pub layers: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub vocab_size: usize,
    /// Longest prompt + continuation lexalign feeds (`max_length` in lexalign.json).
    pub max_length: usize,
    pub eos_token_ids: Vec<u32>,
    pub pad_token_id: u32,
    /// The token a prompt starts with, where the model wants one (`generate.add_bos`,
    /// e.g. Gemma's `<bos>`); [`Decoder::encode`] never adds it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bos_token_id: Option<u32>,
    pub threads: usize,
}

/// When to stop a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Stop {
    /// New tokens at most (≥ 1).
    pub max_new_tokens: usize,
    /// Stop after a token whose text holds a line break.
    pub at_newline: bool,
}

/// Why a row stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    Eos,
    Newline,
    MaxTokens,
}

impl StopReason {
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::Eos => "eos",
            StopReason::Newline => "newline",
            StopReason::MaxTokens => "max_tokens",
        }
    }
}

/// One row's greedy continuation: the new ids, including the stopping EOS or
/// newline token when there was one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Continuation {
    pub ids: Vec<u32>,
    pub stop: StopReason,
}

/// A prompt start shared by every row (the few-shot examples): its KV cache is
/// computed once and repeated for each batch.
pub struct Prefix {
    ids: Vec<u32>,
    /// Its keys and values for one row.
    kv: KvCache,
}

impl Prefix {
    pub fn len(&self) -> usize {
        self.ids.len()
    }
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
    pub fn ids(&self) -> &[u32] {
        &self.ids
    }
}

/// A decoder's generation graph, tokenizer and settings.
pub struct Decoder {
    info: DecoderInfo,
    tokenizer: Tokenizer,
    session: Mutex<Session>,
    settings: SessionSettings,
    /// Per vocabulary id: its text holds a line break.
    newline: Vec<bool>,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder").field("info", &self.info).finish()
    }
}

fn model_err(dir: &Path, message: impl Into<String>) -> Error {
    Error::Model {
        path: dir.to_path_buf(),
        message: message.into(),
    }
}

impl Decoder {
    /// Loads `dir`'s `generate.onnx` (named in `lexalign.json` → `generate.file`) and
    /// `tokenizer.json`. A directory without them (an encoder such as minilm) is an
    /// error that says generation needs a decoder.
    pub fn load(dir: impl AsRef<Path>, options: &DecoderOptions) -> Result<Self> {
        let dir = dir.as_ref();
        let (files, onnx) = locate(dir)?;
        let settings = options.session();
        let info = describe(&files, &onnx, settings.threads)?;
        let tokenizer = untruncated_tokenizer(&files.tokenizer)?;
        let newline = newline_tokens(&tokenizer, info.vocab_size);
        let session = settings.open(&onnx, dir)?;
        Ok(Decoder {
            info,
            tokenizer,
            session: Mutex::new(session),
            settings,
            newline,
        })
    }

    pub fn info(&self) -> &DecoderInfo {
        &self.info
    }

    /// Token ids of `text`, with no special tokens added (control-token text such
    /// as `<|im_end|>` inside `text` becomes that token; see docs/DECODER.md).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        self.tokenizer
            .encode(text, false)
            .map(|e| e.get_ids().to_vec())
            .map_err(|e| Error::Tokenizer(format!("{text:?}: {e}")))
    }

    /// Text of `ids`, special tokens kept.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.tokenizer
            .decode(ids, false)
            .map_err(|e| Error::Tokenizer(e.to_string()))
    }

    /// Runs the shared prompt start once (batch 1, past 0) and keeps its KV cache.
    pub fn prefix(&self, ids: &[u32]) -> Result<Prefix> {
        if ids.is_empty() {
            return Ok(Prefix {
                ids: Vec::new(),
                kv: KvCache::empty(),
            });
        }
        self.check_length(ids.len(), "the shared prompt start")?;
        let t = ids.len();
        let input: Vec<i64> = ids.iter().map(|&x| i64::from(x)).collect();
        let (_, present) = self.run(
            1,
            t,
            input,
            vec![1; t],
            (0..t as i64).collect(),
            self.empty_past(1)?,
        )?;
        let mut kv = KvCache {
            len: t,
            data: Vec::with_capacity(t * self.kv_shape().per_token()),
        };
        for v in &present {
            kv.data.extend_from_slice(v.try_extract_tensor::<f32>()?.1);
        }
        Ok(Prefix {
            ids: ids.to_vec(),
            kv,
        })
    }

    fn check_length(&self, len: usize, what: &str) -> Result<()> {
        crate::ensure!(
            len <= self.info.max_length,
            Error::param(
                "prompt",
                format!(
                    "{what} has {len} tokens; the model takes at most {} (max_length)",
                    self.info.max_length
                )
            )
        );
        Ok(())
    }

    /// Greedy continuations of `prompts` (each non-empty) after `prefix`, as one
    /// left-padded batch with the KV cache. `prefix` may be empty.
    pub fn greedy(
        &self,
        prefix: &Prefix,
        prompts: &[Vec<u32>],
        stop: Stop,
    ) -> Result<Vec<Continuation>> {
        self.check_batch(prompts, stop)?;
        let b = prompts.len();
        if b == 0 {
            return Ok(Vec::new());
        }
        let p = prefix.len();
        let t = prompts.iter().map(Vec::len).max().unwrap_or(0);
        self.check_length(p + t + stop.max_new_tokens, "prompt + continuation")?;
        let pad = i64::from(self.info.pad_token_id);
        let mut input = Vec::with_capacity(b * t);
        let mut mask = Vec::with_capacity(b * (p + t));
        let mut position = Vec::with_capacity(b * t);
        let mut last_pos = vec![0i64; b];
        for (r, ids) in prompts.iter().enumerate() {
            let pads = t - ids.len();
            mask.extend(std::iter::repeat_n(1i64, p));
            mask.extend(std::iter::repeat_n(0i64, pads));
            mask.extend(std::iter::repeat_n(1i64, ids.len()));
            input.extend(std::iter::repeat_n(pad, pads));
            input.extend(ids.iter().map(|&x| i64::from(x)));
            position.extend(std::iter::repeat_n(0i64, pads));
            position.extend((0..ids.len() as i64).map(|i| p as i64 + i));
            last_pos[r] = (p + ids.len()) as i64 - 1;
        }
        let past = if p == 0 {
            self.empty_past(b)?
        } else {
            self.repeated_past(prefix, b)?
        };
        let (logits, mut present) = self.run(b, t, input, mask.clone(), position, past)?;
        let mut rows = Rows::new(b, stop);
        let mut next = self.argmax(&logits, b)?;
        rows.push(&next, self);
        let mut width = p + t;
        while !rows.all_done() {
            width += 1;
            let mut new_mask = Vec::with_capacity(b * width);
            for r in 0..b {
                new_mask.extend_from_slice(&mask[r * (width - 1)..(r + 1) * (width - 1)]);
                new_mask.push(1);
            }
            mask = new_mask;
            for x in last_pos.iter_mut() {
                *x += 1;
            }
            let input: Vec<i64> = next.iter().map(|&x| i64::from(x)).collect();
            let past = present
                .drain(..)
                .map(SessionInputValue::from)
                .collect::<Vec<_>>();
            let (logits, pres) = self.run(b, 1, input, mask.clone(), last_pos.clone(), past)?;
            present = pres;
            next = self.argmax(&logits, b)?;
            rows.push(&next, self);
        }
        Ok(rows.finish())
    }

    /// The reference route: greedy continuations re-running the whole left-padded
    /// sequence (past length 0) for every new token. Same tokens as [`Decoder::greedy`].
    pub fn greedy_no_cache(&self, prompts: &[Vec<u32>], stop: Stop) -> Result<Vec<Continuation>> {
        self.check_batch(prompts, stop)?;
        let b = prompts.len();
        if b == 0 {
            return Ok(Vec::new());
        }
        let longest = prompts.iter().map(Vec::len).max().unwrap_or(0);
        self.check_length(longest + stop.max_new_tokens, "prompt + continuation")?;
        let mut seqs: Vec<Vec<u32>> = prompts.to_vec();
        let mut rows = Rows::new(b, stop);
        let pad = i64::from(self.info.pad_token_id);
        while !rows.all_done() {
            let t = seqs.iter().map(Vec::len).max().unwrap_or(0);
            let mut input = Vec::with_capacity(b * t);
            let mut mask = Vec::with_capacity(b * t);
            let mut position = Vec::with_capacity(b * t);
            for s in &seqs {
                let pads = t - s.len();
                input.extend(std::iter::repeat_n(pad, pads));
                input.extend(s.iter().map(|&x| i64::from(x)));
                mask.extend(std::iter::repeat_n(0i64, pads));
                mask.extend(std::iter::repeat_n(1i64, s.len()));
                position.extend(std::iter::repeat_n(0i64, pads));
                position.extend(0..s.len() as i64);
            }
            let (logits, _) = self.run(b, t, input, mask, position, self.empty_past(b)?)?;
            let next = self.argmax(&logits, b)?;
            rows.push(&next, self);
            for (s, &x) in seqs.iter_mut().zip(&next) {
                s.push(x);
            }
        }
        Ok(rows.finish())
    }

    fn check_batch(&self, prompts: &[Vec<u32>], stop: Stop) -> Result<()> {
        crate::ensure!(
            stop.max_new_tokens >= 1,
            Error::param("max_new_tokens", "0; expected at least 1")
        );
        if let Some(i) = prompts.iter().position(Vec::is_empty) {
            return Err(Error::data(
                format!("prompt {i}"),
                "no tokens; the model needs at least one token to continue",
            ));
        }
        if let Some(id) = prompts
            .iter()
            .flatten()
            .find(|&&id| id as usize >= self.info.vocab_size)
        {
            return Err(Error::data(
                "prompt",
                format!(
                    "token id {id} is outside the vocabulary (size {})",
                    self.info.vocab_size
                ),
            ));
        }
        Ok(())
    }

    fn kv_shape(&self) -> KvShape {
        KvShape {
            layers: self.info.layers,
            kv_heads: self.info.kv_heads,
            head_dim: self.info.head_dim,
        }
    }

    fn empty_past(&self, b: usize) -> Result<Vec<SessionInputValue<'static>>> {
        (0..2 * self.info.layers)
            .map(|_| {
                Ok(Tensor::from_array((self.kv_shape().dims(b, 0), Vec::<f32>::new()))?.into())
            })
            .collect()
    }

    /// The prefix's cache repeated for each of `b` rows, one tensor per layer and
    /// key/value.
    fn repeated_past(&self, prefix: &Prefix, b: usize) -> Result<Vec<SessionInputValue<'static>>> {
        let shape = self.kv_shape();
        prefix
            .kv
            .slices(shape)
            .map(|one| {
                let mut data = Vec::with_capacity(one.len() * b);
                for _ in 0..b {
                    data.extend_from_slice(one);
                }
                Ok(Tensor::from_array((shape.dims(b, prefix.len()), data))?.into())
            })
            .collect()
    }

    /// One graph call: logits [b, vocab] and the `present.*` values (key, value per layer).
    fn run(
        &self,
        b: usize,
        t: usize,
        input: Vec<i64>,
        mask: Vec<i64>,
        position: Vec<i64>,
        past: Vec<SessionInputValue<'static>>,
    ) -> Result<(Vec<f32>, Vec<DynValue>)> {
        self.settings.ready()?;
        let width = mask.len() / b.max(1);
        let mut feeds: Vec<(String, SessionInputValue<'static>)> = vec![
            (
                "input_ids".into(),
                Tensor::from_array((vec![b, t], input))?.into(),
            ),
            (
                "attention_mask".into(),
                Tensor::from_array((vec![b, width], mask))?.into(),
            ),
            (
                "position_ids".into(),
                Tensor::from_array((vec![b, t], position))?.into(),
            ),
        ];
        for (i, v) in past.into_iter().enumerate() {
            let kind = if i % 2 == 0 { "key" } else { "value" };
            feeds.push((format!("past_key_values.{}.{kind}", i / 2), v));
        }
        let mut session = self.session.lock().unwrap_or_else(|p| p.into_inner());
        let mut outputs = session
            .run(feeds)
            .with_context(|| format!("{}: generate graph", self.info.name))?;
        let logits = {
            let value = outputs.get("logits").ok_or_else(|| {
                model_err(&self.info.dir, "generate graph has no output `logits`")
            })?;
            let (shape, data) = value.try_extract_tensor::<f32>()?;
            let dims: Vec<i64> = shape.iter().copied().collect();
            crate::ensure!(
                dims == [b as i64, self.info.vocab_size as i64],
                model_err(
                    &self.info.dir,
                    format!(
                        "logits have shape {dims:?}; expected [{b}, {}]",
                        self.info.vocab_size
                    )
                )
            );
            data.to_vec()
        };
        let mut present = Vec::with_capacity(2 * self.info.layers);
        for l in 0..self.info.layers {
            for kind in ["key", "value"] {
                let name = format!("present.{l}.{kind}");
                present.push(outputs.remove(&name).ok_or_else(|| {
                    model_err(
                        &self.info.dir,
                        format!("generate graph has no output `{name}`"),
                    )
                })?);
            }
        }
        Ok((logits, present))
    }

    /// Per row, the first id with the largest logit (numpy's argmax). NaN logits are an error.
    fn argmax(&self, logits: &[f32], b: usize) -> Result<Vec<u32>> {
        let v = self.info.vocab_size;
        (0..b)
            .map(|r| {
                let row = &logits[r * v..(r + 1) * v];
                let mut best = 0usize;
                for (i, &x) in row.iter().enumerate() {
                    if x.is_nan() {
                        return Err(model_err(&self.info.dir, "the model returned NaN logits"));
                    }
                    if x > row[best] {
                        best = i;
                    }
                }
                Ok(best as u32)
            })
            .collect()
    }
}

/// The model directory and its generation graph, or an error saying generation
/// needs a decoder.
fn locate(dir: &Path) -> Result<(ModelDir, PathBuf)> {
    let need_decoder = |problem: &str| {
        model_err(
            dir,
            format!(
                "{problem}: generation needs a decoder model with a generate.onnx graph, \
                 such as smollm2 (`--model smollm2`; installed by `make setup`)"
            ),
        )
    };
    if !dir.is_dir() {
        return Err(need_decoder("no such model directory"));
    }
    if !dir.join("lexalign.json").is_file() {
        return Err(need_decoder("no lexalign.json describing a generate graph"));
    }
    let files = ModelDir::locate(dir)?;
    let onnx = match files.graphs()? {
        Graphs::Decoder {
            generate: Some(onnx),
            ..
        } => onnx,
        _ => return Err(need_decoder("lexalign.json has no `generate` section")),
    };
    if !onnx.is_file() {
        let file = onnx.file_name().unwrap_or_default().to_string_lossy();
        return Err(need_decoder(&format!("no {file}")));
    }
    Ok((files, onnx))
}

/// A decoder's facts from its manifest, checked, and the graph's hash.
fn describe(files: &ModelDir, onnx: &Path, threads: NonZeroUsize) -> Result<DecoderInfo> {
    let meta = &files.manifest;
    let meta_path = files.dir.join("lexalign.json");
    let default = GenerateSection::default();
    let gen = meta.generate.as_ref().unwrap_or(&default);
    let positive = |v: Option<usize>, what: &str| -> Result<usize> {
        v.filter(|&x| x > 0).ok_or_else(|| {
            Error::parse_file(&meta_path, format!("{what}: expected a positive integer"))
        })
    };
    let eos_token_ids = gen.eos_token_ids.clone().unwrap_or_default();
    crate::ensure!(
        !eos_token_ids.is_empty(),
        Error::parse_file(&meta_path, "generate.eos_token_ids: expected a list of ids")
    );
    Ok(DecoderInfo {
        name: meta
            .name
            .clone()
            .unwrap_or_else(|| files.dir.display().to_string()),
        dir: files.dir.clone(),
        generate_onnx_sha256: crate::io::sha256_file(onnx)?,
        layers: positive(meta.layers, "layers")?,
        kv_heads: positive(gen.kv_heads, "generate.kv_heads")?,
        head_dim: positive(gen.head_dim, "generate.head_dim")?,
        vocab_size: positive(gen.vocab_size, "generate.vocab_size")?,
        max_length: positive(meta.max_length, "max_length").unwrap_or(2048),
        pad_token_id: gen.pad_token_id.unwrap_or(eos_token_ids[0]),
        eos_token_ids,
        bos_token_id: gen.bos_token_id.filter(|_| gen.add_bos == Some(true)),
        threads: threads.get(),
    })
}

/// The tokenizer as generation uses it: no truncation, no padding.
fn untruncated_tokenizer(path: &Path) -> Result<Tokenizer> {
    let mut tokenizer = load_tokenizer(path)?;
    tokenizer
        .with_truncation(None)
        .map_err(|e| Error::Tokenizer(e.to_string()))?;
    tokenizer.with_padding(None);
    Ok(tokenizer)
}

/// Per vocabulary id: whether its text holds a line break.
fn newline_tokens(tokenizer: &Tokenizer, vocab_size: usize) -> Vec<bool> {
    (0..vocab_size as u32)
        .map(|id| {
            tokenizer
                .decode(&[id], false)
                .is_ok_and(|t| t.contains('\n') || t.contains('\r'))
        })
        .collect()
}

/// Per-row continuation state during a batch.
struct Rows {
    ids: Vec<Vec<u32>>,
    stop: Vec<Option<StopReason>>,
    limit: Stop,
}

impl Rows {
    fn new(b: usize, limit: Stop) -> Self {
        Rows {
            ids: vec![Vec::new(); b],
            stop: vec![None; b],
            limit,
        }
    }

    fn push(&mut self, next: &[u32], decoder: &Decoder) {
        for (r, &x) in next.iter().enumerate() {
            if self.stop[r].is_some() {
                continue;
            }
            self.ids[r].push(x);
            self.stop[r] = if decoder.info.eos_token_ids.contains(&x) {
                Some(StopReason::Eos)
            } else if self.limit.at_newline && decoder.newline[x as usize] {
                Some(StopReason::Newline)
            } else if self.ids[r].len() >= self.limit.max_new_tokens {
                Some(StopReason::MaxTokens)
            } else {
                None
            };
        }
    }

    fn all_done(&self) -> bool {
        self.stop.iter().all(Option::is_some)
    }

    fn finish(self) -> Vec<Continuation> {
        self.ids
            .into_iter()
            .zip(self.stop)
            .map(|(ids, stop)| Continuation {
                ids,
                stop: stop.unwrap_or(StopReason::MaxTokens),
            })
            .collect()
    }
}
