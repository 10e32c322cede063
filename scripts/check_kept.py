#!/usr/bin/env python3
"""A decoder imported with its GGUF quantisation kept against the same GGUF imported --fp32.

  python scripts/check_kept.py --kept DIR --fp32 DIR [--strings 500] [--min-cosine 0.9999] [--json OUT]

Both folders are scripts/gguf_to_onnx.py outputs of one GGUF (default: linear weights kept
in MatMulNBits; --fp32: every weight dequantised). The strings are the study's own: the
`left` and `right` columns of the seven paper pairings (data/processed/pairs/*.paper.csv,
written by `lexalign vocab build`), taken in turn from each file, first rows first,
distinct, the first --strings of them. Each string runs alone through both model.onnx
files (Python onnxruntime, 2 threads); compared: last-token and mean-pooled
last_hidden_state. Exit 1 when any cosine is below --min-cosine. Kept weights hold the
GGUF's values exactly, so the difference is float32 summation order inside MatMulNBits.
"""
from __future__ import annotations

import argparse
import csv
import glob
import json
import os
import sys
import time

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def log(msg: str) -> None:
    print(f"[check_kept] {msg}", file=sys.stderr, flush=True)


def study_strings(n: int) -> list[str]:
    files = sorted(glob.glob(os.path.join(ROOT, "data", "processed", "pairs", "*.paper.csv")))
    if not files:
        raise SystemExit("data/processed/pairs/*.paper.csv not found: run `lexalign vocab build` first")
    columns = []
    for p in files:
        with open(p, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        columns += [[r["left"] for r in rows], [r["right"] for r in rows]]
    out, seen = [], set()
    for i in range(max(map(len, columns))):
        for col in columns:
            if i < len(col) and col[i] and col[i] not in seen:
                seen.add(col[i])
                out.append(col[i])
                if len(out) == n:
                    return out
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kept", required=True)
    ap.add_argument("--fp32", required=True)
    ap.add_argument("--strings", type=int, default=500)
    ap.add_argument("--min-cosine", type=float, default=0.9999)
    ap.add_argument("--json")
    a = ap.parse_args()
    import onnxruntime as ort
    from tokenizers import Tokenizer

    t0 = time.time()
    lex = {k: json.load(open(os.path.join(d, "lexalign.json"))) for k, d in (("kept", a.kept), ("fp32", a.fp32))}
    if lex["kept"].get("gguf_sha256") != lex["fp32"].get("gguf_sha256"):
        raise SystemExit(f"{a.kept} and {a.fp32} come from different GGUF files (gguf_sha256 differs)")
    if lex["kept"].get("variant") == "fp32" or lex["fp32"].get("variant") != "fp32":
        raise SystemExit(f"expected --kept with quantised weights and --fp32 fp32; variants are "
                         f"{lex['kept'].get('variant')} and {lex['fp32'].get('variant')}")
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    sess = {k: ort.InferenceSession(os.path.join(d, "model.onnx"), so, providers=["CPUExecutionProvider"])
            for k, d in (("kept", a.kept), ("fp32", a.fp32))}
    tok = Tokenizer.from_file(os.path.join(a.fp32, "tokenizer.json"))
    strings = study_strings(a.strings)
    cos = {"last": [], "mean": []}
    for text in strings:
        ids = tok.encode(text).ids
        T = len(ids)
        feed = {"input_ids": np.array([ids], np.int64), "attention_mask": np.ones((1, T), np.int64),
                "position_ids": np.arange(T, dtype=np.int64)[None]}
        h = {k: s.run(["last_hidden_state"], feed)[0][0].astype(np.float64) for k, s in sess.items()}
        for pool, f in (("last", lambda x: x[-1]), ("mean", lambda x: x.mean(0))):
            u, v = f(h["kept"]), f(h["fp32"])
            cos[pool].append(float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v))))
    res = {"kept": os.path.basename(os.path.normpath(a.kept)), "fp32": os.path.basename(os.path.normpath(a.fp32)),
           "kept_weights": lex["kept"].get("weights"), "strings": len(strings), "min_cosine_required": a.min_cosine,
           "seconds": round(time.time() - t0, 1)}
    for pool, c in cos.items():
        res[f"{pool}_min_cosine"] = min(c)
        res[f"{pool}_median_cosine"] = float(np.median(c))
        res[f"{pool}_worst_string"] = strings[int(np.argmin(c))]
    res["ok"] = all(min(c) >= a.min_cosine for c in cos.values())
    print(f"kept vs fp32 over {len(strings)} strings: last min {res['last_min_cosine']:.8f} median "
          f"{res['last_median_cosine']:.10f} | mean min {res['mean_min_cosine']:.8f} median "
          f"{res['mean_median_cosine']:.10f} | {'ok' if res['ok'] else 'FAILED'} (>= {a.min_cosine})")
    if a.json:
        tmp = a.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump(res, f, indent=1, ensure_ascii=False)
        os.replace(tmp, a.json)
    return 0 if res["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
