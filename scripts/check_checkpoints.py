#!/usr/bin/env python3
"""Check Hugging Face checkpoint folders converted by scripts/hf_to_onnx.py against the
independent float64 numpy references (scripts/numpy_bert.py, scripts/numpy_llama.py).

  python scripts/check_checkpoints.py --synthetic [--cases bert-tiny,llama,qwen2,bert-base] [--work DIR]
                                      [--reference-only] [--json OUT]
  python scripts/check_checkpoints.py --minilm [--count N]

--synthetic: scripts/make_synthetic_checkpoint.py writes each case (seeded random weights,
the family's real tensor names; bf16 / f16 / shards as the case says) and a float32 twin
that the references read; scripts/hf_to_onnx.py converts the checkpoint; onnxruntime runs
the graphs. Encoders: CLS, mean and a middle layer's mean, one string at a time and in
one padded batch. Decoders: scripts/check_families.py's checks (last-token and mean
pooling, a middle layer, a left-padded batch, greedy tokens with the KV cache).
Tolerances as check_families.py: cosine >= 0.99999, max |diff| <= 2e-3 * (1 + max |ref|).
--reference-only writes WORK/CASE/ (the checkpoint) and WORK/CASE.reference.json (numpy
values) for tests/integration/checkpoint_folders.rs, which imports with `lexalign model import`.

--minilm: converts the MiniLM checkpoint folder setup downloads (ASSETS/models/source/fp32)
and compares mean-pooled vectors with the installed all-MiniLM-L6-v2 over the first N
pairs of three paper pairings (both sides): min cosine must be >= 0.999999.
"""
from __future__ import annotations

import argparse
import csv
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

from check_families import ABS_TOL, COS_MIN, PROMPTS, STRINGS, check, cosine, export_reference  # noqa: E402
from lexalign_common import ort_session  # noqa: E402

CASES = ("bert-tiny", "llama", "qwen2", "bert-base")
DECODERS = ("llama", "qwen2")
MINILM_COS = 0.999999
PAPER = ("hpo-label-id", "gene-name-symbol", "go-label-id")


def log(msg: str) -> None:
    print(f"[check_checkpoints] {msg}", file=sys.stderr, flush=True)


def bert_reference(twin: str, strings: list[str]) -> tuple[list[dict], int]:
    """Per string: ids and the numpy BERT's CLS / mean / middle-layer mean (float64)."""
    from numpy_bert import NumpyBert
    from tokenizers import Tokenizer

    bert = NumpyBert.load(twin)
    tok = Tokenizer.from_file(os.path.join(twin, "tokenizer.json"))
    mid = bert.layers // 2
    rows = []
    for text in strings:
        e = tok.encode(text)
        hs = bert.forward([e.ids], [e.attention_mask], [e.type_ids], all_layers=True)[:, 0]  # [L+1, T, H]
        rows.append({"text": text, "ids": e.ids, "cls": hs[-1][0].tolist(), "mean": hs[-1].mean(0).tolist(),
                     "middle": hs[mid].mean(0).tolist()})
    return rows, mid


def bert_check(model_dir: str, rows: list[dict], mid: int) -> dict:
    """onnxruntime on the converted encoder vs the numpy rows: alone, and in one padded batch."""
    sess = ort_session(os.path.join(model_dir, "model.onnx"), 1)
    worst = {k: [1.0, 0.0] for k in ("cls", "mean", "middle")}

    def run(group: list[dict]):
        T = max(len(r["ids"]) for r in group)
        ids = np.zeros((len(group), T), np.int64)
        mask = np.zeros_like(ids)
        for i, r in enumerate(group):
            ids[i, :len(r["ids"])], mask[i, :len(r["ids"])] = r["ids"], 1
        last, hs = sess.run(["last_hidden_state", "hidden_states"],
                            {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})
        for i, r in enumerate(group):
            n = len(r["ids"])
            got = {"cls": last[i, 0], "mean": last[i, :n].mean(0), "middle": hs[mid, i, :n].mean(0)}
            for k, v in got.items():
                want = np.asarray(r[k])
                worst[k][0] = min(worst[k][0], cosine(v.astype(np.float64), want))
                worst[k][1] = max(worst[k][1], float(np.max(np.abs(v - want)) / (1 + np.max(np.abs(want)))))

    for r in rows:
        run([r])
    run(rows)
    res = {f"{k}_min_cosine": v[0] for k, v in worst.items()}
    res.update({f"{k}_max_rel_abs_diff": v[1] for k, v in worst.items()})
    res["middle_layer"] = mid
    res["strings"] = len(rows)
    res["ok"] = all(v[0] >= COS_MIN and v[1] <= ABS_TOL for v in worst.values())
    return res


