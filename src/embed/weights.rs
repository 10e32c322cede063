//! Reads weight tensors (initializers) straight from an ONNX file: enough of the
//! protobuf wire format to find the input embedding matrix, which gives the
//! "static" (context-free) view of each token. Handles fp32, fp16 and int8 with a
//! per-row or scalar scale (`<name>_scale`, optional `<name>_zero_point`).

use std::path::Path;

use ndarray::Array2;

use crate::error::{Error, Result};

const FLOAT: i64 = 1;
const UINT8: i64 = 2;
const INT8: i64 = 3;
const FLOAT16: i64 = 10;
const DOUBLE: i64 = 11;

/// One initializer: name, shape, element type and its raw little-endian bytes
/// (or decoded floats when the file used `float_data`).
#[derive(Debug, Clone)]
pub(crate) struct Initializer {
    pub(crate) name: String,
    pub(crate) dims: Vec<i64>,
    pub(crate) data_type: i64,
    raw: Vec<u8>,
    floats: Vec<f32>,
    ints: Vec<i64>,
    external: bool,
}

impl Initializer {
    fn element_count(&self) -> usize {
        self.dims.iter().map(|&d| d.max(0) as usize).product()
    }

    /// Values as f32 (fp32, fp16, double, int8 and uint8 converted).
    pub(crate) fn to_f32(&self, path: &Path) -> Result<Vec<f32>> {
        if self.external {
            return Err(Error::Model {
                path: path.to_path_buf(),
                message: format!(
                    "initializer {:?} is stored as external data; lexalign reads only weights embedded in model.onnx",
                    self.name
                ),
            });
        }
        let n = self.element_count();
        let bad = |what: &str| Error::Model {
            path: path.to_path_buf(),
            message: format!("initializer {:?}: {what}", self.name),
        };
        let out: Vec<f32> = if !self.raw.is_empty() {
            match self.data_type {
                FLOAT => self
                    .raw
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
                DOUBLE => self
                    .raw
                    .chunks_exact(8)
                    .map(|c| {
                        f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32
                    })
                    .collect(),
                FLOAT16 => self
                    .raw
                    .chunks_exact(2)
                    .map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]])))
                    .collect(),
                INT8 => self.raw.iter().map(|&b| b as i8 as f32).collect(),
                UINT8 => self.raw.iter().map(|&b| b as f32).collect(),
                t => return Err(bad(&format!("unsupported element type {t}"))),
            }
        } else if !self.floats.is_empty() {
            self.floats.clone()
        } else {
            match self.data_type {
                INT8 | UINT8 => self.ints.iter().map(|&v| v as f32).collect(),
                FLOAT16 => self.ints.iter().map(|&v| f16_to_f32(v as u16)).collect(),
                _ => self.ints.iter().map(|&v| v as f32).collect(),
            }
        };
        if out.len() != n {
            return Err(bad(&format!(
                "holds {} values but its shape {:?} needs {n}",
                out.len(),
                self.dims
            )));
        }
        Ok(out)
    }
}

fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) & 1) as u32;
    let exp = ((h >> 10) & 0x1f) as u32;
    let frac = (h & 0x3ff) as u32;
    let bits = if exp == 0 {
        if frac == 0 {
            sign << 31
        } else {
            // subnormal
            let mut e = 127 - 15 + 1;
            let mut f = frac;
            while f & 0x400 == 0 {
                f <<= 1;
                e -= 1;
            }
            (sign << 31) | ((e as u32) << 23) | ((f & 0x3ff) << 13)
        }
    } else if exp == 31 {
        (sign << 31) | (0xff << 23) | (frac << 13)
    } else {
        (sign << 31) | ((exp + 127 - 15) << 23) | (frac << 13)
    };
    f32::from_bits(bits)
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }
    fn done(&self) -> bool {
        self.pos >= self.buf.len()
    }
    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.buf.get(self.pos)?;
            self.pos += 1;
            v |= ((b & 0x7f) as u64) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }
    /// Next field: (number, wire type, payload for LEN fields or varint value).
    fn field(&mut self) -> Option<(u64, Field<'a>)> {
        let key = self.varint()?;
        let (num, wire) = (key >> 3, key & 7);
        let f = match wire {
            0 => Field::Varint(self.varint()?),
            1 => {
                let s = self.buf.get(self.pos..self.pos + 8)?;
                self.pos += 8;
                Field::Fixed64(u64::from_le_bytes(s.try_into().ok()?))
            }
            2 => {
                let len = self.varint()? as usize;
                let end = self.pos.checked_add(len)?;
                let s = self.buf.get(self.pos..end)?;
                self.pos = end;
                Field::Bytes(s)
            }
            5 => {
                let s = self.buf.get(self.pos..self.pos + 4)?;
                self.pos += 4;
                Field::Fixed32(u32::from_le_bytes(s.try_into().ok()?))
            }
            _ => return None,
        };
        Some((num, f))
    }
}

