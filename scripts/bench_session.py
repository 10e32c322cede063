#!/usr/bin/env python3
"""ONNX Runtime session settings, measured: graph optimisation level and a saved
optimised graph, per model, through scripts/bench_peer.py (the same onnxruntime 1.31.1
library lexalign loads, so the session's cost is the same; tokenisation and pooling
are identical for every row).

  bench_session.py [--threads 2] [--repeat 2] [--models minilm,minilm-int8,smollm2]

For each model: one run per level (disable, basic, extended, all), then the graph that
level `all` produced (saved with optimized_model_filepath) loaded with optimisation
disabled. Prints a Markdown table of session load seconds and strings/s (best of
--repeat), and the JSON of every run to --json when given.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = {
    "minilm": ("all-MiniLM-L6-v2", 1000, "mean"),
    "minilm-int8": ("all-MiniLM-L6-v2-int8", 1000, "mean"),
    "smollm2": ("smollm2", 100, "last"),
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--json", help="write every run's JSON here")
    args = ap.parse_args()
    py = os.path.join(ROOT, ".venv", "bin", "python")
    peer = os.path.join(ROOT, "scripts", "bench_peer.py")
    models = os.path.join(ROOT, "data", "external", "models")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        strings = os.path.join(tmp, "strings.txt")
        subprocess.run([py, peer, "--make-input", strings, "--count", "1000"], check=True)
        for name in args.models.split(","):
            folder, count, pooling = MODELS[name]
            path = os.path.join(tmp, f"{name}.txt")
            with open(strings, encoding="utf-8") as f:
                lines = f.read().split("\n")[:count]
            with open(path, "w", encoding="utf-8") as f:
                f.write("\n".join(lines) + "\n")
            saved_dir = os.path.join(tmp, name)
            os.mkdir(saved_dir)
            saved = os.path.join(saved_dir, "model.opt.onnx")
            # The saved graph keeps pointing at external weights (smollm2's model.weights)
            # by relative path, and ORT refuses links that leave its folder: copy them.
            for f in os.listdir(os.path.join(models, folder)):
                if f.endswith(".weights"):
                    shutil.copy(os.path.join(models, folder, f), os.path.join(saved_dir, f))
            runs = [(level, []) for level in ("disable", "basic", "extended")]
            runs.append(("all", ["--save-optimized", saved]))
            runs.append(("saved all-level graph, level disable", ["--model-file", saved]))
            for label, extra in runs:
                level = "disable" if extra[:1] == ["--model-file"] else label
                cmd = [py, peer, "--model", os.path.join(models, folder), "--input", path,
                       "--threads", str(args.threads), "--repeat", str(args.repeat),
                       "--pooling", pooling, "--graph-opt", level, *extra]
                out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
                r = json.loads(out.strip().splitlines()[-1])
                r.update(model=name, setting=label)
                rows.append(r)
                print(f"| {name} | {label} | {r['load_seconds']:.3f} | {r['strings_per_s']:.1f} |",
                      flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
