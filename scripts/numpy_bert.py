#!/usr/bin/env python3
"""Independent pure-numpy BERT encoder forward pass (reference only).

Reads the Hugging Face `BertModel` weights from model.safetensors and config.json and
computes last_hidden_state exactly as transformers' eager BertModel does in inference:

  embeddings = LayerNorm(word[ids] + position[0..L-1] + token_type[tt])
  per layer:   h = LayerNorm(h + Wo(softmax(QK^T/sqrt(d) + mask) V))
               h = LayerNorm(h + W2 gelu_erf(W1 h))
  mask: keys with attention_mask == 0 get the dtype's most negative finite value.

It shares no code with the ONNX graph or the Rust engine; it is used by
scripts/prepare_models.py to verify the rebuilt fp32 ONNX model. Computation defaults to
float64 so that it serves as a "truth" for the float32 runtimes.

Usage as a module:
    bert = NumpyBert.load(model_dir)          # dir with model.safetensors + config.json
    h = bert.forward(input_ids, attention_mask, token_type_ids=None)   # [B, L, H]
"""
from __future__ import annotations

import json
import math
import os
import sys

import numpy as np
from safetensors.numpy import load_file

def _erf(x: np.ndarray) -> np.ndarray:
    """Exact erf (libm via math.erf), elementwise. Slow-ish but only used on small inputs."""
    flat = x.astype(np.float64, copy=False).ravel()
    out = np.fromiter((math.erf(v) for v in flat), dtype=np.float64, count=flat.size)
    return out.reshape(x.shape)


def gelu_erf(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)).astype(x.dtype, copy=False))


def layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    m = x.max(axis=axis, keepdims=True)
    e = np.exp(x - m)
    return e / e.sum(axis=axis, keepdims=True)


class NumpyBert:
    def __init__(self, weights: dict[str, np.ndarray], config: dict, dtype=np.float64):
        self.cfg = config
        self.dtype = dtype
        # tolerate an optional "bert." prefix (BertForX checkpoints)
        w = {}
        for k, v in weights.items():
            k2 = k[5:] if k.startswith("bert.") else k
            w[k2] = v.astype(dtype) if v.dtype.kind == "f" else v
        self.w = w
        self.hidden = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        act = config.get("hidden_act", "gelu")
        if act != "gelu":
            raise ValueError(f"hidden_act {act!r} not supported (need exact erf gelu)")
        if config.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError("only absolute position embeddings are supported")

    @classmethod
    def load(cls, model_dir: str, dtype=np.float64) -> "NumpyBert":
        with open(os.path.join(model_dir, "config.json")) as f:
            cfg = json.load(f)
        weights = load_file(os.path.join(model_dir, "model.safetensors"))
        return cls(weights, cfg, dtype)

    def _linear(self, x: np.ndarray, name: str) -> np.ndarray:
        # HF Linear: weight [out, in]; y = x W^T + b
        return x @ self.w[name + ".weight"].T + self.w[name + ".bias"]

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, all_layers: bool = False) -> np.ndarray:
        """last_hidden_state [B, L, H]; with all_layers, [layers + 1, B, L, H] (0 = the
        embeddings after their LayerNorm, i = output of layer i, as HF output_hidden_states)."""
        ids = np.asarray(input_ids, dtype=np.int64)
        if ids.ndim == 1:
            ids = ids[None, :]
        bsz, seq = ids.shape
        mask = np.ones_like(ids) if attention_mask is None else np.asarray(attention_mask).reshape(bsz, seq)
        tt = np.zeros_like(ids) if token_type_ids is None else np.asarray(token_type_ids).reshape(bsz, seq)
        w = self.w
        pos = np.arange(seq)
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][pos][None, :, :]
            + w["embeddings.token_type_embeddings.weight"][tt]
        )
        x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps)
        states = [x]

        nh, hd = self.heads, self.hidden // self.heads
        neg = np.finfo(self.dtype).min
        add_mask = np.where(mask[:, None, None, :] > 0, 0.0, neg).astype(self.dtype)  # [B,1,1,L]
        scale = 1.0 / math.sqrt(hd)

        for i in range(self.layers):
            p = f"encoder.layer.{i}."

            def heads(t):
                return t.reshape(bsz, seq, nh, hd).transpose(0, 2, 1, 3)

            q = heads(self._linear(x, p + "attention.self.query"))
            k = heads(self._linear(x, p + "attention.self.key"))
            v = heads(self._linear(x, p + "attention.self.value"))
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + add_mask
            ctx = softmax(scores, axis=-1) @ v  # [B, nh, L, hd]
            ctx = ctx.transpose(0, 2, 1, 3).reshape(bsz, seq, self.hidden)
            att = self._linear(ctx, p + "attention.output.dense")
            x = layer_norm(att + x, w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"], self.eps)
            inter = gelu_erf(self._linear(x, p + "intermediate.dense"))
            out = self._linear(inter, p + "output.dense")
            x = layer_norm(out + x, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], self.eps)
            states.append(x)
        return np.stack(states) if all_layers else x


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    m = np.asarray(mask, dtype=hidden.dtype)[..., None]
    return (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)


if __name__ == "__main__":  # tiny smoke test: python numpy_bert.py MODEL_DIR [ids...]
    d = sys.argv[1]
    ids = [int(t) for t in sys.argv[2:]] or [101, 7592, 2088, 102]
    h = NumpyBert.load(d).forward([ids])
    print(h.shape, h[0, 0, :5])
