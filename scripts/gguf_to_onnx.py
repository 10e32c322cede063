#!/usr/bin/env python3
"""Convert a llama-architecture GGUF file into a lexalign decoder model directory.

  python scripts/gguf_to_onnx.py FILE.gguf OUTDIR --name NAME [--fp32] [--source-json JSON]
                                [--description TEXT] [--max-length N] [--if-changed]

Writes OUTDIR (built in OUTDIR.tmp-XXXX next to it, then renamed into place):

  model.onnx      embeddings. inputs  input_ids, attention_mask, position_ids   [B,T] int64
                              outputs last_hidden_state [B,T,H] (after the final RMSNorm)
                                      hidden_states [L+1,B,T,H]: 0 = token embeddings,
                                      i = output of layer i (i < L), L = final normed state
                                      (HF output_hidden_states convention)
  generate.onnx   greedy decoding with a KV cache. inputs input_ids [B,T],
                  attention_mask [B,P+T], position_ids [B,T],
                  past_key_values.{i}.key / .value [B,kv_heads,P,head_dim];
                  outputs logits [B,vocab] (last position only),
                  present.{i}.key / .value [B,kv_heads,P+T,head_dim]
  embed_past.onnx model.onnx's outputs for T new tokens after a cached prefix: inputs as
                  generate.onnx; outputs last_hidden_state [B,T,H], hidden_states
                  [L+1,B,T,H], present.{i}.key / .value. With P = 0 it is model.onnx;
                  lexalign runs a prefix shared by several strings once through it
  model.weights   every weight once, shared by the graphs as ONNX external data: linear
                  weights in Q4_0/Q4_1/Q4_K/Q5_0/Q5_K/Q6_K/Q8_0 kept as MatMulNBits blocks
                  (write_weights; --fp32: all fp32), the rest fp32
                  (location "model.weights", offset, length); large tensors 4096-aligned
  tokenizer.json  HF `tokenizers` file rebuilt from the GGUF vocab / merges / token types
  config.json     the hyperparameters (HF LlamaConfig keys)
  lexalign.json   lexalign's model description (kind "decoder")
  .prepared.json  input digests and output sizes, for --if-changed

The hyperparameters come from the GGUF metadata (`{arch}.block_count`, ...). Weights are
dequantized with gguf.quants (any type it supports) one tensor at a time and streamed to
model.weights, so peak memory is about the largest tensor, not the model. GGUF stores
attn_q / attn_k with rows permuted for llama.cpp's adjacent-pair RoPE; they are permuted
back to the HF layout here and the graphs use HF's rotate_half RoPE.

Attention masking: keys are allowed when attention_mask is 1 and their slot (0..P+T-1)
is <= the query's slot (P + t); masked scores are set to the float32 minimum (finite, so
all-padding rows give finite garbage, never NaN). Position ids are an input: callers
of left-padded batches pass positions that count real tokens only.

The numeric check against the independent numpy forward pass is scripts/check_decoder.py.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

import numpy as np
import onnx
from onnx import TensorProto, helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lexalign_common import (check_folder_name, folder_up_to_date, logger, publish_folder,  # noqa: E402
                             run_converter, sha256_file)

OPSET = 17
STAMP_FORMAT = 1
WEIGHTS = "model.weights"
ALIGN_BIG, ALIGN_SMALL, BIG = 4096, 64, 1 << 16
MAX_LENGTH_CAP = 2048
GRAPHS = (("embed", "model.onnx"), ("generate", "generate.onnx"), ("embed_past", "embed_past.onnx"))
F32_MIN = float(np.finfo(np.float32).min)

# tokenizer.ggml.pre -> HF pre-tokenizer (llama.cpp's llama-vocab.cpp regex sets)
GPT2_DIGITS = ("smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva")
QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                 r"|\s*[\r\n]+|\s+(?!\S)|\s+")
LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                  r"|\s*[\r\n]+|\s+(?!\S)|\s+")


log = logger("gguf_to_onnx")


ERROR_PREFIX = "gguf_to_onnx: error: "  # `lexalign model import` shows this line as its error


class Refuse(Exception):
    """A one-line error about the input (no traceback)."""


def check_gguf_file(path: str) -> None:
    """The input is a readable, regular, non-empty file that starts with the GGUF magic."""
    import stat

    try:
        st = os.stat(path)
    except OSError as e:
        raise Refuse(f"{path}: {e.strerror}")
    if stat.S_ISDIR(st.st_mode):
        raise Refuse(f"{path} is a directory, not a GGUF file")
    if not stat.S_ISREG(st.st_mode):
        raise Refuse(f"{path} is not a regular file (a FIFO, socket or device); give a GGUF file")
    if st.st_size == 0:
        raise Refuse(f"{path} is empty (0 bytes), not a GGUF file")
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic != b"GGUF":
        raise Refuse(f"{path} is not a GGUF file (it starts with {magic!r}, not b'GGUF')")


def open_gguf(path: str):
    """gguf.GGUFReader, with a truncated or corrupt file as one line."""
    import gguf

    try:
        reader = gguf.GGUFReader(path)
    except Exception as e:  # the reader raises ValueError, struct / numpy errors, IndexError ... on bad bytes
        raise Refuse(f"{path} is truncated or not a valid GGUF file ({type(e).__name__}: {e})")
    size = os.path.getsize(path)
    for t in reader.tensors:
        end = int(t.data_offset) + int(t.n_bytes)
        if end > size or t.data.size * t.data.itemsize != int(t.n_bytes):
            raise Refuse(f"{path} is truncated: tensor {t.name} ends at byte {end}, the file has {size}")
    return reader


# ---------------------------------------------------------------------------------------
# GGUF metadata
# ---------------------------------------------------------------------------------------

class Meta:
    def __init__(self, reader):
        self.r = reader
        self.f = reader.fields

    def get(self, key, default=None):
        fld = self.f.get(key)
        return default if fld is None else fld.contents()

    def need(self, key):
        v = self.get(key)
        if v is None:
            raise SystemExit(f"GGUF has no {key}")
        return v


# What differs between the GGUF families, as data: one converter reads this table (the
# numpy reference, scripts/numpy_llama.py, keeps its own statement of the same facts).
#   rope         "norm": llama.cpp's convert stored attn_q / attn_k rows permuted for
#                adjacent-pair RoPE (undone here); "neox": rows as HF has them (rotate_half)
#   qkv          "split" attn_q / attn_k / attn_v, or "fused" attn_qkv (rows q, then k, then v)
#   ffn          "split" ffn_gate / ffn_up, or "fused" ffn_up (gate rows, then up rows)
#   bias         attn_q / attn_k / attn_v carry biases
#   qk_norm      RMSNorm over head_dim of every q and k head (attn_q_norm / attn_k_norm), before RoPE
#   post_norms   RMSNorm of the attention and the FFN outputs before each residual add
#   act          gate activation: "silu" (SwiGLU) or "gelu_tanh" (GeGLU)
#   embed_scale  token embeddings times sqrt(hidden)
#   swa_pattern  every n-th layer global, the others sliding-window ({arch}.attention.sliding_window);
#                None: no sliding window (llama.cpp ignores phi3's)
#   swa_rope_base RoPE base of the sliding-window layers (llama.cpp's constant; not in the file)
#   hf           config.json's architectures / model_type / hidden_act
# Norm weights are used as stored: llama.cpp's convert writes Gemma's (1 + w) into the file.
_BASE = dict(rope="neox", qkv="split", ffn="split", bias=False, qk_norm=False, post_norms=False, act="silu",
             embed_scale=False, swa_pattern=None, swa_rope_base=None)
ARCHS = {
    "llama": dict(_BASE, rope="norm", hf=("LlamaForCausalLM", "llama", "silu")),
    "qwen2": dict(_BASE, bias=True, hf=("Qwen2ForCausalLM", "qwen2", "silu")),
    "qwen3": dict(_BASE, qk_norm=True, hf=("Qwen3ForCausalLM", "qwen3", "silu")),
    "gemma3": dict(_BASE, qk_norm=True, post_norms=True, act="gelu_tanh", embed_scale=True, swa_pattern=6,
                   swa_rope_base=10000.0, hf=("Gemma3ForCausalLM", "gemma3_text", "gelu_pytorch_tanh")),
    "phi3": dict(_BASE, qkv="fused", ffn="fused", hf=("Phi3ForCausalLM", "phi3", "silu")),
}


def hparams(m: Meta) -> dict:
    arch = m.need("general.architecture")
    if arch not in ARCHS:
        raise SystemExit(f"general.architecture is {arch!r}; supported: {', '.join(ARCHS)} "
                         "(Llama 2/3.x and Mistral files are 'llama')")
    tr = ARCHS[arch]
    tokenizer_kind(m)  # refuse an unsupported tokenizer before any work
    p = arch + "."
    n_head = int(m.need(p + "attention.head_count"))
    n_kv = m.get(p + "attention.head_count_kv", n_head)
    if isinstance(n_kv, list):
        raise SystemExit("per-layer head_count_kv is not supported")
    dim = int(m.need(p + "embedding_length"))
    head_dim = int(m.get(p + "attention.key_length", dim // n_head))
    if int(m.get(p + "attention.value_length", head_dim)) != head_dim:
        raise SystemExit("key_length != value_length is not supported")
    rope_dims = int(m.get(p + "rope.dimension_count", head_dim))
    if rope_dims != head_dim:
        raise SystemExit(f"partial rotary (rope.dimension_count {rope_dims} < head_dim {head_dim}) is not supported")
    scaling = m.get(p + "rope.scaling.type", "none")
    if scaling not in ("none", "linear"):
        raise SystemExit(f"rope scaling {scaling!r} is not supported (supported: none, linear)")
    tensors = {t.name for t in m.r.tensors}
    if {"rope_factors_long.weight", "rope_factors_short.weight"} & tensors:
        raise SystemExit("rope_factors_long/short (LongRoPE, e.g. Phi-3 128k) is not supported")
    vocab = len(m.need("tokenizer.ggml.tokens"))
    n_layer = int(m.need(p + "block_count"))
    hp = {
        "arch": arch,
        "n_layer": n_layer,
        "dim": dim,
        "ffn": int(m.need(p + "feed_forward_length")),
        "n_head": n_head,
        "n_kv": int(n_kv),
        "head_dim": head_dim,
        "eps": float(m.need(p + "attention.layer_norm_rms_epsilon")),
        "rope_base": float(m.get(p + "rope.freq_base", 10000.0)),
        "rope_scale": float(m.get(p + "rope.scaling.factor", 1.0)) if scaling == "linear" else 1.0,
        "rope_freqs": "rope_freqs.weight" in tensors,
        "context": int(m.get(p + "context_length", 2048)),
        "vocab": int(m.get(p + "vocab_size", vocab)),
        "tied": "output.weight" not in tensors,
    }
    if arch == "llama":
        return hp  # (the keys below would change nothing; llama's outputs stay as they were)
    hp["traits"] = tr
    # llama.cpp: Gemma 3 27B scales by hidden/heads, every other size by head_dim
    hp["attn_scale"] = float(m.get(p + "attention.scale", 0.0)) or (
        1.0 / np.sqrt(dim // n_head if arch == "gemma3" and n_layer == 62 else head_dim))
    hp["attn_softcap"] = float(m.get(p + "attn_logit_softcapping", 0.0) or 0.0)
    hp["final_softcap"] = float(m.get(p + "final_logit_softcapping", 0.0) or 0.0)
    swa = [False] * n_layer
    window = int(m.get(p + "attention.sliding_window", 0) or 0)
    if tr["swa_pattern"] and window:
        pat = m.get(p + "attention.sliding_window_pattern", tr["swa_pattern"])
        swa = [bool(x) for x in pat] if isinstance(pat, list) else [i % int(pat) < int(pat) - 1 for i in range(n_layer)]
        if len(swa) != n_layer:
            raise SystemExit(f"sliding_window_pattern has {len(swa)} entries for {n_layer} layers")
    hp["swa"], hp["window"] = swa, window
    hp["swa_rope_base"] = tr["swa_rope_base"] or hp["rope_base"]
    return hp


def traits(hp: dict) -> dict:
    return hp.get("traits", ARCHS["llama"])


# ---------------------------------------------------------------------------------------
# weights: dequantize, rename to HF names, stream into one external-data file
# ---------------------------------------------------------------------------------------

def unpermute(w: np.ndarray, heads: int) -> np.ndarray:
    """Undo llama.cpp's convert permute of q/k rows (adjacent pairs -> halves)."""
    out, inp = w.shape
    return w.reshape(heads, out // heads // 2, 2, inp).swapaxes(1, 2).reshape(out, inp)


def weight_plan(hp: dict) -> list[tuple[str, str, str]]:
    """(gguf name, onnx initializer name, transform) in file order. Transforms: as_is
    (norms, biases, embeddings), T (linear weight, transposed to [in, out]), q / k (also
    un-permuted, llama only), rows:a:b (rows a..b of a fused weight, then T)."""
    tr = traits(hp)
    qk = ("q", "k") if tr["rope"] == "norm" else ("T", "T")
    q_out, kv_out, ffn = hp["n_head"] * hp["head_dim"], hp["n_kv"] * hp["head_dim"], hp["ffn"]
    plan = [("token_embd.weight", "model.embed_tokens.weight", "as_is")]
    for i in range(hp["n_layer"]):
        b, o = f"blk.{i}.", f"model.layers.{i}."
        plan.append((b + "attn_norm.weight", o + "input_layernorm.weight", "as_is"))
        if tr["qkv"] == "fused":
            plan += [(b + "attn_qkv.weight", o + "self_attn.q_proj.weight.T", f"rows:0:{q_out}"),
                     (b + "attn_qkv.weight", o + "self_attn.k_proj.weight.T", f"rows:{q_out}:{q_out + kv_out}"),
                     (b + "attn_qkv.weight", o + "self_attn.v_proj.weight.T",
                      f"rows:{q_out + kv_out}:{q_out + 2 * kv_out}")]
        else:
            plan += [(b + "attn_q.weight", o + "self_attn.q_proj.weight.T", qk[0]),
                     (b + "attn_k.weight", o + "self_attn.k_proj.weight.T", qk[1]),
                     (b + "attn_v.weight", o + "self_attn.v_proj.weight.T", "T")]
        if tr["bias"]:
            plan += [(b + f"attn_{x}.bias", o + f"self_attn.{x}_proj.bias", "as_is") for x in "qkv"]
        if tr["qk_norm"]:
            plan += [(b + f"attn_{x}_norm.weight", o + f"self_attn.{x}_norm.weight", "as_is") for x in "qk"]
        plan.append((b + "attn_output.weight", o + "self_attn.o_proj.weight.T", "T"))
        if tr["post_norms"]:
            plan.append((b + "post_attention_norm.weight", o + "post_attention_output_layernorm.weight", "as_is"))
        plan.append((b + "ffn_norm.weight", o + "post_attention_layernorm.weight", "as_is"))
        if tr["ffn"] == "fused":
            plan += [(b + "ffn_up.weight", o + "mlp.gate_proj.weight.T", f"rows:0:{ffn}"),
                     (b + "ffn_up.weight", o + "mlp.up_proj.weight.T", f"rows:{ffn}:{2 * ffn}")]
        else:
            plan += [(b + "ffn_gate.weight", o + "mlp.gate_proj.weight.T", "T"),
                     (b + "ffn_up.weight", o + "mlp.up_proj.weight.T", "T")]
        plan.append((b + "ffn_down.weight", o + "mlp.down_proj.weight.T", "T"))
        if tr["post_norms"]:
            plan.append((b + "post_ffw_norm.weight", o + "post_feedforward_layernorm.weight", "as_is"))
    plan.append(("output_norm.weight", "model.norm.weight", "as_is"))
    if not hp["tied"]:
        plan.append(("output.weight", "lm_head.weight", "as_is"))
    return plan


Q4_BLOCK = 32


def q4_matmulnbits(raw: np.ndarray, ggml_type: str, shape: list[int]) -> dict[str, np.ndarray]:
    """GGML Q4_0 / Q4_1 rows [N, K] -> com.microsoft MatMulNBits (bits 4, block 32) tensors,
    losslessly: B [N, K/32, 16] uint8 (element 2j in the low nibble of byte j), scales
    [N*K/32] f32. Q4_0's x = d*(q - 8) is MatMulNBits' default zero point 8, so it gets none.
    Q4_1's x = d*q + m: zero points 0 (uint8) and "mins" [N, K/32] = -m (rows first; the
    writer transposes them for the graph, which subtracts (x summed over each block) @ mins:
    a float zero point -m/d would round, and ORT 1.31 runs 4-bit with float zero points ~3x
    slower than with uint8 ones)."""
    n, k = shape
    head = 2 if ggml_type == "Q4_0" else 4
    blk = np.ascontiguousarray(raw).reshape(n, k // Q4_BLOCK, head + Q4_BLOCK // 2)
    d = blk[..., 0:2].copy().view("<f2")[..., 0].astype(np.float32)
    qs = blk[..., head:]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=-1)  # GGML: element j<16 low nibble of byte j
    out = {}
    if ggml_type == "Q4_1":
        m = blk[..., 2:4].copy().view("<f2")[..., 0].astype(np.float32)
        out["zp"] = zero_points_4bit(n, k // Q4_BLOCK)
        out["mins"] = np.ascontiguousarray(-m, dtype="<f4")
    out["B"] = np.ascontiguousarray(q[..., 0::2] | (q[..., 1::2] << 4), dtype=np.uint8)
    out["scales"] = np.ascontiguousarray(d.reshape(n, -1), dtype="<f4")
    return out


# GGML types kept quantised (the default; --fp32 widens all) beyond Q4_0/Q4_1: (bits,
# MatMulNBits block, values per GGML block). Other types (Q2_K, Q3_K, Q5_1, IQ*, ...) are
# widened to fp32.
KEPT = {"Q4_K": (4, 32, 256), "Q5_0": (8, 32, 32), "Q5_K": (8, 32, 256), "Q6_K": (8, 16, 256), "Q8_0": (8, 32, 32)}


def _f16(b: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(b).view("<f2")[..., 0].astype(np.float32)


def zero_points_4bit(n: int, blocks: int) -> np.ndarray:
    """4-bit MatMulNBits zero points, all 0: two per byte, [N * ceil(blocks / 2)] uint8."""
    return np.zeros(n * ((blocks + 1) // 2), np.uint8)


def kquant_matmulnbits(raw: np.ndarray, ggml_type: str, shape: list[int]) -> dict[str, np.ndarray]:
    """GGML rows [N, K] of Q4_K / Q5_0 / Q5_K / Q6_K / Q8_0 -> tensors holding the same values,
    rows first: B [N, K/block, block*bits/8] uint8 and per block a scale, either "scales"
    [N, K/block] f32 or, for the k-quants, as in the GGUF: "sc" [N, K/256, 256/block] (6-bit
    uint8 / Q6_K's int8) times "d" [N, K/256, 1] f32, which the graph multiplies (one f32
    product of an f16 and a small integer: exact, the bits gguf's dequantiser computes).
    8-bit values are stored as q - zero point + 128, MatMulNBits' default zero point, so they
    need no zero-point tensor.
      Q4_K  4-bit, block 32: x = d*sc*q - dmin*m. Kept as d*sc * (q - 0) (4-bit zero points
            0) minus the min dmin*m ("m" [N, K/256, 8] uint8 times "dmin" [N, K/256, 1] f32):
            the graph subtracts (sum of x over each sub-block) @ mins. Exact; a float zero
            point dmin*m/(d*sc) would round (~1e-7) and runs ~3x slower in ORT 1.31
      Q5_0  8-bit, block 32: x = d * (q - 16)
      Q5_K  8-bit, block 32: x = d*sc*q - dmin*m, kept as Q4_K is
      Q6_K  8-bit, block 16: x = d*sc * (q - 32)
      Q8_0  8-bit, block 32: x = d * q"""
    n, k = shape
    bits, block, per = KEPT[ggml_type]
    raw = np.ascontiguousarray(raw).reshape(n, -1).view(np.uint8)
    out: dict[str, np.ndarray] = {}
    if ggml_type == "Q8_0":
        blk = raw.reshape(n, k // 32, 34)
        scale = _f16(blk[..., 0:2])
        q = (blk[..., 2:].view(np.int8).astype(np.int16) + 128).astype(np.uint8)
    elif ggml_type == "Q5_0":
        blk = raw.reshape(n, k // 32, 22)
        scale = _f16(blk[..., 0:2])
        qh = blk[..., 2:6].copy().view("<u4").astype(np.int64)
        qs = blk[..., 6:].astype(np.int64)
        j = np.arange(16)
        q = np.concatenate([(qs & 0x0F) | (((qh >> j) & 1) << 4), (qs >> 4) | (((qh >> (j + 16)) & 1) << 4)],
                           axis=-1).astype(np.uint8) + 112
    elif ggml_type == "Q6_K":
        blk = raw.reshape(n, k // 256, 210)
        ql, qh = blk[..., 0:128].astype(np.int64), blk[..., 128:192].astype(np.int64)
        out["sc"] = np.ascontiguousarray(blk[..., 192:208]).view(np.int8)  # sub-block j of 16 uses sc[j]
        out["d"] = np.ascontiguousarray(_f16(blk[..., 208:210])[..., None], dtype="<f4")
        q = np.empty(blk.shape[:-1] + (256,), np.uint8)
        for h in range(2):
            L, H = ql[..., 64 * h: 64 * h + 64], qh[..., 32 * h: 32 * h + 32]
            for part, (lo, sl, sh) in enumerate(((L[..., :32], 0, 0), (L[..., 32:], 0, 2), (L[..., :32], 4, 4),
                                                 (L[..., 32:], 4, 6))):
                q[..., 128 * h + 32 * part: 128 * h + 32 * part + 32] = ((lo >> sl) & 0x0F) | (((H >> sh) & 3) << 4)
        q += 96
    else:  # Q4_K, Q5_K: super-blocks of 256 = 8 sub-blocks of 32 with 6-bit scale and min
        five = ggml_type == "Q5_K"
        blk = raw.reshape(n, k // 256, 176 if five else 144)
        d, dmin = _f16(blk[..., 0:2]), _f16(blk[..., 2:4])
        sc6 = blk[..., 4:16].astype(np.int64)
        qh = blk[..., 16:48] if five else None  # Q5_K: bit 2c / 2c+1 of qh[l] is the 5th bit
        qs = blk[..., 48:] if five else blk[..., 16:]
        sc = np.empty(blk.shape[:-1] + (8,), np.uint8)
        mn = np.empty(blk.shape[:-1] + (8,), np.uint8)
        for j in range(8):  # ggml get_scale_min_k4
            if j < 4:
                sc[..., j], mn[..., j] = sc6[..., j] & 63, sc6[..., j + 4] & 63
            else:
                sc[..., j] = (sc6[..., j + 4] & 0x0F) | ((sc6[..., j - 4] >> 6) << 4)
                mn[..., j] = (sc6[..., j + 4] >> 4) | ((sc6[..., j] >> 6) << 4)
        q = np.empty(blk.shape[:-1] + (256,), np.uint8)
        for c in range(4):
            part = qs[..., 32 * c: 32 * c + 32]
            q[..., 64 * c: 64 * c + 32] = part & 0x0F
            q[..., 64 * c + 32: 64 * c + 64] = part >> 4
            if five:
                q[..., 64 * c: 64 * c + 32] |= ((qh >> (2 * c)) & 1) << 4
                q[..., 64 * c + 32: 64 * c + 64] |= ((qh >> (2 * c + 1)) & 1) << 4
        out["sc"], out["d"] = sc, np.ascontiguousarray(d[..., None], dtype="<f4")
        out["m"], out["dmin"] = mn, np.ascontiguousarray(dmin[..., None], dtype="<f4")
        if bits == 4:
            out["zp"] = zero_points_4bit(n, k // 32)
        else:
            q += 128
    q = q.reshape(n, k // block, block)
    if bits == 4:
        q = q[..., 0::2] | (q[..., 1::2] << 4)
    out["B"] = np.ascontiguousarray(q, dtype=np.uint8)
    if "sc" not in out:
        out["scales"] = np.ascontiguousarray(scale.reshape(n, -1), dtype="<f4")
    return out


def keepable(ggml_type: str, k: int) -> bool:
    """Rows of K values of this type can be kept quantised (MatMulNBits or the row Gather)."""
    return ggml_type in ("Q4_0", "Q4_1") and k % Q4_BLOCK == 0 or ggml_type in KEPT and k % KEPT[ggml_type][2] == 0


# the parts a kept weight may have, and the ones stored rows first that a MatMul needs
# transposed ([.., N] last): (block sums of x) @ mins
KEPT_PARTS = ("B", "scales", "sc", "d", "zp", "mins", "m", "dmin")
COLUMN_PARTS = ("mins", "m", "dmin")


def write_weights(reader, hp: dict, path: str, keep_q4: bool = False) -> dict[str, dict]:
    """Stream every weight into `path`; returns {initializer: {offset, length, shape, dtype,
    ...}}. With keep_q4, quantised linear weights are stored for MatMulNBits instead (entry
    "q4": {part: initializer name for the KEPT_PARTS it has, "K", "N", "bits", "block"}), and
    an untied token-embedding table as the same parts rows first (entry "q4" with "rows":
    true), which the graph gathers per token and widens."""
    from gguf.quants import dequantize

    by_name = {t.name: t for t in reader.tensors}
    plan = weight_plan(hp)
    known = {g for g, _, _ in plan} | {"rope_freqs.weight"}
    extra = sorted(set(by_name) - known)
    if extra:
        raise SystemExit(f"GGUF tensors this converter does not map (biases? other architecture?): {extra[:8]}")
    index: dict[str, dict] = {}
    dtypes = {np.dtype(np.uint8): "uint8", np.dtype(np.int8): "int8", np.dtype("<f4"): "float32"}
    with open(path, "wb") as f:

        def start(nbytes: int) -> int:
            off = f.tell()
            pad = (-off) % (ALIGN_BIG if nbytes >= BIG else ALIGN_SMALL)
            if pad:
                f.write(b"\0" * pad)
            return off + pad

        def emit(name: str, arr: np.ndarray, **meta) -> None:
            off = start(arr.nbytes)
            f.write(memoryview(np.ascontiguousarray(arr)).cast("B"))
            index[name] = {"offset": off, "length": arr.nbytes, "shape": list(arr.shape),
                           "dtype": dtypes[arr.dtype], **meta}

        for gname, oname, how in plan:
            if gname not in by_name:
                raise SystemExit(f"GGUF lacks tensor {gname}")
            t = by_name[gname]
            shape = [int(x) for x in reversed(t.shape)]  # [out, in] for linear layers
            meta = {"gguf": gname, "gguf_type": t.tensor_type.name}
            raw = np.asarray(t.data)
            can_keep = keep_q4 and len(shape) == 2 and keepable(t.tensor_type.name, shape[1])
            kept_head = can_keep and oname == "lm_head.weight"
            # the table is kept when untied: a tied one is also the generate graph's lm_head
            kept_rows = can_keep and oname == "model.embed_tokens.weight" and not hp["tied"]
            if how == "as_is" and not (kept_head or kept_rows):
                # embeddings / lm_head / norms: dequantized and written in row chunks, so that
                # the largest tensor of a big model (its embedding table) never sits in memory
                nbytes = 4 * int(np.prod(shape))
                off = start(nbytes)
                step = max(1, (1 << 26) // max(1, nbytes // max(1, shape[0])))
                rows = raw.reshape(shape[0], -1) if len(shape) == 2 else raw.reshape(1, -1)
                for r0 in range(0, rows.shape[0], step):
                    w = np.asarray(dequantize(rows[r0:r0 + step], t.tensor_type), dtype="<f4")
                    if not np.all(np.isfinite(w)):
                        raise SystemExit(f"{gname}: non-finite values after dequantization")
                    f.write(memoryview(np.ascontiguousarray(w)).cast("B"))
                if f.tell() != off + nbytes:
                    raise SystemExit(f"{gname}: wrote {f.tell() - off} bytes, expected {nbytes}")
                index[oname] = {"offset": off, "length": nbytes, "shape": shape, "dtype": "float32", **meta}
            elif can_keep and not how.startswith("rows:") and (how != "as_is" or kept_head or kept_rows):
                rows = raw.reshape(shape[0], -1)
                if how in ("q", "k"):  # un-permute whole rows (output features) of the blocks
                    rows = unpermute(rows, hp["n_head"] if how == "q" else hp["n_kv"])
                kept = KEPT.get(t.tensor_type.name)
                convert = kquant_matmulnbits if kept else q4_matmulnbits
                bits, block = (kept[0], kept[1]) if kept else (4, Q4_BLOCK)
                base = oname[: -len(".T")] if oname.endswith(".T") else oname
                # in row chunks (~16M weights): B streams to the file, the small parts
                # (scales, zero points, mins: <= 1/4 of B) are gathered, then written
                n, k = shape
                step = max(1, (1 << 24) // k)
                b_len = n * k * bits // 8
                b_off, b_shape, small = start(b_len), None, {}
                for r0 in range(0, n, step):
                    part = convert(rows[r0:r0 + step], t.tensor_type.name, [min(step, n - r0), k])
                    b = part.pop("B")
                    b_shape = [n, k * bits // 8] if kept_rows else [n, *b.shape[1:]]
                    f.write(memoryview(np.ascontiguousarray(b)).cast("B"))
                    for key, arr in part.items():
                        small.setdefault(key, []).append(arr)
                if f.tell() != b_off + b_len:
                    raise SystemExit(f"{gname}: wrote {f.tell() - b_off} bytes of 4/8-bit blocks, expected {b_len}")
                names = {"B": f"{base}.B"}
                index[names["B"]] = {"offset": b_off, "length": b_len, "shape": b_shape, "dtype": "uint8", **meta}
                for key, chunks in small.items():
                    if kept_rows and key == "zp":
                        continue  # the row Gather subtracts the zero point as a constant
                    arr = np.concatenate(chunks, axis=0)
                    if key in COLUMN_PARTS and not kept_rows:  # [.., N] for (block sums of x) @ mins
                        arr = np.ascontiguousarray(np.moveaxis(arr, 0, -1))
                    emit(f"{base}.{key}", arr, **meta)
                    names[key] = f"{base}.{key}"
                q4 = {**names, "N": n, "K": k, "bits": bits, "block": block}
                if kept_rows:  # 4-bit: Q4_0's default zero point 8, else 0; 8-bit: stored as q + 128
                    q4.update(rows=True, zero_point=(8 if t.tensor_type.name == "Q4_0" else 0) if bits == 4 else 128)
                index[oname] = {"q4": q4, "shape": [k, n] if not kept_rows else [n, k], **meta}
            else:
                w = np.asarray(dequantize(raw, t.tensor_type), dtype=np.float32).reshape(shape)
                if how.startswith("rows:"):
                    r0, r1 = (int(x) for x in how.split(":")[1:])
                    if r1 > shape[0]:
                        raise SystemExit(f"{gname}: {shape[0]} rows, expected at least {r1} (fused weight)")
                    w = w[r0:r1]
                elif how == "q":
                    w = unpermute(w, hp["n_head"])
                elif how == "k":
                    w = unpermute(w, hp["n_kv"])
                w = np.ascontiguousarray(w.T, dtype="<f4")  # MatMul weight [in, out]
                if not np.all(np.isfinite(w)):
                    raise SystemExit(f"{gname}: non-finite values after dequantization")
                emit(oname, w, **meta)
            del raw
            w = None
    return index


def kept_note(index: dict) -> str:
    """lexalign.json 'weights' when k-quants / 8-bit types were kept."""
    from collections import Counter

    c = Counter(e["gguf_type"] for e in index.values() if "q4" in e and not e["q4"].get("rows"))
    kinds = ", ".join(f"{n} {t} ({KEPT[t][0] if t in KEPT else 4}-bit, block {KEPT[t][1] if t in KEPT else Q4_BLOCK})"
                      for t, n in sorted(c.items()))
    emb = index["model.embed_tokens.weight"]
    table = (f"; the token-embedding table kept as {emb['gguf_type']} blocks, gathered per token and widened"
             if "q4" in emb else "")
    return (f"linear weights as com.microsoft MatMulNBits: {kinds}; exactly the GGUF's values (Q4_1, Q4_K and "
            f"Q5_K as scale * q minus (block sums of x) @ mins; k-quant scales and mins as the GGUF's integer "
            f"multipliers times the f32 super-block scale, multiplied in the graph){table}; the rest fp32")


def word_embeddings_entry(index: dict) -> dict:
    """lexalign.json's word_embeddings: where the table lies in WEIGHTS, fp32 or kept."""
    emb = index["model.embed_tokens.weight"]
    if "q4" not in emb:
        return {"initializer": "model.embed_tokens.weight", "dtype": "float32", "shape": emb["shape"],
                "external_data": {"location": WEIGHTS, "offset": emb["offset"], "length": emb["length"]}}
    q = emb["q4"]
    parts = {p: {k: index[q[p]][k] for k in ("offset", "length", "dtype", "shape")}
             for p in KEPT_PARTS if q.get(p)}
    return {"initializer": "model.embed_tokens.weight", "dtype": "kept", "shape": emb["shape"],
            "external_data": {"location": WEIGHTS},
            "kept": {"gguf_type": emb["gguf_type"], "bits": q["bits"], "block": q["block"],
                     "zero_point": q["zero_point"], "parts": parts,
                     "dequantize": ("per block of `block` values of a row: (q - zero_point) * scale - min in f32; "
                                    "q: B, 4-bit two per byte (low nibble first) or 8-bit; scale: scales, or sc * d "
                                    "(d per 256 values); min: mins, or m * dmin, or 0")}}


def ext_tensor(name: str, e: dict) -> TensorProto:
    t = TensorProto()
    t.name = name
    t.data_type = {"uint8": TensorProto.UINT8, "int8": TensorProto.INT8}.get(e.get("dtype"), TensorProto.FLOAT)
    t.dims.extend(e["shape"])
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", WEIGHTS), ("offset", str(e["offset"])), ("length", str(e["length"]))):
        kv = t.external_data.add()
        kv.key, kv.value = k, v
    return t


def rope_inv_freq(reader, hp: dict) -> np.ndarray:
    d = hp["head_dim"]
    inv = hp["rope_base"] ** (-np.arange(0, d, 2, dtype=np.float64) / d)
    if hp["rope_freqs"]:
        from gguf.quants import dequantize

        t = next(t for t in reader.tensors if t.name == "rope_freqs.weight")
        inv = inv / np.asarray(dequantize(np.asarray(t.data), t.tensor_type), dtype=np.float64).reshape(-1)
    return (inv / hp["rope_scale"]).astype(np.float32)


# ---------------------------------------------------------------------------------------
# graph builder
# ---------------------------------------------------------------------------------------

class G:
    def __init__(self):
        self.nodes: list = []
        self.consts: list[TensorProto] = []
        self.n = 0

    def op(self, op_type: str, inputs: list[str], n_out: int = 1, **attrs):
        self.n += 1
        outs = [f"{op_type.lower()}_{self.n}" + (f"_{j}" if n_out > 1 else "") for j in range(n_out)]
        self.nodes.append(helper.make_node(op_type, inputs, outs, name=f"{op_type}_{self.n}", **attrs))
        return outs[0] if n_out == 1 else outs

    def const(self, name: str, arr: np.ndarray) -> str:
        if all(c.name != name for c in self.consts):  # (a shape shared by several layers: once)
            self.consts.append(onnx.numpy_helper.from_array(arr, name))
        return name


def build_graph(kind: str, hp: dict, index: dict, inv_freq: np.ndarray, name: str,
                inv_freq_swa: np.ndarray | None = None) -> onnx.ModelProto:
    """The graph of `kind`. Every family trait below adds nodes only where the family has
    it, so a llama graph is the same, node for node, as before the table existed."""
    assert kind in ("embed", "generate", "embed_past")
    past = kind != "embed"
    tr = traits(hp)
    swa = hp.get("swa", [False] * hp["n_layer"])
    L, H, nh, nkv, hd = hp["n_layer"], hp["dim"], hp["n_head"], hp["n_kv"], hp["head_dim"]
    grp = nh // nkv
    g = G()
    i64 = lambda *v: np.array(v, dtype=np.int64)  # noqa: E731
    c_axis0, c_axis1, c_axis2 = g.const("c_axes_0", i64(0)), g.const("c_axes_1", i64(1)), g.const("c_axes_2", i64(2))
    c_axes_b = g.const("c_axes_1_2_3", i64(1, 2, 3))
    c_eps = g.const("c_rms_eps", np.array(hp["eps"], dtype=np.float32))
    c_scale = g.const("c_attn_scale", np.array(hp.get("attn_scale", 1.0 / np.sqrt(hd)), dtype=np.float32))
    c_min = g.const("c_f32_min", np.array(F32_MIN, dtype=np.float32))
    c_inv = g.const("c_rope_inv_freq", inv_freq)
    c_zero, c_one = g.const("c_zero", np.array(0, dtype=np.int64)), g.const("c_one", np.array(1, dtype=np.int64))
    c_split = g.const("c_rope_split", i64(hd // 2, hd // 2))
    shp_q = g.const("c_shape_q", i64(0, 0, nh, hd))
    shp_kv = g.const("c_shape_kv", i64(0, 0, nkv, hd))
    shp_q5 = g.const("c_shape_q5", i64(0, 0, nkv, grp, hd))
    shp_out = g.const("c_shape_attn_out", i64(0, 0, nh * hd))

    inputs = [
        helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"]),
        helper.make_tensor_value_info("attention_mask", TensorProto.INT64,
                                      ["batch", "total_sequence" if past else "sequence"]),
        helper.make_tensor_value_info("position_ids", TensorProto.INT64, ["batch", "sequence"]),
    ]
    outputs = []

    def rmsnorm(x: str, w: str) -> str:
        ms = g.op("ReduceMean", [g.op("Mul", [x, x])], axes=[-1], keepdims=1)
        return g.op("Mul", [g.op("Div", [x, g.op("Sqrt", [g.op("Add", [ms, c_eps])])]), w])

    # masks: allowed[b, 1, 1, t, s] = mask[b, s] and s <= P + t  (P = S - T)
    T = g.op("Squeeze", [g.op("Shape", ["input_ids"], start=1, end=2)], )
    S = g.op("Squeeze", [g.op("Shape", ["attention_mask"], start=1, end=2)])
    P = g.op("Sub", [S, T])
    q_slot = g.op("Add", [g.op("Range", [c_zero, T, c_one]), P])
    k_slot = g.op("Range", [c_zero, S, c_one])
    causal = g.op("LessOrEqual", [g.op("Unsqueeze", [k_slot, c_axis0]), g.op("Unsqueeze", [q_slot, c_axis1])])
    pad = g.op("Unsqueeze", [g.op("Cast", ["attention_mask"], to=TensorProto.BOOL), c_axes_b])
    allowed = g.op("And", [causal, pad])  # [B,1,1,T,S], broadcast over the 5-D scores [B,kv,grp,T,S]
    allowed_swa = None
    if any(swa):
        # sliding window: also query position - key position < window. Key positions are
        # cumsum(attention_mask) - 1 (real tokens numbered 0.., as callers number position_ids),
        # so padding between a shared prefix and a row's own tokens does not count.
        c_window = g.const("c_sliding_window", np.array(hp["window"], dtype=np.int64))
        k_pos = g.op("Sub", [g.op("CumSum", ["attention_mask", c_axis1]), c_one])  # [B,S]
        dist = g.op("Sub", [g.op("Unsqueeze", ["position_ids", c_axis2]), g.op("Unsqueeze", [k_pos, c_axis1])])
        near = g.op("Unsqueeze", [g.op("Less", [dist, c_window]), g.const("c_axes_1_2", np.array([1, 2], np.int64))])
        allowed_swa = g.op("And", [allowed, near])  # [B,1,1,T,S]

    # RoPE tables from position_ids: [B,T,1,hd]
    freqs = g.op("Mul", [g.op("Unsqueeze", [g.op("Cast", ["position_ids"], to=TensorProto.FLOAT), c_axis2]), c_inv])
    emb = g.op("Concat", [freqs, freqs], axis=-1)
    cos = g.op("Unsqueeze", [g.op("Cos", [emb]), c_axis2])
    sin = g.op("Unsqueeze", [g.op("Sin", [emb]), c_axis2])
    tables = {False: (cos, sin), True: (cos, sin)}
    if any(swa) and inv_freq_swa is not None and not np.array_equal(inv_freq_swa, inv_freq):
        c_inv_swa = g.const("c_rope_inv_freq_swa", inv_freq_swa)
        f2 = g.op("Mul", [g.op("Unsqueeze", [g.op("Cast", ["position_ids"], to=TensorProto.FLOAT), c_axis2]), c_inv_swa])
        e2 = g.op("Concat", [f2, f2], axis=-1)
        tables[True] = (g.op("Unsqueeze", [g.op("Cos", [e2]), c_axis2]), g.op("Unsqueeze", [g.op("Sin", [e2]), c_axis2]))

    def rope(x: str, local: bool = False) -> str:  # x [B,T,heads,hd], HF rotate_half
        cos, sin = tables[local]
        x1, x2 = g.op("Split", [x, c_split], n_out=2, axis=-1)
        rot = g.op("Concat", [g.op("Neg", [x2]), x1], axis=-1)
        return g.op("Add", [g.op("Mul", [x, cos]), g.op("Mul", [rot, sin])])

    def widen(ints: str, scale: str, shape: tuple) -> str:
        """k-quant scales / mins: the GGUF's integer multipliers times their f32 super-block
        scale (exact). On constants ORT folds this once at session load."""
        y = g.op("Mul", [g.op("Cast", [ints], to=TensorProto.FLOAT), scale])
        return g.op("Reshape", [y, g.const("c_shape_" + "_".join(map(str, shape)), i64(*shape))])

    def linear(h: str, name: str) -> str:
        e = index[name]
        if "q4" not in e:
            return g.op("MatMul", [h, name])
        q = e["q4"]
        n, k, block = q["N"], q["K"], q["block"]
        scales = q.get("scales") or widen(q["sc"], q["d"], (n, k // block))
        ins = [h, q["B"], scales] + ([q["zp"]] if q.get("zp") else [])
        y = g.op("MatMulNBits", ins, domain="com.microsoft", K=k, N=n, bits=q["bits"], block_size=block,
                 accuracy_level=0)
        if q.get("mins") or q.get("m"):  # minus (x summed over each 32-value sub-block) @ mins [K/32, N]
            mins = q.get("mins") or widen(q["m"], q["dmin"], (k // 32, n))
            lead = g.op("Shape", [h], start=0, end=-1)
            blocks = g.op("Reshape", [h, g.op("Concat", [lead, g.const(f"c_blocks_{k}", i64(k // 32, 32))],
                                                  axis=0)])
            sums = g.op("ReduceSum", [blocks, g.const("c_axes_last", i64(-1))], keepdims=0)
            y = g.op("Sub", [y, g.op("MatMul", [sums, mins])])
        return y

    def gather_rows(ids: str, q: dict) -> str:
        """Rows of a kept table [V, H] for the token ids, widened as gguf's dequantiser does:
        (q - zero point) * scale - min per block, in f32 (exact: small integers times
        f32 scales). Only the gathered rows are touched; no f32 table exists."""
        hdim, block = q["K"], q["block"]
        x = g.op("Gather", [q["B"], ids], axis=0)  # [B,T,H*bits/8] uint8
        if q["bits"] == 4:  # element 2j in the low nibble of byte j
            four = g.const("c_u8_4", np.array(4, np.uint8))
            lo = g.op("BitShift", [g.op("BitShift", [x, four], direction="LEFT"), four], direction="RIGHT")
            hi = g.op("BitShift", [x, four], direction="RIGHT")
            last = g.const("c_axes_last", i64(-1))
            x = g.op("Concat", [g.op("Unsqueeze", [lo, last]), g.op("Unsqueeze", [hi, last])], axis=-1)
        blocks = g.const(f"c_shape_rows_{hdim // block}_{block}", i64(0, 0, hdim // block, block))
        x = g.op("Cast", [g.op("Reshape", [x, blocks])], to=TensorProto.FLOAT)
        if q["zero_point"]:
            x = g.op("Sub", [x, g.const(f"c_zp_{q['zero_point']}", np.array(q["zero_point"], np.float32))])
        per = g.const(f"c_shape_rows_{hdim // block}_1", i64(0, 0, hdim // block, 1))
        if q.get("scales"):
            scale = g.op("Gather", [q["scales"], ids], axis=0)
        else:
            scale = g.op("Mul", [g.op("Cast", [g.op("Gather", [q["sc"], ids], axis=0)], to=TensorProto.FLOAT),
                                 g.op("Gather", [q["d"], ids], axis=0)])
        x = g.op("Mul", [x, g.op("Reshape", [scale, per])])
        if q.get("mins") or q.get("m"):  # per 32-value sub-block = per block (4-bit)
            if q.get("mins"):
                mn = g.op("Gather", [q["mins"], ids], axis=0)
            else:
                mn = g.op("Mul", [g.op("Cast", [g.op("Gather", [q["m"], ids], axis=0)], to=TensorProto.FLOAT),
                                  g.op("Gather", [q["dmin"], ids], axis=0)])
            x = g.op("Sub", [x, g.op("Reshape", [mn, per])])
        return g.op("Reshape", [x, g.const(f"c_shape_rows_{hdim}", i64(0, 0, hdim))])

    def biased(h: str, name: str) -> str:  # linear, plus the bias where the family has one
        y = linear(h, name)
        bias = name[: -len(".weight.T")] + ".bias"
        if bias in index:
            used.append(bias)
            y = g.op("Add", [y, bias])
        return y

    if tr["act"] == "gelu_tanh":  # opset 17 has no Gelu: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        c_half = g.const("c_half", np.array(0.5, dtype=np.float32))
        c_one_f = g.const("c_one_f", np.array(1.0, dtype=np.float32))
        c_gelu_a = g.const("c_gelu_a", np.array(0.044715, dtype=np.float32))
        c_gelu_k = g.const("c_gelu_k", np.array(np.sqrt(2.0 / np.pi), dtype=np.float32))

    def act(x: str) -> str:
        if tr["act"] == "silu":
            return g.op("Mul", [x, g.op("Sigmoid", [x])])
        inner = g.op("Mul", [c_gelu_k, g.op("Add", [x, g.op("Mul", [c_gelu_a, g.op("Mul", [x, g.op("Mul", [x, x])])])])])
        return g.op("Mul", [g.op("Mul", [c_half, x]), g.op("Add", [c_one_f, g.op("Tanh", [inner])])])

    caps: dict[str, str] = {}

    def softcap(x: str, cap: float, tag: str) -> str:  # cap * tanh(x / cap)
        if tag not in caps:
            caps[tag] = g.const(f"c_softcap_{tag}", np.array(cap, dtype=np.float32))
        return g.op("Mul", [g.op("Tanh", [g.op("Div", [x, caps[tag]])]), caps[tag]])

    used = ["model.embed_tokens.weight", "model.norm.weight"]
    if "q4" in index["model.embed_tokens.weight"]:
        x = gather_rows("input_ids", index["model.embed_tokens.weight"]["q4"])
    else:
        x = g.op("Gather", ["model.embed_tokens.weight", "input_ids"], axis=0)
    if tr["embed_scale"]:
        x = g.op("Mul", [x, g.const("c_embed_scale", np.array(np.sqrt(H), dtype=np.float32))])
    states = [x]
    for i in range(L):
        w = lambda s: f"model.layers.{i}.{s}"  # noqa: E731
        used += [w(s) for s in ("input_layernorm.weight", "self_attn.q_proj.weight.T", "self_attn.k_proj.weight.T",
                                "self_attn.v_proj.weight.T", "self_attn.o_proj.weight.T",
                                "post_attention_layernorm.weight", "mlp.gate_proj.weight.T", "mlp.up_proj.weight.T",
                                "mlp.down_proj.weight.T")]
        h = rmsnorm(x, w("input_layernorm.weight"))

        def qk(x: str, shape: str) -> str:  # projection (+ bias), heads, (+ q/k norm), RoPE
            y = g.op("Reshape", [biased(h, w(f"self_attn.{x}_proj.weight.T")), shape])
            if tr["qk_norm"]:
                used.append(w(f"self_attn.{x}_norm.weight"))
                y = rmsnorm(y, w(f"self_attn.{x}_norm.weight"))
            return rope(y, swa[i])

        q, k = qk("q", shp_q), qk("k", shp_kv)
        v = g.op("Reshape", [biased(h, w("self_attn.v_proj.weight.T")), shp_kv])
        q5 = g.op("Transpose", [g.op("Reshape", [q, shp_q5])], perm=[0, 2, 3, 1, 4])  # [B,kv,grp,T,hd]
        k = g.op("Transpose", [k], perm=[0, 2, 1, 3])  # [B,kv,T,hd]
        v = g.op("Transpose", [v], perm=[0, 2, 1, 3])
        if past:
            pk, pv = f"past_key_values.{i}.key", f"past_key_values.{i}.value"
            for nm in (pk, pv):
                inputs.append(helper.make_tensor_value_info(nm, TensorProto.FLOAT, ["batch", nkv, "past_sequence", hd]))
            k = g.op("Concat", [pk, k], axis=2)
            v = g.op("Concat", [pv, v], axis=2)
            for nm, src in ((f"present.{i}.key", k), (f"present.{i}.value", v)):
                g.nodes.append(helper.make_node("Identity", [src], [nm], name=f"out_{nm}"))
                outputs.append(helper.make_tensor_value_info(nm, TensorProto.FLOAT, ["batch", nkv, "total_sequence", hd]))
        kt = g.op("Transpose", [g.op("Unsqueeze", [k, c_axis2])], perm=[0, 1, 2, 4, 3])  # [B,kv,1,hd,S]
        scores = g.op("Mul", [g.op("MatMul", [q5, kt]), c_scale])  # [B,kv,grp,T,S]
        if hp.get("attn_softcap"):
            scores = softcap(scores, hp["attn_softcap"], "attn")
        probs = g.op("Softmax", [g.op("Where", [allowed_swa if swa[i] else allowed, scores, c_min])], axis=-1)
        att = g.op("MatMul", [probs, g.op("Unsqueeze", [v, c_axis2])])  # [B,kv,grp,T,hd]
        att = g.op("Reshape", [g.op("Transpose", [att], perm=[0, 3, 1, 2, 4]), shp_out])
        o = linear(att, w("self_attn.o_proj.weight.T"))
        if tr["post_norms"]:
            used.append(w("post_attention_output_layernorm.weight"))
            o = rmsnorm(o, w("post_attention_output_layernorm.weight"))
        x = g.op("Add", [x, o])
        h = rmsnorm(x, w("post_attention_layernorm.weight"))
        gate = linear(h, w("mlp.gate_proj.weight.T"))
        a = g.op("Mul", [act(gate), linear(h, w("mlp.up_proj.weight.T"))])
        f = linear(a, w("mlp.down_proj.weight.T"))
        if tr["post_norms"]:
            used.append(w("post_feedforward_layernorm.weight"))
            f = rmsnorm(f, w("post_feedforward_layernorm.weight"))
        x = g.op("Add", [x, f])
        states.append(x)

    if kind != "generate":
        final = rmsnorm(x, "model.norm.weight")
        g.nodes.append(helper.make_node("Identity", [final], ["last_hidden_state"], name="out_last_hidden_state"))
        stack = [g.op("Unsqueeze", [s, c_axis0]) for s in states[:-1]] + [g.op("Unsqueeze", [final, c_axis0])]
        g.nodes.append(helper.make_node("Concat", stack, ["hidden_states"], name="out_hidden_states", axis=0))
        outputs = [
            helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", H]),
            helper.make_tensor_value_info("hidden_states", TensorProto.FLOAT, [L + 1, "batch", "sequence", H]),
        ] + outputs  # embed_past: then present.{i}.key / .value
    else:
        c_last = g.const("c_last", np.array(-1, dtype=np.int64))
        last = rmsnorm(g.op("Gather", [x, c_last], axis=1), "model.norm.weight")  # [B,H]
        head = "model.embed_tokens.weight" if hp["tied"] else "lm_head.weight"
        if not hp["tied"]:
            used.append(head)
        if "q4" in index[head]:  # an untied lm_head kept quantised: [vocab, H] is MatMulNBits' [N, K]
            logits = linear(last, head)
            if hp.get("final_softcap"):
                logits = softcap(logits, hp["final_softcap"], "final")
            g.nodes.append(helper.make_node("Identity", [logits], ["logits"], name="out_logits"))
        elif hp.get("final_softcap"):
            logits = g.op("Gemm", [last, head], transB=1)
            g.nodes.append(helper.make_node("Identity", [softcap(logits, hp["final_softcap"], "final")], ["logits"],
                                            name="out_logits"))
        else:
            g.nodes.append(helper.make_node("Gemm", [last, head], ["logits"], name="out_logits", transB=1))
        outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", hp["vocab"]])] + outputs

    names = []
    for n in used:
        q = index[n].get("q4")
        names += [q[p] for p in KEPT_PARTS if q.get(p)] if q else [n]
    inits = [ext_tensor(n, index[n]) for n in names] + g.consts
    graph = helper.make_graph(g.nodes, f"{name}_{kind}", inputs, outputs, initializer=inits)
    opsets = [helper.make_opsetid("", OPSET)]
    if any(n.domain == "com.microsoft" for n in g.nodes):
        opsets.append(helper.make_opsetid("com.microsoft", 1))
    model = helper.make_model(graph, opset_imports=opsets,
                              producer_name="lexalign scripts/gguf_to_onnx.py")
    model.ir_version = 8
    what = {"embed": "embeddings + hidden states", "embed_past": "embeddings + hidden states after a KV-cache prefix",
            "generate": "greedy generation with KV cache"}[kind]
    model.doc_string = (f"{name}: {hp['arch']} decoder ({what}), "
                        f"weights in {WEIGHTS} (fp32, shared with the other graph)")
    return model


# ---------------------------------------------------------------------------------------
# tokenizer.json
# ---------------------------------------------------------------------------------------

BPE_PRE = ("llama-bpe", "llama3", "qwen2", "gpt-2", "gpt2", "default") + GPT2_DIGITS
TOKENIZERS = ("byte-level BPE (tokenizer.ggml.model 'gpt2') with tokenizer.ggml.pre " + "/".join(BPE_PRE)
              + "; SentencePiece BPE with byte fallback ('llama': Llama 2, Mistral, Phi-3, Gemma)")


def tokenizer_kind(m: Meta) -> str:
    """'spm' or the byte-level BPE pre-tokenizer name; refuses what is not supported."""
    model = m.get("tokenizer.ggml.model")
    if model == "llama":
        return "spm"
    pre = m.get("tokenizer.ggml.pre", "default")
    if model != "gpt2" or pre not in BPE_PRE:
        raise SystemExit(f"tokenizer.ggml.model {model!r} (tokenizer.ggml.pre {pre!r}) is not supported; "
                         f"supported: {TOKENIZERS}")
    return pre


def tokenizer_json(m: Meta) -> dict:
    if tokenizer_kind(m) == "spm":
        return spm_tokenizer_json(m)
    pre = m.get("tokenizer.ggml.pre", "default")
    tokens = list(m.need("tokenizer.ggml.tokens"))
    types = list(m.get("tokenizer.ggml.token_type", [1] * len(tokens)))
    merges = list(m.need("tokenizer.ggml.merges"))
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    ignore_merges = False
    if pre in GPT2_DIGITS:
        pre_tok = {"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": True}, byte_level]}
    elif pre in ("gpt-2", "gpt2", "default"):
        pre_tok = byte_level
    elif pre in ("llama-bpe", "llama3", "qwen2"):
        pre_tok = {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": QWEN2_PATTERN if pre == "qwen2" else LLAMA3_PATTERN},
             "behavior": "Isolated", "invert": False},
            dict(byte_level, use_regex=False)]}
        ignore_merges = pre != "qwen2"
    else:
        raise SystemExit(f"tokenizer.ggml.pre {pre!r} is not supported; supported: {TOKENIZERS}")
    added = added_tokens(tokens, types)
    post = bos_template(m, tokens)
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": pre_tok,
        "post_processor": post,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                  "ignore_merges": ignore_merges,
                  "vocab": {t: i for i, t in enumerate(tokens)}, "merges": merges},
    }


def added_tokens(tokens: list, types: list) -> list[dict]:
    """Control (3) and user-defined (4) tokens, matched in the raw text before the model
    (as llama.cpp's special-token partition does)."""
    return [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": ty == 3}
            for i, (t, ty) in enumerate(zip(tokens, types)) if ty in (3, 4)]


def bos_template(m: Meta, tokens: list) -> dict | None:
    add_bos = bool(m.get("tokenizer.ggml.add_bos_token", False))
    bos = m.get("tokenizer.ggml.bos_token_id")
    if not (add_bos and bos is not None):
        return None
    b = tokens[int(bos)]
    return {"type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": b, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": b, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {b: {"id": b, "ids": [int(bos)], "tokens": [b]}}}


def spm_tokenizer_json(m: Meta) -> dict:
    """SentencePiece BPE (llama.cpp's SPM tokenizer: merge the adjacent pair whose joined
    text is the highest-scoring vocab entry, bytes for characters not in the vocab) as an
    HF BPE model: the merges are every split of a vocab entry into two vocab entries,
    ranked by the entry's score (as transformers' SentencePiece converter does), spaces
    become U+2581, a U+2581 is prepended to each text segment when add_space_prefix."""
    tokens = list(m.need("tokenizer.ggml.tokens"))
    types = list(m.get("tokenizer.ggml.token_type", [1] * len(tokens)))
    scores = list(m.get("tokenizer.ggml.scores", [0.0] * len(tokens)))
    unk = m.get("tokenizer.ggml.unknown_token_id")
    prefix = bool(m.get("tokenizer.ggml.add_space_prefix", True))
    vocab: dict[str, int] = {}
    for i, t in enumerate(tokens):
        vocab.setdefault(t, i)
    order = sorted(range(len(tokens)), key=lambda i: (-scores[i], i))
    merges = []
    for i in order:
        t = tokens[i]
        if types[i] == 6 or len(t) < 2 or vocab[t] != i:  # byte tokens are never merged into
            continue
        for j in range(1, len(t)):
            a, b = t[:j], t[j:]
            if a in vocab and b in vocab:
                merges.append([a, b])
    norm = [{"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]
    dec = [{"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
           {"type": "ByteFallback"}, {"type": "Fuse"}]
    if prefix:
        norm.insert(0, {"type": "Prepend", "prepend": "\u2581"})
        dec.append({"type": "Strip", "content": " ", "start": 1, "stop": 0})
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added_tokens(tokens, types),
        "normalizer": {"type": "Sequence", "normalizers": norm},
        "pre_tokenizer": None,
        "post_processor": bos_template(m, tokens),
        "decoder": {"type": "Sequence", "decoders": dec},
        "model": {"type": "BPE", "dropout": None, "unk_token": None if unk is None else tokens[int(unk)],
                  "continuing_subword_prefix": None, "end_of_word_suffix": None, "fuse_unk": True,
                  "byte_fallback": True, "ignore_merges": False, "vocab": vocab, "merges": merges},
    }


# ---------------------------------------------------------------------------------------
# driver
# ---------------------------------------------------------------------------------------

def eos_ids(m: Meta) -> list[int]:
    tokens = list(m.need("tokenizer.ggml.tokens"))
    ids = {m.get("tokenizer.ggml.eos_token_id"), m.get("tokenizer.ggml.eot_token_id"),
           m.get("tokenizer.ggml.eom_token_id")}
    for t in ("<|endoftext|>", "<|im_end|>", "<|eot_id|>", "<|end_of_text|>", "<|eom_id|>", "</s>", "<end_of_turn>",
              "<|end|>"):
        if t in tokens:
            ids.add(tokens.index(t))
    return sorted(int(i) for i in ids if i is not None)


def digest(gguf_path: str, extra: dict) -> dict:
    return {"format": STAMP_FORMAT,
            "inputs": {"gguf": sha256_file(gguf_path), "scripts/gguf_to_onnx.py": sha256_file(os.path.abspath(__file__)),
                       "scripts/lexalign_common.py": sha256_file(os.path.join(os.path.dirname(os.path.abspath(__file__)), "lexalign_common.py"))},
            "args": extra}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("gguf")
    ap.add_argument("out")
    ap.add_argument("--name", required=True)
    ap.add_argument("--source-json", help="JSON (or @file) recorded as lexalign.json 'source'")
    ap.add_argument("--description", help="lexalign.json 'description'")
    ap.add_argument("--max-length", type=int, help=f"lexalign.json max_length (default: GGUF context, capped to {MAX_LENGTH_CAP})")
    ap.add_argument("--if-changed", action="store_true", help="do nothing when OUT/.prepared.json matches the inputs")
    ap.add_argument("--ort-check", action="store_true", help="also load both graphs in onnxruntime before renaming")
    ap.add_argument("--fp32", action="store_true",
                    help="dequantise every weight to fp32 (default: keep Q4_0/Q4_1/Q4_K linear weights 4-bit and "
                         "Q5_0/Q5_K/Q6_K/Q8_0 8-bit in com.microsoft MatMulNBits holding the GGUF's values)")
    ap.add_argument("--keep-q4", action="store_true", help="deprecated: keeping quantised is the default")
    a = ap.parse_args()
    if a.fp32 and a.keep_q4:
        raise Refuse("--fp32 and --keep-q4 contradict each other (keeping quantised is the default; give --fp32 "
                     "or neither)")
    a.keep_q4 = not a.fp32
    t0 = time.time()
    out = os.path.abspath(a.out.rstrip("/"))
    check_gguf_file(a.gguf)
    parent = check_folder_name(out, Refuse)
    src = None
    if a.source_json:
        text = open(a.source_json[1:]).read() if a.source_json.startswith("@") else a.source_json
        src = json.loads(text)
    dg = digest(a.gguf, {"name": a.name, "source": src, "description": a.description, "max_length": a.max_length,
                           "keep_q4": a.keep_q4})
    if a.if_changed and folder_up_to_date(out, dg):
        log(f"{out} is up to date ({time.time() - t0:.1f}s)")
        return 0

    reader = open_gguf(a.gguf)
    m = Meta(reader)
    hp = hparams(m)
    log(f"{a.name}: {hp['n_layer']} layers, hidden {hp['dim']}, heads {hp['n_head']}/{hp['n_kv']} x {hp['head_dim']}, "
        f"ffn {hp['ffn']}, vocab {hp['vocab']}, rope base {hp['rope_base']}, eps {hp['eps']}, tied {hp['tied']}")
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=os.path.basename(out) + ".tmp-", dir=parent)
    try:
        t1 = time.time()
        index = write_weights(reader, hp, os.path.join(tmp, WEIGHTS), keep_q4=a.keep_q4)
        n_q4 = sum(1 for e in index.values() if "q4" in e)
        log(f"wrote {len(weight_plan(hp))} GGUF tensors to {WEIGHTS}"
            f"{f' ({n_q4} linear weights kept quantised, the rest dequantized to fp32)' if a.keep_q4 else ' as fp32'} ({os.path.getsize(os.path.join(tmp, WEIGHTS)) / 1e6:.1f} MB) "
            f"in {time.time() - t1:.1f}s")
        inv = rope_inv_freq(reader, hp)
        # sliding-window layers (gemma3): their own base, no scaling, no frequency factors (llama.cpp)
        inv_swa = None
        if any(hp.get("swa", [])):
            d = hp["head_dim"]
            inv_swa = (hp["swa_rope_base"] ** (-np.arange(0, d, 2, dtype=np.float64) / d)).astype(np.float32)
        for kind, fn in GRAPHS:
            model = build_graph(kind, hp, index, inv, a.name, inv_swa)
            p = os.path.join(tmp, fn)
            with open(p, "wb") as f:
                f.write(model.SerializeToString())
            onnx.checker.check_model(p, full_check=True)
        tok = tokenizer_json(m)
        with open(os.path.join(tmp, "tokenizer.json"), "w", encoding="utf-8") as f:
            json.dump(tok, f, ensure_ascii=False)
        bos = m.get("tokenizer.ggml.bos_token_id")
        eos = eos_ids(m)
        max_len = a.max_length or min(hp["context"], MAX_LENGTH_CAP)
        hf_arch, hf_type, hf_act = traits(hp)["hf"]
        cfg = {
            "architectures": [hf_arch], "model_type": hf_type, "_name_or_path": a.name,
            "hidden_size": hp["dim"], "intermediate_size": hp["ffn"], "num_hidden_layers": hp["n_layer"],
            "num_attention_heads": hp["n_head"], "num_key_value_heads": hp["n_kv"], "head_dim": hp["head_dim"],
            "rms_norm_eps": hp["eps"], "rope_theta": hp["rope_base"], "max_position_embeddings": hp["context"],
            "vocab_size": hp["vocab"], "tie_word_embeddings": hp["tied"], "hidden_act": hf_act,
            "bos_token_id": None if bos is None else int(bos), "eos_token_id": eos, "torch_dtype": "float32",
        }
        if hp["rope_scale"] != 1.0:
            cfg["rope_scaling"] = {"type": "linear", "factor": hp["rope_scale"]}
        if hp["arch"] != "llama":
            cfg["attention_scale"] = hp["attn_scale"]
            if any(hp["swa"]):
                cfg.update(sliding_window=hp["window"], rope_local_base_freq=hp["swa_rope_base"],
                           layer_types=["sliding_attention" if x else "full_attention" for x in hp["swa"]])
            for k in ("attn_softcap", "final_softcap"):
                if hp[k]:
                    cfg[{"attn_softcap": "attn_logit_softcapping", "final_softcap": "final_logit_softcapping"}[k]] = hp[k]
        lex = {
            "name": a.name,
            # "quantised": some GGUF types kept ("weights" says which); "fp32": none kept.
            "variant": "quantised" if n_q4 else "fp32",
            # what was asked for: a GGUF with nothing keepable gives "fp32" weights either way
            "gguf_import": "fp32" if a.fp32 else "keep",
            "kind": "decoder",
            "description": a.description or (f"{a.name}, GGUF with its quantised linear weights kept (MatMulNBits)" if n_q4
                                             else f"{a.name}, GGUF dequantised to fp32"),
            "source": src if src is not None else [{"file": os.path.basename(a.gguf)}],
            "gguf_sha256": dg["inputs"]["gguf"],
            "max_length": max_len,
            "context_length": hp["context"],
            "hidden_size": hp["dim"],
            "layers": hp["n_layer"],
            "pooling": "last",
            "normalize": False,
            "inputs": ["input_ids", "attention_mask", "position_ids"],
            "output": "last_hidden_state",
            "hidden_states_output": "hidden_states",
            "hidden_states_layout": ("[layers+1, batch, sequence, hidden]: 0 = token embeddings, i = output of decoder "
                                     "layer i counting from 1 (1 <= i < layers), layers = output of the last layer "
                                     "after the final RMSNorm (= last_hidden_state), as HF output_hidden_states"),
            "position_ids": ("per row, cumsum(attention_mask) - 1, and 0 at padding: real tokens are numbered 0.. "
                             "whichever side the padding is on (model.onnx takes either side)"),
            "generate": {
                "file": "generate.onnx",
                "inputs": ["input_ids", "attention_mask", "position_ids",
                           "past_key_values.{i}.key", "past_key_values.{i}.value"],
                "outputs": ["logits", "present.{i}.key", "present.{i}.value"],
                "logits": "[batch, vocab] for the last position only",
                "padding_side": "left",
                "past_key_values": ("[batch, kv_heads, past, head_dim] float32; the first call passes past = 0 "
                                    "(zero-length tensors), later calls the previous present.*; attention_mask "
                                    "covers past + new tokens"),
                "eos_token_ids": eos,
                "bos_token_id": None if bos is None else int(bos),
                "add_bos": bool(m.get("tokenizer.ggml.add_bos_token", False)),
                "pad_token_id": m.get("tokenizer.ggml.padding_token_id"),
                "kv_heads": hp["n_kv"],
                "head_dim": hp["head_dim"],
                "vocab_size": hp["vocab"],
                "chat_template": m.get("tokenizer.chat_template"),
            },
            "embed_past": {
                "file": "embed_past.onnx",
                "inputs": ["input_ids", "attention_mask", "position_ids",
                           "past_key_values.{i}.key", "past_key_values.{i}.value"],
                "outputs": ["last_hidden_state", "hidden_states", "present.{i}.key", "present.{i}.value"],
                "use": ("model.onnx's outputs for new tokens after a cached prefix (past as in generate; "
                        "zero-length past = model.onnx): lexalign computes a prefix that strings share once"),
            },
            "word_embeddings": word_embeddings_entry(index),
            "weights_file": WEIGHTS,
            "weights": kept_note(index) if n_q4 else "fp32",
            "prepared_by": "scripts/gguf_to_onnx.py",
        }
        for fn, obj in (("config.json", cfg), ("lexalign.json", lex)):
            with open(os.path.join(tmp, fn), "w", encoding="utf-8") as f:
                f.write(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")
        if a.ort_check:
            import onnxruntime as ort

            for _, fn in GRAPHS:
                ort.InferenceSession(os.path.join(tmp, fn), providers=["CPUExecutionProvider"])
            log("all graphs load in onnxruntime")
        names = [fn for _, fn in GRAPHS] + [WEIGHTS, "tokenizer.json", "config.json", "lexalign.json"]
        publish_folder(tmp, out, names, dg, t0)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    sizes = {n: os.path.getsize(os.path.join(out, n)) for n in names}
    log(f"wrote {out} in {time.time() - t0:.1f}s: " + ", ".join(f"{n} {v / 1e6:.1f} MB" for n, v in sizes.items()))
    return 0


if __name__ == "__main__":
    run_converter(main, ERROR_PREFIX, (Refuse,))
