//! A graph's signature: which inputs it takes (and how to feed them), and which
//! output is pooled. Detected from the loaded session rather than assumed.

use std::path::Path;

use ort::session::{Session, SessionInputValue};
use ort::value::{Tensor, TensorElementType};
use tokenizers::Encoding;

use crate::error::{Error, Result};
use crate::model::{KvCache, KvShape};

/// Graph inputs lexalign knows how to feed.
pub(crate) const KNOWN_INPUTS: &[&str] = &[
    "input_ids",
    "attention_mask",
    "token_type_ids",
    "position_ids",
];
/// Output names tried in order when none is chosen.
pub(crate) const DEFAULT_OUTPUTS: &[&str] = &["last_hidden_state", "token_embeddings"];

#[derive(Debug, Clone, Copy, PartialEq)]
enum InputKind {
    Ids,
    Mask,
    TypeIds,
    Positions,
    /// `past_key_values.{layer}.key` (or `.value`): a KV cache `[batch, kv_heads, past, head_dim]`.
    Past {
        layer: usize,
        value: bool,
    },
}

#[derive(Debug, Clone)]
struct GraphInput {
    name: String,
    kind: InputKind,
    int32: bool,
}

/// The output to pool: name, rank (3 = per-token states, 2 = already pooled) and
/// its last dimension when the graph (or config.json) declares it.
#[derive(Debug, Clone)]
pub(crate) struct ChosenOutput {
    pub name: String,
    pub rank: usize,
    pub dim: Option<usize>,
}

/// A per-layer output `[layers + 1, batch, seq, dim]` (HF `output_hidden_states`
/// stacked): its name and first dimension when the graph declares it.
#[derive(Debug, Clone)]
pub(crate) struct HiddenStates {
    pub name: String,
    pub entries: Option<usize>,
}

/// The inputs to feed, in the graph's order, and the output to pool.
#[derive(Debug, Clone)]
pub(crate) struct Signature {
    inputs: Vec<GraphInput>,
    pub output: ChosenOutput,
    /// The per-layer output, when the graph has one.
    pub hidden_states: Option<HiddenStates>,
    /// The KV-cache inputs, when the graph takes them.
    pub past: Option<KvShape>,
}

fn model_err(dir: &Path, message: String) -> Error {
    Error::Model {
        path: dir.to_path_buf(),
        message,
    }
}

impl Signature {
    /// Reads the signature of `session`; `wanted` names the output to pool (else
    /// [`DEFAULT_OUTPUTS`], else the only rank-3 output). Errors name `dir`.
    /// `hidden` names the per-layer output (lexalign.json's `hidden_states_output`;
    /// else an output named `hidden_states` of rank 4).
    pub fn detect(
        session: &Session,
        wanted: Option<&str>,
        hidden: Option<&str>,
        dir: &Path,
    ) -> Result<Self> {
        let inputs = detect_inputs(session, dir)?;
        let past = detect_past(session, &inputs, dir)?;
        let hidden_name = hidden.unwrap_or("hidden_states");
        let hidden_states = session
            .outputs()
            .iter()
            .find(|o| o.name() == hidden_name)
            .and_then(|o| {
                let shape = o.dtype().tensor_shape()?;
                (shape.len() == 4).then(|| HiddenStates {
                    name: hidden_name.to_string(),
                    entries: shape.first().filter(|&&d| d > 0).map(|&d| d as usize),
                })
            });
        if let (Some(h), None) = (hidden, &hidden_states) {
            return Err(model_err(
                dir,
                format!("lexalign.json names hidden_states_output {h:?}, but the graph has no rank-4 output of that name"),
            ));
        }
        let (name, rank) = choose_output(session, wanted, dir)?;
        let dim = session
            .outputs()
            .iter()
            .find(|o| o.name() == name)
            .and_then(|o| o.dtype().tensor_shape().and_then(|s| s.last().copied()))
            .filter(|&d| d > 0)
            .map(|d| d as usize);
        Ok(Signature {
            inputs,
            output: ChosenOutput { name, rank, dim },
            hidden_states,
            past,
        })
    }

    /// Input names, in the graph's order.
    pub fn input_names(&self) -> Vec<String> {
        self.inputs.iter().map(|i| i.name.clone()).collect()
    }

    /// Feeds for one batch of encoded strings, right-padded to its longest member
    /// (at least 1 wide); a KV cache, when the graph takes one, is empty.
    pub fn feeds(&self, batch: &[&Encoding]) -> Result<Vec<(String, SessionInputValue<'static>)>> {
        let ids: Vec<&[u32]> = batch.iter().map(|e| e.get_ids()).collect();
        let types: Vec<&[u32]> = batch.iter().map(|e| e.get_type_ids()).collect();
        self.feeds_rows(&ids, Some(&types), &[])
    }

