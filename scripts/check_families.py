#!/usr/bin/env python3
"""Check converted GGUF families against the independent float64 numpy reference.

  python scripts/check_families.py --synthetic [--families llama,qwen2,...] [--work DIR] [--json OUT]
  python scripts/check_families.py --gguf FILE.gguf --model DIR [--strings N] [--json OUT]

--synthetic: for each family, scripts/make_synthetic_gguf.py writes a small checkpoint of
that family (seeded random weights, the family's real tensor names and metadata, 3 layers)
into --work, scripts/gguf_to_onnx.py converts it, and the ONNX graphs (onnxruntime) are
compared with scripts/numpy_llama.py (float64, llama.cpp's conventions, no shared code):

  tokens      tokenizer.json (HF tokenizers) ids == the reference tokenizer's, on a mixed
              set (identifiers, digits, Unicode, leading / repeated spaces, newlines)
  last/mean   last_hidden_state at the last token / averaged over tokens: max |diff| and cosine
  middle      hidden_states[L // 2 + 1] at the last token (a middle layer)
  greedy      generate.onnx with its KV cache, one token a step, == numpy greedy (full
              recompute each step) for 6 new tokens

--gguf/--model: the same checks for one real GGUF and its converted folder.

Exit 1 when any check fails. Tolerances: cosine >= 0.99999 and max |diff| <= 2e-3 * (1 +
max |reference|) for vectors (float32 graph vs float64 reference); token ids exact; greedy
ids exact except where the reference's top-2 logit margin is below 1e-3 (reported, then the
rest of that continuation is not compared).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from lexalign_common import logger, ort_session  # noqa: E402

log = logger("check_families")

FAMILIES = ("llama", "llama3", "qwen2", "qwen3", "gemma3", "phi3")
STRINGS = [
    "HP:0001250", "GO:0006915", "HGNC:1100", "BRCA1", "0001250 12345678 3.14159",
    "BRCA1 DNA repair associated", "tumor protein p53", "Abnormality of the nervous system",
    "naïve café", "α-synuclein", "Ménière disease", "神经系统异常", "🧬 DNA sequencing 🧪",
    "  leading and trailing whitespace  ", "a  b   c", " ", "\n", "x\n\n  y", "tab\there\r\nnew",
    "5'-3' exonuclease (activity) [GO:0008409]; \"quoted\"", "getValueOf_x2 = foo.bar(baz[3])",
    "HELLO World's THEY'RE", "regulation of transcription by RNA polymerase II",
]
PROMPTS = ["The capital of France is", "The gene symbol for breast cancer 1 is", "HP:0001250 is"]
COS_MIN, ABS_TOL, MARGIN = 0.99999, 2e-3, 1e-3
MAX_NEW = 6
# The synthetic checkpoints keep SmolLM2's first 4,096 BPE tokens (make_synthetic_gguf.py
# --trim-vocab): every family's tokenizer path is still exercised, and each GGUF parses in
# a fraction of the 49k-token file's time (the gguf package reads metadata field by field).
TRIM_VOCAB = 4096


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def check(gguf_path, model_dir: str, strings: list[str], prompts: list[str]) -> dict:
    """gguf_path: a GGUF file, or a loaded numpy_llama.Llama (scripts/check_checkpoints.py)."""
    from numpy_llama import Llama
    from tokenizers import Tokenizer

    ref = Llama.load(gguf_path) if isinstance(gguf_path, str) else gguf_path
    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    lex = json.load(open(os.path.join(model_dir, "lexalign.json")))
    emb = ort_session(os.path.join(model_dir, "model.onnx"), 1)
    L = ref.n_layer
    mid = L // 2 + 1
    res = {"arch": ref.arch, "layers": L, "token_mismatches": [], "strings": 0}
    worst = {k: [1.0, 0.0] for k in ("last", "mean", "middle")}  # [min cosine, max |diff| / (1 + max |ref|)]
    for text in strings:
        ids = ref.tokenize(text)
        got = tok.encode(text).ids
        if got != ids:
            res["token_mismatches"].append({"text": text, "reference": ids, "tokenizer.json": got})
        if not ids:
            continue
        res["strings"] += 1
        hs = ref.forward(ids)  # [L+1, T, H]
        T = len(ids)
        out = emb.run(["last_hidden_state", "hidden_states"], {
            "input_ids": np.array([ids], np.int64), "attention_mask": np.ones((1, T), np.int64),
            "position_ids": np.arange(T, dtype=np.int64)[None]})
        last, states = out[0][0].astype(np.float64), out[1][:, 0].astype(np.float64)
        for k, a, b in (("last", last[-1], hs[L][-1]), ("mean", last.mean(0), hs[L].mean(0)),
                        ("middle", states[mid][-1], hs[mid][-1])):
            worst[k][0] = min(worst[k][0], cosine(a, b))
            worst[k][1] = max(worst[k][1], float(np.max(np.abs(a - b)) / (1.0 + np.max(np.abs(b)))))
    # one left-padded batch of every string (positions count real tokens only) == one at a time
    seqs = [ref.tokenize(t) for t in strings]
    seqs = [x for x in seqs if x]
    T = max(map(len, seqs))
    ids = np.zeros((len(seqs), T), np.int64)
    mask = np.zeros((len(seqs), T), np.int64)
    for r, x in enumerate(seqs):
        ids[r, T - len(x):], mask[r, T - len(x):] = x, 1
    pos = np.maximum(np.cumsum(mask, axis=1) - 1, 0)
    batch = emb.run(["last_hidden_state"], {"input_ids": ids, "attention_mask": mask, "position_ids": pos})[0]
    res["batch_max_rel_abs_diff"] = 0.0
    for r, x in enumerate(seqs):
        one = emb.run(["last_hidden_state"], {"input_ids": np.array([x], np.int64), "attention_mask": np.ones((1, len(x)), np.int64),
                                              "position_ids": np.arange(len(x), dtype=np.int64)[None]})[0][0]
        d = float(np.max(np.abs(batch[r, T - len(x):] - one)) / (1.0 + np.max(np.abs(one))))
        res["batch_max_rel_abs_diff"] = max(res["batch_max_rel_abs_diff"], d)
    worst["batch"] = [1.0, res["batch_max_rel_abs_diff"]]
    res.update({f"{k}_min_cosine": v[0] for k, v in worst.items()})
    res.update({f"{k}_max_rel_abs_diff": v[1] for k, v in worst.items()})
    res["middle_layer"] = mid

    gen = ort_session(os.path.join(model_dir, lex["generate"]["file"]), 1)
    nkv, hd = lex["generate"]["kv_heads"], lex["generate"]["head_dim"]
    eos = set(lex["generate"]["eos_token_ids"])
    res["greedy"] = []
    for prompt in prompts:
        ids = ref.tokenize(prompt)
        want, margins, seq = [], [], list(ids)
        for _ in range(MAX_NEW):  # numpy: full recompute per step
            z = ref.logits(seq)[-1]
            top = np.sort(z)[-2:]
            nxt = int(np.argmax(z))
            want.append(nxt)
            margins.append(float(top[1] - top[0]))
            seq.append(nxt)
            if nxt in eos:
                break
        past = {f"past_key_values.{i}.{kv}": np.zeros((1, nkv, 0, hd), np.float32) for i in range(L)
                for kv in ("key", "value")}
        got, cur, P = [], list(ids), 0
        names = [o.name for o in gen.get_outputs()]
        for _ in range(len(want)):
            T = len(cur)
            r = dict(zip(names, gen.run(None, dict(past, input_ids=np.array([cur], np.int64),
                                                   attention_mask=np.ones((1, P + T), np.int64),
                                                   position_ids=np.arange(P, P + T, dtype=np.int64)[None]))))
            nxt = int(np.argmax(r["logits"][0]))
            got.append(nxt)
            past = {k.replace("present", "past_key_values"): v for k, v in r.items() if k.startswith("present")}
            P, cur = P + T, [nxt]
        n_cmp = next((j + 1 for j, m in enumerate(margins) if m < MARGIN), len(want))
        res["greedy"].append({"prompt": prompt, "numpy": want, "onnx": got, "equal": got[:n_cmp] == want[:n_cmp],
                              "compared": n_cmp, "min_top2_margin": min(margins),
                              "text": ref.tok.detokenize(want)})
    res["kept"] = kept_types(gguf_path, model_dir)
    res["ok"] = (not res["token_mismatches"] and all(worst[k][0] >= COS_MIN and worst[k][1] <= ABS_TOL for k in worst)
                 and all(g["equal"] for g in res["greedy"]))
    return res


def kept_types(gguf_path: str, model_dir: str) -> dict:
    """{GGML type: number of linear weights model.onnx runs as MatMulNBits}, and
    "corrections": how many of them subtract the block-sum @ mins term (Q4_1, Q4_K, Q5_K)."""
    import onnx
    from collections import Counter

    import gguf

    types = {t.name: t.tensor_type.name for t in gguf.GGUFReader(gguf_path).tensors}
    m = onnx.load(os.path.join(model_dir, "model.onnx"), load_external_data=False)
    inits = {i.name for i in m.graph.initializer}
    c: Counter = Counter()
    for n in m.graph.node:
        if n.op_type == "MatMulNBits":
            base = n.input[1][: -len(".weight.B")]  # model.layers.{i}.{module}.{proj}
            i, rest = base.split(".")[2], base.split(".", 3)[3]
            gname = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
                     "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
                     "mlp.down_proj": "ffn_down"}[rest]
            c[types.get(f"blk.{i}.{gname}.weight", "?")] += 1
    c["corrections"] = sum(1 for x in inits if x.endswith((".mins", ".m")) and not x.startswith("model.embed_tokens"))
    if "model.embed_tokens.weight.B" in inits:  # the table kept quantised (untied), gathered per token
        c["table"] = types.get("token_embd.weight", "?")
    return dict(c)


def export_reference(gguf_path: str, strings: list[str], prompts: list[str], out: str) -> None:
    """numpy reference values for tests/integration/gguf_families.rs (which converts with `lexalign model
    import` and runs lexalign's own embedding and generation)."""
    from numpy_llama import Llama

    ref = Llama.load(gguf_path) if isinstance(gguf_path, str) else gguf_path
    L = ref.n_layer
    rows = []
    for text in strings:
        ids = ref.tokenize(text)
        row = {"text": text, "ids": ids}
        if ids:
            hs = ref.forward(ids)
            row.update(last=hs[L][-1].tolist(), mean=hs[L].mean(0).tolist(), middle=hs[L // 2 + 1][-1].tolist())
        rows.append(row)
    greedy = []
    for prompt in prompts:
        ids = ref.tokenize(prompt)
        seq, margins = list(ids), []
        for _ in range(MAX_NEW):
            z = ref.logits(seq)[-1]
            top = np.sort(z)[-2:]
            margins.append(float(top[1] - top[0]))
            seq.append(int(np.argmax(z)))
            if seq[-1] in set(ref.eos_ids):
                break
        n = next((j + 1 for j, m in enumerate(margins) if m < MARGIN), len(margins))
        greedy.append({"prompt": prompt, "prompt_ids": ids, "new_ids": seq[len(ids):len(ids) + n]})
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"arch": ref.arch, "layers": L, "middle_layer": L // 2 + 1, "strings": rows, "greedy": greedy},
                  f, ensure_ascii=False)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--synthetic", action="store_true")
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--work", default=None, help="folder for the synthetic GGUFs and models (default: a temp folder)")
    ap.add_argument("--gguf")
    ap.add_argument("--model")
    ap.add_argument("--strings", type=int, default=len(STRINGS))
    ap.add_argument("--prompts", type=int, default=len(PROMPTS), help="greedy prompts (of the 3)")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--weights", default="q4_0", choices=["q4_0", "q5_0", "q8_0", "f16", "q4_k", "q5_k", "q6_k"],
                    help="with --synthetic: the linear weights' GGML type (k-quants: hidden 256, ffn 512, head_dim 64)")
    ap.add_argument("--embd", choices=["q4_0", "q8_0", "f16", "q4_k", "q6_k"],
                    help="with --synthetic: token_embd / output type (make_synthetic_gguf.py's default Q8_0)")
    ap.add_argument("--untied", action="store_true", help="with --synthetic: a separate output.weight (lm_head)")
    ap.add_argument("--fp32", action="store_true",
                    help="with --synthetic: convert with --fp32 (default: linear weights kept quantised in MatMulNBits)")
    ap.add_argument("--reference-only", action="store_true",
                    help="with --synthetic: write WORK/FAMILY.gguf and WORK/FAMILY.reference.json (numpy values) only")
    a = ap.parse_args()
    py = sys.executable
    results = []
    if a.synthetic:
        import tempfile

        work = a.work or tempfile.mkdtemp(prefix="lexalign-families-")
        os.makedirs(work, exist_ok=True)
        # One trimmed copy of SmolLM2's tokenizer for every family: the 49k-token source is
        # parsed once instead of once per family.
        tok = os.path.join(work, "tokenizer-source.gguf")
        subprocess.run([py, os.path.join(HERE, "make_synthetic_gguf.py"), tok, "--preset", "tiny", "--family", "llama",
                        "--layers", "1", "--trim-vocab", str(TRIM_VOCAB)], check=True)
        for fam in a.families.split(","):
            if fam not in FAMILIES:
                raise SystemExit(f"--families: {fam!r}; known: {', '.join(FAMILIES)}")
            t0 = time.time()
            g = os.path.join(work, f"{fam}.gguf")
            out = os.path.join(work, fam)
            kq = ["--hidden", "256", "--ffn", "512", "--heads", "4", "--head-dim", "64"] if a.weights.endswith("_k") else []
            subprocess.run([py, os.path.join(HERE, "make_synthetic_gguf.py"), g, "--preset", "tiny", "--family", fam,
                            "--layers", "6" if fam == "gemma3" else "3", "--std", "0.15", "--weights", a.weights,
                            "--trim-vocab", str(TRIM_VOCAB), "--tokenizer-from", tok] + kq
                           + (["--embd", a.embd] if a.embd else []) + (["--untied"] if a.untied else []),
                           check=True)
            if a.reference_only:
                export_reference(g, STRINGS[: a.strings], PROMPTS, os.path.join(work, f"{fam}.reference.json"))
                log(f"{fam}: reference written ({time.time() - t0:.1f} s)")
                continue
            subprocess.run([py, os.path.join(HERE, "gguf_to_onnx.py"), g, out, "--name", f"synthetic-{fam}"]
                           + (["--fp32"] if a.fp32 else []), check=True)
            r = check(g, out, STRINGS[: a.strings], PROMPTS[: a.prompts])
            r["family"], r["seconds"] = fam, round(time.time() - t0, 1)
            results.append(r)
            log(f"{fam}: {'ok' if r['ok'] else 'FAILED'} ({r['seconds']} s)")
    else:
        if not (a.gguf and a.model):
            raise SystemExit("give --synthetic, or --gguf FILE and --model DIR")
        r = check(a.gguf, a.model, STRINGS[: a.strings], PROMPTS)
        r["family"] = r["arch"]
        results.append(r)
    for r in results:
        g = r["greedy"]
        print(f"{r['family']:8s} tokens {len(STRINGS[: a.strings]) - len(r['token_mismatches'])}/{len(STRINGS[: a.strings])} "
              f"| 1-cos last {1 - r['last_min_cosine']:.1e} mean {1 - r['mean_min_cosine']:.1e} "
              f"middle(L{r['middle_layer']}) {1 - r['middle_min_cosine']:.1e} | max|d|/(1+max|ref|) "
              f"{max(r['last_max_rel_abs_diff'], r['mean_max_rel_abs_diff'], r['middle_max_rel_abs_diff']):.2e} "
              f"(padded batch {r['batch_max_rel_abs_diff']:.1e}) "
              f"| greedy {sum(x['equal'] for x in g)}/{len(g)} (min margin {min(x['min_top2_margin'] for x in g):.3f}) "
              f"| kept {r['kept']} "
              f"| {'ok' if r['ok'] else 'FAILED'}")
        for m in r["token_mismatches"]:
            print(f"   token mismatch {m['text']!r}: reference {m['reference']} tokenizer.json {m['tokenizer.json']}")
        for x in g:
            if not x["equal"]:
                print(f"   greedy mismatch {x['prompt']!r}: numpy {x['numpy']} onnx {x['onnx']}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1, ensure_ascii=False)
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
