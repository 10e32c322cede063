//! One cache segment file: a header naming the model and options, then records
//! appended as batches finish.
//!
//! ```text
//! header: "LXCACHE2" | u32 length | JSON (model sha256, options, dim) | SHA-256 of all before
//! record: u32 length | 32-byte text key, dim × f32 (little-endian) | SHA-256 of those [..8]
//! ```
//!
//! A record cut short at the end of the file (a run killed mid-write, or a writer
//! still appending) is ignored; any other damage makes the whole segment unusable.

use sha2::{Digest, Sha256};

use super::cache::TextKey;

const MAGIC: &[u8; 8] = b"LXCACHE2";
/// Bytes of SHA-256 kept per record: enough to catch damage, not an attack.
const RECORD_SUM: usize = 8;

/// The header every segment for this model, options and dimension starts with.
pub(crate) fn header(model_sha256: &str, options_key: &str, dim: usize) -> Vec<u8> {
    let json = serde_json::json!({
        "model_sha256": model_sha256,
        "options": options_key,
        "dim": dim,
    })
    .to_string();
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&(json.len() as u32).to_le_bytes());
    out.extend_from_slice(json.as_bytes());
    let sum = Sha256::digest(&out);
    out.extend_from_slice(&sum);
    out
}

/// Appends one record to `out`.
pub(crate) fn push_record(out: &mut Vec<u8>, key: &TextKey, vector: &[f32]) {
    let start = out.len() + 4;
    out.extend_from_slice(&((32 + 4 * vector.len()) as u32).to_le_bytes());
    out.extend_from_slice(key);
    for v in vector {
        out.extend_from_slice(&v.to_le_bytes());
    }
    let sum = Sha256::digest(&out[start..]);
    out.extend_from_slice(&sum[..RECORD_SUM]);
}

/// The records of a segment whose header must equal `header`; `Err` says why the
/// segment is unusable.
pub(crate) fn parse(
    bytes: &[u8],
    header: &[u8],
    dim: usize,
) -> Result<Vec<(TextKey, Vec<f32>)>, String> {
    if !bytes.starts_with(header) {
        return Err(if bytes.starts_with(MAGIC) {
            "written for another model or options, or its header is damaged".into()
        } else {
            "not a lexalign cache segment".into()
        });
    }
    let payload = 32 + 4 * dim;
    let mut rest = &bytes[header.len()..];
    let mut records = Vec::with_capacity(rest.len() / (4 + payload + RECORD_SUM));
    while rest.len() >= 4 {
        let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        if len != payload {
            return Err(format!(
                "record {} has length {len}; expected {payload}",
                records.len() + 1
            ));
        }
        let Some(record) = rest.get(4..4 + payload + RECORD_SUM) else {
            break; // cut short at the end: ignored
        };
        let (body, sum) = record.split_at(payload);
        if &Sha256::digest(body)[..RECORD_SUM] != sum {
            return Err(format!("record {} fails its checksum", records.len() + 1));
        }
        let mut key: TextKey = [0; 32];
        key.copy_from_slice(&body[..32]);
        let vector = body[32..]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        records.push((key, vector));
        rest = &rest[4 + payload + RECORD_SUM..];
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_a_cut_tail_is_ignored() {
        let h = header("abc", "opts", 2);
        let mut bytes = h.clone();
        push_record(&mut bytes, &[1; 32], &[1.5, -0.0]);
        push_record(&mut bytes, &[2; 32], &[f32::MIN_POSITIVE, 3.0]);
        let full = parse(&bytes, &h, 2).unwrap();
        assert_eq!(full.len(), 2);
        assert_eq!(full[1].1[0].to_bits(), f32::MIN_POSITIVE.to_bits());
        assert_eq!(full[0].1[1].to_bits(), (-0.0f32).to_bits());
        for cut in 1..(4 + 32 + 8 + 8) {
            let torn = parse(&bytes[..bytes.len() - cut], &h, 2).unwrap();
            assert_eq!(torn.len(), 1, "cut {cut}");
        }
        let mut flipped = bytes.clone();
        let at = h.len() + 10;
        flipped[at] ^= 1;
        assert!(parse(&flipped, &h, 2).unwrap_err().contains("checksum"));
        assert!(parse(&bytes, &header("abc", "other", 2), 2).is_err());
        assert!(parse(b"junk", &h, 2).is_err());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        /// Arbitrary damage to a segment: never a panic; records are either all
        /// refused (Err) or a prefix of what was written.
        #[test]
        fn damaged_segments_never_panic(
            cut in 0usize..200,
            flips in proptest::collection::vec((0usize..200, 0u8..=255), 0..4),
            tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
        ) {
            let h = header("abc", "opts", 3);
            let mut bytes = h.clone();
            for i in 0..3u8 {
                push_record(&mut bytes, &[i; 32], &[i as f32, -1.0, 0.5]);
            }
            let written = parse(&bytes, &h, 3).unwrap();
            for (at, x) in flips {
                let at = at % bytes.len();
                bytes[at] ^= x;
            }
            bytes.truncate(bytes.len().saturating_sub(cut));
            bytes.extend(tail);
            if let Ok(records) = parse(&bytes, &h, 3) {
                for (r, w) in records.iter().zip(&written) {
                    if r.0 == w.0 {
                        proptest::prop_assert_eq!(&r.1, &w.1);
                    }
                }
            }
        }
    }
}
