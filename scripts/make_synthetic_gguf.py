#!/usr/bin/env python3
"""Write a llama-architecture GGUF with given shapes and seeded random weights.

  python scripts/make_synthetic_gguf.py OUT.gguf [--preset llama-3.2-1b|tiny] [--layers N]
        [--hidden N] [--ffn N] [--heads N] [--kv-heads N] [--head-dim N] [--vocab N]
        [--context N] [--rope-theta X] [--eps X] [--untied] [--weights q4_0|q8_0|f16]
        [--embd q8_0|q4_0|f16] [--tokenizer-from FILE.gguf] [--seed N]

For measuring what a model of some size costs (conversion time, file sizes, ORT memory,
throughput) without downloading it: costs depend on the shapes, not on the weight values.
The weights are meaningless, so nothing measured on this file says anything about quality.

- Linear weights: normal * 0.02 (seeded), stored as `--weights` (default Q4_0, via
  gguf.quants). The token embedding table is stored as `--embd` (default Q8_0). For
  Llama-3.2-1B that gives an 832 MB file, about the size of the usual ~0.8 GB Q4_K_M
  download (gguf.quants cannot write k-quants). Norm weights are 1.0 (F32).
- RoPE: `rope_freqs.weight` with Llama-3's frequency factors (factor 32, low 1, high 4,
  original context 8192) when `--llama3-rope` (on in the llama-3.2-1b preset).
- Tokenizer: byte-level BPE vocab, merges, token types, BOS/EOS and chat template copied
  from `--tokenizer-from` (default: the installed SmolLM2 GGUF, pre-tokenizer "smollm"),
  padded up to `--vocab` with `<|reserved_special_token_N|>` entries. The last 256 of them
  are control tokens (as Llama-3's 256 specials), the others normal vocabulary entries
  that no merge produces (so tokenizer.json does not get ~79k added tokens). Token
  counts per string are therefore SmolLM2's, not Llama-3's.

Written tensor by tensor (header first, then each tensor generated, quantised and
appended), so memory stays at about one tensor chunk.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

from collections import Counter

import numpy as np

from lexalign_common import logger

log = logger("make_synthetic_gguf")

PRESETS = {
    # meta-llama/Llama-3.2-1B config.json
    "llama-3.2-1b": dict(layers=16, hidden=2048, ffn=8192, heads=32, kv_heads=8, head_dim=64, vocab=128256,
                         context=131072, rope_theta=500000.0, eps=1e-5, tied=True, llama3_rope=True),
    # meta-llama/Llama-3.1-8B config.json (with --mix q4_k_m: the shapes and types of a Q4_K_M file)
    "llama-3.1-8b": dict(layers=32, hidden=4096, ffn=14336, heads=32, kv_heads=8, head_dim=128, vocab=128256,
                         context=131072, rope_theta=500000.0, eps=1e-5, tied=False, llama3_rope=True),
    "tiny": dict(layers=2, hidden=64, ffn=256, heads=4, kv_heads=2, head_dim=16, vocab=49152,
                 context=2048, rope_theta=10000.0, eps=1e-5, tied=True, llama3_rope=False),
}
# --family: a small checkpoint of each GGUF family lexalign converts, with the family's
# tensor names and metadata (scripts/check_families.py compares each with numpy). Shapes
# override the preset; head_dim != hidden / heads where the family allows it.
FAMILIES = {
    "llama": dict(arch="llama", pre="smollm"),
    "llama3": dict(arch="llama", pre="llama-bpe"),
    "qwen2": dict(arch="qwen2", pre="qwen2", bias=True),
    "qwen3": dict(arch="qwen3", pre="qwen2", qk_norm=True, head_dim=24),
    "gemma3": dict(arch="gemma3", spm="gemma", qk_norm=True, post_norms=True, layers=6, head_dim=32, kv_heads=1,
                   sliding_window=4, rope_theta=1e6, softcap=(50.0, 30.0)),
    "phi3": dict(arch="phi3", spm="phi3", fused=True, kv_heads=4),
}
CHUNK_ELEMS = 1 << 24  # elements generated / quantised at a time (64 MB of f32)
N_SPECIAL = 256
# k-quants: gguf.quants cannot write them, so their blocks are random bytes with the
# super-block scales set (written, not quantised: fast for an 8B file). Per type: byte
# ranges of the f16 fields (d, and dmin when the type has mins), and d per unit of --std
# with dmin = DMIN_PER_D * d, so that a weight's expected value is 0 and its standard
# deviation about --std (uniform 6-bit scales / mins, uniform q; int8 scales for Q6_K).
KQUANT = {"q4_k": ((0, 2), (2, 4), 1 / 258, 7.5), "q5_k": ((0, 2), (2, 4), 1 / 527, 15.5),
          "q6_k": ((208, 210), None, 1 / 1366, 0.0)}
# llama.cpp's fallback when a row length is not a multiple of 256 (Q5_K's is Q5_1; Q5_0 here,
# which lexalign keeps and the numpy reference decodes)
KQUANT_FALLBACK = {"q4_k": "q5_0", "q5_k": "q5_0", "q6_k": "q8_0"}


def kquant_rows(rng, rows: int, cols: int, kind: str, std: float) -> np.ndarray:
    """`rows` rows of `cols` values in GGML type `kind` (q4_k, q5_k, q6_k) as random blocks."""
    from gguf import GGMLQuantizationType as QT
    from gguf.constants import GGML_QUANT_SIZES

    size = GGML_QUANT_SIZES[QT[kind.upper()]][1]
    nb = rows * cols // 256
    b = np.frombuffer(rng.bytes(nb * size), np.uint8).reshape(nb, size).copy()
    (d0, d1), mins, per_std, dmin_per_d = KQUANT[kind]
    d = (std * per_std * rng.uniform(0.5, 1.5, nb)).astype(np.float16)
    b[:, d0:d1] = d.view(np.uint8).reshape(nb, 2)
    if mins:
        b[:, mins[0]:mins[1]] = (d.astype(np.float32) * dmin_per_d).astype(np.float16).view(np.uint8).reshape(nb, 2)
    return b.reshape(rows, cols // 256 * size)


def use_more_bits(i: int, n: int) -> bool:
    """llama.cpp's choice of the layers whose attn_v / ffn_down get Q6_K in Q4_K_M."""
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


