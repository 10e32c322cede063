//! A model directory: `model.onnx` and `tokenizer.json`, with optional
//! `config.json` (the HF export's) and `lexalign.json` (the [`Manifest`]: name,
//! variant, kind, max_length, graphs…). Finds the files, reads the manifest once,
//! loads the tokenizer, names the model and says which [`Graphs`] it has.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use tokenizers::{PostProcessor, Tokenizer, TruncationParams};

use super::manifest::{Manifest, ModelKind};
use crate::assets;
use crate::error::{Error, Result};

/// Truncation length when neither the options, the tokenizer nor the configs give one.
const FALLBACK_MAX_LENGTH: usize = 512;

/// Which graphs a model directory has: an encoder has model.onnx; a decoder may
/// also have embed_past.onnx (model.onnx's outputs after a KV-cache prefix, which
/// lets strings share a prefix) and generate.onnx (greedy decoding, `ask`).
#[derive(Debug, Clone, PartialEq)]
pub enum Graphs {
    Encoder {
        model: PathBuf,
    },
    Decoder {
        model: PathBuf,
        embed_past: Option<PathBuf>,
        /// As declared in lexalign.json (`generate.file`, default generate.onnx);
        /// whether it exists is checked by whoever runs it.
        generate: Option<PathBuf>,
    },
}

impl Graphs {
    /// The graph to embed with: embed_past.onnx when there is one, else model.onnx.
    pub fn embedding(&self) -> &Path {
        match self {
            Graphs::Encoder { model } => model,
            Graphs::Decoder {
                model, embed_past, ..
            } => embed_past.as_deref().unwrap_or(model),
        }
    }
}

/// Where lexalign.json says the input-embedding matrix lies in an external data
/// file (`word_embeddings.external_data`): f32 little-endian, `[rows, cols]`, or kept
/// as GGUF blocks (`kept`; then `offset` / `length` are those of the values, `B`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ExternalMatrix {
    pub name: String,
    pub file: PathBuf,
    pub offset: u64,
    pub length: u64,
    pub rows: usize,
    pub cols: usize,
    pub kept: Option<KeptLayout>,
}

/// A table kept as GGUF blocks (lexalign.json's `word_embeddings.kept`), checked against
/// `[rows, cols]`: per block of `block` values, `(q - zero_point) * scale - min`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct KeptLayout {
    pub bits: u32,
    pub block: usize,
    pub zero_point: u8,
    /// `sc` holds int8 (Q6_K) rather than uint8 multipliers
    pub signed_sc: bool,
    /// part name -> (offset, length) in the file
    pub parts: BTreeMap<String, (u64, u64)>,
}

/// The files of a model directory, checked to exist, and its parsed configs.
#[derive(Debug)]
pub(crate) struct ModelDir {
    pub dir: PathBuf,
    pub onnx: PathBuf,
    pub tokenizer: PathBuf,
    /// `lexalign.json` (the default when absent).
    pub manifest: Manifest,
    /// `config.json`, when present.
    config: Option<Value>,
}

impl ModelDir {
    /// Checks that `dir` holds model.onnx and tokenizer.json and reads the configs.
    pub fn locate(dir: &Path) -> Result<Self> {
        let dir = dir.to_path_buf();
        if !dir.is_dir() {
            let hint = if dir == assets::default_model_dir() {
                format!(" {}", assets::SETUP_HINT)
            } else {
                String::new()
            };
            return Err(Error::Model {
                path: dir,
                message: format!(
                    "not a directory; a model directory holds model.onnx and tokenizer.json.{hint}"
                ),
            });
        }
        let onnx = dir.join("model.onnx");
        let tokenizer = dir.join("tokenizer.json");
        for (p, what) in [(&onnx, "model.onnx"), (&tokenizer, "tokenizer.json")] {
            crate::ensure!(
                p.is_file(),
                Error::Model {
                    path: dir.clone(),
                    message: format!(
                        "missing {what}; a model directory needs model.onnx and tokenizer.json (e.g. from an optimum/HF export)"
                    ),
                }
            );
        }
        Ok(ModelDir {
            config: read_json(&dir.join("config.json"))?,
            manifest: Manifest::read(&dir)?.unwrap_or_default(),
            dir,
            onnx,
            tokenizer,
        })
    }

