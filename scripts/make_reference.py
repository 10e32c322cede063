#!/usr/bin/env python3
"""Reference embeddings for lexalign's Rust engine, from Python onnxruntime + tokenizers only.

Writes tests/fixtures/embed_reference.json (fp32 model dir, all poolings, ~80 strings) and
tests/fixtures/embed_reference_int8.json (int8 model dir, 12 strings). Nothing here uses
the Rust code; the rules below are the ones the Rust engine follows:

  tokenizer   tokenizer.json of the model dir; its padding DISABLED (batches are padded
              by the caller: right-padding, pad id 0, attention_mask 0, token_type 0);
              truncation to max_length = tokenizer.json truncation.max_length if set,
              else config.json max_position_embeddings (here 128, specials included);
              add_special_tokens = true ([CLS] ... [SEP]).
  inputs      each of input_ids / attention_mask / token_type_ids / position_ids that the
              graph declares (int64 [batch, seq]; token_type_ids = encoding.type_ids;
              position_ids = 0..len-1); output last_hidden_state [batch, seq, hidden].
  mean        mask-weighted mean over all non-padding tokens incl. [CLS] and [SEP]
              (sentence-transformers Pooling mean); "mean_norm" = mean / ||mean||_2.
  cls         hidden state of token 0.   last = hidden state of the last non-padding
              token (always [SEP] here).
  static      mean of rows of the graph's word-embedding initializer (the one whose name
              contains "word_embeddings"; int8: q * per-row scale) over the NON-special
              tokens (special_tokens_mask == 0) of the SAME truncated encoding the model
              sees, i.e. input_ids[1:-1] (at most max_length - 2 tokens). If there are none
              (empty / whitespace-only text) static is all zeros and static_empty = true.
  token stats over those non-special tokens: n_tokens, n_continuation ("##" pieces),
              n_unknown ([UNK]), single_token (n_tokens == 1), truncated (the text without
              truncation has more than max_length tokens incl. specials), and
              n_tokens_untruncated.
Values are computed by running each string alone (no padding); the script also runs all
strings in one padded batch and asserts both agree (max abs diff recorded in the header).
Floats are rounded to 7 significant digits. Offsets are given as character offsets
(Python str indices / Unicode scalar values) and as UTF-8 byte offsets.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
import tokenizers
from onnx import numpy_helper
from tokenizers import Tokenizer

from lexalign_common import ort_session, sha256_file

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ASSETS = os.environ.get("LEXALIGN_ASSETS", os.path.join(REPO, "data", "external"))
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids", "position_ids")

LONG_DEF = (
    "A programmed cell death process which begins when a cell receives an internal (e.g. DNA damage) "
    "or external signal (e.g. an extracellular death ligand), and proceeds through a series of "
    "biochemical events (signaling pathway phase) which trigger an execution phase. "
)

STRINGS = [
    # gene names
    "BRCA1 DNA repair associated",
    "tumor protein p53",
    "synuclein alpha",
    "major histocompatibility complex, class II, DR beta 1",
    "cystic fibrosis transmembrane conductance regulator",
    "amyloid beta precursor protein",
    "insulin",
    "alpha-1-B glycoprotein",
    "C9orf72-SMCR8 complex subunit",
    # symbols
    "BRCA1",
    "TP53",
    "SNCA",
    "HLA-DRB1",
    "CFTR",
    "APP",
    "A1BG-AS1",
    "C9orf72",
    # identifiers
    "HGNC:1100",
    "HGNC:11998",
    "HGNC:11138",
    "HGNC:5",
    "GO:0006915",
    "GO:0008150",
    "GO:0003674",
    "GO:0008409",
    "HP:0001250",
    "HP:0000118",
    "HP:0000707",
    "NCBIGene:7157",
    # labels
    "apoptotic process",
    "biological_process",
    "molecular_function",
    "cellular_component",
    "regulation of transcription by RNA polymerase II",
    "5'-3' exonuclease activity",
    "Seizure",
    "Abnormality of the nervous system",
    "Phenotypic abnormality",
    "Global developmental delay",
    # mixed
    "BRCA1 (HGNC:1100)",
    "apoptotic process [GO:0006915]",
    "HP:0001250 Seizure",
    # unicode
    "α-synuclein",
    "Ménière disease",
    "Sjögren syndrome",
    "β2-microglobulin",
    "Δ9-tetrahydrocannabinol",
    "naïve T cell",
    "Me\u0301nie\u0300re decomposed accents",
    "神经系统异常",
    "细胞凋亡 apoptosis",
    "白血病",
    "белок p53",
    "🧬",
    "DNA 🧬🔬 repair",
    "ﬁbrosis ＦＵＬＬＷＩＤＴＨ",
    "zero\u200bwidth\u00a0nbsp",
    # punctuation / odd
    "5'-3' exonuclease (activity) [GO:0008409]; \"quoted\"",
    "(R)-2-hydroxyglutarate",
    "1,2,3-trihydroxy-benzene",
    "<html>&amp;</html>",
    "a/b\\c|d_e",
    "!!!???...",
    "---",
    "#",
    "[MASK] protein",
    "x [CLS] y",
    "tab\tseparated\tvalues",
    "line\nbreak",
    "\x07bell",
    "UPPER CASE NAME",
    "a",
    "supercalifragilisticexpialidocious",
    # whitespace only / empty
    " ",
    "   \t\n  ",
    "\u3000",
    "",
    # far longer than max_length tokens
    LONG_DEF * 6,
]

INT8_STRINGS = [
    "BRCA1 DNA repair associated", "tumor protein p53", "BRCA1", "HGNC:1100", "GO:0006915",
    "apoptotic process", "Seizure", "Abnormality of the nervous system", "α-synuclein", "Ménière disease",
    "", LONG_DEF * 6,
]


def rnd(a) -> list:
    return [float(f"{x:.7g}") for x in np.asarray(a, dtype=np.float64).ravel()]


def load_tokenizer(model_dir: str):
    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    trunc = tok.truncation
    max_len = int(trunc["max_length"]) if trunc and trunc.get("max_length") else int(cfg["max_position_embeddings"])
    tok.no_padding()
    tok.enable_truncation(max_length=max_len)
    return tok, max_len, cfg


def word_embeddings(model_path: str) -> tuple[str, np.ndarray]:
    m = onnx.load(model_path)
    inits = {t.name: t for t in m.graph.initializer}
    cands = [n for n in inits if "word_embeddings" in n and len(inits[n].dims) == 2 and not n.endswith("_scale")]
    if len(cands) != 1:
        raise SystemExit(f"expected one 2-D word_embeddings initializer, found {cands}")
    name = cands[0]
    w = numpy_helper.to_array(inits[name])
    if w.dtype != np.float32:  # int8 weight-only quantization: name_q * name_scale (per row)
        scale_name = name[: -len("_q")] + "_scale" if name.endswith("_q") else None
        if scale_name not in inits:
            raise SystemExit(f"no scale for quantized {name}")
        w = w.astype(np.float32) * numpy_helper.to_array(inits[scale_name]).astype(np.float32)
    return name, w


def run(sess, encs):
    names = {i.name for i in sess.get_inputs()}
    B, L = len(encs), max(len(e.ids) for e in encs)
    ids = np.zeros((B, L), np.int64)
    mask = np.zeros((B, L), np.int64)
    tt = np.zeros((B, L), np.int64)
    for i, e in enumerate(encs):
        n = len(e.ids)
        ids[i, :n], mask[i, :n], tt[i, :n] = e.ids, 1, e.type_ids
    feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": tt,
             "position_ids": np.tile(np.arange(L, dtype=np.int64), (B, 1))}
    unknown = names - set(INPUT_NAMES)
    if unknown:
        raise SystemExit(f"graph declares inputs this script cannot feed: {sorted(unknown)}")
    (h,) = sess.run(["last_hidden_state"], {k: v for k, v in feeds.items() if k in names})
    h = h.astype(np.float64)
    m = mask.astype(np.float64)[..., None]
    mean = (h * m).sum(1) / np.maximum(m.sum(1), 1e-9)
    lens = mask.sum(1)
    return {
        "mean": mean,
        "mean_norm": mean / np.linalg.norm(mean, axis=1, keepdims=True),
        "cls": h[:, 0],
        "last": h[np.arange(B), lens - 1],
    }


def byte_offsets(text: str, offsets) -> list:
    out = []
    for s, e in offsets:
        bs = len(text[:s].encode("utf-8"))
        out.append([bs, bs + len(text[s:e].encode("utf-8"))])
    return out


def build(model_dir: str, strings: list[str], poolings: list[str], threads: int, full: bool) -> dict:
    model_path = os.path.join(model_dir, "model.onnx")
    tok, max_len, cfg = load_tokenizer(model_dir)
    we_name, W = word_embeddings(model_path)
    sess = ort_session(model_path, threads)
    meta = {}
    try:
        with open(os.path.join(model_dir, "lexalign.json")) as f:
            meta = json.load(f)
    except OSError:
        pass
    encs = [tok.encode(s) for s in strings]
    untrunc = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    untrunc.no_padding()
    untrunc.no_truncation()

    singles = [run(sess, [e]) for e in encs]
    batch = run(sess, encs)
    diffs = {p: max(float(np.max(np.abs(batch[p][i] - singles[i][p][0]))) for i in range(len(encs)))
             for p in ("mean", "mean_norm", "cls", "last")}
    cosd = max(float(1 - np.dot(batch["mean_norm"][i], singles[i]["mean_norm"][0])) for i in range(len(encs)))
    print(f"[make_reference] {meta.get('variant', '?')}: single vs padded batch of {len(encs)}: "
          f"max abs diff {', '.join(f'{k} {v:.2e}' for k, v in diffs.items())}; max(1-cos) mean {cosd:.2e}",
          file=sys.stderr)
    if max(diffs.values()) > 1e-5:
        raise SystemExit("single-string and padded-batch embeddings disagree by more than 1e-5")

    entries = []
    for text, e, res in zip(strings, encs, singles):
        content = [i for i, sp in enumerate(e.special_tokens_mask) if sp == 0]
        toks = [e.tokens[i] for i in content]
        n_full = len(untrunc.encode(text).ids)
        if content:
            static = W[np.array([e.ids[i] for i in content])].astype(np.float64).mean(0)
        else:
            static = np.zeros(W.shape[1])
        ent = {"text": text}
        if full:
            ent.update({
                "input_ids": list(e.ids),
                "tokens": list(e.tokens),
                "offsets_char": [list(o) for o in e.offsets],
                "offsets_byte": byte_offsets(text, e.offsets),
                "special_tokens_mask": list(e.special_tokens_mask),
            })
        else:
            ent["input_ids"] = list(e.ids)
        ent.update({
            "n_tokens": len(content),
            "n_tokens_untruncated": n_full - 2,
            "n_continuation": sum(1 for t in toks if t.startswith("##")),
            "n_unknown": sum(1 for t in toks if t == "[UNK]"),
            "single_token": len(content) == 1,
            "truncated": n_full > max_len,
            "static_empty": not content,
        })
        emb = {p: rnd(res[p][0]) for p in poolings}
        emb["static"] = rnd(static)
        ent["embeddings"] = emb
        entries.append(ent)

    return {
        "format": 1,
        "generated_by": "scripts/make_reference.py",
        "model": {
            "dir": os.path.relpath(os.path.abspath(model_dir), REPO),
            "name": meta.get("name"),
            "variant": meta.get("variant"),
            "model_onnx_sha256": sha256_file(model_path),
            "tokenizer_json_sha256": sha256_file(os.path.join(model_dir, "tokenizer.json")),
            "config_json_sha256": sha256_file(os.path.join(model_dir, "config.json")),
            "word_embeddings_initializer": we_name,
            "graph_inputs": [i.name for i in sess.get_inputs()],
        },
        "versions": {
            "onnxruntime": ort.__version__,
            "tokenizers": tokenizers.__version__,
            "onnx": onnx.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        "rules": {
            "max_length": max_len,
            "add_special_tokens": True,
            "padding": "none in the tokenizer; batches right-padded with id 0, mask 0, type 0",
            "token_type_ids": "encoding.type_ids (all 0)",
            "position_ids": "0..len-1 (only if the graph declares it)",
            "mean": "mask-weighted mean of last_hidden_state over all non-padding tokens incl. [CLS]/[SEP]",
            "mean_norm": "mean / L2 norm",
            "cls": "last_hidden_state[0]",
            "last": "last_hidden_state[len-1] (last non-padding token)",
            "static": "mean of word-embedding initializer rows over non-special tokens (special_tokens_mask==0) "
                      "of the truncated encoding (input_ids[1:-1]); zeros + static_empty when there are none",
            "n_tokens": "non-special tokens after truncation; n_tokens_untruncated without truncation",
            "truncated": "untruncated encoding incl. specials longer than max_length",
            "offsets": "offsets_char: Unicode scalar (Python str) indices; offsets_byte: UTF-8 byte offsets; "
                       "[0,0] for [CLS]/[SEP]",
            "computed": "each string run alone (batch of 1, no padding)",
        },
        "dim": int(W.shape[1]),
        "float_precision": "7 significant digits",
        "single_vs_batch_max_abs_diff": diffs,
        "poolings": poolings + ["static"],
        "strings": entries,
    }


def write_json(path: str, obj) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    data = (json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=os.path.dirname(path))
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    print(f"[make_reference] wrote {path} ({len(data) / 1e6:.2f} MB, {len(obj['strings'])} strings)", file=sys.stderr)


def main() -> int:
    ap = argparse.ArgumentParser(description="write tests/fixtures/embed_reference*.json")
    ap.add_argument("--model", default=os.path.join(ASSETS, "models", "all-MiniLM-L6-v2"))
    ap.add_argument("--model-int8", default=os.path.join(ASSETS, "models", "all-MiniLM-L6-v2-int8"))
    ap.add_argument("--out", default=os.path.join(REPO, "tests", "fixtures", "embed_reference.json"))
    ap.add_argument("--out-int8", default=os.path.join(REPO, "tests", "fixtures", "embed_reference_int8.json"))
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    ref = build(args.model, STRINGS, ["mean", "mean_norm", "cls", "last"], args.threads, full=True)
    write_json(args.out, ref)
    ref8 = build(args.model_int8, INT8_STRINGS, ["mean", "mean_norm"], args.threads, full=False)
    # how far int8 is from fp32 on these strings (info for test tolerances)
    fp = {e["text"]: np.array(e["embeddings"]["mean_norm"]) for e in ref["strings"]}
    cos = [1 - float(np.dot(fp[e["text"]], np.array(e["embeddings"]["mean_norm"]))) for e in ref8["strings"]]
    ref8["int8_vs_fp32_max_1_minus_cos_mean"] = float(f"{max(cos):.4g}")
    print(f"[make_reference] int8 vs fp32 mean pooling: max(1-cos) {max(cos):.3e}", file=sys.stderr)
    write_json(args.out_int8, ref8)
    return 0


if __name__ == "__main__":
    sys.exit(main())
