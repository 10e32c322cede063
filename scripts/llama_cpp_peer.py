#!/usr/bin/env python3
"""llama.cpp (llama-cpp-python, `make llama-cpp`) on the GGUF a lexalign decoder was imported from.

  llama_cpp_peer.py --model DIR --input strings.txt --threads N [--pooling last|mean]
                    [--repeat 3] [--output emb.npy] [--gguf FILE]

The bench's second peer for decoders: the same strings and threads as lexalign, embedded by
llama.cpp from the GGUF itself (its own tokenizer, quantised weights and kernels). Embedding
mode, `pooling_type` LAST or MEAN over the final-norm hidden state of every token the
tokenizer gives (BOS included where the file adds one), as lexalign pools; unnormalised.
Strings go in input order through `Llama.embed`, which packs whole strings into batches of
--batch-tokens (llama-cpp-python's default 512) with one sequence id each (no padding).

The GGUF: --gguf, else the file under $LEXALIGN_ASSETS/models/source/ whose sha256 equals
DIR/lexalign.json's `gguf_sha256` (what `lexalign model import` and `make models` record).

Timed: tokenize + decode + pooling of all strings, best of --repeat runs after one warm-up
on the first 32 strings; model load apart (load_seconds). Prints one JSON line, with the
fields of scripts/bench_peer.py's; or, when llama-cpp-python is not installed or no GGUF is
found, exits 0 after printing {"unavailable": "<one line why>"}. Bad arguments exit 2.
"""
from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEFAULT_ASSETS = os.environ.get("LEXALIGN_ASSETS", os.path.join(ROOT, "data", "external"))
POOLINGS = ("last", "mean")


class Unavailable(Exception):
    """No llama.cpp peer for this model: the reason, in one line."""


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def find_gguf(model_dir: str, assets: str = DEFAULT_ASSETS) -> str:
    """The GGUF `model_dir` was imported from, found by the sha256 its lexalign.json records."""
    meta = os.path.join(model_dir, "lexalign.json")
    try:
        with open(meta, encoding="utf-8") as f:
            want = json.load(f).get("gguf_sha256")
    except FileNotFoundError:
        raise Unavailable(f"{meta} is missing: not a model imported from a GGUF") from None
    except (OSError, ValueError) as e:
        raise Unavailable(f"{meta}: {e}") from None
    if not want:
        raise Unavailable(f"{meta} has no gguf_sha256: not a model imported from a GGUF")
    source = os.path.join(assets, "models", "source")
    for path in sorted(glob.glob(os.path.join(source, "**", "*.gguf"), recursive=True)):
        if sha256(path) == want:
            return path
    raise Unavailable(f"no GGUF with sha256 {want[:12]}… under {source} (pass --gguf)")


def import_llama_cpp():
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        raise Unavailable("llama-cpp-python is not installed in .venv (run `make llama-cpp`)") from None
    return llama_cpp


def load(gguf: str, threads: int, pooling: str | None, batch_tokens: int = 512):
    """A llama.cpp model on `gguf`: embedding mode with `pooling` (last/mean), or for
    generation when `pooling` is None. CPU only, quiet."""
    llama_cpp = import_llama_cpp()
    kwargs = dict(n_threads=threads, n_threads_batch=threads, n_gpu_layers=0, verbose=False,
                  n_ctx=batch_tokens, n_batch=batch_tokens, n_ubatch=batch_tokens)
    if pooling is not None:
        kwargs.update(embedding=True, pooling_type={
            "last": llama_cpp.LLAMA_POOLING_TYPE_LAST,
            "mean": llama_cpp.LLAMA_POOLING_TYPE_MEAN,
        }[pooling])
    return llama_cpp.Llama(model_path=gguf, **kwargs)


def tokens(llm, text: str) -> list[int]:
    """llama.cpp's tokens for `text` as `Llama.embed` makes them (special tokens added as
    the file says, e.g. Gemma's <bos>; special-token text not parsed)."""
    return llm.tokenize(text.encode("utf-8"))


def embed(llm, texts: list[str]):
    """[n, hidden] float32 pooled vectors and the number of tokens run."""
    import numpy as np
    vecs, count = llm.embed(texts, normalize=False, truncate=True, return_count=True)
    return np.asarray(vecs, dtype=np.float32).reshape(len(texts), -1), count


def version() -> str:
    return f"llama.cpp (llama-cpp-python {import_llama_cpp().__version__})"


def read_lines(path: str) -> list[str]:
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [ln[:-1] if ln.endswith("\r") else ln for ln in lines]


def main() -> int:
    ap = argparse.ArgumentParser(description="llama.cpp peer for the lexalign benchmark")
    ap.add_argument("--model", required=True, help="lexalign model dir imported from a GGUF")
    ap.add_argument("--input", required=True, help="strings, one per line")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--pooling", choices=POOLINGS, default="last")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--batch-tokens", type=int, default=512, help="llama.cpp n_batch = n_ubatch = n_ctx")
    ap.add_argument("--output", help="save the vectors [n, hidden] float32 .npy in input order")
    ap.add_argument("--gguf", help="the GGUF (default: found by lexalign.json's gguf_sha256)")
    ap.add_argument("--assets", default=DEFAULT_ASSETS)
    args = ap.parse_args()
    if args.threads < 1 or args.repeat < 1 or args.batch_tokens < 1:
        ap.error("--threads, --repeat and --batch-tokens must be at least 1")
    try:
        import_llama_cpp()
        gguf = args.gguf or find_gguf(args.model, args.assets)
    except Unavailable as e:
        print(json.dumps({"unavailable": str(e)}))
        return 0
    import numpy as np

    texts = read_lines(args.input)
    if not texts:
        print(f"llama_cpp_peer: {args.input} holds no strings", file=sys.stderr)
        return 1
    t0 = time.perf_counter()
    llm = load(gguf, args.threads, args.pooling, args.batch_tokens)
    load_seconds = time.perf_counter() - t0
    embed(llm, texts[:32])  # warm-up
    times, vecs, count = [], None, 0
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        vecs, count = embed(llm, texts)
        times.append(time.perf_counter() - t0)
    best = min(times)
    if args.output:
        np.save(args.output, vecs)
    print(json.dumps({
        "strings": len(texts),
        "seconds": round(best, 6),
        "strings_per_s": round(len(texts) / best, 2),
        "tokens": count,
        "tokens_per_s": round(count / best, 1),
        "padding_efficiency": 1.0,  # whole strings packed, no padding
        "threads": args.threads,
        "repeat": len(times),
        "runs_seconds": [round(t, 6) for t in times],
        "batch_tokens": args.batch_tokens,
        "load_seconds": round(load_seconds, 4),
        "gguf": os.path.basename(gguf),
        "peer": version(),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