    /// A problem with this model, named by its directory.
    pub fn error(&self, message: impl Into<String>) -> Error {
        Error::Model {
            path: self.dir.clone(),
            message: message.into(),
        }
    }

    /// The tokenizer with lexalign's truncation (keeping the file's strategy) and
    /// no padding, and the truncation length: `max_length`, else lexalign.json,
    /// tokenizer.json, config.json's `max_position_embeddings`, else 512.
    pub fn tokenizer(&self, max_length: Option<usize>) -> Result<(Tokenizer, usize)> {
        let failed =
            |e: tokenizers::Error| Error::Tokenizer(format!("{}: {e}", self.tokenizer.display()));
        let mut tokenizer = load_tokenizer(&self.tokenizer)?;
        let (max_length, source) = [
            (max_length, "the options"),
            (self.manifest.max_length, "lexalign.json"),
            (
                tokenizer.get_truncation().map(|t| t.max_length),
                "tokenizer.json",
            ),
            (
                json_usize(&self.config, "max_position_embeddings"),
                "config.json",
            ),
        ]
        .into_iter()
        .find_map(|(len, source)| len.map(|l| (l, source)))
        .unwrap_or((FALLBACK_MAX_LENGTH, "the default"));
        self.check_room(&tokenizer, max_length, source)?;
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
            .map_err(failed)?;
        // Padding is done per batch, to the batch's longest string.
        tokenizer.with_padding(None);
        Ok((tokenizer, max_length))
    }

    /// Fails unless `max_length` leaves room for at least one token of the string
    /// besides the special tokens the tokenizer adds (tokenizers panics otherwise).
    fn check_room(&self, tokenizer: &Tokenizer, max_length: usize, source: &str) -> Result<()> {
        let added = tokenizer
            .get_post_processor()
            .map_or(0, |p| p.added_tokens(false));
        crate::ensure!(
            max_length > added,
            self.error(format!(
                "max_length {max_length} (from {source}) leaves no room for the string: the tokenizer adds {added} special tokens; use at least {}",
                added + 1
            ))
        );
        Ok(())
    }

    /// config.json's `hidden_size` (for graphs whose output dimension is dynamic).
    pub fn hidden_size(&self) -> Option<usize> {
        json_usize(&self.config, "hidden_size")
    }

    /// lexalign.json's name, else the last part of config.json's `_name_or_path`,
    /// else the directory's name.
    pub fn name(&self) -> String {
        self.manifest
            .name
            .clone()
            .or_else(|| {
                self.config.as_ref().and_then(|v| {
                    v.get("_name_or_path")?
                        .as_str()
                        .map(|s| s.rsplit('/').next().unwrap_or(s).to_string())
                })
            })
            .unwrap_or_else(|| {
                self.dir
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            })
    }

    /// The graphs this directory has. A manifest that declares decoder graphs
    /// (`generate`, `embed_past`) or `kind: "decoder"` is a decoder's. A declared
    /// embed_past.onnx must be a file in the directory.
    pub fn graphs(&self) -> Result<Graphs> {
        let m = &self.manifest;
        if m.kind() == ModelKind::Encoder && m.generate.is_none() && m.embed_past.is_none() {
            return Ok(Graphs::Encoder {
                model: self.onnx.clone(),
            });
        }
        let embed_past = match &m.embed_past {
            None => None,
            Some(e) => {
                let file = e.file.as_deref().ok_or_else(|| {
                    self.error("lexalign.json: embed_past must be an object with a \"file\" (a graph file name)")
                })?;
                let path = self.dir.join(file);
                crate::ensure!(
                    Path::new(file).file_name().is_some_and(|n| n == file) && path.is_file(),
                    self.error(format!(
                        "lexalign.json: embed_past.file {file:?} is not a file in the model directory; reinstall the model (make setup, or lexalign model import)"
                    ))
                );
                Some(path)
            }
        };
        let generate = m
            .generate
            .as_ref()
            .map(|g| self.dir.join(g.file.as_deref().unwrap_or("generate.onnx")));
        Ok(Graphs::Decoder {
            model: self.onnx.clone(),
            embed_past,
            generate,
        })
    }

