#!/usr/bin/env python3
"""Independent float64 numpy reference for llama-architecture GGUF models (reference only).

Reads the weights and the tokenizer straight from a GGUF file and shares no code with
scripts/gguf_to_onnx.py (the ONNX builder) or the tokenizer.json it writes. It differs
from the converter on purpose wherever two routes exist, so that agreement means something:

  * dequantization: its own numpy decoding of the GGML blocks (F32, F16, Q8_0, Q4_0,
    Q4_1), checked here against nothing but the block layout of ggml; the converter uses
    gguf.quants.dequantize.
  * RoPE: llama.cpp's own convention. GGUF stores attn_q / attn_k rows permuted for
    "normal" (adjacent-pair) rotation, and this file rotates the pairs (2i, 2i+1) of those
    rows as they are; the converter undoes the permutation and uses HF's rotate_half.
  * attention: per head, per sequence, no padding, no KV cache: greedy() recomputes the
    whole sequence at each step; the ONNX graphs use batched GQA, masks and a KV cache.
  * tokenizer: llama.cpp-style byte-level BPE written by hand here: special (control)
    tokens split out first, then every \\p{N} character isolated, then the GPT-2 split
    ('s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+)
    as a hand-written scanner over unicodedata categories, bytes -> GPT-2 byte alphabet,
    then merges by rank. No regex, no `tokenizers`.

Everything computes in float64.

  m = Llama.load("model.gguf")
  ids = m.tokenize("HP:0001250")                  # list[int], no BOS (as the GGUF says)
  hs = m.forward(ids)                              # [L+1, T, H] float64, HF convention:
                                                   # 0 = token embeddings, i = output of
                                                   # layer i (i < L), L = final RMSNorm'd
  logits = m.logits(ids)                           # [T, vocab]
  out = m.greedy(prompt_ids, max_new=8, eos=m.eos_ids)  # prompt + new ids
"""
from __future__ import annotations

import sys
import unicodedata

import numpy as np

# ---------------------------------------------------------------------------------------
# GGUF reading and dequantization (own decoders of the ggml block formats)
# ---------------------------------------------------------------------------------------

QK = 32  # elements per block for Q4_0, Q4_1, Q8_0


