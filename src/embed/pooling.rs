//! Pooling: how a sequence of contextual token vectors becomes one term vector.

pub use crate::model::Pooling;

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
    Ok(crate::model::Manifest::read(dir)?
        .unwrap_or_default()
        .pooling())
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
