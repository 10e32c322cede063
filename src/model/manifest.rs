//! `lexalign.json`: a model directory's own description, as the converters write it
//! (scripts/prepare_models.py for MiniLM, scripts/gguf_to_onnx.py for GGUF imports).
//! Read once per load into [`Manifest`]; every key either writer emits is a field here,
//! and `tests/integration/manifest_schema.rs` checks that the writers and this reader agree (any key
//! not listed lands in an `other` map, which the test requires to be empty).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::pooling::Pooling;
use crate::error::{Error, Result};

/// Whether a model reads its input bidirectionally (BERT-style) or causally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// Bidirectional encoder (BERT, MiniLM): special tokens around each string.
    #[default]
    Encoder,
    /// Causal decoder (llama): no special tokens, `last` pooling, position ids.
    Decoder,
}

impl ModelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::Encoder => "encoder",
            ModelKind::Decoder => "decoder",
        }
    }
}

/// Keys a writer emitted that this reader does not know (kept, never an error;
/// the schema test requires none).
type Other = BTreeMap<String, Value>;

/// A model directory's `lexalign.json`. Every key is optional: a plain HF/optimum
/// export has no manifest at all, and then [`Manifest::default`] stands in.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub name: Option<String>,
    /// e.g. `fp32`, `int8`, `int8-dynamic`, `quantised` (a GGUF's types kept; `weights`
    /// says which).
    pub variant: Option<String>,
    /// `encoder` / `decoder`; absent = encoder.
    pub kind: Option<ModelKind>,
    /// What the weights are (e.g. how a GGUF was converted).
    pub description: Option<String>,
    /// Where the files came from (registry, package, version, member, licence…):
    /// recorded for people, not interpreted.
    pub source: Option<Value>,
    /// sha256 of the GGUF an import started from.
    pub gguf_sha256: Option<String>,
    /// How that import was asked for: `keep` (quantised types kept where exact, the
    /// default) or `fp32` (`--fp32`).
    pub gguf_import: Option<String>,
    /// Truncation length lexalign uses.
    pub max_length: Option<usize>,
    /// The model's own context (a GGUF's `context_length`), for reference.
    pub context_length: Option<usize>,
    pub hidden_size: Option<usize>,
    /// Decoder layers; `hidden_states` has one more entry.
    pub layers: Option<usize>,
    /// The model's own pooling; absent = `last` for decoders, `mean` for encoders.
    pub pooling: Option<Pooling>,
    /// The model's own normalisation; absent = false.
    pub normalize: Option<bool>,
    /// Graph inputs, as documentation (the session's own signature is what is fed).
    pub inputs: Option<Vec<String>>,
    /// Output to pool, as documentation (`--output-name` chooses another).
    pub output: Option<String>,
    /// Name of the per-layer output `[layers + 1, batch, seq, dim]`.
    pub hidden_states_output: Option<String>,
    pub hidden_states_layout: Option<String>,
    /// How position ids are formed (documentation).
    pub position_ids: Option<String>,
    /// The generation graph (decoders, `ask`).
    pub generate: Option<GenerateSection>,
    /// model.onnx's outputs after an optional KV-cache prefix (decoders).
    pub embed_past: Option<EmbedPastSection>,
    /// Where the input-embedding matrix lies (static embeddings).
    pub word_embeddings: Option<WordEmbeddings>,
    /// The external weights file the graphs share.
    pub weights_file: Option<String>,
    /// How the weights are stored (`fp32`, or which were kept quantised).
    pub weights: Option<String>,
    /// The script that wrote this file.
    pub prepared_by: Option<String>,
    #[serde(flatten)]
    pub other: Other,
}

/// `generate`: a decoder's generation graph and its token facts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GenerateSection {
    /// Graph file in the model directory; absent = `generate.onnx`.
    pub file: Option<String>,
    pub inputs: Option<Vec<String>>,
    pub outputs: Option<Vec<String>>,
    pub logits: Option<String>,
    pub padding_side: Option<String>,
    pub past_key_values: Option<String>,
    pub eos_token_ids: Option<Vec<u32>>,
    pub bos_token_id: Option<u32>,
    /// Whether prompts start with `bos_token_id` (e.g. Gemma's `<bos>`).
    pub add_bos: Option<bool>,
    /// Absent = the first EOS id.
    pub pad_token_id: Option<u32>,
    pub kv_heads: Option<usize>,
    pub head_dim: Option<usize>,
    pub vocab_size: Option<usize>,
    pub chat_template: Option<String>,
    #[serde(flatten)]
    pub other: Other,
}

/// `embed_past`: the graph that runs new tokens after a cached prefix.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EmbedPastSection {
    pub file: Option<String>,
    pub inputs: Option<Vec<String>>,
    pub outputs: Option<Vec<String>>,
    #[serde(rename = "use")]
    pub use_: Option<String>,
    #[serde(flatten)]
    pub other: Other,
}

