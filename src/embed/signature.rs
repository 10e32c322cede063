//! A graph's signature: which inputs it takes (and how to feed them), and which
//! output is pooled. Detected from the loaded session rather than assumed.

use std::path::Path;

use ort::session::{Session, SessionInputValue};
use ort::value::{Tensor, TensorElementType};
use tokenizers::Encoding;

use crate::error::{Error, Result};

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
        })
    }

    /// Input names, in the graph's order.
    pub fn input_names(&self) -> Vec<String> {
        self.inputs.iter().map(|i| i.name.clone()).collect()
    }

    /// Feeds for one batch, right-padded to its longest member (at least 1 wide);
    /// position ids count each row's real tokens 0, 1, … (`cumsum(mask) - 1`) and
    /// are 0 at padding.
    pub fn feeds(&self, batch: &[&Encoding]) -> Result<Vec<(String, SessionInputValue<'static>)>> {
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
        let mut positions = vec![0i64; b * width];
        for (row, mask_row) in positions
            .chunks_exact_mut(width)
            .zip(mask.chunks_exact(width))
        {
            let mut seen = 0i64;
            for (p, &m) in row.iter_mut().zip(mask_row) {
                seen += m;
                *p = if m == 1 { seen - 1 } else { 0 };
            }
        }
        let mut feeds = Vec::with_capacity(self.inputs.len());
        for input in &self.inputs {
            let data = match input.kind {
                InputKind::Ids => &ids,
                InputKind::Mask => &mask,
                InputKind::TypeIds => &types,
                InputKind::Positions => &positions,
            };
            let value: SessionInputValue<'static> = if input.int32 {
                let v: Vec<i32> = data.iter().map(|&x| x as i32).collect();
                Tensor::from_array((vec![b, width], v))?.into()
            } else {
                Tensor::from_array((vec![b, width], data.clone()))?.into()
            };
            feeds.push((input.name.clone(), value));
        }
        Ok(feeds)
    }
}

fn detect_inputs(session: &Session, dir: &Path) -> Result<Vec<GraphInput>> {
    let mut inputs = Vec::new();
    for input in session.inputs() {
        let kind = match input.name() {
            "input_ids" => InputKind::Ids,
            "attention_mask" => InputKind::Mask,
            "token_type_ids" => InputKind::TypeIds,
            "position_ids" => InputKind::Positions,
            other => {
                return Err(model_err(dir, format!(
                    "graph input {other:?} cannot be fed; lexalign feeds {} (decoder exports must be without KV cache)",
                    KNOWN_INPUTS.join(", ")
                )))
            }
        };
        let int32 = match input.dtype().tensor_type() {
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