    /// lexalign.json's `word_embeddings.external_data`, checked for shape and type;
    /// `None` when absent.
    pub fn external_word_embeddings(&self) -> Result<Option<ExternalMatrix>> {
        let Some(we) = &self.manifest.word_embeddings else {
            return Ok(None);
        };
        let Some(ext) = &we.external_data else {
            return Ok(None);
        };
        let bad = |what: &str| self.error(format!("lexalign.json: word_embeddings: {what}"));
        let kept_table = match we.dtype.as_deref() {
            None | Some("float32") => None,
            Some("kept") => Some(
                we.kept
                    .as_ref()
                    .ok_or_else(|| bad("dtype \"kept\" but no kept section"))?,
            ),
            Some(t) => return Err(bad(&format!("dtype {t:?}; only float32 and kept are read"))),
        };
        let shape: Vec<usize> = we
            .shape
            .as_ref()
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_u64().map(|x| x as usize))
                    .collect()
            })
            .unwrap_or_default();
        let [rows, cols] = shape[..] else {
            return Err(bad("shape must be [rows, cols] of positive integers"));
        };
        crate::ensure!(rows > 0 && cols > 0, bad("shape has a zero dimension"));
        let location = ext
            .location
            .as_deref()
            .ok_or_else(|| bad("external_data.location missing"))?;
        let file_name = Path::new(location);
        crate::ensure!(
            file_name.components().count() == 1
                && matches!(
                    file_name.components().next(),
                    Some(std::path::Component::Normal(_))
                ),
            bad(&format!(
                "external_data.location {location:?} must be a file name inside the model directory"
            ))
        );
        let num = |key: &str, v: &Option<Value>| {
            v.as_ref()
                .and_then(Value::as_u64)
                .ok_or_else(|| bad(&format!("external_data.{key} missing or not an integer")))
        };
        let matrix = |offset, length, kept| {
            Some(ExternalMatrix {
                name: we
                    .initializer
                    .clone()
                    .unwrap_or_else(|| "word_embeddings".to_string()),
                file: self.dir.join(file_name),
                offset,
                length,
                rows,
                cols,
                kept,
            })
        };
        if let Some(k) = kept_table {
            let kept = kept_layout(k, rows, cols).map_err(|e| bad(&format!("kept: {e}")))?;
            let (offset, length) = kept.parts["B"];
            return Ok(matrix(offset, length, Some(kept)));
        }
        let offset = num("offset", &ext.offset)?;
        let length = num("length", &ext.length)?;
        let needed = (rows as u64)
            .checked_mul(cols as u64)
            .and_then(|n| n.checked_mul(4))
            .ok_or_else(|| bad("shape too large"))?;
        crate::ensure!(
            length == needed,
            bad(&format!(
                "external_data.length {length} but shape [{rows}, {cols}] float32 needs {needed} bytes"
            ))
        );
        Ok(matrix(offset, length, None))
    }
}

