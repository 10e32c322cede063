#!/usr/bin/env python3
"""Write a small synthetic Hugging Face checkpoint folder (seeded random weights, the
family's real tensor names and config keys, a tokenizer trained here with `tokenizers`).

  python scripts/make_synthetic_checkpoint.py OUT --case bert-tiny|bert-base|llama|qwen2 [--seed N]

Writes OUT/ (the checkpoint as a user would have it: the case's dtype, shards, extra
head tensors, sentence-transformers files) and OUT.f32/ (config.json, tokenizer.json and
the same values as one float32 model.safetensors: what the numpy references read, so that
they need no bfloat16 or shard reader of their own).

  bert-tiny   BertForMaskedLM, 2 layers, hidden 64, 4 heads, FFN 128, names prefixed 'bert.',
              MLM head and pooler tensors (unused), bf16 in 2 shards + model.safetensors.index.json,
              modules.json with CLS pooling and Normalize
  bert-base   BertModel with BERT-base's shapes (12 layers, 768 wide, 12 heads, FFN 3072, 512
              positions), a small vocabulary, no prefix, f32, 1_Pooling/config.json (mean) only
  llama       LlamaForCausalLM, 3 layers, hidden 64, 4 heads / 2 KV heads, FFN 160, untied lm_head,
              rope_theta 500000 with Llama 3.1 rope_scaling (llama3), rms_norm_eps 1e-5, BOS added
              by the tokenizer, vocab_size above the tokenizer's (padding rows), f16
  qwen2       Qwen2ForCausalLM, 3 layers, q/k/v biases, tied embeddings, rope_theta 1e6,
              rms_norm_eps 1e-6, no BOS, bf16 in 2 shards
"""
from __future__ import annotations

import argparse
import json
import os
import shutil

import numpy as np

CORPUS = [
    "HP:0001250", "GO:0006915", "HGNC:1100", "BRCA1", "TP53", "HLA-DRB1", "0001250 12345678 3.14159",
    "BRCA1 DNA repair associated", "tumor protein p53", "Abnormality of the nervous system", "Seizure",
    "apoptotic process", "regulation of transcription by RNA polymerase II", "alpha-1-B glycoprotein",
    "naïve café", "α-synuclein", "Ménière disease", "神经系统异常", "The capital of France is Paris.",
    "The gene symbol for breast cancer 1 is BRCA1.", "negative regulation of cell population proliferation",
    "mitochondrial membrane potential", "Bilateral tonic-clonic seizure", "insulin receptor signaling pathway",
    "5'-3' exonuclease (activity) [GO:0008409]; \"quoted\"", "getValueOf_x2 = foo.bar(baz[3])",
    "HELLO World's THEY'RE", "a  b   c", "x\n\n  y", "tab\there\r\nnew",
]

CASES = {
    "bert-tiny": dict(family="bert", arch="BertForMaskedLM", layers=2, hidden=64, heads=4, ffn=128, vocab=300,
                      positions=64, prefix="bert.", dtype="bf16", shards=2, st="modules-cls-normalize"),
    "bert-base": dict(family="bert", arch="BertModel", layers=12, hidden=768, heads=12, ffn=3072, vocab=600,
                      positions=512, prefix="", dtype="f32", shards=1, st="1_Pooling-mean"),
    "llama": dict(family="llama", arch="LlamaForCausalLM", layers=3, hidden=64, heads=4, kv=2, ffn=160, vocab=400,
                  config_vocab=416, dtype="f16", shards=1, tied=False, theta=500000.0, eps=1e-5),
    "qwen2": dict(family="qwen2", arch="Qwen2ForCausalLM", layers=3, hidden=64, heads=4, kv=2, ffn=160, vocab=400,
                  config_vocab=400, dtype="bf16", shards=2, tied=True, theta=1e6, eps=1e-6),
}


# ---------------------------------------------------------------------------------------
# tokenizers
# ---------------------------------------------------------------------------------------

def wordpiece(vocab: int, max_len: int):
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    t = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    t.normalizer = normalizers.BertNormalizer(lowercase=True)
    t.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    t.decoder = decoders.WordPiece()
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    t.train_from_iterator(CORPUS * 3, trainers.WordPieceTrainer(vocab_size=vocab, special_tokens=special,
                                                                show_progress=False))
    cls, sep = t.token_to_id("[CLS]"), t.token_to_id("[SEP]")
    t.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
                                                     special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    t.enable_truncation(max_length=max_len)
    return t


def byte_bpe(vocab: int, special: list[str], bos: str | None):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    t = Tokenizer(models.BPE())
    t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    t.decoder = decoders.ByteLevel()
    t.train_from_iterator(CORPUS * 3, trainers.BpeTrainer(vocab_size=vocab, special_tokens=special,
                                                          initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                                          show_progress=False))
    if bos:
        t.post_processor = processors.TemplateProcessing(single=f"{bos} $A", pair=f"{bos} $A $B:1",
                                                         special_tokens=[(bos, t.token_to_id(bos))])
    return t


