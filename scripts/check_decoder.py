#!/usr/bin/env python3
"""Install-time check of a decoder model directory written by scripts/gguf_to_onnx.py.

  python scripts/check_decoder.py MODEL_DIR FILE.gguf [--force]

Compares, on a few strings, the exported model against scripts/numpy_llama.py (the
independent float64 forward pass and BPE tokenizer reading the GGUF itself):

  * tokenizer.json (via `tokenizers`) vs the independent BPE: identical ids on ~25 strings
    (identifiers, digits, unicode, CJK, emoji, whitespace, contractions, special tokens);
  * model.onnx (onnxruntime) vs numpy on 4 strings, one at a time and as one left-padded
    and one right-padded batch: last_hidden_state max |diff| < 1e-3 and cosine > 0.99999
    per token; every hidden_states entry: cosine > 0.99999 per token and max |diff| <
    1e-5 x that layer's max |value| (mid layers carry "massive activations" of ~2e4);
  * embed_past.onnx (when lexalign.json declares it) vs numpy: each string's first half run
    once, its second half after that prefix's KV cache (a batch of left-padded pasts):
    last_hidden_state and hidden_states of the second half within the same tolerances;
  * generate.onnx vs numpy: last-position logits max |diff| < 1e-3 (prefill with a
    zero-length past, P = 0), then greedy continuation with the KV cache (one token per
    step) equal to numpy's greedy, single and in a left-padded batch.

Exits 1 with a clear message on any mismatch. Writes MODEL_DIR/.checked.json; a second
run with the same .prepared.json does nothing (unless --force).
The ORT helpers here (padding, position ids, KV-cache loop) are reused by
scripts/make_decoder_reference.py.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from lexalign_common import logger, ort_session  # noqa: E402

log = logger("check_decoder")

CHECKED = ".checked.json"
ABS_TOL = 1e-3
COS_TOL = 0.99999
REL_TOL = 1e-5

TOKENIZER_STRINGS = [
    "HP:0001250", "GO:0006915", "HGNC:1100", "BRCA1", "0001250", "naïve café", "α-synuclein",
    "神经系统异常", "🧬 DNA 🧪", "  leading and trailing  ", " ", "", "\n", "a\n\nb  c\t\td",
    "It's we'll 'S don't", "<|im_start|>user\nHi<|im_end|>\n", "x 123 4,5.6e-7",
    "BRCA1 DNA repair associated", "Ménière disease", "5'-3' exonuclease (activity) [GO:0008409]; \"quoted\"",
    "TP53\u00a0tumor protein", "Ⅻ ½ ²", "https://hpo.jax.org/app/browse/term/HP:0001250",
    "<|endoftext|><|endoftext|>", "<|im_start", "x<file_sep>y",
]
HIDDEN_STRINGS = [
    "HP:0001250",
    "α-synuclein aggregates in Lewy bodies",
    "  naïve café 🧬 ",
    "<|im_start|>user\nWhat is BRCA1?<|im_end|>\n",
]
GREEDY_PROMPT = "The gene symbol for breast cancer 1 is"


# ---------------------------------------------------------------------------------------
# onnxruntime helpers
# ---------------------------------------------------------------------------------------

def pad_batch(seqs: list[list[int]], side: str, pad_id: int = 0):
    """ids, attention_mask, position_ids [B, T]; positions count real tokens only."""
    B, T = len(seqs), max(len(s) for s in seqs)
    ids = np.full((B, T), pad_id, np.int64)
    mask = np.zeros((B, T), np.int64)
    for b, s in enumerate(seqs):
        if side == "left":
            ids[b, T - len(s):] = s
            mask[b, T - len(s):] = 1
        else:
            ids[b, :len(s)] = s
            mask[b, :len(s)] = 1
    pos = np.maximum(np.cumsum(mask, axis=1) - 1, 0)
    return ids, mask, pos


def ort_hidden(sess, seqs: list[list[int]], side: str = "right"):
    """[(last_hidden_state [n,H], hidden_states [L+1,n,H]) per sequence], real tokens only."""
    ids, mask, pos = pad_batch(seqs, side)
    last, hs = sess.run(["last_hidden_state", "hidden_states"],
                        {"input_ids": ids, "attention_mask": mask, "position_ids": pos})
    out = []
    for b in range(len(seqs)):
        sel = mask[b].astype(bool)
        out.append((last[b, sel], hs[:, b, sel]))
    return out


def ort_greedy(sess, prompts: list[list[int]], max_new: int, eos: list[int], pad_id: int):
    """Greedy decoding with generate.onnx: left-padded prefill (past length 0), then one
    token per step with the KV cache. Returns (new ids per prompt, first-step logits)."""
    layers = sum(1 for i in sess.get_inputs() if i.name.startswith("past_key_values.") and i.name.endswith(".key"))
    shape = next(i.shape for i in sess.get_inputs() if i.name == "past_key_values.0.key")
    kvh, hd = int(shape[1]), int(shape[3])
    ids, mask, pos = pad_batch(prompts, "left", pad_id)
    B = len(prompts)
    past = {}
    for i in range(layers):
        for kv in ("key", "value"):
            past[f"past_key_values.{i}.{kv}"] = np.zeros((B, kvh, 0, hd), np.float32)
    out_names = [o.name for o in sess.get_outputs()]
    new = [[] for _ in range(B)]
    done = [False] * B
    first_logits = None
    feed_ids, feed_pos = ids, pos
    for step in range(max_new):
        res = dict(zip(out_names, sess.run(out_names, {"input_ids": feed_ids, "attention_mask": mask,
                                                        "position_ids": feed_pos, **past})))
        logits = res["logits"]
        if first_logits is None:
            first_logits = logits
        nxt = logits.argmax(axis=1)
        for b in range(B):
            if not done[b]:
                new[b].append(int(nxt[b]))
                done[b] = int(nxt[b]) in eos
        if all(done):
            break
        past = {f"past_key_values.{k[len('present.'):]}": v for k, v in res.items() if k.startswith("present.")}
        feed_ids = nxt[:, None].astype(np.int64)
        feed_pos = feed_pos[:, -1:] + 1
        mask = np.concatenate([mask, np.ones((B, 1), np.int64)], axis=1)
    return new, first_logits


def ort_past_run(sess, seqs: list[list[int]], pasts):
    """embed_past.onnx on right-padded `seqs` after per-row pasts (None: P = 0; else each
    row's {layer: (key, value)} [kv, p, hd], left-padded to the longest). Returns, per row,
    (last_hidden_state [n,H], hidden_states [L+1,n,H], {layer: (key, value)} real slots)."""
    layers = sum(1 for i in sess.get_inputs() if i.name.endswith(".key"))
    shape = next(i.shape for i in sess.get_inputs() if i.name == "past_key_values.0.key")
    kvh, hd = int(shape[1]), int(shape[3])
    ids, mask, _ = pad_batch(seqs, "right")
    B, T = ids.shape
    plen = [0] * B if pasts is None else [pasts[b][0][0].shape[1] for b in range(B)]
    P = max(plen)
    feed = {}
    for i in range(layers):
        for j, kv in enumerate(("key", "value")):
            x = np.zeros((B, kvh, P, hd), np.float32)
            for b in range(B):
                if plen[b]:
                    x[b, :, P - plen[b]:] = pasts[b][i][j]
            feed[f"past_key_values.{i}.{kv}"] = x
    full = np.concatenate([np.array([[0] * (P - p) + [1] * p for p in plen], np.int64).reshape(B, P), mask], axis=1)
    pos = (np.array(plen)[:, None] + np.maximum(np.cumsum(mask, axis=1) - 1, 0)) * mask
    names = [o.name for o in sess.get_outputs()]
    res = dict(zip(names, sess.run(names, {"input_ids": ids, "attention_mask": full, "position_ids": pos, **feed})))
    out = []
    for b, s in enumerate(seqs):
        n, keep = len(s), slice(P - plen[b], P + len(s))
        pres = {i: (res[f"present.{i}.key"][b, :, keep], res[f"present.{i}.value"][b, :, keep]) for i in range(layers)}
        out.append((res["last_hidden_state"][b, :n], res["hidden_states"][:, b, :n], pres))
    return out


def fold_worst(w: dict, last: np.ndarray, hs: np.ndarray, r: np.ndarray) -> None:
    """Folds one string's differences from the reference r [L+1, n, H] into w: final
    states (last [n, H] vs r[-1]) and every layer (hs vs r), absolute, relative to the
    layer's max |value|, and as cosines per token."""
    w["last_abs"] = max(w["last_abs"], float(np.abs(last - r[-1]).max()))
    w["last_cos"] = min(w["last_cos"], float(cos_rows(last, r[-1]).min()))
    diff = np.abs(hs - r).max(axis=(1, 2))
    w["hs_abs"] = max(w["hs_abs"], float(diff.max()))
    w["hs_rel"] = max(w["hs_rel"], float((diff / np.abs(r).max(axis=(1, 2))).max()))
    w["hs_cos"] = min(w["hs_cos"], float(cos_rows(hs, r).min()))


def within(w: dict) -> bool:
    """Whether folded differences (fold_worst) are inside the check's tolerances."""
    return w["last_abs"] < ABS_TOL and w["last_cos"] > COS_TOL and w["hs_rel"] < REL_TOL and w["hs_cos"] > COS_TOL


def cos_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = a.astype(np.float64), b.astype(np.float64)
    return (a * b).sum(-1) / np.maximum(np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1), 1e-300)