/// `word_embeddings.kept` checked against `[rows, cols]`: bits 4 or 8, a block of 16 or
/// 32 dividing a row, and the parts a kept table has, each of the length its shape needs.
fn kept_layout(
    k: &super::manifest::KeptTable,
    rows: usize,
    cols: usize,
) -> std::result::Result<KeptLayout, String> {
    let bits = k.bits.ok_or("bits missing")?;
    let block = k.block.ok_or("block missing")? as usize;
    let zero_point = k.zero_point.unwrap_or(0);
    if !(bits == 4 || bits == 8) {
        return Err(format!("bits {bits}; 4 or 8 are read"));
    }
    if !(block == 16 || block == 32) || !cols.is_multiple_of(block) {
        return Err(format!("block {block}: 16 or 32, dividing a row of {cols}"));
    }
    if zero_point >= 1 << bits {
        return Err(format!("zero_point {zero_point} does not fit {bits} bits"));
    }
    let parts = k.parts.as_ref().ok_or("parts missing")?;
    let has = |p: &str| parts.contains_key(p);
    let (n, blocks) = (rows as u64 * cols as u64, (rows * (cols / block)) as u64);
    let per256 = (rows * (cols / 256)) as u64;
    let mut signed_sc = false;
    let mut out = BTreeMap::new();
    for (name, part) in parts {
        let (need, dtypes): (u64, &[&str]) = match name.as_str() {
            "B" => (n * bits / 8, &["uint8"]),
            "scales" => (blocks * 4, &["float32"]),
            "sc" => (blocks, &["uint8", "int8"]),
            "mins" => (n / 32 * 4, &["float32"]),
            "m" => (n / 32, &["uint8"]),
            "d" | "dmin" => (per256 * 4, &["float32"]),
            _ => return Err(format!("unknown part {name:?}")),
        };
        let dtype = part.dtype.as_deref().unwrap_or("");
        if !dtypes.contains(&dtype) {
            return Err(format!(
                "part {name}: dtype {dtype:?}, expected {}",
                dtypes.join(" or ")
            ));
        }
        signed_sc |= name == "sc" && dtype == "int8";
        let num = |key: &str, v: &Option<Value>| {
            v.as_ref()
                .and_then(Value::as_u64)
                .ok_or_else(|| format!("part {name}: {key} missing or not an integer"))
        };
        let (offset, length) = (num("offset", &part.offset)?, num("length", &part.length)?);
        if length != need {
            return Err(format!(
                "part {name}: length {length}, but [{rows}, {cols}] needs {need}"
            ));
        }
        out.insert(name.clone(), (offset, length));
    }
    let scaled = has("scales") != (has("sc") && has("d"));
    let mins = !has("dmin") && !has("m") || has("mins") != (has("m") && has("dmin"));
    if !has("B") || !scaled || !mins || has("sc") != has("d") || has("m") != has("dmin") {
        return Err("needs B, scales or sc + d, and at most mins or m + dmin".into());
    }
    if (has("sc") || has("m")) && !cols.is_multiple_of(256) {
        return Err(format!(
            "sc / m need rows of whole 256-value super-blocks, not {cols}"
        ));
    }
    if (has("mins") || has("m")) && block != 32 {
        return Err("mins need 32-value blocks".into());
    }
    Ok(KeptLayout {
        bits: bits as u32,
        block,
        zero_point: zero_point as u8,
        signed_sc,
        parts: out,
    })
}

/// A tokenizer.json as the file has it (its own truncation and padding).
pub fn load_tokenizer(path: &Path) -> Result<Tokenizer> {
    Tokenizer::from_file(path).map_err(|e| Error::Tokenizer(format!("{}: {e}", path.display())))
}

fn read_json(path: &Path) -> Result<Option<Value>> {
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| Error::json(path, e))
}