enum Field<'a> {
    Varint(u64),
    Fixed64(#[allow(dead_code)] u64),
    Bytes(&'a [u8]),
    Fixed32(u32),
}

fn parse_tensor(buf: &[u8]) -> Option<Initializer> {
    let mut r = Reader::new(buf);
    let mut t = Initializer {
        name: String::new(),
        dims: vec![],
        data_type: 0,
        raw: vec![],
        floats: vec![],
        ints: vec![],
        external: false,
    };
    while !r.done() {
        match r.field()? {
            (1, Field::Varint(v)) => t.dims.push(v as i64),
            (1, Field::Bytes(b)) => {
                let mut p = Reader::new(b);
                while !p.done() {
                    t.dims.push(p.varint()? as i64);
                }
            }
            (2, Field::Varint(v)) => t.data_type = v as i64,
            (4, Field::Bytes(b)) => t.floats.extend(
                b.chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            ),
            (4, Field::Fixed32(v)) => t.floats.push(f32::from_bits(v)),
            (5, Field::Bytes(b)) => {
                let mut p = Reader::new(b);
                while !p.done() {
                    t.ints.push(p.varint()? as i64);
                }
            }
            (5, Field::Varint(v)) => t.ints.push(v as i64),
            (8, Field::Bytes(b)) => t.name = String::from_utf8_lossy(b).into_owned(),
            (9, Field::Bytes(b)) => t.raw = b.to_vec(),
            (14, Field::Varint(v)) => t.external = v == 1,
            _ => {}
        }
    }
    Some(t)
}

/// All initializers of an ONNX model whose name and shape pass `keep`
/// (the filter avoids copying weights that are not needed).
pub(crate) fn read_initializers(
    path: &Path,
    keep: impl Fn(&str, &[i64]) -> bool,
) -> Result<Vec<Initializer>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let corrupt = || Error::Model {
        path: path.to_path_buf(),
        message: "not a readable ONNX protobuf (truncated or corrupt file)".into(),
    };
    let mut model = Reader::new(&bytes);
    let mut out = Vec::new();
    while !model.done() {
        let (num, field) = model.field().ok_or_else(corrupt)?;
        if let (7, Field::Bytes(graph)) = (num, field) {
            let mut g = Reader::new(graph);
            while !g.done() {
                let (gnum, gfield) = g.field().ok_or_else(corrupt)?;
                if let (5, Field::Bytes(tensor)) = (gnum, gfield) {
                    // Parse cheaply: name and dims first, data only when kept.
                    let head = parse_tensor_head(tensor).ok_or_else(corrupt)?;
                    if keep(&head.0, &head.1) {
                        out.push(parse_tensor(tensor).ok_or_else(corrupt)?);
                    }
                }
            }
        }
    }
    Ok(out)
}

fn parse_tensor_head(buf: &[u8]) -> Option<(String, Vec<i64>)> {
    let mut r = Reader::new(buf);
    let (mut name, mut dims) = (String::new(), vec![]);
    while !r.done() {
        match r.field()? {
            (1, Field::Varint(v)) => dims.push(v as i64),
            (1, Field::Bytes(b)) => {
                let mut p = Reader::new(b);
                while !p.done() {
                    dims.push(p.varint()? as i64);
                }
            }
            (8, Field::Bytes(b)) => name = String::from_utf8_lossy(b).into_owned(),
            _ => {}
        }
    }
    Some((name, dims))
}

const EMBEDDING_NAMES: &[&str] = &[
    "word_embeddings",
    "embed_tokens",
    "wte",
    "tok_embeddings",
    "token_embedding",
    "shared",
];