    /// Feeds for rows of token ids, each after its cached prefix in `pasts` (one
    /// per row, or empty for none). New tokens are right-padded to the longest row
    /// (at least 1 wide); pasts are left-padded to the longest past, so every row's
    /// new tokens sit in the same slots. Position ids count each row's past and
    /// then its real tokens (`past + cumsum(mask) - 1`) and are 0 at padding.
    pub fn feeds_rows(
        &self,
        rows: &[&[u32]],
        types: Option<&[&[u32]]>,
        pasts: &[Option<&KvCache>],
    ) -> Result<Vec<(String, SessionInputValue<'static>)>> {
        let b = rows.len();
        crate::ensure!(
            self.past.is_some() || pasts.iter().all(Option::is_none),
            Error::param(
                "pasts",
                "this graph takes no KV cache, so rows cannot follow a cached prefix"
            )
        );
        let past_len = |r: usize| pasts.get(r).copied().flatten().map_or(0, |p| p.len);
        let p_max = (0..b).map(past_len).max().unwrap_or(0);
        let width = rows.iter().map(|r| r.len()).max().unwrap_or(0).max(1);
        let mut ids = vec![0i64; b * width];
        let mut mask = vec![0i64; b * width];
        let mut type_ids = vec![0i64; b * width];
        let mut positions = vec![0i64; b * width];
        let mut full_mask = vec![0i64; b * (p_max + width)];
        for (r, row) in rows.iter().enumerate() {
            let p = past_len(r);
            for (c, &id) in row.iter().enumerate() {
                ids[r * width + c] = id as i64;
                mask[r * width + c] = 1;
                positions[r * width + c] = (p + c) as i64;
            }
            if let Some(t) = types.and_then(|t| t.get(r)) {
                for (c, &v) in t.iter().take(width).enumerate() {
                    type_ids[r * width + c] = v as i64;
                }
            }
            let m = &mut full_mask[r * (p_max + width)..(r + 1) * (p_max + width)];
            m[p_max - p..p_max].fill(1);
            m[p_max..p_max + row.len()].fill(1);
        }
        let mut feeds = Vec::with_capacity(self.inputs.len());
        for input in &self.inputs {
            let (data, cols) = match input.kind {
                InputKind::Ids => (&ids, width),
                // With a KV cache the mask covers past + new slots.
                InputKind::Mask if self.past.is_some() => (&full_mask, p_max + width),
                InputKind::Mask => (&mask, width),
                InputKind::TypeIds => (&type_ids, width),
                InputKind::Positions => (&positions, width),
                InputKind::Past { layer, value } => {
                    // detect_past sets the shape whenever there are past inputs.
                    let Some(shape) = self.past else { continue };
                    let t = past_tensor(&shape, layer, value, pasts, b, p_max)?;
                    feeds.push((input.name.clone(), t));
                    continue;
                }
            };
            let value: SessionInputValue<'static> = if input.int32 {
                let v: Vec<i32> = data.iter().map(|&x| x as i32).collect();
                Tensor::from_array((vec![b, cols], v))?.into()
            } else {
                Tensor::from_array((vec![b, cols], data.clone()))?.into()
            };
            feeds.push((input.name.clone(), value));
        }
        Ok(feeds)
    }
}

/// One layer's keys (or values) for a batch, `[b, kv_heads, p_max, head_dim]`, each
/// row's past in its last slots.
fn past_tensor(
    shape: &KvShape,
    layer: usize,
    value: bool,
    pasts: &[Option<&KvCache>],
    b: usize,
    p_max: usize,
) -> Result<SessionInputValue<'static>> {
    let (kvh, hd) = (shape.kv_heads, shape.head_dim);
    let mut data = vec![0f32; b * kvh * p_max * hd];
    for (r, past) in pasts.iter().enumerate() {
        let Some(past) = past else { continue };
        let p = past.len;
        // [layer][key, value][kv_head][token][head_dim]
        let block = kvh * p * hd;
        let start = (layer * 2 + usize::from(value)) * block;
        for h in 0..kvh {
            let src = &past.data[start + h * p * hd..start + (h + 1) * p * hd];
            let dst = ((r * kvh + h) * p_max + (p_max - p)) * hd;
            data[dst..dst + p * hd].copy_from_slice(src);
        }
    }
    Ok(Tensor::from_array((vec![b, kvh, p_max, hd], data))?.into())
}

