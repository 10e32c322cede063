#!/usr/bin/env python3
"""Independent float64 numpy reference for llama-architecture GGUF models (reference only).

Reads the weights and the tokenizer straight from a GGUF file and shares no code with
scripts/gguf_to_onnx.py (the ONNX builder) or the tokenizer.json it writes. It differs
from the converter on purpose wherever two routes exist, so that agreement means something:

  * dequantization: its own numpy decoding of the GGML blocks (F32, F16, Q8_0, Q4_0,
    Q4_1, Q5_0, Q4_K, Q5_K, Q6_K), checked here against nothing but the block layout of ggml; the converter uses
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
    if ggml_type == "Q5_0":  # block: f16 d, u32 qh (5th bits), 16 bytes;  x = d * (q - 16)
        blk = raw.reshape(-1, 2 + 4 + QK // 2)
        d = _f16(blk[:, 0:2])
        qh = blk[:, 2:6].copy().view("<u4").astype(np.int64)  # [n, 1]
        qs = blk[:, 6:].astype(np.int64)
        j = np.arange(16)
        lo = (qs & 0x0F) | (((qh >> j) & 1) << 4)
        hi = (qs >> 4) | (((qh >> (j + 16)) & 1) << 4)
        return (d * (np.concatenate([lo, hi], axis=1) - 16.0)).reshape(-1)[:n_elem]
    if ggml_type == "Q4_K":  # super-block of 256: f16 d, f16 dmin, 12 bytes of 6-bit scales/mins, 128 bytes
        blk = raw.reshape(-1, 144)
        d, dmin = _f16(blk[:, 0:2]), _f16(blk[:, 2:4])
        sc = blk[:, 4:16].astype(np.int64)
        qs = blk[:, 16:].astype(np.int64)
        scale, mins = np.empty((blk.shape[0], 8)), np.empty((blk.shape[0], 8))
        for j in range(8):  # ggml's get_scale_min_k4
            if j < 4:
                scale[:, j], mins[:, j] = sc[:, j] & 63, sc[:, j + 4] & 63
            else:
                scale[:, j] = (sc[:, j + 4] & 0x0F) | ((sc[:, j - 4] >> 6) << 4)
                mins[:, j] = (sc[:, j + 4] >> 4) | ((sc[:, j] >> 6) << 4)
        out = np.empty((blk.shape[0], 256))
        for c in range(4):  # 64 values per 32 bytes: low nibbles (sub-block 2c), then high (2c + 1)
            q = qs[:, 32 * c: 32 * c + 32]
            out[:, 64 * c: 64 * c + 32] = d * scale[:, 2 * c: 2 * c + 1] * (q & 0x0F) - dmin * mins[:, 2 * c: 2 * c + 1]
            out[:, 64 * c + 32: 64 * c + 64] = (d * scale[:, 2 * c + 1: 2 * c + 2] * (q >> 4)
                                                 - dmin * mins[:, 2 * c + 1: 2 * c + 2])
        return out.reshape(-1)[:n_elem]
    if ggml_type == "Q5_K":  # super-block of 256: f16 d, f16 dmin, 12 bytes 6-bit scales/mins, 32 bytes qh, 128 bytes
        blk = raw.reshape(-1, 176)
        d, dmin = _f16(blk[:, 0:2]), _f16(blk[:, 2:4])
        sc = blk[:, 4:16].astype(np.int64)
        qh, qs = blk[:, 16:48].astype(np.int64), blk[:, 48:].astype(np.int64)
        out = np.empty((blk.shape[0], 256))
        for j in range(8):  # sub-block j: values 32j..32j+31 (ggml dequantize_row_q5_K)
            if j < 4:
                s6, m6 = sc[:, j] & 63, sc[:, j + 4] & 63
            else:
                s6 = (sc[:, j + 4] & 0x0F) | ((sc[:, j - 4] >> 6) << 4)
                m6 = (sc[:, j + 4] >> 4) | ((sc[:, j] >> 6) << 4)
            q4 = qs[:, 32 * (j // 2): 32 * (j // 2) + 32]
            q4 = (q4 & 0x0F) if j % 2 == 0 else (q4 >> 4)
            q = q4 + 16 * ((qh >> j) & 1)
            out[:, 32 * j: 32 * j + 32] = d * s6[:, None] * q - dmin * m6[:, None]
        return out.reshape(-1)[:n_elem]
    if ggml_type == "Q6_K":  # super-block of 256: 128 bytes low 4 bits, 64 bytes high 2 bits, 16 int8 scales, f16 d
        blk = raw.reshape(-1, 210)
        ql, qh = blk[:, 0:128].astype(np.int64), blk[:, 128:192].astype(np.int64)
        sc = blk[:, 192:208].view(np.int8).astype(np.float64)
        d = _f16(blk[:, 208:210])
        out = np.empty((blk.shape[0], 256))
        for h in range(2):  # two halves of 128 values
            L, H, S = ql[:, 64 * h: 64 * h + 64], qh[:, 32 * h: 32 * h + 32], sc[:, 8 * h: 8 * h + 8]
            for part, (lo, shift_l, shift_h) in enumerate(((L[:, :32], 0, 0), (L[:, 32:], 0, 2),
                                                             (L[:, :32], 4, 4), (L[:, 32:], 4, 6))):
                q = (((lo >> shift_l) & 0x0F) | (((H >> shift_h) & 3) << 4)) - 32
                for half in range(2):  # 16 values per scale
                    cols = slice(16 * half, 16 * half + 16)
                    base = 128 * h + 32 * part + 16 * half
                    out[:, base: base + 16] = d * S[:, 2 * part + half: 2 * part + half + 1] * q[:, cols]
        return out.reshape(-1)[:n_elem]
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


def llama3_split(s: str, digits: int) -> list[str]:
    """Pieces of s by the Llama-3 pattern (digits = 3) or Qwen2's (digits = 1), scanned by
    hand, alternatives tried in order with the regex's backtracking worked out:
      (?i:'s|'t|'re|'ve|'m|'ll|'d) | [^\\r\\n\\p{L}\\p{N}]?\\p{L}+ | \\p{N}{1,digits}
      | ' '?[^\\s\\p{L}\\p{N}]+[\\r\\n]* | \\s*[\\r\\n]+ | \\s+(?!\\S) | \\s+"""
    out, i, n = [], 0, len(s)
    nl = "\r\n"
    other = lambda ch: not (_is_space(ch) or _is_letter(ch) or _is_number(ch))  # noqa: E731
    while i < n:
        c = s[i]
        if c == "'":
            low = s[i:i + 3].lower()
            hit = next((x for x in ("'re", "'ve", "'ll", "'s", "'t", "'m", "'d") if low.startswith(x)), None)
            if hit:
                out.append(s[i:i + len(hit)])
                i += len(hit)
                continue
        # optional one char that is not \r, \n, a letter or a digit, then letters
        j = i + 1 if (c not in nl and not _is_letter(c) and not _is_number(c) and i + 1 < n and _is_letter(s[i + 1])) else i
        if j < n and _is_letter(s[j]):
            k = j
            while k < n and _is_letter(s[k]):
                k += 1
            out.append(s[i:k])
            i = k
            continue
        if _is_number(c):
            k = i
            while k < n and k - i < digits and _is_number(s[k]):
                k += 1
            out.append(s[i:k])
            i = k
            continue
        j = i + 1 if (c == " " and i + 1 < n and other(s[i + 1])) else i
        if j < n and other(s[j]):
            k = j
            while k < n and other(s[k]):
                k += 1
            while k < n and s[k] in nl:
                k += 1
            out.append(s[i:k])
            i = k
            continue
        if _is_space(c):
            k = i
            while k < n and _is_space(s[k]):
                k += 1
            last_nl = max((m for m in range(i, k) if s[m] in nl), default=-1)
            if last_nl >= 0:  # \s*[\r\n]+: up to the last newline of the run
                out.append(s[i:last_nl + 1])
                i = last_nl + 1
                continue
            if k < n and k - i > 1:  # \s+(?!\S) leaves the last space for the next piece
                k -= 1
            out.append(s[i:k])
            i = k
            continue
        raise AssertionError(f"unreachable: {c!r}")
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
        self.split = {"llama-bpe": 3, "llama3": 3, "qwen2": 1}.get(self.pre)
        if self.split is None and self.pre not in ("smollm", "starcoder", "refact", "command-r", "codeshell", "exaone",
                                                   "gpt-2", "gpt2", "default"):
            print(f"numpy_llama: warning: pre-tokenizer {self.pre!r} treated as GPT-2 (+ isolated digits)", file=sys.stderr)
        self.isolate_digits = self.split is None and self.pre not in ("gpt-2", "gpt2", "default")
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
            for piece in (llama3_split(ch, self.split) if self.split else gpt2_split(ch)):
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


class Spm:
    """llama.cpp's SentencePiece tokenizer (llm_tokenizer_spm) over the GGUF vocab and
    scores: control / user-defined tokens split out of the raw text first; each other
    fragment gets a leading space if add_space_prefix (default on), spaces become U+2581,
    then repeatedly the adjacent pair whose joined text is a vocab entry with the highest
    score (leftmost on ties) is merged; symbols left that are not vocab entries become
    their UTF-8 bytes' <0xXX> tokens."""

    def __init__(self, g: Gguf):
        self.vocab = list(g.get("tokenizer.ggml.tokens"))
        self.types = list(g.get("tokenizer.ggml.token_type"))
        self.scores = [float(x) for x in g.get("tokenizer.ggml.scores")]
        self.id_of = {}
        for i, t in enumerate(self.vocab):
            self.id_of.setdefault(t, i)
        self.special = sorted((t for t, ty in zip(self.vocab, self.types) if ty in (3, 4)), key=len, reverse=True)
        self.add_bos = bool(g.get("tokenizer.ggml.add_bos_token", False))
        self.bos = g.get("tokenizer.ggml.bos_token_id")
        self.prefix = bool(g.get("tokenizer.ggml.add_space_prefix", True))
        self.byte_id = {int(t[3:5], 16): i for i, (t, ty) in enumerate(zip(self.vocab, self.types)) if ty == 6}

    def _fragment(self, text: str) -> list[int]:
        sym = list(text.replace(" ", "\u2581"))
        while len(sym) > 1:
            best, at = None, -1
            for i in range(len(sym) - 1):
                t = self.id_of.get(sym[i] + sym[i + 1])
                if t is not None and (best is None or self.scores[t] > best):
                    best, at = self.scores[t], i
            if best is None:
                break
            sym[at:at + 2] = [sym[at] + sym[at + 1]]
        ids = []
        for p in sym:
            if p in self.id_of:
                ids.append(self.id_of[p])
            else:
                ids.extend(self.byte_id[b] for b in p.encode("utf-8"))
        return ids

    def tokenize(self, text: str) -> list[int]:
        ids = [int(self.bos)] if self.add_bos and self.bos is not None else []
        prev_special = True
        i, start = 0, 0

        def flush(end: int) -> None:
            nonlocal prev_special
            if end > start:
                ids.extend(self._fragment((" " if self.prefix and prev_special else "") + text[start:end]))
                prev_special = False

        while i < len(text):
            sp = next((t for t in self.special if text.startswith(t, i)), None)
            if sp:
                flush(i)
                ids.append(self.id_of[sp])
                prev_special = True
                i += len(sp)
                start = i
            else:
                i += 1
        flush(len(text))
        return ids

    def detokenize(self, ids: list[int]) -> str:
        out = bytearray()
        for i in ids:
            t, ty = self.vocab[i], self.types[i]
            out += bytes([int(t[3:5], 16)]) if ty == 6 else t.replace("\u2581", " ").encode("utf-8")
        return out.decode("utf-8", errors="replace")


class HfTokenizer:
    """A checkpoint folder's own tokenizer.json (the file lexalign copies unchanged),
    special tokens as its post-processor adds them."""

    def __init__(self, path: str):
        from tokenizers import Tokenizer

        self.t = Tokenizer.from_file(path)
        self.t.no_truncation()
        self.t.no_padding()

    def tokenize(self, text: str) -> list[int]:
        return self.t.encode(text).ids

    def detokenize(self, ids: list[int]) -> str:
        return self.t.decode(ids, skip_special_tokens=False)


# ---------------------------------------------------------------------------------------
# the model
# ---------------------------------------------------------------------------------------

def _rmsnorm(x: np.ndarray, w: np.ndarray, eps: float) -> np.ndarray:
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


# What each family computes, as llama.cpp's graphs do (written here from llama.cpp's
# llama-model.cpp, independently of scripts/gguf_to_onnx.py's table):
#   pair_rope   llama: RoPE rotates adjacent pairs of the stored rows; the others ("neox")
#               rotate element i with element i + head_dim/2
#   fused_qkv   phi3: one attn_qkv weight, rows q | k | v
#   fused_ffn   phi3: ffn_up holds the gate rows then the up rows
#   qk_norm     qwen3, gemma3: RMSNorm of each q / k head before RoPE
#   post_norms  gemma3: RMSNorm of the attention / FFN output before the residual add
#   gelu        gemma3: gelu (tanh approximation) gate; else SiLU
#   emb_scale   gemma3: embeddings times sqrt(hidden)
#   swa_every   gemma3: layers i with i % 6 < 5 attend to the last `sliding_window` positions
#               only, with RoPE base 10000 (llama.cpp's constant); the others globally
# Biases (qwen2) and soft-capping are used wherever the file has them.
FAMILIES = {
    "llama": dict(pair_rope=True),
    "qwen2": dict(),
    "qwen3": dict(qk_norm=True),
    "gemma3": dict(qk_norm=True, post_norms=True, gelu=True, emb_scale=True, swa_every=6, swa_base=10000.0),
    "phi3": dict(fused_qkv=True, fused_ffn=True),
}


def _gelu_tanh(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x ** 3)))