def default_tokenizer_gguf() -> str | None:
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    assets = os.environ.get("LEXALIGN_ASSETS") or os.path.join(root, "data", "external")
    p = os.path.join(assets, "models", "source", "smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
    return p if os.path.isfile(p) else None


def llama3_rope_factors(head_dim: int, base: float, factor=32.0, low=1.0, high=4.0, orig=8192) -> np.ndarray:
    """llama.cpp convert_hf_to_gguf's rope_freqs for rope_type llama3."""
    freqs = 1.0 / base ** (np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)
    low_wl, high_wl = orig / low, orig / high
    out = []
    for f in freqs:
        wl = 2 * math.pi / f
        if wl < high_wl:
            out.append(1.0)
        elif wl > low_wl:
            out.append(factor)
        else:
            s = (orig / wl - low) / (high - low)
            out.append(1 / ((1 - s) / factor + s))
    return np.array(out, dtype=np.float32)


def spm_vocab(tokens: list[str], kind: str) -> tuple[list[str], list[int], list[float]]:
    """A SentencePiece-style vocab (pieces with U+2581 for spaces, <0xXX> byte tokens,
    scores = -rank) made from a byte-level BPE vocab: each token's bytes decoded as UTF-8
    (tokens that are not whole characters are dropped), every character of a piece also
    a piece of its own."""
    keep = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    char_byte, extra = {}, 0
    for b in range(256):
        if b in keep:
            char_byte[chr(b)] = b
        else:
            char_byte[chr(256 + extra)] = b
            extra += 1
    if kind == "gemma":
        head = [("<pad>", 3), ("<eos>", 3), ("<bos>", 3), ("<unk>", 2), ("<start_of_turn>", 3), ("<end_of_turn>", 3),
                ("\n", 4), ("\n\n", 4), ("  ", 4)]
    else:
        head = [("<unk>", 2), ("<s>", 3), ("</s>", 3)]
    out = [t for t, _ in head]
    types = [ty for _, ty in head]
    out += [f"<0x{b:02X}>" for b in range(256)]
    types += [6] * 256
    seen = set(out)
    pieces = []
    for t in tokens:
        if t.startswith("<|") or not all(c in char_byte for c in t):
            continue
        try:
            text = bytes(char_byte[c] for c in t).decode("utf-8")
        except UnicodeDecodeError:
            continue
        text = text.replace(" ", "\u2581")
        for piece in [*text, text] if len(text) > 1 else [text]:
            if piece and piece not in seen:
                seen.add(piece)
                pieces.append(piece)
    out += pieces
    types += [1] * len(pieces)
    if kind == "phi3":
        out += ["<|end|>", "<|user|>", "<|assistant|>"]
        types += [3, 3, 3]
    scores = [0.0 if ty == 6 else (-1000.0 if ty in (2, 3, 4) else -float(i)) for i, ty in enumerate(types)]
    return out, types, scores


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--preset", choices=sorted(PRESETS), default="llama-3.2-1b")
    ap.add_argument("--family", choices=sorted(FAMILIES), default="llama",
                    help="tensor layout, metadata and tokenizer of this GGUF family (see FAMILIES)")
    for k in ("layers", "hidden", "ffn", "heads", "kv_heads", "head_dim", "vocab", "context"):
        ap.add_argument("--" + k.replace("_", "-"), type=int)
    ap.add_argument("--rope-theta", type=float)
    ap.add_argument("--eps", type=float)
    ap.add_argument("--untied", action="store_true", help="write a separate output.weight (lm_head)")
    ap.add_argument("--llama3-rope", choices=["on", "off"], help="write rope_freqs.weight (preset default)")
    ap.add_argument("--weights", choices=["q4_0", "q5_0", "q8_0", "f16", "q4_k", "q5_k", "q6_k"], default="q4_0",
                    help="linear weights' type (k-quants: random blocks, see KQUANT)")
    ap.add_argument("--embd", choices=["q4_0", "q8_0", "f16", "q4_k", "q6_k"], default="q8_0",
                    help="token_embd / output type")
    ap.add_argument("--mix", choices=["q4_k_m"],
                    help="llama.cpp's Q4_K_M types instead of --weights / --embd: Q4_K everywhere, Q6_K for "
                         "output.weight and for attn_v / ffn_down of the layers use_more_bits picks")
    ap.add_argument("--tokenizer-from", help="GGUF whose tokenizer.* metadata is copied (default: installed SmolLM2)")
    ap.add_argument("--trim-vocab", type=int, default=0, metavar="N",
                    help="keep the source tokenizer's first N tokens and the merges that make them (a small, "
                         "still complete byte-level BPE: every byte token is kept); the GGUF parses ~12x faster")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--std", type=float, default=0.02)
    a = ap.parse_args()

    import gguf
    from gguf import GGMLQuantizationType as QT
    from gguf.quants import quantize
    from gguf.constants import GGML_QUANT_SIZES

    hp = dict(PRESETS[a.preset])
    fam = FAMILIES[a.family]
    if a.family != "llama":
        hp.update({k: v for k, v in fam.items() if k in hp})
        hp["llama3_rope"] = False
        hp["tied"] = not fam.get("fused")  # phi3 files carry output.weight
    for k in ("layers", "hidden", "ffn", "heads", "kv_heads", "head_dim", "vocab", "context", "rope_theta", "eps"):
        if getattr(a, k) is not None:
            hp[k] = getattr(a, k)
    if a.untied:
        hp["tied"] = False
    if a.llama3_rope:
        hp["llama3_rope"] = a.llama3_rope == "on"
    qtypes = {"q4_0": QT.Q4_0, "q5_0": QT.Q5_0, "q8_0": QT.Q8_0, "f16": QT.F16, "q4_k": QT.Q4_K, "q5_k": QT.Q5_K,
              "q6_k": QT.Q6_K}
    if a.mix:
        a.weights, a.embd = "q4_k", "q4_k"
    wtype, etype = qtypes[a.weights], qtypes[a.embd]
    otype = QT.Q6_K if a.mix else etype

    def lin(rows_cols: tuple, i: int | None = None, more: bool = False, base=None):
        """(shape, type) of a linear weight: the k-quant fallback for short rows, Q6_K where Q4_K_M has it."""
        qt = QT.Q6_K if a.mix and more and use_more_bits(i, hp["layers"]) else base or wtype
        if qt.name.lower() in KQUANT and rows_cols[-1] % 256:
            qt = qtypes[KQUANT_FALLBACK[qt.name.lower()]]
        return rows_cols, qt

    src_path = a.tokenizer_from or default_tokenizer_gguf()
    if not src_path:
        raise SystemExit("no tokenizer GGUF: pass --tokenizer-from FILE.gguf (or run `make setup` for SmolLM2's)")
    src = gguf.GGUFReader(src_path)

    def sf(key, default=None):
        f = src.fields.get(key)
        return default if f is None else f.contents()

    tokens = list(sf("tokenizer.ggml.tokens"))
    types = list(sf("tokenizer.ggml.token_type", [1] * len(tokens)))
    merges = list(sf("tokenizer.ggml.merges"))
    if a.trim_vocab:
        # BPE merge k makes a token after its two parts, so the first N tokens with the
        # merges whose result is among them are a complete tokenizer of their own.
        if a.trim_vocab < 512:
            raise SystemExit(f"--trim-vocab {a.trim_vocab}: keep at least 512 tokens (the byte alphabet and specials)")
        tokens, types = tokens[: a.trim_vocab], types[: a.trim_vocab]
        kept = set(tokens)
        merges = [m for m in merges if m.replace(" ", "", 1) in kept and all(p in kept for p in m.split(" ", 1))]
        if not a.vocab:
            hp["vocab"] = len(tokens)
    scores = None
    if fam.get("spm"):
        tokens, types, scores = spm_vocab(tokens, fam["spm"])
        merges = None
    if a.family != "llama":
        hp["vocab"] = max(hp["vocab"], len(tokens)) if a.vocab else len(tokens)
    if hp["vocab"] < len(tokens):
        raise SystemExit(f"--vocab {hp['vocab']} is smaller than the tokenizer's {len(tokens)} tokens")
    n_pad = hp["vocab"] - len(tokens)
    tokens += [f"<|reserved_special_token_{i}|>" for i in range(n_pad)]
    types += [3 if i >= n_pad - N_SPECIAL else 1 for i in range(n_pad)]
    if scores is not None:
        scores += [-1000.0] * n_pad

    H, F, L = hp["hidden"], hp["ffn"], hp["layers"]
    q_out, kv_out = hp["heads"] * hp["head_dim"], hp["kv_heads"] * hp["head_dim"]
    # (name, numpy shape [rows=out, cols=in], type); GGUF stores the reversed shape
    plan = [("token_embd.weight", *lin((hp["vocab"], H), base=etype))]
    if hp["llama3_rope"]:
        plan.append(("rope_freqs.weight", (hp["head_dim"] // 2,), QT.F32))
    hd = hp["head_dim"]
    for i in range(L):
        b = f"blk.{i}."
        plan.append((b + "attn_norm.weight", (H,), QT.F32))
        if fam.get("fused"):
            plan.append((b + "attn_qkv.weight", *lin((q_out + 2 * kv_out, H))))
        else:
            plan += [(b + "attn_q.weight", *lin((q_out, H))),
                     (b + "attn_k.weight", *lin((kv_out, H))),
                     (b + "attn_v.weight", *lin((kv_out, H), i, more=True))]
        if fam.get("bias"):
            plan += [(b + "attn_q.bias", (q_out,), QT.F32), (b + "attn_k.bias", (kv_out,), QT.F32),
                     (b + "attn_v.bias", (kv_out,), QT.F32)]
        if fam.get("qk_norm"):
            plan += [(b + "attn_q_norm.weight", (hd,), QT.F32), (b + "attn_k_norm.weight", (hd,), QT.F32)]
        plan.append((b + "attn_output.weight", *lin((H, q_out))))
        if fam.get("post_norms"):
            plan.append((b + "post_attention_norm.weight", (H,), QT.F32))
        plan.append((b + "ffn_norm.weight", (H,), QT.F32))
        if fam.get("fused"):
            plan.append((b + "ffn_up.weight", *lin((2 * F, H))))
        else:
            plan += [(b + "ffn_gate.weight", *lin((F, H))), (b + "ffn_up.weight", *lin((F, H)))]
        plan.append((b + "ffn_down.weight", *lin((H, F), i, more=True)))
        if fam.get("post_norms"):
            plan.append((b + "post_ffw_norm.weight", (H,), QT.F32))
    plan.append(("output_norm.weight", (H,), QT.F32))
    if not hp["tied"]:
        plan.append(("output.weight", *lin((hp["vocab"], H), base=otype)))

    def nbytes(shape, qt):
        block, size = GGML_QUANT_SIZES[qt]
        n = int(np.prod(shape))
        if n % block:
            raise SystemExit(f"{shape} is not a multiple of {qt.name}'s block {block}")
        return n // block * size

    n_params = sum(int(np.prod(s)) for _, s, _ in plan)
    log(f"{a.preset}: {L} layers, hidden {H}, ffn {F}, heads {hp['heads']}/{hp['kv_heads']} x {hp['head_dim']}, "
        f"vocab {hp['vocab']} ({n_pad} padding tokens), tied {hp['tied']}, {n_params:,} parameters, "
        f"types {dict(Counter(qt.name for _, s, qt in plan if len(s) == 2))}, seed {a.seed}")

    t0 = time.time()
    w = gguf.GGUFWriter(a.out, fam["arch"])
    w.add_name(f"synthetic {a.preset} (random weights, seed {a.seed})")
    w.add_description("lexalign scripts/make_synthetic_gguf.py: random weights with real shapes, for cost "
                      "measurements only. " + json.dumps({k: v for k, v in hp.items()}))
    w.add_block_count(L)
    w.add_context_length(hp["context"])
    w.add_embedding_length(H)
    w.add_feed_forward_length(F)
    w.add_head_count(hp["heads"])
    w.add_head_count_kv(hp["kv_heads"])
    w.add_key_length(hp["head_dim"])
    w.add_value_length(hp["head_dim"])
    w.add_rope_dimension_count(hp["head_dim"])
    w.add_rope_freq_base(hp["rope_theta"])
    w.add_layer_norm_rms_eps(hp["eps"])
    w.add_vocab_size(hp["vocab"])
    if fam.get("sliding_window"):
        w.add_sliding_window(fam["sliding_window"])
    if fam.get("softcap"):
        w.add_attn_logit_softcapping(fam["softcap"][0])
        w.add_final_logit_softcapping(fam["softcap"][1])
    w.add_file_type({QT.Q4_0: gguf.LlamaFileType.MOSTLY_Q4_0, QT.Q8_0: gguf.LlamaFileType.MOSTLY_Q8_0,
                     QT.Q5_0: gguf.LlamaFileType.MOSTLY_Q5_0, QT.Q4_K: gguf.LlamaFileType.MOSTLY_Q4_K_M,
                     QT.Q5_K: gguf.LlamaFileType.MOSTLY_Q5_K_M, QT.Q6_K: gguf.LlamaFileType.MOSTLY_Q6_K}.get(
                         wtype, gguf.LlamaFileType.MOSTLY_F16))
    if fam.get("spm"):  # SentencePiece: gemma (no space prefix, BOS added), phi3 (space prefix)
        w.add_tokenizer_model("llama")
        w.add_tokenizer_pre("default")
        w.add_token_list(tokens)
        w.add_token_types(types)
        w.add_token_scores(scores)
        gemma = fam["spm"] == "gemma"
        w.add_bos_token_id(tokens.index("<bos>" if gemma else "<s>"))
        w.add_eos_token_id(tokens.index("<eos>" if gemma else "</s>"))
        w.add_unk_token_id(tokens.index("<unk>"))
        w.add_add_bos_token(gemma)
        w.add_add_space_prefix(not gemma)
    else:
        w.add_tokenizer_model(sf("tokenizer.ggml.model"))
        w.add_tokenizer_pre(fam["pre"] if a.family != "llama" else sf("tokenizer.ggml.pre", "default"))
        w.add_token_list(tokens)
        w.add_token_types(types)
        w.add_token_merges(merges)
        for key, fn in (("tokenizer.ggml.bos_token_id", w.add_bos_token_id),
                        ("tokenizer.ggml.eos_token_id", w.add_eos_token_id),
                        ("tokenizer.ggml.unknown_token_id", w.add_unk_token_id),
                        ("tokenizer.ggml.padding_token_id", w.add_pad_token_id)):
            if sf(key) is not None:
                fn(int(sf(key)))
        w.add_add_bos_token(bool(sf("tokenizer.ggml.add_bos_token", False)))
        if sf("tokenizer.chat_template"):
            w.add_chat_template(sf("tokenizer.chat_template"))
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    del src
    for name, shape, qt in plan:
        w.add_tensor_info(name, shape, np.dtype(np.float32), nbytes(shape, qt), raw_dtype=qt)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()

    rng = np.random.default_rng(a.seed)
    fout = w.fout[0]
    for name, shape, qt in plan:
        if name == "rope_freqs.weight":
            data = llama3_rope_factors(hp["head_dim"], hp["rope_theta"])
        elif len(shape) == 1 and a.family != "llama":  # norms around 1, biases around 0 (seeded)
            data = rng.standard_normal(shape, dtype=np.float32) * np.float32(0.1)
            if not name.endswith(".bias"):
                data += np.float32(1.0)
        elif len(shape) == 1:
            data = np.ones(shape, dtype=np.float32)
        else:
            data = None
        w.write_padding(fout, fout.tell())
        if data is not None:
            data.tofile(fout)
            written = data.nbytes
        else:  # generate, quantise and write in row chunks
            rows, cols = shape
            step = max(1, CHUNK_ELEMS // cols)
            written = 0
            for r0 in range(0, rows, step):
                if qt.name.lower() in KQUANT:
                    q = kquant_rows(rng, min(step, rows - r0), cols, qt.name.lower(), a.std)
                    q.tofile(fout)
                    written += q.nbytes
                    continue
                x = rng.standard_normal((min(step, rows - r0), cols), dtype=np.float32)
                x *= a.std
                q = quantize(x, qt) if qt != QT.F16 else x.astype(np.float16)
                q.tofile(fout)
                written += q.nbytes
        if written != nbytes(shape, qt):
            raise SystemExit(f"{name}: wrote {written} bytes, expected {nbytes(shape, qt)}")
        w.write_padding(fout, written)
    w.close()
    log(f"wrote {a.out}: {os.path.getsize(a.out) / 1e6:.1f} MB, {len(plan)} tensors, in {time.time() - t0:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