/// The input (word) embedding matrix `[vocab, dim]` as f32: the 2-D initializer with
/// at least `vocab_size` rows whose name looks like an embedding table, dequantized
/// when stored as int8/uint8 with a `_scale` companion.
pub(crate) fn word_embeddings(path: &Path, vocab_size: usize) -> Result<(String, Array2<f32>)> {
    let tensors = read_initializers(path, |name, dims| {
        let looks = EMBEDDING_NAMES.iter().any(|n| name.contains(n));
        looks && (dims.len() == 2 || name.ends_with("_scale") || name.ends_with("_zero_point"))
    })?;
    let matrix = tensors
        .iter()
        .filter(|t| {
            t.dims.len() == 2
                && t.dims[0] as usize >= vocab_size
                && !t.name.ends_with("_scale")
                && !t.name.ends_with("_zero_point")
        })
        .min_by_key(|t| {
            EMBEDDING_NAMES
                .iter()
                .position(|n| t.name.contains(n))
                .unwrap_or(usize::MAX)
        })
        .ok_or_else(|| Error::Model {
            path: path.to_path_buf(),
            message: format!(
                "no input-embedding initializer found (looked for a 2-D weight with ≥ {vocab_size} rows named like {}); static embeddings need one",
                EMBEDDING_NAMES.join(", ")
            ),
        })?;
    let (rows, cols) = (matrix.dims[0] as usize, matrix.dims[1] as usize);
    let mut values = matrix.to_f32(path)?;
    if matches!(matrix.data_type, INT8 | UINT8) {
        let base = matrix
            .name
            .trim_end_matches("_q")
            .trim_end_matches("_quantized");
        let find = |suffix: &str| {
            tensors.iter().find(|t| {
                t.name == format!("{base}{suffix}") || t.name == format!("{}{suffix}", matrix.name)
            })
        };
        let scale = find("_scale").ok_or_else(|| Error::Model {
            path: path.to_path_buf(),
            message: format!(
                "int8 embedding {:?} has no {base}_scale initializer to dequantize it",
                matrix.name
            ),
        })?;
        let scale = scale.to_f32(path)?;
        let zero = match find("_zero_point") {
            Some(z) => z.to_f32(path)?,
            None => vec![0.0],
        };
        let per_row = |v: &Vec<f32>, r: usize| if v.len() == rows { v[r] } else { v[0] };
        if !(scale.len() == 1 || scale.len() == rows) {
            return Err(Error::Model {
                path: path.to_path_buf(),
                message: format!(
                    "scale of {:?} has {} values; expected 1 or {rows}",
                    matrix.name,
                    scale.len()
                ),
            });
        }
        for (r, row) in values.chunks_exact_mut(cols).enumerate() {
            let (s, z) = (per_row(&scale, r), per_row(&zero, r));
            for v in row {
                *v = (*v - z) * s;
            }
        }
    }
    let array = Array2::from_shape_vec((rows, cols), values).map_err(|e| Error::Model {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    Ok((matrix.name.clone(), array))
}

/// The input-embedding matrix from an external data file (as lexalign.json's
/// `word_embeddings.external_data` describes it): `length` bytes at `offset`,
/// f32 little-endian `[rows, cols]`, checked against the file's size; or a table kept
/// as GGUF blocks, widened (`kept_matrix`).
pub(crate) fn external_matrix(m: &crate::model::ExternalMatrix) -> Result<Array2<f32>> {
    use std::io::{Read, Seek, SeekFrom};
    let bad = |message: String| Error::Model {
        path: m.file.clone(),
        message,
    };
    if let Some(kept) = &m.kept {
        return kept_matrix(m, kept);
    }
    let mut f = std::fs::File::open(&m.file).map_err(|e| Error::io(&m.file, e))?;
    let size = f.metadata().map_err(|e| Error::io(&m.file, e))?.len();
    let end = m.offset.checked_add(m.length).ok_or_else(|| {
        bad(format!(
            "{}: offset {} + length {} overflows",
            m.name, m.offset, m.length
        ))
    })?;
    crate::ensure!(
        end <= size,
        bad(format!(
            "{} lies at bytes {}..{end} but the file has {size} bytes (truncated? re-run `make setup`)",
            m.name, m.offset
        ))
    );
    crate::ensure!(
        m.length == (m.rows as u64) * (m.cols as u64) * 4,
        bad(format!(
            "{}: {} bytes do not hold [{}, {}] float32",
            m.name, m.length, m.rows, m.cols
        ))
    );
    f.seek(SeekFrom::Start(m.offset))
        .map_err(|e| Error::io(&m.file, e))?;
    let mut values = vec![0f32; m.rows * m.cols];
    let mut buf = vec![0u8; 1 << 20];
    let mut filled = 0;
    while filled < values.len() {
        let n = ((values.len() - filled) * 4).min(buf.len());
        f.read_exact(&mut buf[..n])
            .map_err(|e| Error::io(&m.file, e))?;
        for (v, c) in values[filled..filled + n / 4]
            .iter_mut()
            .zip(buf[..n].chunks_exact(4))
        {
            *v = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        }
        filled += n / 4;
    }
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(bad(format!(
            "{}: value {i} (row {}) is not finite",
            m.name,
            i / m.cols
        )));
    }
    Array2::from_shape_vec((m.rows, m.cols), values).map_err(|e| bad(e.to_string()))
}

/// A kept table widened as the model's graph and gguf's dequantiser do, in f32: per
/// block of a row, `(q - zero_point) * scale - min`, where `scale` is `scales` or
/// `sc * d` and `min` is `mins`, `m * dmin` or none (products of small integers and
/// f32 scales: exact, so every value equals the GGUF's).
fn kept_matrix(
    m: &crate::model::ExternalMatrix,
    k: &crate::model::KeptLayout,
) -> Result<Array2<f32>> {
    use std::io::{Read, Seek, SeekFrom};
    let bad = |message: String| Error::Model {
        path: m.file.clone(),
        message,
    };
    let mut f = std::fs::File::open(&m.file).map_err(|e| Error::io(&m.file, e))?;
    let size = f.metadata().map_err(|e| Error::io(&m.file, e))?.len();
    let mut read = |name: &str| -> Result<Option<Vec<u8>>> {
        let Some(&(offset, length)) = k.parts.get(name) else {
            return Ok(None);
        };
        crate::ensure!(
            offset.checked_add(length).is_some_and(|end| end <= size),
            bad(format!(
                "{} part {name} lies at bytes {offset}..+{length} but the file has {size} bytes (truncated?)",
                m.name
            ))
        );
        f.seek(SeekFrom::Start(offset))
            .map_err(|e| Error::io(&m.file, e))?;
        let mut buf = vec![0u8; length as usize];
        f.read_exact(&mut buf).map_err(|e| Error::io(&m.file, e))?;
        Ok(Some(buf))
    };
    let floats = |b: Option<Vec<u8>>| -> Option<Vec<f32>> {
        b.map(|b| {
            b.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        })
    };
    let q = read("B")?.unwrap_or_default();
    let (scales, sc, d) = (floats(read("scales")?), read("sc")?, floats(read("d")?));
    let (mins, mn, dmin) = (floats(read("mins")?), read("m")?, floats(read("dmin")?));
    let (rows, cols, block) = (m.rows, m.cols, k.block);
    let (per_row, per_row_256) = (cols / block, cols / 256);
    let zero_point = k.zero_point as f32;
    let mut values = vec![0f32; rows * cols];
    for (i, v) in values.iter_mut().enumerate() {
        let (r, c) = (i / cols, i % cols);
        let b = r * per_row + c / block;
        let super_block = r * per_row_256 + c / 256;
        let scale = match (&scales, &sc, &d) {
            (Some(s), _, _) => s[b],
            (None, Some(sc), Some(d)) => {
                let mult = if k.signed_sc {
                    sc[b] as i8 as f32
                } else {
                    sc[b] as f32
                };
                mult * d[super_block]
            }
            _ => unreachable!("checked by ModelDir::external_word_embeddings"),
        };
        let min = match (&mins, &mn, &dmin) {
            (Some(mins), _, _) => mins[b],
            (None, Some(mn), Some(dmin)) => mn[b] as f32 * dmin[super_block],
            _ => 0.0,
        };
        let byte = if k.bits == 4 { q[i / 2] } else { q[i] };
        let qv = if k.bits == 8 {
            byte
        } else if i % 2 == 0 {
            byte & 0x0F
        } else {
            byte >> 4
        };
        *v = (qv as f32 - zero_point) * scale - min;
        if !v.is_finite() {
            return Err(bad(format!(
                "{}: value {i} (row {r}) is not finite",
                m.name
            )));
        }
    }
    Array2::from_shape_vec((rows, cols), values).map_err(|e| bad(e.to_string()))
}