/// `word_embeddings`: the input-embedding initializer, and for GGUF imports the
/// external-data slice that holds it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WordEmbeddings {
    pub initializer: Option<String>,
    pub dtype: Option<String>,
    /// Scale initializer of an int8 matrix (MiniLM int8).
    pub scale: Option<String>,
    /// How an int8 matrix is dequantised (documentation).
    pub dequantize: Option<String>,
    /// `[rows, cols]`; a value, so that a wrong shape is this file's own error.
    pub shape: Option<Value>,
    pub external_data: Option<ExternalData>,
    /// A table kept as GGUF blocks (`dtype` "kept"): how to widen it.
    pub kept: Option<KeptTable>,
    #[serde(flatten)]
    pub other: Other,
}

/// `word_embeddings.kept`: per block of `block` values of a row,
/// `(q - zero_point) * scale - min` in f32; the parts lie in the external data file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KeptTable {
    pub gguf_type: Option<String>,
    pub bits: Option<u64>,
    pub block: Option<u64>,
    pub zero_point: Option<u64>,
    /// `B` (values), `scales` or `sc` + `d`, and `mins` or `m` + `dmin` where there are mins.
    pub parts: Option<BTreeMap<String, KeptPart>>,
    /// How the table is widened (documentation).
    pub dequantize: Option<String>,
    #[serde(flatten)]
    pub other: Other,
}

/// One part of a kept table: a slice of the external data file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KeptPart {
    pub offset: Option<Value>,
    pub length: Option<Value>,
    pub dtype: Option<String>,
    pub shape: Option<Value>,
    #[serde(flatten)]
    pub other: Other,
}

/// `word_embeddings.external_data`: a slice of a file in the model directory.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExternalData {
    pub location: Option<String>,
    /// Values, so that a missing or negative one is this file's own error.
    pub offset: Option<Value>,
    pub length: Option<Value>,
    #[serde(flatten)]
    pub other: Other,
}

impl Manifest {
    /// Reads `dir/lexalign.json`; `None` when the directory has none.
    pub fn read(dir: &Path) -> Result<Option<Self>> {
        let path = dir.join("lexalign.json");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&path, e)),
        };
        Self::parse(&text)
            .map(Some)
            .map_err(|e| Error::json(&path, e))
    }

    /// Parses a manifest's text.
    pub fn parse(text: &str) -> std::result::Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Encoder or decoder (absent = encoder).
    pub fn kind(&self) -> ModelKind {
        self.kind.unwrap_or_default()
    }

    /// The model's own pooling: `pooling`, else `last` for a decoder, else mean.
    pub fn pooling(&self) -> Pooling {
        self.pooling.unwrap_or(match self.kind() {
            ModelKind::Decoder => Pooling::Last,
            ModelKind::Encoder => Pooling::Mean,
        })
    }

    /// The model's own normalisation (absent = false).
    pub fn normalize(&self) -> bool {
        self.normalize.unwrap_or(false)
    }

    /// Keys no field holds, dotted (`generate.foo`), in order: a writer and this
    /// reader disagree about them.
    pub fn unknown_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.other.keys().cloned().collect();
        let mut add = |section: &str, other: &Other| {
            keys.extend(other.keys().map(|k| format!("{section}.{k}")));
        };
        if let Some(g) = &self.generate {
            add("generate", &g.other);
        }
        if let Some(e) = &self.embed_past {
            add("embed_past", &e.other);
        }
        if let Some(w) = &self.word_embeddings {
            add("word_embeddings", &w.other);
            if let Some(x) = &w.external_data {
                add("word_embeddings.external_data", &x.other);
            }
            if let Some(k) = &w.kept {
                add("word_embeddings.kept", &k.other);
                for (name, part) in k.parts.iter().flatten() {
                    add(&format!("word_embeddings.kept.parts.{name}"), &part.other);
                }
            }
        }
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_kind() {
        let m = Manifest::parse(r#"{"kind": "decoder"}"#).unwrap();
        assert_eq!(
            (m.kind(), m.pooling(), m.normalize()),
            (ModelKind::Decoder, Pooling::Last, false)
        );
        let m = Manifest::default();
        assert_eq!((m.kind(), m.pooling()), (ModelKind::Encoder, Pooling::Mean));
        let m = Manifest::parse(r#"{"kind": "decoder", "pooling": "mean", "normalize": true}"#)
            .unwrap();
        assert_eq!((m.pooling(), m.normalize()), (Pooling::Mean, true));
        let err = Manifest::parse(r#"{"kind": "transformer"}"#)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("transformer") && err.contains("decoder"),
            "{err}"
        );
    }

    #[test]
    fn unknown_keys_are_kept_and_listed() {
        let m = Manifest::parse(
            r#"{"name": "x", "extra": 1, "generate": {"kv_heads": 2, "novel": true},
                "word_embeddings": {"external_data": {"location": "w", "what": 0}}}"#,
        )
        .unwrap();
        assert_eq!(m.generate.as_ref().unwrap().kv_heads, Some(2));
        assert_eq!(
            m.unknown_keys(),
            [
                "extra",
                "generate.novel",
                "word_embeddings.external_data.what"
            ]
        );
    }
}