# ---------------------------------------------------------------------------------------
# weights
# ---------------------------------------------------------------------------------------

def bert_weights(c: dict, rng) -> dict[str, np.ndarray]:
    H, F = c["hidden"], c["ffn"]
    n = lambda *s, std=0.05: (rng.standard_normal(s) * std).astype(np.float32)  # noqa: E731
    ln = lambda: (1.0 + 0.1 * rng.standard_normal(H)).astype(np.float32)  # noqa: E731
    w = {"embeddings.word_embeddings.weight": n(c["vocab"], H, std=0.5),
         "embeddings.position_embeddings.weight": n(c["positions"], H, std=0.2),
         "embeddings.token_type_embeddings.weight": n(2, H, std=0.2),
         "embeddings.LayerNorm.weight": ln(), "embeddings.LayerNorm.bias": n(H),
         "embeddings.position_ids": np.arange(c["positions"], dtype=np.int64)[None]}
    std = 1.0 / np.sqrt(H)
    for i in range(c["layers"]):
        b = f"encoder.layer.{i}."
        for m, (o, k) in (("attention.self.query", (H, H)), ("attention.self.key", (H, H)),
                          ("attention.self.value", (H, H)), ("attention.output.dense", (H, H)),
                          ("intermediate.dense", (F, H)), ("output.dense", (H, F))):
            w[b + m + ".weight"] = n(o, k, std=2.0 * std if "self" in m else std)
            w[b + m + ".bias"] = n(o)
        for m in ("attention.output.LayerNorm", "output.LayerNorm"):
            w[b + m + ".weight"], w[b + m + ".bias"] = ln(), n(H)
    w = {c["prefix"] + k: v for k, v in w.items()}
    if c["prefix"]:  # a BertForMaskedLM's head and pooler: in the file, not used
        w.update({"cls.predictions.bias": n(c["vocab"]), "cls.predictions.transform.dense.weight": n(H, H),
                  "cls.predictions.transform.dense.bias": n(H), "cls.predictions.transform.LayerNorm.weight": ln(),
                  "cls.predictions.transform.LayerNorm.bias": n(H), "bert.pooler.dense.weight": n(H, H),
                  "bert.pooler.dense.bias": n(H)})
    return w


def decoder_weights(c: dict, rng) -> dict[str, np.ndarray]:
    H, F, hd = c["hidden"], c["ffn"], c["hidden"] // c["heads"]
    q, kv = c["heads"] * hd, c["kv"] * hd
    n = lambda *s, std=0.15: (rng.standard_normal(s) * std).astype(np.float32)  # noqa: E731
    ln = lambda: (1.0 + 0.1 * rng.standard_normal(H)).astype(np.float32)  # noqa: E731
    w = {"model.embed_tokens.weight": n(c["config_vocab"], H, std=1.0), "model.norm.weight": ln()}
    for i in range(c["layers"]):
        o = f"model.layers.{i}."
        w.update({o + "input_layernorm.weight": ln(), o + "post_attention_layernorm.weight": ln(),
                  o + "self_attn.q_proj.weight": n(q, H), o + "self_attn.k_proj.weight": n(kv, H),
                  o + "self_attn.v_proj.weight": n(kv, H), o + "self_attn.o_proj.weight": n(H, q),
                  o + "mlp.gate_proj.weight": n(F, H), o + "mlp.up_proj.weight": n(F, H),
                  o + "mlp.down_proj.weight": n(H, F)})
        if c["family"] == "qwen2":
            w.update({o + "self_attn.q_proj.bias": n(q, std=0.3), o + "self_attn.k_proj.bias": n(kv, std=0.3),
                      o + "self_attn.v_proj.bias": n(kv, std=0.3)})
    if not c["tied"]:
        w["lm_head.weight"] = n(c["config_vocab"], H, std=0.3)
    return w


def round_to(w: dict[str, np.ndarray], dtype: str) -> dict[str, np.ndarray]:
    """The values the checkpoint's dtype can hold, as float32 (what the reference reads)."""
    out = {}
    for k, v in w.items():
        if v.dtype != np.float32 or dtype == "f32":
            out[k] = v
        elif dtype == "f16":
            out[k] = v.astype(np.float16).astype(np.float32)
        else:  # bf16: round to nearest even on the high 16 bits
            u = v.view(np.uint32).astype(np.uint64)
            u = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16 << 16).astype(np.uint32)
            out[k] = u.view(np.float32)
    return out


