//! Pooling: how a sequence of contextual token vectors becomes one term vector.

use serde::{Deserialize, Serialize};

/// How token vectors are pooled into one vector per string.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Pooling {
    /// Mean over all non-padding positions, special tokens included
    /// (as sentence-transformers does). The default.
    #[default]
    Mean,
    /// The first position (`[CLS]` for BERT-style encoders).
    Cls,
    /// The last non-padding position (for decoder-only models).
    Last,
}

impl Pooling {
    /// Lower-case name, as used on the command line and in cache keys.
    pub fn as_str(self) -> &'static str {
        match self {
            Pooling::Mean => "mean",
            Pooling::Cls => "cls",
            Pooling::Last => "last",
        }
    }
}

impl std::str::FromStr for Pooling {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "mean" => Ok(Pooling::Mean),
            "cls" => Ok(Pooling::Cls),
            "last" => Ok(Pooling::Last),
            other => Err(crate::Error::param(
                "pooling",
                format!("{other:?}; expected mean, cls or last"),
            )),
        }
    }
}

/// Pools one sequence. `hidden` is `[seq, dim]` row-major, `len` the number of
/// real (non-padding) positions at the start; writes `dim` values into `out`.
pub(crate) fn pool(pooling: Pooling, hidden: &[f32], dim: usize, len: usize, out: &mut [f32]) {
    debug_assert!(len >= 1 && hidden.len() >= len * dim && out.len() == dim);
    match pooling {
        Pooling::Cls => out.copy_from_slice(&hidden[..dim]),
        Pooling::Last => out.copy_from_slice(&hidden[(len - 1) * dim..len * dim]),
        Pooling::Mean => {
            let mut acc = vec![0f64; dim];
            for row in hidden[..len * dim].chunks_exact(dim) {
                for (a, &v) in acc.iter_mut().zip(row) {
                    *a += v as f64;
                }
            }
            for (o, a) in out.iter_mut().zip(acc) {
                *o = (a / len as f64) as f32;
            }
        }
    }
}

/// Scales `v` to unit L2 norm; a zero vector stays zero.
pub(crate) fn l2_normalize(v: &mut [f32]) {
    let norm = v
        .iter()
        .map(|&x| (x as f64) * (x as f64))
        .sum::<f64>()
        .sqrt();
    if norm > 0.0 {
        for x in v.iter_mut() {
            *x = (*x as f64 / norm) as f32;
        }
    }
}

/// A model directory's own pooling: `lexalign.json`'s `pooling` key, else `last`
/// for a decoder (`kind: "decoder"`), else mean.
pub fn default_pooling(dir: &std::path::Path) -> crate::Result<Pooling> {
    let path = dir.join("lexalign.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Pooling::default()),
        Err(e) => return Err(crate::Error::io(&path, e)),
    };
    #[derive(Deserialize)]
    struct Meta {
        pooling: Option<Pooling>,
        kind: Option<serde_json::Value>,
    }
    let meta: Meta = serde_json::from_str(&text).map_err(|e| crate::Error::json(&path, e))?;
    let decoder = meta.kind.as_ref().and_then(|k| k.as_str()) == Some("decoder");
    Ok(meta.pooling.unwrap_or(if decoder {
        Pooling::Last
    } else {
        Pooling::Mean
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooling_skips_padding() {
        let hidden = [1.0f32, 2.0, 3.0, 4.0, 9.0, 9.0]; // 3 positions × 2 dims, last is padding
        let mut out = [0.0f32; 2];
        pool(Pooling::Mean, &hidden, 2, 2, &mut out);
        assert_eq!(out, [2.0, 3.0]);
        pool(Pooling::Last, &hidden, 2, 2, &mut out);
        assert_eq!(out, [3.0, 4.0]);
        pool(Pooling::Cls, &hidden, 2, 2, &mut out);
        assert_eq!(out, [1.0, 2.0]);
    }

    #[test]
    fn normalising_keeps_zero_vectors() {
        let mut v = [3.0f32, 4.0];
        l2_normalize(&mut v);
        assert_eq!(v, [0.6, 0.8]);
        let mut z = [0.0f32; 3];
        l2_normalize(&mut z);
        assert_eq!(z, [0.0; 3]);
    }
}
