#!/usr/bin/env python3
"""`make check-llama-cpp`: lexalign's decoders against llama.cpp, the reference implementation of GGUF.

  check_llama_cpp.py [--models smollm2,gemma3-270m] [--strings 200] [--ask 6] [--json OUT.json]

For each installed decoder imported from a GGUF (its lexalign.json's gguf_sha256 names the file
under data/external/models/source/), on the same strings:

  * embeddings: `lexalign embed --model M --pooling last|mean --no-cache` (the fp32 ONNX
    conversion, run by ONNX Runtime) against llama.cpp's embedding mode on the GGUF itself
    (pooling_type LAST / MEAN over the final-norm hidden states, BOS included where the file
    adds one, as lexalign pools). llama.cpp runs the quantised weights with quantised
    activations (Q8 dot products), so the vectors are close, not equal. Pass: median cosine
    >= 0.999 and minimum >= 0.99, per model and pooling.
  * token ids: lexalign's tokenizer.json (Python `tokenizers`, special tokens added as lexalign
    adds them) against llama.cpp's tokenizer, per string (reported; a difference is named).
  * greedy answers: `lexalign ask --limit K` (plain 3-shot prompts, gene-name-symbol,
    term-to-id) against llama.cpp greedy decoding of the same token ids (BOS where the model
    has one, then each block tokenised on its own as ask does), cut at the first line break
    (reported; llama.cpp's argmax may differ from fp32's where the top two logits are close).
  * diagnostic: the embeddings again against llama.cpp on an F32 copy of the GGUF
    (scripts/gguf_dequantise.py; no activation quantisation), reported, not a criterion: the
    part of the gap above that is llama.cpp's Q8 activations.

The strings: a seeded (numpy RandomState(0)) sample of distinct left and right strings, an equal
share from each of the seven paper pairings in data/processed/pairs (`lexalign vocab build` makes them): names,
labels, synonyms, symbols and identifiers. Needs `make llama-cpp`, `make build` and, for
gemma3-270m, `make models`. Exits 1 when a criterion fails, 2 when something is missing.
"""
from __future__ import annotations

import argparse
import csv
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import llama_cpp_peer as peer  # noqa: E402

LEXALIGN = os.path.join(ROOT, "target", "debug", "lexalign")
MEDIAN_MIN, LOWEST_MIN = 0.999, 0.99


def fail(msg: str, code: int = 2):
    print(f"check-llama-cpp: {msg}", file=sys.stderr)
    sys.exit(code)


def sample_strings(n: int) -> list[str]:
    """About n / 7 distinct strings from each paper pairing, left and right sides alike."""
    files = sorted(glob.glob(os.path.join(ROOT, "data", "processed", "pairs", "*.paper.csv")))
    if not files:
        fail("no data/processed/pairs/*.paper.csv: run `lexalign vocab build` first")
    rng = np.random.RandomState(0)
    seen, out = set(), []
    for k, path in enumerate(files):
        with open(path, newline="", encoding="utf-8") as f:
            pool = sorted({s.strip() for row in csv.DictReader(f) for s in (row["left"], row["right"])
                           if s.strip() and "\n" not in s} - seen)
        quota = (n - len(out)) // (len(files) - k)
        for i in sorted(rng.choice(len(pool), size=min(quota, len(pool)), replace=False)):
            seen.add(pool[i])
            out.append(pool[i])
    return out