def save(path: str, tensors: dict[str, np.ndarray], dtype: str) -> None:
    """A safetensors file written by hand (numpy has no bfloat16)."""
    header, blobs, off = {}, [], 0
    for k in sorted(tensors):
        v = tensors[k]
        if v.dtype == np.int64:
            code, b = "I64", v.astype("<i8").tobytes()
        elif dtype == "f32":
            code, b = "F32", v.astype("<f4").tobytes()
        elif dtype == "f16":
            code, b = "F16", v.astype("<f2").tobytes()
        else:
            code, b = "BF16", (v.astype("<f4").view("<u4") >> 16).astype("<u2").tobytes()
        header[k] = {"dtype": code, "shape": list(v.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(len(h).to_bytes(8, "little"))
        f.write(h)
        for b in blobs:
            f.write(b)


def write_json(path: str, obj) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2)


def make(out: str, case: str, seed: int) -> None:
    c = CASES[case]
    rng = np.random.default_rng(seed)
    for d in (out, out + ".f32"):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
    if c["family"] == "bert":
        tok = wordpiece(c["vocab"], c["positions"])
        c = dict(c, vocab=tok.get_vocab_size())
        w = bert_weights(c, rng)
        cfg = {"architectures": [c["arch"]], "model_type": "bert", "hidden_size": c["hidden"],
               "num_hidden_layers": c["layers"], "num_attention_heads": c["heads"], "intermediate_size": c["ffn"],
               "hidden_act": "gelu", "max_position_embeddings": c["positions"], "type_vocab_size": 2,
               "vocab_size": c["vocab"], "layer_norm_eps": 1e-12, "position_embedding_type": "absolute",
               "pad_token_id": 0, "torch_dtype": {"f32": "float32", "f16": "float16", "bf16": "bfloat16"}[c["dtype"]],
               "_name_or_path": f"synthetic-{case}"}
    else:
        llama = c["family"] == "llama"
        special = ["<s>", "</s>"] if llama else ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
        tok = byte_bpe(c["vocab"], special, "<s>" if llama else None)
        assert tok.get_vocab_size() <= c["config_vocab"]
        w = decoder_weights(c, rng)
        cfg = {"architectures": [c["arch"]], "model_type": c["family"], "hidden_size": c["hidden"],
               "intermediate_size": c["ffn"], "num_hidden_layers": c["layers"], "num_attention_heads": c["heads"],
               "num_key_value_heads": c["kv"], "hidden_act": "silu", "max_position_embeddings": 4096,
               "rms_norm_eps": c["eps"], "rope_theta": c["theta"], "tie_word_embeddings": c["tied"],
               "vocab_size": c["config_vocab"], "torch_dtype": "bfloat16" if c["dtype"] == "bf16" else "float16",
               "_name_or_path": f"synthetic-{case}"}
        if llama:
            cfg.update(bos_token_id=tok.token_to_id("<s>"), eos_token_id=tok.token_to_id("</s>"),
                       attention_bias=False, mlp_bias=False,
                       rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                     "high_freq_factor": 4.0, "original_max_position_embeddings": 8192})
        else:
            cfg.update(bos_token_id=None, eos_token_id=tok.token_to_id("<|endoftext|>"), use_sliding_window=False)
    w = round_to(w, c["dtype"])
    for d in (out, out + ".f32"):
        write_json(os.path.join(d, "config.json"), cfg)
        tok.save(os.path.join(d, "tokenizer.json"))
    save(os.path.join(out + ".f32", "model.safetensors"), w, "f32")
    names = sorted(w)
    if c["shards"] == 1:
        save(os.path.join(out, "model.safetensors"), w, c["dtype"])
    else:
        k = c["shards"]
        parts = [names[i::k] for i in range(k)]
        wmap = {}
        for i, part in enumerate(parts):
            fn = f"model-{i + 1:05d}-of-{k:05d}.safetensors"
            save(os.path.join(out, fn), {n: w[n] for n in part}, c["dtype"])
            wmap.update({n: fn for n in part})
        write_json(os.path.join(out, "model.safetensors.index.json"),
                   {"metadata": {"total_size": int(sum(v.nbytes for v in w.values()))}, "weight_map": wmap})
    if c.get("st") == "modules-cls-normalize":
        write_json(os.path.join(out, "modules.json"), [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}])
        write_json(os.path.join(out, "1_Pooling", "config.json"), {
            "word_embedding_dimension": c["hidden"], "pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False,
            "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False})
    elif c.get("st") == "1_Pooling-mean":
        write_json(os.path.join(out, "1_Pooling", "config.json"), {
            "word_embedding_dimension": c["hidden"], "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False})


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--case", required=True, choices=sorted(CASES))
    ap.add_argument("--seed", type=int, default=23)
    a = ap.parse_args()
    make(a.out.rstrip("/"), a.case, a.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