/// The KV-cache inputs' shape, when there are any: every layer's key and value,
/// `[batch, kv_heads, past, head_dim]` with fixed kv_heads and head_dim.
fn detect_past(session: &Session, inputs: &[GraphInput], dir: &Path) -> Result<Option<KvShape>> {
    let past: Vec<(usize, bool)> = inputs
        .iter()
        .filter_map(|i| match i.kind {
            InputKind::Past { layer, value } => Some((layer, value)),
            _ => None,
        })
        .collect();
    if past.is_empty() {
        return Ok(None);
    }
    let layers = past.iter().map(|&(l, _)| l + 1).max().unwrap_or(0);
    crate::ensure!(
        past.len() == 2 * layers,
        model_err(
            dir,
            format!("KV-cache inputs past_key_values.{{i}}.key/.value must cover layers 0..{layers} once each; found {} inputs", past.len())
        )
    );
    let dims = |name: &str| -> Option<(usize, usize)> {
        let i = session.inputs().iter().find(|i| i.name() == name)?;
        let s = i.dtype().tensor_shape()?;
        (s.len() == 4 && s[1] > 0 && s[3] > 0).then(|| (s[1] as usize, s[3] as usize))
    };
    let (kv_heads, head_dim) = dims("past_key_values.0.key").ok_or_else(|| {
        model_err(
            dir,
            "input past_key_values.0.key must be float32 [batch, kv_heads, past, head_dim] with fixed kv_heads and head_dim".into(),
        )
    })?;
    for l in 0..layers {
        for kv in ["key", "value"] {
            let name = format!("past_key_values.{l}.{kv}");
            crate::ensure!(
                dims(&name) == Some((kv_heads, head_dim)),
                model_err(dir, format!("input {name:?} must be [batch, {kv_heads}, past, {head_dim}] like past_key_values.0.key"))
            );
            let present = format!("present.{l}.{kv}");
            crate::ensure!(
                session.outputs().iter().any(|o| o.name() == present),
                model_err(
                    dir,
                    format!("a graph with input {name:?} must have output {present:?}")
                )
            );
        }
    }
    Ok(Some(KvShape {
        layers,
        kv_heads,
        head_dim,
    }))
}

fn detect_inputs(session: &Session, dir: &Path) -> Result<Vec<GraphInput>> {
    let mut inputs = Vec::new();
    for input in session.inputs() {
        let kind = match input.name() {
            "input_ids" => InputKind::Ids,
            "attention_mask" => InputKind::Mask,
            "token_type_ids" => InputKind::TypeIds,
            "position_ids" => InputKind::Positions,
            other if past_input(other).is_some() => {
                let (layer, value) = past_input(other).unwrap_or_default();
                InputKind::Past { layer, value }
            }
            other => {
                return Err(model_err(dir, format!(
                    "graph input {other:?} cannot be fed; lexalign feeds {} (and a decoder's KV cache as past_key_values.{{i}}.key/.value)",
                    KNOWN_INPUTS.join(", ")
                )))
            }
        };
        let int32 = match input.dtype().tensor_type() {
            Some(TensorElementType::Float32) if matches!(kind, InputKind::Past { .. }) => false,
            _ if matches!(kind, InputKind::Past { .. }) => {
                return Err(model_err(
                    dir,
                    format!("graph input {:?} must be float32", input.name()),
                ))
            }
            Some(TensorElementType::Int64) => false,
            Some(TensorElementType::Int32) => true,
            other => {
                return Err(model_err(
                    dir,
                    format!(
                        "graph input {:?} has element type {other:?}; expected int64 or int32",
                        input.name()
                    ),
                ))
            }
        };
        inputs.push(GraphInput {
            name: input.name().to_string(),
            kind,
            int32,
        });
    }
    crate::ensure!(
        inputs.iter().any(|i| i.kind == InputKind::Ids),
        model_err(dir, "graph has no input_ids input".into())
    );
    Ok(inputs)
}

/// `past_key_values.{layer}.key` → (layer, false), `.value` → (layer, true).
fn past_input(name: &str) -> Option<(usize, bool)> {
    let rest = name.strip_prefix("past_key_values.")?;
    let (layer, which) = rest.split_once('.')?;
    let value = match which {
        "key" => false,
        "value" => true,
        _ => return None,
    };
    Some((layer.parse().ok()?, value))
}

/// Name and rank of the output to pool.
fn choose_output(session: &Session, wanted: Option<&str>, dir: &Path) -> Result<(String, usize)> {
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
    let chosen = match wanted {
        Some(name) => outputs
            .iter()
            .find(|(n, _)| n == name)
            .cloned()
            .ok_or_else(|| {
                model_err(
                    dir,
                    format!("no graph output {name:?}; outputs: {}", listed()),
                )
            })?,
        None => DEFAULT_OUTPUTS
            .iter()
            .find_map(|d| outputs.iter().find(|(n, _)| n == d).cloned())
            .or_else(|| {
                let rank3: Vec<_> = outputs.iter().filter(|(_, r)| *r == 3).collect();
                (rank3.len() == 1).then(|| rank3[0].clone())
            })
            .ok_or_else(|| {
                model_err(dir, format!(
                    "no output named {} and no single rank-3 output; choose one with --output-name. Outputs: {}",
                    DEFAULT_OUTPUTS.join(" or "),
                    listed()
                ))
            })?,
    };
    crate::ensure!(
        chosen.1 == 3 || chosen.1 == 2,
        model_err(
            dir,
            format!(
                "output {:?} has rank {}; expected [batch, seq, dim] or [batch, dim]",
                chosen.0, chosen.1
            )
        )
    );
    Ok(chosen)
}