def lexalign(*args: str) -> None:
    r = subprocess.run([LEXALIGN, "-q", *args], cwd=ROOT, capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"lexalign {' '.join(args)} failed: {r.stderr.strip()}", 1)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = a.astype(np.float64), b.astype(np.float64)
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def check_embeddings(name: str, model_dir: str, gguf: str, texts: list[str], tmp: str, threads: int):
    from tokenizers import Tokenizer

    inp = os.path.join(tmp, f"{name}.txt")
    with open(inp, "w", encoding="utf-8") as f:
        f.write("\n".join(texts) + "\n")
    out = {}
    hf = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    for pooling in ("last", "mean"):
        ours_path = os.path.join(tmp, f"{name}.{pooling}.npy")
        t0 = time.perf_counter()
        lexalign("embed", "--model", name, "--input", inp, "--output", ours_path,
                 "--pooling", pooling, "--no-cache", "--threads", str(threads))
        t_ours = time.perf_counter() - t0
        ours = np.load(ours_path)
        llm = peer.load(gguf, threads, pooling)
        t0 = time.perf_counter()
        theirs, count = peer.embed(llm, texts)
        t_theirs = time.perf_counter() - t0
        if pooling == "last":
            ids_ll = [peer.tokens(llm, t) for t in texts]
            ids_hf = [hf.encode(t, add_special_tokens=True).ids for t in texts]
            differ = [t for t, a, b in zip(texts, ids_ll, ids_hf) if list(a) != list(b)]
            out["token_ids_equal"] = len(texts) - len(differ)
            out["token_ids_differ"] = differ[:10]
            out["tokens"] = int(count)
        del llm
        c = cosines(ours, theirs)
        worst = int(np.argmin(c))
        out[pooling] = {
            "median_cosine": float(np.median(c)),
            "min_cosine": float(c.min()),
            "mean_cosine": float(c.mean()),
            "worst_string": texts[worst],
            "pass": bool(np.median(c) >= MEDIAN_MIN and c.min() >= LOWEST_MIN),
            "lexalign_seconds": round(t_ours, 2),
            "llama_cpp_seconds": round(t_theirs, 2),
        }
        print(f"  {name} {pooling}: median cosine {np.median(c):.6f}, min {c.min():.6f} "
              f"({texts[worst]!r}), mean {c.mean():.6f}", file=sys.stderr)
    return out