def _f16(b: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(b).view("<f2").astype(np.float64)


def dequant(raw: np.ndarray, ggml_type: str, n_elem: int) -> np.ndarray:
    """Flat float64 array of n_elem values from the raw tensor bytes."""
    raw = np.ascontiguousarray(raw).reshape(-1).view(np.uint8)
    if ggml_type == "F32":
        return raw.view("<f4").astype(np.float64)[:n_elem]
    if ggml_type == "F16":
        return raw.view("<f2").astype(np.float64)[:n_elem]
    if ggml_type == "Q8_0":  # block: f16 d, int8 q[32];  x = d * q
        blk = raw.reshape(-1, 2 + QK)
        d = _f16(blk[:, :2])
        q = blk[:, 2:].view(np.int8).astype(np.float64)
        return (q * d).reshape(-1)[:n_elem]
    if ggml_type in ("Q4_0", "Q4_1"):
        # Q4_0 block: f16 d, 16 bytes;   x = d * (q - 8)
        # Q4_1 block: f16 d, f16 m, 16 bytes;  x = d * q + m
        # element j < 16 is the low nibble of byte j, element j + 16 its high nibble
        head = 2 if ggml_type == "Q4_0" else 4
        blk = raw.reshape(-1, head + QK // 2)
        d = _f16(blk[:, 0:2])
        qs = blk[:, head:]
        q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float64)
        if ggml_type == "Q4_0":
            return (d * (q - 8.0)).reshape(-1)[:n_elem]
        m = _f16(blk[:, 2:4])
        return (d * q + m).reshape(-1)[:n_elem]
    raise NotImplementedError(f"numpy_llama: no decoder for ggml type {ggml_type}")


class Gguf:
    def __init__(self, path: str):
        import gguf  # file format reader only

        self.reader = gguf.GGUFReader(path)
        self.fields = self.reader.fields
        self.tensors = {t.name: t for t in self.reader.tensors}

    def get(self, key, default=None):
        f = self.fields.get(key)
        return default if f is None else f.contents()

    def tensor(self, name: str) -> np.ndarray:
        """float64 array in ggml's row-major order: shape = reversed(ne), e.g. [out, in]."""
        t = self.tensors[name]
        ne = [int(x) for x in t.shape]  # ne0 (fastest) first
        n = int(np.prod(ne))
        flat = dequant(np.asarray(t.data), t.tensor_type.name, n)
        if flat.size != n:
            raise ValueError(f"{name}: decoded {flat.size} values, expected {n}")
        return flat.reshape(list(reversed(ne)))


# ---------------------------------------------------------------------------------------
# tokenizer: llama.cpp-style byte-level BPE over the GGUF vocab and merges
# ---------------------------------------------------------------------------------------

# Unicode White_Space property
_WS = set(map(chr, list(range(0x09, 0x0E)) + [0x20, 0x85, 0xA0, 0x1680] + list(range(0x2000, 0x200B))
              + [0x2028, 0x2029, 0x202F, 0x205F, 0x3000]))


def _is_space(c: str) -> bool:
    return c in _WS


def _is_letter(c: str) -> bool:
    return unicodedata.category(c)[0] == "L"


def _is_number(c: str) -> bool:
    return unicodedata.category(c)[0] == "N"


def _byte_alphabet() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character table."""
    keep = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def gpt2_split(s: str) -> list[str]:
    """Pieces of s by the GPT-2 pattern, scanned by hand (alternatives tried in order)."""
    out, i, n = [], 0, len(s)
    while i < n:
        c = s[i]
        # 1. contractions (case-sensitive, as in the GPT-2 pattern)
        if c == "'":
            hit = next((x for x in ("'s", "'t", "'re", "'ve", "'m", "'ll", "'d") if s.startswith(x, i)), None)
            if hit:
                out.append(hit)
                i += len(hit)
                continue
        # 2.-4. optional single ' ' then a run of letters / numbers / other non-space
        j = i + 1 if (c == " " and i + 1 < n) else i
        matched = False
        for cls in (_is_letter, _is_number,
                    lambda ch: not (_is_space(ch) or _is_letter(ch) or _is_number(ch))):
            if j < n and cls(s[j]):
                k = j + 1
                while k < n and cls(s[k]):
                    k += 1
                out.append(s[i:k])
                i = k
                matched = True
                break
        if matched:
            continue
        # 5./6. whitespace: \s+(?!\S) leaves the last space before a non-space; \s+ otherwise
        if _is_space(c):
            k = i
            while k < n and _is_space(s[k]):
                k += 1
            if k < n and k - i > 1:
                k -= 1  # the last whitespace goes with the next piece (or alone)
            out.append(s[i:k])
            i = k
            continue
        raise AssertionError(f"unreachable: {c!r}")  # every character falls in a class above
    return out


class Bpe:
    def __init__(self, g: Gguf):
        model = g.get("tokenizer.ggml.model")
        if model != "gpt2":
            raise NotImplementedError(f"numpy_llama tokenizer handles byte-level BPE ('gpt2'), not {model!r}")
        self.pre = g.get("tokenizer.ggml.pre", "default")
        self.vocab = list(g.get("tokenizer.ggml.tokens"))
        self.types = list(g.get("tokenizer.ggml.token_type"))
        self.id_of = {t: i for i, t in enumerate(self.vocab)}
        self.rank = {}
        for r, m in enumerate(g.get("tokenizer.ggml.merges")):
            a, b = m.split(" ")
            self.rank[(a, b)] = r
        self.byte_char = _byte_alphabet()
        self.char_byte = {v: k for k, v in self.byte_char.items()}
        # control (3) and user-defined (4) tokens are matched literally in the text
        self.special = sorted((t for t, ty in zip(self.vocab, self.types) if ty in (3, 4)), key=len, reverse=True)
        self.add_bos = bool(g.get("tokenizer.ggml.add_bos_token", False))
        self.bos = g.get("tokenizer.ggml.bos_token_id")
        if self.pre not in ("smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "gpt-2", "gpt2", "default"):
            print(f"numpy_llama: warning: pre-tokenizer {self.pre!r} treated as GPT-2 (+ isolated digits)", file=sys.stderr)
        self.isolate_digits = self.pre not in ("gpt-2", "gpt2", "default")
        self.cache: dict[str, list[int]] = {}

    def _bpe(self, word: str) -> list[int]:
        if word in self.cache:
            return self.cache[word]
        parts = list(word)
        while len(parts) > 1:
            best, best_i = None, -1
            for i in range(len(parts) - 1):
                r = self.rank.get((parts[i], parts[i + 1]))
                if r is not None and (best is None or r < best):
                    best, best_i = r, i
            if best is None:
                break
            a, b = parts[best_i], parts[best_i + 1]
            merged, i = [], 0
            while i < len(parts):  # merge every occurrence of (a, b), left to right
                if i < len(parts) - 1 and parts[i] == a and parts[i + 1] == b:
                    merged.append(a + b)
                    i += 2
                else:
                    merged.append(parts[i])
                    i += 1
            parts = merged
        ids = [self.id_of[p] for p in parts]
        self.cache[word] = ids
        return ids

    def _plain(self, text: str) -> list[int]:
        chunks = []
        if self.isolate_digits:
            cur = ""
            for c in text:
                if _is_number(c):
                    if cur:
                        chunks.append(cur)
                    chunks.append(c)
                    cur = ""
                else:
                    cur += c
            if cur:
                chunks.append(cur)
        else:
            chunks = [text] if text else []
        ids = []
        for ch in chunks:
            for piece in gpt2_split(ch):
                mapped = "".join(self.byte_char[b] for b in piece.encode("utf-8"))
                ids.extend(self._bpe(mapped))
        return ids

    def tokenize(self, text: str) -> list[int]:
        ids = [self.bos] if self.add_bos and self.bos is not None else []
        i, start = 0, 0
        while i < len(text):
            sp = next((t for t in self.special if text.startswith(t, i)), None)
            if sp:
                ids.extend(self._plain(text[start:i]))
                ids.append(self.id_of[sp])
                i += len(sp)
                start = i
            else:
                i += 1
        ids.extend(self._plain(text[start:]))
        return ids

    def detokenize(self, ids: list[int]) -> str:
        out = bytearray()
        for i in ids:
            t = self.vocab[i]
            if self.types[i] in (3, 4):
                out += t.encode("utf-8")
            else:
                out += bytes(self.char_byte[c] for c in t)
        return out.decode("utf-8", errors="replace")


# ---------------------------------------------------------------------------------------
# the model
# ---------------------------------------------------------------------------------------

def _rmsnorm(x: np.ndarray, w: np.ndarray, eps: float) -> np.ndarray:
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


class Llama:
    def __init__(self, g: Gguf):
        self.g = g
        arch = g.get("general.architecture")
        if arch != "llama":
            raise NotImplementedError(f"numpy_llama: architecture {arch!r}")
        p = arch + "."
        self.n_layer = int(g.get(p + "block_count"))
        self.dim = int(g.get(p + "embedding_length"))
        self.n_head = int(g.get(p + "attention.head_count"))
        self.n_kv = int(g.get(p + "attention.head_count_kv", self.n_head))
        self.head_dim = self.dim // self.n_head
        self.eps = float(g.get(p + "attention.layer_norm_rms_epsilon"))
        self.base = float(g.get(p + "rope.freq_base", 10000.0))
        rope_dims = int(g.get(p + "rope.dimension_count", self.head_dim))
        if rope_dims != self.head_dim:
            raise NotImplementedError("partial rotary")
        self.emb = g.tensor("token_embd.weight")  # [vocab, dim]
        self.out_w = g.tensor("output.weight") if "output.weight" in g.tensors else self.emb
        self.norm = g.tensor("output_norm.weight")
        self.layers = []
        for i in range(self.n_layer):
            b = f"blk.{i}."
            self.layers.append({k: g.tensor(b + k + ".weight") for k in (
                "attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down")})
        half = self.head_dim // 2
        self.theta = self.base ** (-2.0 * np.arange(half, dtype=np.float64) / self.head_dim)
        if "rope_freqs.weight" in g.tensors:
            self.theta = self.theta / g.tensor("rope_freqs.weight")
        self.tok = Bpe(g)
        eos = g.get("tokenizer.ggml.eos_token_id")
        eot = g.get("tokenizer.ggml.eot_token_id")
        self.eos_ids = sorted({int(x) for x in (eos, eot) if x is not None})

    @classmethod
    def load(cls, path: str) -> "Llama":
        return cls(Gguf(path))

    def tokenize(self, text: str) -> list[int]:
        return self.tok.tokenize(text)

    def _rope_pairs(self, x: np.ndarray, pos: np.ndarray) -> np.ndarray:
        """llama.cpp 'normal' RoPE on x [T, heads, head_dim]: rotate (x[2i], x[2i+1])."""
        ang = pos[:, None].astype(np.float64) * self.theta[None, :]  # [T, half]
        c, s = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
        even, odd = x[..., 0::2], x[..., 1::2]
        out = np.empty_like(x)
        out[..., 0::2] = even * c - odd * s
        out[..., 1::2] = even * s + odd * c
        return out

    def _hidden(self, ids: list[int]) -> list[np.ndarray]:
        ids = list(ids)
        T = len(ids)
        if T == 0:
            raise ValueError("empty token sequence")
        pos = np.arange(T)
        x = self.emb[np.asarray(ids)]
        states = [x]
        group = self.n_head // self.n_kv
        scale = 1.0 / np.sqrt(self.head_dim)
        causal = np.tril(np.ones((T, T), dtype=bool))
        for i, Lw in enumerate(self.layers):
            h = _rmsnorm(x, Lw["attn_norm"], self.eps)
            q = (h @ Lw["attn_q"].T).reshape(T, self.n_head, self.head_dim)
            k = (h @ Lw["attn_k"].T).reshape(T, self.n_kv, self.head_dim)
            v = (h @ Lw["attn_v"].T).reshape(T, self.n_kv, self.head_dim)
            q, k = self._rope_pairs(q, pos), self._rope_pairs(k, pos)
            att = np.empty((T, self.n_head, self.head_dim))
            for hd in range(self.n_head):
                kv = hd // group
                sc = (q[:, hd, :] @ k[:, kv, :].T) * scale
                sc = np.where(causal, sc, -np.inf)
                sc = sc - sc.max(axis=1, keepdims=True)
                pr = np.exp(sc)
                pr /= pr.sum(axis=1, keepdims=True)
                att[:, hd, :] = pr @ v[:, kv, :]
            x = x + att.reshape(T, self.dim) @ Lw["attn_output"].T
            h = _rmsnorm(x, Lw["ffn_norm"], self.eps)
            gate = h @ Lw["ffn_gate"].T
            up = h @ Lw["ffn_up"].T
            x = x + ((gate / (1.0 + np.exp(-gate))) * up) @ Lw["ffn_down"].T
            states.append(x)
        states[-1] = _rmsnorm(x, self.norm, self.eps)  # HF: the last entry is normed
        return states

    def forward(self, ids: list[int]) -> np.ndarray:
        """[n_layer + 1, T, dim] float64 hidden states (HF output_hidden_states convention)."""
        return np.stack(self._hidden(ids))

    def logits(self, ids: list[int]) -> np.ndarray:
        return self._hidden(ids)[-1] @ self.out_w.T

    def greedy(self, prompt_ids: list[int], max_new: int, eos=None) -> list[int]:
        eos = set(self.eos_ids if eos is None else eos)
        ids = list(prompt_ids)
        for _ in range(max_new):
            last = self._hidden(ids)[-1][-1]
            nxt = int(np.argmax(last @ self.out_w.T))
            ids.append(nxt)
            if nxt in eos:
                break
        return ids


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description="tokenize / greedy-continue with the numpy reference")
    ap.add_argument("gguf")
    ap.add_argument("text")
    ap.add_argument("--new", type=int, default=8)
    a = ap.parse_args()
    m = Llama.load(a.gguf)
    ids = m.tokenize(a.text)
    print("ids:", ids)
    out = m.greedy(ids, a.new)
    print("continuation:", out[len(ids):], repr(m.tok.detokenize(out[len(ids):])))
