#!/usr/bin/env bash
# `make check-8b`: what an 8B Q4_K_M GGUF costs lexalign, on a synthetic file with
# Llama-3.1-8B's exact shapes (32 layers, hidden 4096, FFN 14,336, 32/8 heads x 128, vocab
# 128,256, untied lm_head) and llama.cpp's Q4_K_M types (Q4_K; Q6_K for output.weight and for
# attn_v / ffn_down of the layers use_more_bits picks). Random blocks: cost only, no quality.
#   1. scripts/make_synthetic_gguf.py --preset llama-3.1-8b --mix q4_k_m   (~4.9 GB)
#   2. lexalign model import (quantisation kept, the default)              peak RSS, model size
#   3. lexalign embed --threads 2 of 1 and of N strings (--no-cache)      peak RSS, strings/s
# Each step under /usr/bin/time -v; a summary at the end (and in $WORK/summary.txt). Needs
# ~15 GB of free disk in $WORK (default: a temp folder, removed afterwards unless KEEP=1).
# Not part of `make test`. N: CHECK_8B_STRINGS (default 50), the first labels of
# hpo-label-id.paper.csv (run `lexalign vocab build` first).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VPY=$ROOT/.venv/bin/python
LEX=$ROOT/target/debug/lexalign
N=${CHECK_8B_STRINGS:-50}
log() { echo "[check-8b] $*" >&2; }
[ -x "$VPY" ] || { log "no .venv: run \`make setup\` first"; exit 1; }
[ -x "$LEX" ] || { log "no $LEX: run \`make build\` first"; exit 1; }
PAIRS=$ROOT/data/processed/pairs/hpo-label-id.paper.csv
[ -f "$PAIRS" ] || "$LEX" vocab build --quiet
ORT_DYLIB_PATH=${ORT_DYLIB_PATH:-$(ls "$ROOT"/data/external/onnxruntime/libonnxruntime.so.* | head -1)}
export ORT_DYLIB_PATH
WORK=${WORK:-$(mktemp -d "${TMPDIR:-/tmp}/lexalign-8b.XXXXXX")}
mkdir -p "$WORK"
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$WORK"' EXIT
export LEXALIGN_ASSETS=$WORK/assets  # the import stays out of data/external
GGUF=$WORK/llama-3.1-8b-q4_k_m.gguf
S=$WORK/summary.txt
: > "$S"

# /usr/bin/time -v's peak RSS (GB) and wall seconds of the last step
timed() {
  local name=$1; shift
  log "$name: $*"
  /usr/bin/time -v -o "$WORK/$name.time" "$@"
  local rss wall
  rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.2f", $2 / 1048576}' "$WORK/$name.time")
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; printf "%.1f", s}' "$WORK/$name.time")
  # the machine may be shared: the load average after the step says how much
  echo "$name: peak RSS $rss GB, wall $wall s (load average $(cut -d' ' -f1-3 /proc/loadavg))" | tee -a "$S" >&2
  eval "${name//-/_}_wall=$wall"
}

log "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; flags:$(grep -m1 -o -w -E 'avx2|fma|f16c|avx512f|avx512_vnni|avx512vnni|avx_vnni|amx_tile' /proc/cpuinfo | sort -u | tr '\n' ' ' || true)"
[ -f "$GGUF" ] || timed write-gguf "$VPY" scripts/make_synthetic_gguf.py "$GGUF" --preset llama-3.1-8b --mix q4_k_m
echo "GGUF: $(stat -c %s "$GGUF") bytes" | tee -a "$S" >&2
timed import "$LEX" model import "$GGUF" --name synth8b
M=$LEXALIGN_ASSETS/models/synth8b
echo "model folder: $(du -sb "$M" | cut -f1) bytes (model.weights $(stat -c %s "$M/model.weights"))" | tee -a "$S" >&2
tail -n +2 "$PAIRS" | "$VPY" -c 'import csv, sys
rows = list(csv.reader(sys.stdin))
n = int(sys.argv[1])
open(sys.argv[2], "w").write("\n".join(r[0] for r in rows[:n]) + "\n")
open(sys.argv[3], "w").write(rows[0][0] + "\n")' "$N" "$WORK/terms.txt" "$WORK/one.txt"
timed embed-1 "$LEX" --quiet embed --model synth8b --input "$WORK/one.txt" --output "$WORK/one.npy" --threads 2 --no-cache
timed embed-n "$LEX" --quiet embed --model synth8b --input "$WORK/terms.txt" --output "$WORK/v.npy" --threads 2 --no-cache
awk -v n="$N" -v a="$embed_1_wall" -v b="$embed_n_wall" 'BEGIN {
  printf "embed: %d strings in %.1f s with the session load, %.2f strings/s after it (%d strings in %.1f s more than 1)\n",
    n, b, (n - 1) / (b - a), n - 1, b - a }' | tee -a "$S" >&2
log "summary ($S):"
cat "$S"