# ---------------------------------------------------------------------------------------

def sha256_bytes(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model_dir")
    ap.add_argument("gguf")
    ap.add_argument("--force", action="store_true")
    a = ap.parse_args()
    t0 = time.time()
    d = a.model_dir
    with open(os.path.join(d, ".prepared.json"), "rb") as f:
        prepared = sha256_bytes(f.read())
    try:
        with open(os.path.join(d, CHECKED)) as f:
            if not a.force and json.load(f).get("prepared_sha256") == prepared:
                log(f"{d} already checked ({time.time() - t0:.1f}s)")
                return 0
    except (OSError, ValueError):
        pass

    from tokenizers import Tokenizer

    import numpy_llama

    with open(os.path.join(d, "lexalign.json")) as f:
        lex = json.load(f)
    ref = numpy_llama.Llama.load(a.gguf)
    fails = []
    report: dict = {"prepared_sha256": prepared}

    # 1. tokenizer
    tok = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
    agree = 0
    for s in TOKENIZER_STRINGS:
        x, y = tok.encode(s).ids, ref.tokenize(s)
        if x == y:
            agree += 1
        else:
            fails.append(f"tokenizer.json vs independent BPE differ on {s!r}: {x} vs {y}")
    report["tokenizer_agree"] = f"{agree}/{len(TOKENIZER_STRINGS)}"
    log(f"tokenizer.json vs independent BPE: {agree}/{len(TOKENIZER_STRINGS)} strings identical")

    # 2. hidden states
    seqs = [ref.tokenize(s) for s in HIDDEN_STRINGS]
    refs = [ref.forward(s) for s in seqs]
    sess = ort_session(os.path.join(d, "model.onnx"))
    worst = {"last_abs": 0.0, "last_cos": 1.0, "hs_rel": 0.0, "hs_cos": 1.0, "hs_abs": 0.0}
    for layout, groups in (("single", [[i] for i in range(len(seqs))]), ("left", [list(range(len(seqs)))]),
                           ("right", [list(range(len(seqs)))])):
        for grp in groups:
            got = ort_hidden(sess, [seqs[i] for i in grp], "left" if layout == "left" else "right")
            for (last, hs), i in zip(got, grp):
                fold_worst(worst, last, hs, refs[i])
    report["hidden"] = worst
    log(f"model.onnx vs numpy ({len(seqs)} strings; single, left- and right-padded batch): last_hidden_state "
        f"max|diff| {worst['last_abs']:.2e}, max(1-cos) {1 - worst['last_cos']:.1e}; hidden_states max|diff| "
        f"{worst['hs_abs']:.2e} (max relative to the layer's max|value| {worst['hs_rel']:.2e}), max(1-cos) {1 - worst['hs_cos']:.1e}")
    if not within(worst):
        fails.append(f"model.onnx differs from the numpy reference: {worst}")
    del sess

    # 3. generation
    g = lex["generate"]
    eos = g["eos_token_ids"]
    pad = g.get("pad_token_id")
    pad = eos[0] if pad is None else pad
    gsess = ort_session(os.path.join(d, g["file"]))
    prompts = [ref.tokenize(GREEDY_PROMPT), seqs[3], seqs[0]]
    new_b, logits_b = ort_greedy(gsess, prompts, 4, eos, pad)
    lg_abs = 0.0
    for b, p in enumerate(prompts):
        rl = ref.logits(p)[-1]
        lg_abs = max(lg_abs, float(np.abs(logits_b[b] - rl).max()))
        new_s, logits_s = ort_greedy(gsess, [p], 4, eos, pad)
        lg_abs = max(lg_abs, float(np.abs(logits_s[0] - rl).max()))
        want = ref.greedy(p, 4, eos)[len(p):]
        if not (new_s[0] == want == new_b[b]):
            fails.append(f"greedy tokens differ for prompt {b}: numpy {want}, ORT single {new_s[0]}, ORT batch {new_b[b]}")
    report["logits_max_abs"] = lg_abs
    log(f"generate.onnx vs numpy: last-position logits max|diff| {lg_abs:.2e} (P=0 prefill, single and left-padded "
        f"batch); greedy 4 tokens with KV cache {'equal' if not any('greedy' in f for f in fails) else 'DIFFER'}")
    if lg_abs >= ABS_TOL:
        fails.append(f"generate.onnx logits differ from numpy by {lg_abs:.2e}")
    del gsess

    # 4. embed_past.onnx: each string cut in two; the first parts run once (right-padded,
    # P = 0), the second parts after them as one batch whose pasts are left-padded to the
    # longest, the way lexalign shares a prefix. Its states must be numpy's.
    if "embed_past" in lex:
        psess = ort_session(os.path.join(d, lex["embed_past"]["file"]))
        cut = [[s[: max(1, len(s) // 2)], s[max(1, len(s) // 2):]] for s in seqs if len(s) >= 2]
        heads = ort_past_run(psess, [h for h, _ in cut], None)
        tails = ort_past_run(psess, [t for _, t in cut], [pres for _, _, pres in heads])
        pw = {"last_abs": 0.0, "last_cos": 1.0, "hs_rel": 0.0, "hs_cos": 1.0, "hs_abs": 0.0}
        for (h, t), (last, hs, _), r in zip(cut, tails, [refs[i] for i, s in enumerate(seqs) if len(s) >= 2]):
            fold_worst(pw, last, hs, r[:, len(h):])
        report["embed_past"] = pw
        log(f"embed_past.onnx after a cached prefix vs numpy ({len(cut)} strings cut in two, one batch of "
            f"left-padded pasts): last_hidden_state max|diff| {pw['last_abs']:.2e}; hidden_states max relative "
            f"{pw['hs_rel']:.2e}, max(1-cos) {1 - pw['hs_cos']:.1e}")
        if not within(pw):
            fails.append(f"embed_past.onnx differs from the numpy reference: {pw}")

    if fails:
        for f in fails:
            log("FAIL " + f)
        log(f"CHECK FAILED for {d}: the exported model does not match the independent numpy reference; "
            "delete the directory and rerun scripts/setup.sh, or report the GGUF as unsupported")
        return 1
    report["seconds"] = round(time.time() - t0, 1)
    tmp = os.path.join(d, CHECKED + ".tmp")
    with open(tmp, "w") as f:
        json.dump(report, f, indent=2)
    os.replace(tmp, os.path.join(d, CHECKED))
    log(f"{d}: all checks passed ({time.time() - t0:.1f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
