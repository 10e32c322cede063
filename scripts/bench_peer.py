#!/usr/bin/env python3
"""Python peer for lexalign's embedding benchmark (onnxruntime + tokenizers, no torch).

  bench_peer.py --model DIR --input strings.txt --threads N [--batch-size 64] [--repeat 3]
                [--output emb.npy] [--normalize] [--pooling mean|cls|last]
                [--graph-opt disable|basic|extended|all] [--model-file F] [--save-optimized F]
  bench_peer.py --make-input strings.txt [--count 5000]   # short biomedical strings

Does what sentence-transformers' encode() does, with the same rules as the Rust engine:
tokenizer.json with padding disabled and truncation at max_length (tokenizer.json's, else
config max_position_embeddings; lexalign.json's max_length first), special tokens added
as the tokenizer does ([CLS]/[SEP] for encoders, none for decoders); position_ids (when
the graph takes them) number each row's real tokens 0.. (cumsum(mask) - 1, 0 at padding); strings sorted by descending
character length (stable), batches of --batch-size padded to the longest in the batch,
mean pooling over non-padding tokens (or --pooling cls | last), results restored to input order.
onnxruntime: intra_op_num_threads=N, inter_op_num_threads=1, ORT_ENABLE_ALL (--graph-opt), CPU;
the tokenizer's rayon pool is also limited to N threads (RAYON_NUM_THREADS).

Timed: tokenize + inference + pooling of all strings (session load excluded, and
reported apart as load_seconds), best of --repeat runs. Prints one JSON line:
  {"strings", "seconds", "strings_per_s", "tokens" (real tokens incl. specials),
   "tokens_per_s", "padding_efficiency" (real / computed token slots), "threads", ...}
Input: one string per line (UTF-8, '\\n'-separated, a trailing '\\r' is dropped, a final
newline does not make an extra empty string).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time


def read_lines(path: str) -> list[str]:
    with open(path, encoding="utf-8") as f:
        text = f.read()
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [ln[:-1] if ln.endswith("\r") else ln for ln in lines]


def make_input(path: str, count: int, assets: str) -> None:
    """Deterministic list of short biomedical strings: HPO names, HGNC symbols/names, ids."""
    hp, hg = [], []
    with open(os.path.join(assets, "raw", "hp.obo"), encoding="utf-8") as f:
        cur = None
        for line in f:
            if line.startswith("id: HP:"):
                cur = line[4:].strip()
            elif line.startswith("name: ") and cur:
                hp.append((cur, line[6:].strip()))
                cur = None
    with open(os.path.join(assets, "raw", "hgnc_entries.tsv"), encoding="utf-8") as f:
        next(f)
        for line in f:
            c = line.rstrip("\n").split("\t")
            if len(c) > 3 and c[3] == "Approved":
                hg.append((c[0], c[1], c[2]))
    out = []
    i = 0
    while len(out) < count:
        h = hp[(i * 7) % len(hp)]
        g = hg[(i * 13) % len(hg)]
        out.extend([h[1], g[1], g[2], h[0] if i % 2 else g[0]])
        i += 1
    out = out[:count]
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
    print(f"wrote {len(out)} strings to {path}", file=sys.stderr)


def main() -> int:
    ap = argparse.ArgumentParser(description="Python/onnxruntime peer for the lexalign benchmark")
    ap.add_argument("--model", help="model dir with model.onnx, tokenizer.json, config.json")
    ap.add_argument("--input", help="strings, one per line")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--output", help="save embeddings [n, hidden] float32 .npy in input order")
    ap.add_argument("--normalize", action="store_true", help="L2-normalise the pooled embeddings")
    ap.add_argument("--pooling", choices=["mean", "cls", "last"], default="mean",
                    help="mean over real tokens, the first position (cls), or the last real token (decoders)")
    # Session-settings study (docs/PERFORMANCE.md, "ONNX Runtime session settings").
    ap.add_argument("--graph-opt", choices=["disable", "basic", "extended", "all"], default="all")
    ap.add_argument("--model-file", help="graph to load instead of DIR/model.onnx (e.g. a saved optimised one)")
    ap.add_argument("--save-optimized", metavar="PATH", help="also write ONNX Runtime's optimised graph here")
    ap.add_argument("--make-input", metavar="PATH", help="write a list of short biomedical strings and exit")
    ap.add_argument("--count", type=int, default=5000)
    ap.add_argument("--assets", default=os.environ.get(
        "LEXALIGN_ASSETS", os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "external")))
    args = ap.parse_args()
    if args.make_input:
        make_input(args.make_input, args.count, args.assets)
        return 0
    if not args.model or not args.input:
        ap.error("--model and --input are required")

    os.environ["RAYON_NUM_THREADS"] = str(args.threads)  # before tokenizers starts its pool
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import numpy as np
    import onnxruntime as ort
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(os.path.join(args.model, "tokenizer.json"))
    with open(os.path.join(args.model, "config.json")) as f:
        cfg = json.load(f)
    local = {}
    if os.path.exists(os.path.join(args.model, "lexalign.json")):
        with open(os.path.join(args.model, "lexalign.json")) as f:
            local = json.load(f)
    tr = tok.truncation
    # lexalign's order: lexalign.json, tokenizer.json, config.json max_position_embeddings
    if local.get("max_length"):
        max_len = int(local["max_length"])
    elif tr and tr.get("max_length"):
        max_len = int(tr["max_length"])
    else:
        max_len = int(cfg["max_position_embeddings"])
    tok.no_padding()
    tok.enable_truncation(max_length=max_len)

    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = {
        "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }[args.graph_opt]
    if args.save_optimized:
        so.optimized_model_filepath = args.save_optimized
    so.log_severity_level = 3
    t_load = time.perf_counter()
    sess = ort.InferenceSession(args.model_file or os.path.join(args.model, "model.onnx"), so,
                                providers=["CPUExecutionProvider"])
    load_seconds = time.perf_counter() - t_load
    in_names = {i.name for i in sess.get_inputs()}
    hidden = int(cfg["hidden_size"])

    texts = read_lines(args.input)
    n = len(texts)

    def encode_all():
        order = sorted(range(n), key=lambda i: -len(texts[i]))  # stable, like ST's length sort
        out = np.zeros((n, hidden), np.float32)
        real = computed = 0
        for s in range(0, n, args.batch_size):
            idx = order[s: s + args.batch_size]
            encs = tok.encode_batch([texts[i] for i in idx])
            B, L = len(encs), max(len(e.ids) for e in encs)
            ids = np.zeros((B, L), np.int64)
            mask = np.zeros((B, L), np.int64)
            tt = np.zeros((B, L), np.int64)
            for j, e in enumerate(encs):
                k = len(e.ids)
                ids[j, :k] = e.ids
                mask[j, :k] = 1
                tt[j, :k] = e.type_ids
                real += k
            computed += B * L
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": tt,
                     # real tokens numbered 0.. per row, 0 at padding (decoders need this)
                     "position_ids": np.where(mask == 1, np.cumsum(mask, axis=1) - 1, 0)}
            (h,) = sess.run(["last_hidden_state"], {k: v for k, v in feeds.items() if k in in_names})
            if args.pooling == "last":
                pooled = h[np.arange(B), mask.sum(1) - 1]  # right padding: last real token
            elif args.pooling == "cls":
                pooled = h[:, 0].copy()  # the first position
            else:
                m = mask[..., None].astype(np.float32)
                pooled = (h * m).sum(1) / np.clip(m.sum(1), 1e-9, None)
            if args.normalize:
                pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
            out[idx] = pooled
        return out, real, computed

    times = []
    emb = None
    for _ in range(max(1, args.repeat)):
        t0 = time.perf_counter()
        emb, real, computed = encode_all()
        times.append(time.perf_counter() - t0)
    best = min(times)
    if args.output:
        np.save(args.output, emb)
    print(json.dumps({
        "strings": n,
        "seconds": round(best, 6),
        "strings_per_s": round(n / best, 2) if best > 0 else None,
        "tokens": real,
        "tokens_per_s": round(real / best, 1) if best > 0 else None,
        "padding_efficiency": round(real / computed, 4) if computed else None,
        "threads": args.threads,
        "batch_size": args.batch_size,
        "repeat": len(times),
        "runs_seconds": [round(t, 6) for t in times],
        "max_length": max_len,
        "load_seconds": round(load_seconds, 4),
        "graph_opt": args.graph_opt,
        "peer": f"python onnxruntime {ort.__version__}",
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