class Llama:
    """Every supported family (the name is historical)."""

    def __init__(self, g: Gguf):
        self.g = g
        arch = g.get("general.architecture")
        if arch not in FAMILIES:
            raise NotImplementedError(f"numpy_llama: architecture {arch!r}")
        self.arch, fam = arch, FAMILIES[arch]
        self.fam = fam
        p = arch + "."
        self.n_layer = int(g.get(p + "block_count"))
        self.dim = int(g.get(p + "embedding_length"))
        self.n_head = int(g.get(p + "attention.head_count"))
        self.n_kv = int(g.get(p + "attention.head_count_kv", self.n_head))
        self.head_dim = int(g.get(p + "attention.key_length", self.dim // self.n_head))
        self.eps = float(g.get(p + "attention.layer_norm_rms_epsilon"))
        self.base = float(g.get(p + "rope.freq_base", 10000.0))
        rope_dims = int(g.get(p + "rope.dimension_count", self.head_dim))
        if rope_dims != self.head_dim:
            raise NotImplementedError("partial rotary")
        scale = float(g.get(p + "rope.scaling.factor", 1.0)) if g.get(p + "rope.scaling.type") == "linear" else 1.0
        self.attn_cap = float(g.get(p + "attn_logit_softcapping", 0.0) or 0.0)
        self.final_cap = float(g.get(p + "final_logit_softcapping", 0.0) or 0.0)
        self.scale = 1.0 / np.sqrt(self.dim // self.n_head if arch == "gemma3" and self.n_layer == 62 else self.head_dim)
        window = int(g.get(p + "attention.sliding_window", 0) or 0)
        every = fam.get("swa_every")
        self.window = [window if every and window and i % every < every - 1 else 0 for i in range(self.n_layer)]
        self.emb = g.tensor("token_embd.weight")  # [vocab, dim]
        self.out_w = g.tensor("output.weight") if "output.weight" in g.tensors else self.emb
        self.norm = g.tensor("output_norm.weight")
        q_out, kv_out = self.n_head * self.head_dim, self.n_kv * self.head_dim
        self.layers = []
        for i in range(self.n_layer):
            b = f"blk.{i}."
            names = [n[len(b):-len(".weight")] for n in g.tensors if n.startswith(b) and n.endswith(".weight")]
            Lw = {k: g.tensor(b + k + ".weight") for k in names}
            for k in ("q", "k", "v"):
                if f"{b}attn_{k}.bias" in g.tensors:
                    Lw[f"bias_{k}"] = g.tensor(f"{b}attn_{k}.bias")
            if fam.get("fused_qkv"):
                qkv = Lw.pop("attn_qkv")
                Lw["attn_q"], Lw["attn_k"], Lw["attn_v"] = qkv[:q_out], qkv[q_out:q_out + kv_out], qkv[q_out + kv_out:]
            if fam.get("fused_ffn"):
                up = Lw.pop("ffn_up")
                Lw["ffn_gate"], Lw["ffn_up"] = up[: up.shape[0] // 2], up[up.shape[0] // 2:]
            self.layers.append(Lw)
        half = self.head_dim // 2
        expo = -2.0 * np.arange(half, dtype=np.float64) / self.head_dim
        self.theta = self.base ** expo / scale
        if "rope_freqs.weight" in g.tensors:
            self.theta = self.theta / g.tensor("rope_freqs.weight")
        self.theta_swa = fam.get("swa_base", self.base) ** expo
        self.tok = Spm(g) if g.get("tokenizer.ggml.model") == "llama" else Bpe(g)
        eos = g.get("tokenizer.ggml.eos_token_id")
        eot = g.get("tokenizer.ggml.eot_token_id")
        self.eos_ids = sorted({int(x) for x in (eos, eot) if x is not None})

    @classmethod
    def load(cls, path: str) -> "Llama":
        return cls(Gguf(path))

    @classmethod
    def load_hf(cls, folder: str) -> "Llama":
        """A Hugging Face LlamaForCausalLM / Qwen2ForCausalLM folder (config.json,
        float32 model.safetensors, tokenizer.json). HF stores q/k rows as they are
        rotated (rotate_half = the 'neox' layout), so no pair RoPE; qwen2 has q/k/v
        biases; rope_scaling none / linear / llama3, computed here per frequency."""
        import json
        import math
        import os

        from safetensors.numpy import load_file

        cfg = json.load(open(os.path.join(folder, "config.json")))
        arch = {"LlamaForCausalLM": "llama", "Qwen2ForCausalLM": "qwen2"}[cfg["architectures"][0]]
        w = {k: v.astype(np.float64) for k, v in load_file(os.path.join(folder, "model.safetensors")).items()}
        m = cls.__new__(cls)
        m.g, m.arch, m.fam = None, arch, {}
        m.n_layer, m.dim = int(cfg["num_hidden_layers"]), int(cfg["hidden_size"])
        m.n_head = int(cfg["num_attention_heads"])
        m.n_kv = int(cfg.get("num_key_value_heads") or m.n_head)
        m.head_dim = int(cfg.get("head_dim") or m.dim // m.n_head)
        m.eps, m.base = float(cfg["rms_norm_eps"]), float(cfg.get("rope_theta", 10000.0))
        m.attn_cap = m.final_cap = 0.0
        m.scale = 1.0 / np.sqrt(m.head_dim)
        m.window = [0] * m.n_layer
        m.emb = w["model.embed_tokens.weight"]
        m.out_w = m.emb if cfg.get("tie_word_embeddings") else w["lm_head.weight"]
        m.norm = w["model.norm.weight"]
        names = {"input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
                 "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
                 "post_attention_layernorm": "ffn_norm", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
                 "mlp.down_proj": "ffn_down"}
        m.layers = []
        for i in range(m.n_layer):
            p = f"model.layers.{i}."
            Lw = {ours: w[p + hf + ".weight"] for hf, ours in names.items()}
            for k in "qkv":
                if p + f"self_attn.{k}_proj.bias" in w:
                    Lw[f"bias_{k}"] = w[p + f"self_attn.{k}_proj.bias"]
            m.layers.append(Lw)
        theta = []
        rs = cfg.get("rope_scaling") or {}
        kind = rs.get("rope_type", rs.get("type"))
        for j in range(m.head_dim // 2):
            f = m.base ** (-2.0 * j / m.head_dim)
            if kind == "linear":
                f /= rs["factor"]
            elif kind == "llama3":  # Llama 3.1: long wavelengths / factor, short kept, a smooth ramp between
                old, wl = rs["original_max_position_embeddings"], 2 * math.pi / f
                lo_wl, hi_wl = old / rs["low_freq_factor"], old / rs["high_freq_factor"]
                if wl > lo_wl:
                    f /= rs["factor"]
                elif wl >= hi_wl:
                    t = (old / wl - rs["low_freq_factor"]) / (rs["high_freq_factor"] - rs["low_freq_factor"])
                    f = (1 - t) * f / rs["factor"] + t * f
            theta.append(f)
        m.theta = np.array(theta)
        m.theta_swa = m.theta
        m.tok = HfTokenizer(os.path.join(folder, "tokenizer.json"))
        eos = cfg.get("eos_token_id")
        m.eos_ids = sorted(set(eos if isinstance(eos, list) else [eos]) - {None})
        return m

    def tokenize(self, text: str) -> list[int]:
        return self.tok.tokenize(text)

    def _rope(self, x: np.ndarray, pos: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """RoPE on x [T, heads, head_dim] in llama.cpp's two layouts: 'normal' rotates
        (x[2i], x[2i+1]) (llama), 'neox' rotates (x[i], x[i + head_dim/2])."""
        ang = pos[:, None].astype(np.float64) * theta[None, :]  # [T, half]
        c, s = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
        out = np.empty_like(x)
        if self.fam.get("pair_rope"):
            a, b = x[..., 0::2], x[..., 1::2]
            out[..., 0::2] = a * c - b * s
            out[..., 1::2] = a * s + b * c
        else:
            h = self.head_dim // 2
            a, b = x[..., :h], x[..., h:]
            out[..., :h] = a * c - b * s
            out[..., h:] = a * s + b * c
        return out

    def _hidden(self, ids: list[int]) -> list[np.ndarray]:
        ids = list(ids)
        T = len(ids)
        if T == 0:
            raise ValueError("empty token sequence")
        pos = np.arange(T)
        x = self.emb[np.asarray(ids)]
        if self.fam.get("emb_scale"):
            x = x * np.sqrt(self.dim)
        states = [x]
        group = self.n_head // self.n_kv
        fam = self.fam
        for i, Lw in enumerate(self.layers):
            allowed = np.tril(np.ones((T, T), dtype=bool))
            if self.window[i]:
                allowed &= (pos[:, None] - pos[None, :]) < self.window[i]
            theta = self.theta_swa if self.window[i] else self.theta
            h = _rmsnorm(x, Lw["attn_norm"], self.eps)
            proj = {}
            for k, heads in (("q", self.n_head), ("k", self.n_kv), ("v", self.n_kv)):
                y = h @ Lw[f"attn_{k}"].T
                if f"bias_{k}" in Lw:
                    y = y + Lw[f"bias_{k}"]
                y = y.reshape(T, heads, self.head_dim)
                if k != "v" and fam.get("qk_norm"):
                    y = _rmsnorm(y, Lw[f"attn_{k}_norm"], self.eps)
                proj[k] = self._rope(y, pos, theta) if k != "v" else y
            q, k, v = proj["q"], proj["k"], proj["v"]
            att = np.empty((T, self.n_head, self.head_dim))
            for hd in range(self.n_head):
                kv = hd // group
                sc = (q[:, hd, :] @ k[:, kv, :].T) * self.scale
                if self.attn_cap:
                    sc = self.attn_cap * np.tanh(sc / self.attn_cap)
                sc = np.where(allowed, sc, -np.inf)
                sc = sc - sc.max(axis=1, keepdims=True)
                pr = np.exp(sc)
                pr /= pr.sum(axis=1, keepdims=True)
                att[:, hd, :] = pr @ v[:, kv, :]
            o = att.reshape(T, self.n_head * self.head_dim) @ Lw["attn_output"].T
            if fam.get("post_norms"):
                o = _rmsnorm(o, Lw["post_attention_norm"], self.eps)
            x = x + o
            h = _rmsnorm(x, Lw["ffn_norm"], self.eps)
            gate = h @ Lw["ffn_gate"].T
            up = h @ Lw["ffn_up"].T
            act = _gelu_tanh(gate) if fam.get("gelu") else gate / (1.0 + np.exp(-gate))
            f = (act * up) @ Lw["ffn_down"].T
            if fam.get("post_norms"):
                f = _rmsnorm(f, Lw["post_ffw_norm"], self.eps)
            x = x + f
            states.append(x)
        states[-1] = _rmsnorm(x, self.norm, self.eps)  # HF: the last entry is normed
        return states

    def forward(self, ids: list[int]) -> np.ndarray:
        """[n_layer + 1, T, dim] float64 hidden states (HF output_hidden_states convention)."""
        return np.stack(self._hidden(ids))

    def _head(self, h: np.ndarray) -> np.ndarray:
        z = h @ self.out_w.T
        return self.final_cap * np.tanh(z / self.final_cap) if self.final_cap else z

    def logits(self, ids: list[int]) -> np.ndarray:
        return self._head(self._hidden(ids)[-1])

    def greedy(self, prompt_ids: list[int], max_new: int, eos=None) -> list[int]:
        eos = set(self.eos_ids if eos is None else eos)
        ids = list(prompt_ids)
        for _ in range(max_new):
            last = self._hidden(ids)[-1][-1]
            nxt = int(np.argmax(self._head(last)))
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