def synthetic(a) -> list[dict]:
    from numpy_llama import Llama

    work = a.work or tempfile.mkdtemp(prefix="lexalign-checkpoints-")
    os.makedirs(work, exist_ok=True)
    results = []
    for case in a.cases.split(","):
        if case not in CASES:
            raise SystemExit(f"--cases: {case!r}; known: {', '.join(CASES)}")
        t0 = time.time()
        ck = os.path.join(work, case)
        subprocess.run([sys.executable, os.path.join(HERE, "make_synthetic_checkpoint.py"), ck, "--case", case],
                       check=True)
        strings = STRINGS if case != "bert-base" else STRINGS[:8]
        if case in DECODERS:
            ref = Llama.load_hf(ck + ".f32")
        else:
            rows, mid = bert_reference(ck + ".f32", strings)
        if a.reference_only:
            out = os.path.join(work, f"{case}.reference.json")
            if case in DECODERS:
                export_reference(ref, strings, PROMPTS, out)
            else:
                with open(out, "w", encoding="utf-8") as f:
                    json.dump({"arch": "bert", "middle_layer": mid, "strings": rows}, f, ensure_ascii=False)
            log(f"{case}: checkpoint and reference written ({time.time() - t0:.1f} s)")
            continue
        model = os.path.join(work, case + ".onnx")
        subprocess.run([sys.executable, os.path.join(HERE, "hf_to_onnx.py"), ck, model, "--name", f"synthetic-{case}"],
                       check=True)
        r = check(ref, model, strings, PROMPTS) if case in DECODERS else bert_check(model, rows, mid)
        r["case"], r["seconds"] = case, round(time.time() - t0, 1)
        results.append(r)
        log(f"{case}: {'ok' if r['ok'] else 'FAILED'} ({r['seconds']} s)")
    return results


def paper_strings(count: int) -> list[str]:
    out = []
    for p in PAPER:
        path = os.path.join(ROOT, "data", "processed", "pairs", f"{p}.paper.csv")
        if not os.path.isfile(path):
            raise SystemExit(f"{path} missing: run `lexalign vocab build` first")
        with open(path, encoding="utf-8") as f:
            for i, row in enumerate(csv.DictReader(f)):
                if i >= count:
                    break
                out += [row["left"], row["right"]]
    return out


def minilm(a) -> dict:
    from prepare_models import load_tokenizer, mean_pool, ort_session, run_ort

    assets = os.environ.get("LEXALIGN_ASSETS") or os.path.join(ROOT, "data", "external")
    src = os.path.join(assets, "models", "source", "fp32")
    installed = os.path.join(assets, "models", "all-MiniLM-L6-v2")
    with tempfile.TemporaryDirectory(prefix="lexalign-minilm-") as tmp:
        out = os.path.join(tmp, "minilm")
        subprocess.run([sys.executable, os.path.join(HERE, "hf_to_onnx.py"), src, out, "--name", "minilm-import"],
                       check=True)
        strings = paper_strings(a.count)
        tok, _ = load_tokenizer(installed)
        encs = tok.encode_batch(strings)
        s_inst, s_new = ort_session(os.path.join(installed, "model.onnx")), ort_session(os.path.join(out, "model.onnx"))
        worst = 1.0
        for i in range(0, len(encs), 32):
            h1, mask = run_ort(s_inst, encs[i:i + 32])
            h2, _ = run_ort(s_new, encs[i:i + 32])
            p1, p2 = mean_pool(h1, mask), mean_pool(h2, mask)
            worst = min(worst, min(cosine(x, y) for x, y in zip(p1, p2)))
        lex = json.load(open(os.path.join(out, "lexalign.json")))
    res = {"case": "minilm", "strings": len(strings), "min_cosine": worst, "pooling": lex["pooling"],
           "ok": worst >= MINILM_COS and lex["pooling"] == "mean"}
    log(f"MiniLM folder import vs installed: {len(strings)} strings, min cosine {worst:.15f} (1 - cos "
        f"{1 - worst:.1e}), pooling {lex['pooling']}: {'ok' if res['ok'] else 'FAILED'}")
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--synthetic", action="store_true")
    ap.add_argument("--cases", default=",".join(CASES[:3]))
    ap.add_argument("--work")
    ap.add_argument("--reference-only", action="store_true")
    ap.add_argument("--minilm", action="store_true")
    ap.add_argument("--count", type=int, default=100, help="with --minilm: pairs per paper pairing")
    ap.add_argument("--json", help="write the results here")
    a = ap.parse_args()
    if not (a.synthetic or a.minilm):
        raise SystemExit("give --synthetic and/or --minilm")
    results = synthetic(a) if a.synthetic else []
    if a.minilm:
        results.append(minilm(a))
    for r in results:
        if r["case"] == "minilm":
            continue
        if "greedy" in r:
            g = r["greedy"]
            print(f"{r['case']:9s} 1-cos last {1 - r['last_min_cosine']:.1e} mean {1 - r['mean_min_cosine']:.1e} "
                  f"middle(L{r['middle_layer']}) {1 - r['middle_min_cosine']:.1e} | max|d|/(1+max|ref|) "
                  f"{max(r['last_max_rel_abs_diff'], r['mean_max_rel_abs_diff'], r['middle_max_rel_abs_diff']):.2e} "
                  f"(padded batch {r['batch_max_rel_abs_diff']:.1e}) | greedy {sum(x['equal'] for x in g)}/{len(g)} "
                  f"| {'ok' if r['ok'] else 'FAILED'}")
        else:
            print(f"{r['case']:9s} 1-cos cls {1 - r['cls_min_cosine']:.1e} mean {1 - r['mean_min_cosine']:.1e} "
                  f"middle(L{r['middle_layer']}) {1 - r['middle_min_cosine']:.1e} | max|d|/(1+max|ref|) "
                  f"{max(r['cls_max_rel_abs_diff'], r['mean_max_rel_abs_diff'], r['middle_max_rel_abs_diff']):.2e} "
                  f"| {r['strings']} strings alone and padded | {'ok' if r['ok'] else 'FAILED'}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1, ensure_ascii=False)
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
