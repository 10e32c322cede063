//! The one KV-cache type: a decoder's keys and values for a run of tokens, as
//! `embed` keeps them for shared prefixes (embed_past.onnx) and `generate` for the
//! few-shot prompt start (generate.onnx). Both graphs take `past_key_values.{l}.key|value`
//! `[batch, kv_heads, past, head_dim]` and return `present.{l}.key|value`.

/// A graph's KV-cache geometry: one key and one value `[batch, kv_heads, len,
/// head_dim]` per layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KvShape {
    pub layers: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
}

impl KvShape {
    /// Floats one token takes in a [`KvCache`]: a key and a value per layer.
    pub fn per_token(&self) -> usize {
        2 * self.layers * self.kv_heads * self.head_dim
    }

    /// The shape of one layer's key (or value) for `batch` rows of `len` tokens.
    pub fn dims(&self, batch: usize, len: usize) -> Vec<usize> {
        vec![batch, self.kv_heads, len, self.head_dim]
    }
}

/// One row's cache: `len` tokens' keys and values, laid out
/// `[layer][key, value][kv_head][token][head_dim]`, so each (layer, key|value)
/// slice is that tensor for a batch of one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KvCache {
    pub len: usize,
    pub data: Vec<f32>,
}

impl KvCache {
    /// An empty cache (no tokens).
    pub fn empty() -> Self {
        KvCache::default()
    }

    /// The `2 * layers` tensors, in `[layer][key, value]` order, each
    /// `[kv_heads, len, head_dim]` for this row.
    pub fn slices(&self, shape: KvShape) -> impl Iterator<Item = &[f32]> {
        let each = shape.kv_heads * self.len * shape.head_dim;
        (0..2 * shape.layers).map(move |i| &self.data[i * each..(i + 1) * each])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_follow_the_layout() {
        let shape = KvShape {
            layers: 2,
            kv_heads: 1,
            head_dim: 2,
        };
        let cache = KvCache {
            len: 3,
            data: (0..2 * 2 * 3 * 2).map(|x| x as f32).collect(),
        };
        assert_eq!(shape.per_token() * cache.len, cache.data.len());
        let s: Vec<&[f32]> = cache.slices(shape).collect();
        assert_eq!(s.len(), 4);
        assert_eq!(s[1], &[6.0, 7.0, 8.0, 9.0, 10.0, 11.0]);
        assert_eq!(shape.dims(5, 3), [5, 1, 3, 2]);
    }
}
