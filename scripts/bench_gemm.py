#!/usr/bin/env python3
"""numpy peer for `lexalign bench --retrieval`: the GEMM alone.

  bench_gemm.py --n N [--dim 384] [--threads 2] [--repeat 3] [--block 4096] [--seed 1]

Times S = L @ R.T on float32 unit rows L, R of shape (N, dim): the one matrix product
that exact retrieval in both directions needs (2·N²·dim floating-point operations), with
nothing else (no ranks). The BLAS thread count is set before numpy loads
(OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, MKL_NUM_THREADS = --threads). When N exceeds
--block, the product is written in row blocks of --block rows into one preallocated
(block × N) buffer (np.matmul(..., out=)), so memory stays bounded, as in lexalign; each
block is still a large GEMM. Best of --repeat runs. Prints one JSON line:
  {"gemm_seconds", "n", "dim", "threads", "gflops", "block", "repeat", "runs_seconds", "blas"}
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time


def main() -> int:
    ap = argparse.ArgumentParser(description="numpy GEMM peer for lexalign bench --retrieval")
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--block", type=int, default=4096)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if args.n < 1 or args.dim < 1 or args.threads < 1 or args.block < 1:
        ap.error("--n, --dim, --threads and --block must be at least 1")
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import numpy as np

    rng = np.random.default_rng(args.seed)

    def unit(a):
        return a / np.linalg.norm(a, axis=1, keepdims=True)

    left = unit(rng.standard_normal((args.n, args.dim), dtype=np.float32))
    right = unit(left + rng.standard_normal((args.n, args.dim), dtype=np.float32))
    block = min(args.block, args.n)
    out = np.empty((block, args.n), np.float32)
    rt = right.T

    def gemm():
        for s in range(0, args.n, block):
            m = min(block, args.n - s)
            np.matmul(left[s: s + m], rt, out=out[:m])

    gemm()  # warm-up (thread pool start, page faults of the buffer)
    times = []
    for _ in range(max(1, args.repeat)):
        t0 = time.perf_counter()
        gemm()
        times.append(time.perf_counter() - t0)
    best = min(times)
    try:
        cfg = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        blas = f"{cfg.get('name')} {cfg.get('version')}"
    except Exception:  # older numpy: no dict mode
        blas = "unknown"
    print(json.dumps({
        "gemm_seconds": round(best, 6),
        "n": args.n,
        "dim": args.dim,
        "threads": args.threads,
        "gflops": round(2 * args.n * args.n * args.dim / best / 1e9, 2),
        "block": block,
        "repeat": len(times),
        "runs_seconds": [round(t, 6) for t in times],
        "blas": f"numpy {np.__version__}, {blas}",
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