def check_ask(name: str, gguf: str, k: int, tmp: str, threads: int):
    """lexalign ask's greedy answers against llama.cpp's on the same token ids."""
    answers = os.path.join(tmp, f"{name}.ask.csv")
    lexalign("ask", "--model", name, "--pairing", "gene-name-symbol", "--direction", "term-to-id",
             "--limit", str(k), "--threads", str(threads), "--output", answers)
    with open(answers + ".meta.json", encoding="utf-8") as f:
        meta = json.load(f)
    with open(answers, newline="", encoding="utf-8") as f:
        items = list(csv.DictReader(f))
    q, a = meta["labels"]
    max_new = int(meta["options"]["max_new_tokens"])
    shots = [f"{q}: {s['input']}\n{a}: {s['answer']}\n\n" for s in meta["shots"]]
    if "".join(shots) != meta["prefix_text"]:
        fail(f"{name}: ask's prefix text is not the plain shots this check rebuilds", 1)
    llm = peer.load(gguf, threads, None, batch_tokens=2048)
    bos = llm.tokenize(b"", add_bos=True, special=False)  # [<bos>] where the file adds one
    prefix = list(bos) + [t for s in shots for t in llm.tokenize(s.encode(), add_bos=False, special=False)]
    if len(prefix) != meta["prefix_tokens"]:
        print(f"  {name}: prefix {len(prefix)} llama.cpp tokens vs {meta['prefix_tokens']} lexalign",
              file=sys.stderr)
    eos = set(meta["model"].get("eos_token_ids", [])) | {llm.token_eos()}
    rows = []
    for item in items:
        ids = prefix + llm.tokenize(f"{q}: {item['input']}\n{a}:".encode(), add_bos=False, special=False)
        out = []
        for tok in llm.generate(ids, top_k=1, temp=0.0, reset=True):
            out.append(tok)
            piece = llm.detokenize([tok]).decode("utf-8", "replace")
            if tok in eos or "\n" in piece or "\r" in piece or len(out) >= max_new:
                break
        text = llm.detokenize([t for t in out if t not in eos]).decode("utf-8", "replace")
        answer = text.replace("\r", "\n").split("\n")[0].strip()
        rows.append({"input": item["input"], "lexalign": item["answer"], "llama_cpp": answer,
                     "lexalign_new_tokens": int(item["new_tokens"]), "llama_cpp_new_tokens": len(out),
                     "equal": answer == item["answer"]})
    del llm
    same = sum(r["equal"] for r in rows)
    print(f"  {name} ask: {same}/{len(rows)} greedy answers equal", file=sys.stderr)
    for r in rows:
        if not r["equal"]:
            print(f"    {r['input']!r}: lexalign {r['lexalign']!r}, llama.cpp {r['llama_cpp']!r}",
                  file=sys.stderr)
    return {"items": len(rows), "equal": same, "prefix_tokens": meta["prefix_tokens"], "rows": rows}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="smollm2,gemma3-270m")
    ap.add_argument("--strings", type=int, default=200)
    ap.add_argument("--ask", type=int, default=6, help="items for the greedy comparison (0: none)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", help="write the measurements here")
    args = ap.parse_args()
    try:
        llama_version = peer.version()
    except peer.Unavailable as e:
        fail(str(e))
    if not os.path.exists(LEXALIGN):
        fail(f"{LEXALIGN} is missing: run `make build`")
    texts = sample_strings(args.strings)
    report = {"llama_cpp": llama_version, "strings": len(texts),
              "criteria": {"median_cosine": MEDIAN_MIN, "min_cosine": LOWEST_MIN},
              "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "load_average": list(os.getloadavg()), "models": {}}
    ok = True
    with tempfile.TemporaryDirectory(prefix="check-llama-cpp.") as tmp:
        for name in [m for m in args.models.split(",") if m]:
            model_dir = os.path.join(peer.DEFAULT_ASSETS, "models", name)
            if not os.path.isdir(model_dir):
                fail(f"{model_dir} is missing (gemma3-270m: run `make models`)")
            try:
                gguf = peer.find_gguf(model_dir)
            except peer.Unavailable as e:
                fail(f"{name}: {e}")
            print(f"{name}: {os.path.relpath(gguf, ROOT)} ({len(texts)} strings)", file=sys.stderr)
            entry = check_embeddings(name, model_dir, gguf, texts, tmp, args.threads)
            entry["gguf"] = os.path.basename(gguf)
            # Diagnostic, not a criterion: llama.cpp on an F32 copy of the same GGUF (no Q8
            # activations) says how much of the gap above is llama.cpp's activation quantisation.
            f32 = os.path.join(tmp, f"{name}.f32.gguf")
            subprocess.run([sys.executable, os.path.join(HERE, "gguf_dequantise.py"), gguf, f32], check=True)
            print(f"{name}: llama.cpp on the F32 copy (diagnostic)", file=sys.stderr)
            entry["f32_copy"] = {k: v for k, v in check_embeddings(name, model_dir, f32, texts, tmp, args.threads).items()
                                 if k in ("last", "mean")}
            os.remove(f32)
            if args.ask:
                entry["ask"] = check_ask(name, gguf, args.ask, tmp, args.threads)
            ok &= entry["last"]["pass"] and entry["mean"]["pass"]
            report["models"][name] = entry
    print("\n| model | pooling | median cosine | min cosine | token ids equal | greedy answers equal |")
    print("|---|---|---:|---:|---:|---:|")
    for name, e in report["models"].items():
        for pooling in ("last", "mean"):
            p = e[pooling]
            ask = f"{e['ask']['equal']}/{e['ask']['items']}" if "ask" in e else ""
            print(f"| {name} | {pooling} | {p['median_cosine']:.5f} | {p['min_cosine']:.5f} | "
                  f"{e['token_ids_equal']}/{len(texts)} | {ask} |")
        for pooling in ("last", "mean"):
            p = e["f32_copy"][pooling]
            print(f"| {name}, llama.cpp on its F32 copy (diagnostic) | {pooling} | {p['median_cosine']:.5f} | "
                  f"{p['min_cosine']:.5f} | | |")
    if args.json:
        tmp_json = args.json + ".tmp"
        with open(tmp_json, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2, ensure_ascii=False)
        os.replace(tmp_json, args.json)
    if not ok:
        print(f"check-llama-cpp: FAILED (criteria: median cosine >= {MEDIAN_MIN}, min >= {LOWEST_MIN})",
              file=sys.stderr)
        return 1
    print(f"check-llama-cpp: ok ({llama_version})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
