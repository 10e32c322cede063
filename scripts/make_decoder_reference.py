#!/usr/bin/env python3
"""Write tests/fixtures/decoder_reference.json: reference values for the Rust decoder tests.

  python scripts/make_decoder_reference.py [--model data/external/models/smollm2]
        [--gguf data/external/models/source/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf]
        [--out tests/fixtures/decoder_reference.json]

Everything stored comes from scripts/numpy_llama.py (independent float64 forward pass and
byte-level BPE over the GGUF), not from the ONNX export:

  strings[]: text, ids (independent BPE, truncated to the fixture's max_length), and for
    strings with at least one token, float64 vectors rounded to 7 significant digits,
    NOT normalised:
      last     last_hidden_state (after the final RMSNorm) at the last token
      mean     mean of last_hidden_state over the tokens
      static   mean of the input-embedding rows (model.embed_tokens.weight) of the ids
      layer15  hidden_states[15] (output of decoder layer 15 of 30, counting from 1) at
               the last token
  greedy[]: prompt text, prompt ids, numpy greedy continuation (up to 8 new tokens,
    stopping after an EOS id, which is included), and the smallest top-1/top-2 logit
    margin along the way.

Checks made here before writing (exit 1 otherwise): tokenizer.json (tokenizers) gives the
same ids; onnxruntime model.onnx agrees with the stored vectors (max |diff| recorded per
kind under "onnx_vs_numpy"); generate.onnx with the KV cache (prefill with past length 0,
then one token per step) reproduces every greedy continuation, both prompt by prompt and as
one left-padded batch.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from lexalign_common import logger, sha256_file  # noqa: E402

log = logger("make_decoder_reference")

MAX_LENGTH = 64
LAYER = 15
MAX_NEW = 8
LONG = ("The highly regulated and programmed death of a cell in response to an intrinsic or extrinsic signal, "
        "involving caspase activation and DNA fragmentation (GO:0006915). ") * 4
STRINGS = [
    "HP:0001250",
    "GO:0006915",
    "HGNC:1100",
    "BRCA1",
    "0001250",
    "BRCA1 DNA repair associated",
    "tumor protein p53",
    "TP53",
    "apoptotic process",
    "Seizure",
    "Abnormality of the nervous system",
    "naïve café",
    "α-synuclein",
    "Ménière disease",
    "神经系统异常",
    "🧬 DNA sequencing 🧪",
    "  leading and trailing whitespace  ",
    " ",
    "\n",
    "5'-3' exonuclease (activity) [GO:0008409]; \"quoted\"",
    "regulation of transcription by RNA polymerase II",
    "<|im_start|>user\nWhat is BRCA1?<|im_end|>\n",
    LONG,
    "",
]
SYSTEM = "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
PROMPTS = [
    ("chat", SYSTEM + "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"),
    ("plain", "The capital of France is"),
    ("plain", "The gene symbol for breast cancer 1 is"),
    ("plain", "Seizures are a symptom of"),
]


def r7(v: np.ndarray) -> list[float]:
    return [float(f"{x:.7g}") for x in np.asarray(v, dtype=np.float64).ravel()]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=os.path.join(ROOT, "data/external/models/smollm2"))
    ap.add_argument("--gguf", default=os.path.join(ROOT, "data/external/models/source/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--out", default=os.path.join(ROOT, "tests/fixtures/decoder_reference.json"))
    a = ap.parse_args()
    t0 = time.time()

    from tokenizers import Tokenizer

    import check_decoder as cd
    import numpy_llama

    with open(os.path.join(a.model, "lexalign.json")) as f:
        lex = json.load(f)
    eos = lex["generate"]["eos_token_ids"]
    pad = lex["generate"].get("pad_token_id")
    pad = eos[0] if pad is None else pad
    ref = numpy_llama.Llama.load(a.gguf)
    tok = Tokenizer.from_file(os.path.join(a.model, "tokenizer.json"))
    fails = []

    entries, seqs = [], []
    for s in STRINGS:
        full = ref.tokenize(s)
        if tok.encode(s).ids != full:
            fails.append(f"tokenizer.json differs on {s!r}")
        ids = full[:MAX_LENGTH]
        e = {"text": s, "ids": ids, "n_tokens": len(ids)}
        if len(full) > MAX_LENGTH:
            e["n_tokens_untruncated"] = len(full)
        if ids:
            hs = ref.forward(ids)
            e["last"] = hs[-1][-1]
            e["mean"] = hs[-1].mean(axis=0)
            e["static"] = ref.emb[np.asarray(ids)].mean(axis=0)
            e["layer15"] = hs[LAYER][-1]
            seqs.append((len(entries), ids))
        else:
            e["note"] = "zero tokens: byte-level BPE gives no ids for the empty string; no vectors"
        entries.append(e)
    log(f"numpy forward for {len(seqs)} strings done ({time.time() - t0:.1f}s)")

    # onnxruntime model.onnx vs the numpy vectors (one right-padded batch)
    sess = cd.session(os.path.join(a.model, "model.onnx"))
    diffs = {"last": 0.0, "mean": 0.0, "static": 0.0, "layer15": 0.0}
    got = cd.ort_hidden(sess, [ids for _, ids in seqs], "right")
    for (i, _), (last, hs) in zip(seqs, got):
        e = entries[i]
        for k, v in (("last", last[-1]), ("mean", last.mean(axis=0)), ("static", hs[0].mean(axis=0)),
                     ("layer15", hs[LAYER][-1])):
            diffs[k] = max(diffs[k], float(np.abs(v - e[k]).max()))
    del sess
    log("onnxruntime vs numpy, max |diff|: " + ", ".join(f"{k} {v:.2e}" for k, v in diffs.items()))
    if max(diffs["last"], diffs["mean"], diffs["static"]) >= 1e-3 or diffs["layer15"] >= 5e-2:
        fails.append(f"model.onnx differs from numpy: {diffs}")

    # greedy: numpy (full recompute) vs generate.onnx with KV cache, single and batched
    greedy = []
    pids = [ref.tokenize(p) for _, p in PROMPTS]
    for (kind, p), ids in zip(PROMPTS, pids):
        seq, margin = list(ids), float("inf")
        for _ in range(MAX_NEW):
            lg = ref.logits(seq)[-1]
            top = np.sort(lg)[-2:]
            margin = min(margin, float(top[1] - top[0]))
            nxt = int(np.argmax(lg))
            seq.append(nxt)
            if nxt in eos:
                break
        new = seq[len(ids):]
        greedy.append({"kind": kind, "prompt": p, "prompt_ids": ids, "new_ids": new,
                       "text": ref.tok.detokenize(new), "min_top2_margin": round(margin, 4)})
    gs = cd.session(os.path.join(a.model, lex["generate"]["file"]))
    batch_new, _ = cd.ort_greedy(gs, pids, MAX_NEW, eos, pad)
    for g, ids, bn in zip(greedy, pids, batch_new):
        single, _ = cd.ort_greedy(gs, [ids], MAX_NEW, eos, pad)
        if not (single[0] == g["new_ids"] == bn):
            fails.append(f"greedy differs for {g['prompt'][-30:]!r}: numpy {g['new_ids']}, ORT {single[0]}, ORT batch {bn}")
    log("greedy: " + "; ".join(f"{g['text']!r}" for g in greedy))
    if fails:
        for f in fails:
            log("FAIL " + f)
        return 1

    vec_keys = ("last", "mean", "static", "layer15")
    for e in entries:
        for k in vec_keys:
            if k in e:
                e[k] = r7(e[k])
    doc = {
        "about": ("Reference values for lexalign's decoder (SmolLM2-135M-Instruct) tests, computed by "
                  "scripts/numpy_llama.py (independent float64 numpy forward pass and byte-level BPE reading the "
                  "GGUF) and written by scripts/make_decoder_reference.py. Vectors are NOT normalised; floats have "
                  "7 significant digits."),
        "model": {"name": lex["name"], "gguf_sha256": lex.get("gguf_sha256"), "layers": lex["layers"],
                  "hidden_size": lex["hidden_size"], "source": lex["source"]},
        "max_length": MAX_LENGTH,
        "max_length_note": ("ids are truncated to this many tokens (right truncation, no BOS / special tokens "
                            "added); run the model with max_length 64 to compare"),
        "vectors": {
            "last": "last_hidden_state (after the final RMSNorm) at the last token",
            "mean": "mean of last_hidden_state over all tokens (no padding)",
            "static": "mean over the tokens of the input-embedding rows model.embed_tokens.weight[id]",
            "layer15": f"hidden_states[{LAYER}] at the last token (output of decoder layer {LAYER} of {lex['layers']}, "
                       "counting from 1; hidden_states[0] = token embeddings)",
        },
        "onnx_vs_numpy": {"max_abs_diff": {k: float(f"{v:.3g}") for k, v in diffs.items()},
                          "note": "onnxruntime fp32 (model.onnx, right-padded batch) vs these float64 values, at "
                                  "generation time; intermediate layers carry activations up to ~2e4, so compare "
                                  "layer15 with a relative tolerance"},
        "strings": entries,
        "greedy": {"max_new_tokens": MAX_NEW, "eos_token_ids": eos,
                   "note": ("greedy argmax continuation, stopping after an EOS id (included); generate.onnx with the "
                            "KV cache reproduced every one, prompt by prompt and as one left-padded batch "
                            f"(pad id {pad}, position ids counting real tokens only)"),
                   "prompts": greedy},
    }
    text = json.dumps(doc, indent=1, ensure_ascii=False)
    # one line per number list
    text = re.sub(r"\[\s*([-0-9.e+,\s]+?)\s*\]", lambda mt: "[" + ",".join(x.strip() for x in mt.group(1).split(",")) + "]", text)
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    tmp = a.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text + "\n")
    os.replace(tmp, a.out)
    log(f"wrote {a.out} ({os.path.getsize(a.out) / 1e3:.0f} kB, {len(entries)} strings, {len(greedy)} prompts) "
        f"in {time.time() - t0:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