fn json_usize(v: &Option<Value>, key: &str) -> Option<usize> {
    v.as_ref()?.get(key)?.as_u64().map(|x| x as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(local: &str) -> (tempfile::TempDir, ModelDir) {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("model.onnx"), b"x").unwrap();
        std::fs::write(d.path().join("tokenizer.json"), b"{}").unwrap();
        std::fs::write(d.path().join("lexalign.json"), local).unwrap();
        let m = ModelDir::locate(d.path()).unwrap();
        (d, m)
    }

    #[test]
    fn kind_and_external_embeddings_are_checked() {
        let (_d, m) = dir_with(r#"{"kind": "decoder", "normalize": true, "layers": 3}"#);
        assert_eq!(m.manifest.kind(), ModelKind::Decoder);
        assert!(m.manifest.normalize());
        assert_eq!(m.manifest.layers, Some(3));
        assert_eq!(m.external_word_embeddings().unwrap(), None);
        assert_eq!(
            m.graphs().unwrap(),
            Graphs::Decoder {
                model: m.onnx.clone(),
                embed_past: None,
                generate: None
            }
        );
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("model.onnx"), b"x").unwrap();
        std::fs::write(d.path().join("tokenizer.json"), b"{}").unwrap();
        std::fs::write(d.path().join("lexalign.json"), r#"{"kind": "transformer"}"#).unwrap();
        let err = ModelDir::locate(d.path()).unwrap_err().to_string();
        assert!(
            err.contains("lexalign.json") && err.contains("transformer"),
            "{err}"
        );
        let ok = r#"{"word_embeddings": {"initializer": "emb", "dtype": "float32", "shape": [4, 2],
            "external_data": {"location": "w.bin", "offset": 8, "length": 32}}}"#;
        let (d, m) = dir_with(ok);
        let e = m.external_word_embeddings().unwrap().unwrap();
        assert_eq!((e.rows, e.cols, e.offset), (4, 2, 8));
        // The file: 8 bytes of something else, then rows 0..4.
        let mut bytes = vec![0u8; 8];
        for v in 0..8 {
            bytes.extend_from_slice(&(v as f32).to_le_bytes());
        }
        std::fs::write(d.path().join("w.bin"), &bytes).unwrap();
        let matrix = crate::embed::external_matrix(&e).unwrap();
        assert_eq!(matrix.row(3).to_vec(), vec![6.0, 7.0]);
        std::fs::write(d.path().join("w.bin"), &bytes[..30]).unwrap();
        let err = crate::embed::external_matrix(&e).unwrap_err().to_string();
        assert!(err.contains("30 bytes"), "{err}");
        std::fs::remove_file(d.path().join("w.bin")).unwrap();
        assert!(crate::embed::external_matrix(&e).is_err());
        for bad in [
            r#"{"word_embeddings": {"shape": [4, 2], "external_data": {"location": "w.bin", "offset": 0, "length": 31}}}"#,
            r#"{"word_embeddings": {"shape": [4], "external_data": {"location": "w.bin", "offset": 0, "length": 32}}}"#,
            r#"{"word_embeddings": {"shape": [4, 2], "external_data": {"location": "../w.bin", "offset": 0, "length": 32}}}"#,
            r#"{"word_embeddings": {"shape": [4, 2], "dtype": "float16", "external_data": {"location": "w.bin", "offset": 0, "length": 32}}}"#,
            r#"{"word_embeddings": {"shape": [4, 2], "external_data": {"location": "w.bin", "offset": -1, "length": 32}}}"#,
            r#"{"word_embeddings": {"shape": [18446744073709551615, 2], "external_data": {"location": "w.bin", "offset": 0, "length": 32}}}"#,
        ] {
            let (_d, m) = dir_with(bad);
            let err = m.external_word_embeddings().unwrap_err().to_string();
            assert!(err.contains("word_embeddings"), "{bad}: {err}");
        }
    }

    /// A kept table [1, 256]: 4-bit values, sub-block multipliers sc times the super-block
    /// scale d, mins m times dmin; then its one-line refusals.
    #[test]
    fn kept_embeddings_are_checked_and_widened() {
        let kept = |parts: &str| {
            format!(
                r#"{{"word_embeddings": {{"initializer": "emb", "dtype": "kept", "shape": [1, 256],
                "external_data": {{"location": "w.bin"}}, "kept": {{"bits": 4, "block": 32,
                "zero_point": 0, "parts": {{{parts}}}}}}}}}"#
            )
        };
        let ok = r#""B": {"offset": 0, "length": 128, "dtype": "uint8"},
            "sc": {"offset": 128, "length": 8, "dtype": "uint8"},
            "d": {"offset": 136, "length": 4, "dtype": "float32"},
            "m": {"offset": 140, "length": 8, "dtype": "uint8"},
            "dmin": {"offset": 148, "length": 4, "dtype": "float32"}"#;
        let (d, m) = dir_with(&kept(ok));
        let e = m.external_word_embeddings().unwrap().unwrap();
        let mut bytes = vec![0x21u8; 128]; // values 1 (even) and 2 (odd)
        bytes.extend((1..=8).map(|j| j as u8)); // block j: scale j * 0.5
        bytes.extend(0.5f32.to_le_bytes());
        bytes.extend([3u8; 8]); // min 3 * 0.25
        bytes.extend(0.25f32.to_le_bytes());
        std::fs::write(d.path().join("w.bin"), &bytes).unwrap();
        let t = crate::embed::external_matrix(&e).unwrap();
        assert_eq!((t[[0, 0]], t[[0, 1]]), (0.5 - 0.75, 1.0 - 0.75));
        assert_eq!((t[[0, 224]], t[[0, 225]]), (4.0 - 0.75, 8.0 - 0.75));
        std::fs::write(d.path().join("w.bin"), &bytes[..150]).unwrap();
        let err = crate::embed::external_matrix(&e).unwrap_err().to_string();
        assert!(err.contains("truncated"), "{err}");
        for bad in [
            ok.replace(r#""length": 128"#, r#""length": 127"#),
            ok.replace(r#""dtype": "float32"}"#, r#""dtype": "float16"}"#),
            ok.replace(r#""sc""#, r#""scale""#),
            ok.replace(r#""m":"#, r#""mins":"#),
        ] {
            let (_d, m) = dir_with(&kept(&bad));
            let err = m.external_word_embeddings().unwrap_err().to_string();
            assert!(err.contains("word_embeddings: kept"), "{bad}: {err}");
            assert_eq!(err.lines().count(), 1, "{err}");
        }
    }
}
