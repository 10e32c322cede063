#!/usr/bin/env bash
# Executes the evcxr (Rust Jupyter) notebooks in notebooks/ for real, in order, and
# writes their outputs back into the .ipynb files. Idempotent set-up first:
#   - evcxr_jupyter 0.22.0 (cargo install, ~6.5 min on 2 cores; skipped when installed)
#     and its Jupyter kernel spec ("rust");
#   - nbconvert/nbclient into .venv from scripts/requirements-notebooks.txt;
#   - the assets (scripts/setup.sh) and the pair sets (`lexalign vocab build`) when missing.
# Each notebook runs from its committed file into a temporary folder; only a run with
# no cell error replaces the committed notebook, so a failure never clobbers outputs.
#
#   scripts/run_notebooks.sh                      # every notebooks/[0-9]*.ipynb
#   scripts/run_notebooks.sh notebooks/01-quickstart.ipynb
#   scripts/run_notebooks.sh --check              # execute, fail on any cell error, keep files as they are
#   scripts/run_notebooks.sh --check --cold       # each notebook from nothing: its own new kernel
#                                                 # build folder and an empty embedding cache
#   scripts/run_notebooks.sh --check --jobs 2     # the first notebook alone (it builds the kernel
#                                                 # crate), the rest in 2 lanes, each lane with its
#                                                 # own copy of the built kernel crate
#   scripts/run_notebooks.sh --kernel-only        # install evcxr_jupyter and stop (no venv, no
#                                                 # data): `make test` runs it beside the build
#
# After each notebook the wall time of every code cell that took a second or more is printed.
#
# Environment: EVCXR_TMPDIR (default target/evcxr/crate; shared by the notebooks so the
# crate is compiled once), NB_TIMEOUT (seconds per cell, default 1800: the `:dep` cell
# compiles lexalign and its dependencies, ~3.5 min cold on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CARGO_BIN=${CARGO_HOME:-$HOME/.cargo}/bin
export PATH="$CARGO_BIN:$PATH"
TIMEOUT=${NB_TIMEOUT:-1800}
EVCXR_VERSION=0.22.0

log() { echo "[notebooks] $*" >&2; }

check=0
cold=0
jobs=1
kernel_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --check) check=1; shift ;;
    --cold) cold=1; shift ;;
    --jobs)
      [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || { log "--jobs expects a whole number of lanes >= 1, got '${2:-}'"; exit 2; }
      jobs=$2; shift 2 ;;
    --kernel-only) kernel_only=1; shift ;;
    --) shift; break ;;
    -*) log "unknown option $1 (expected --check, --cold, --jobs N, --kernel-only or notebook paths)"; exit 2 ;;
    *) break ;;
  esac
done

# --- the kernel ---
# (evcxr_jupyter has no --version flag; cargo's install list records the version)
if ! { command -v evcxr_jupyter >/dev/null && cargo install --list | grep -q "^evcxr_jupyter v$EVCXR_VERSION:"; }; then
  log "installing evcxr_jupyter $EVCXR_VERSION (cargo install; several minutes)"
  cargo install evcxr_jupyter --version "$EVCXR_VERSION" --locked
fi
if [ "$kernel_only" = 1 ]; then log "evcxr_jupyter $EVCXR_VERSION installed"; exit 0; fi

# --- Python side: nbconvert drives the kernel ---
if [ ! -x .venv/bin/python ]; then
  log "creating .venv"
  "${PYTHON:-python3}" -m venv .venv
fi
.venv/bin/pip install -q -r scripts/requirements-notebooks.txt
export PATH="$ROOT/.venv/bin:$PATH"
if ! jupyter kernelspec list 2>/dev/null | grep -qE '^\s*rust\s'; then
  log "registering the evcxr kernel"
  evcxr_jupyter --install >/dev/null
fi

# --- data the notebooks read ---
if [ ! -f "${LEXALIGN_ASSETS:-$ROOT/data/external}/manifest.json" ]; then
  log "assets missing: running scripts/setup.sh"
  bash scripts/setup.sh
fi
if [ ! -d data/processed/pairs ]; then
  log "pair sets missing: running lexalign vocab build"
  cargo run --quiet -- vocab build
fi

# Prints every error output of an executed notebook (cell number, source, message);
# fails when there is one.
check_errors() {
  .venv/bin/python - "$1" <<'PY'
import json, re, sys
nb = json.load(open(sys.argv[1]))
bad = 0
for i, cell in enumerate(nb["cells"]):
    for o in cell.get("outputs", []):
        if o.get("output_type") == "error":
            bad += 1
            src = "".join(cell["source"])
            tb = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(o.get("traceback", [])))
            print(f"--- cell {i}:\n{src}\n--- error: {o.get('evalue', '')}\n{tb}", file=sys.stderr)
sys.exit(1 if bad else 0)
PY
}

# Prints the wall time of each code cell (from nbclient's execution timestamps).
cell_times() {
  .venv/bin/python - "$1" <<'PY'
import json, sys
from datetime import datetime
nb = json.load(open(sys.argv[1]))
t = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))
total, rows = 0.0, []
for i, cell in enumerate(nb["cells"]):
    ex = cell.get("metadata", {}).get("execution", {})
    if cell["cell_type"] != "code" or "shell.execute_reply" not in ex:
        continue
    secs = (t(ex["shell.execute_reply"]) - t(ex["iopub.execute_input"])).total_seconds()
    total += secs
    first = next((l.strip() for l in "".join(cell["source"]).splitlines() if l.strip() and not l.startswith("//")), "")
    if secs >= 1.0:
        rows.append(f"  cell {i:>2} {secs:7.1f} s  {first[:70]}")
print("\n".join(rows + [f"  code cells: {total:.1f} s in all"]), file=sys.stderr)
PY
}

# --- run ---
if [ $# -gt 0 ]; then
  notebooks=("$@")
else
  notebooks=(notebooks/[0-9]*.ipynb)
fi

# `:opt 0` keeps the kernel's build of polars & co. short, but leaves lexalign's numeric
# code (bootstrap, probe, PCA) slow. Cargo reads .cargo/config.toml from the parent
# folders of the kernel's crate, so one in target/evcxr/ optimises just the numeric
# crates of notebook builds under target/evcxr/ and touches nothing else.
if [ -z "${EVCXR_TMPDIR:-}" ] || [ "$cold" = 1 ]; then
  if [ -n "${EVCXR_TMPDIR:-}" ]; then log "--cold: ignoring EVCXR_TMPDIR, each notebook gets a new folder in target/evcxr/cold/"; fi
  mkdir -p "$ROOT/target/evcxr/.cargo"
  cat > "$ROOT/target/evcxr/.cargo/config.toml" <<'TOML'
# Written by scripts/run_notebooks.sh for the evcxr kernel's builds.
[profile.dev.package.lexalign]
opt-level = 2
[profile.dev.package.matrixmultiply]
opt-level = 3
[profile.dev.package.linfa-linalg]
opt-level = 3
[profile.dev.package.rand_chacha]
opt-level = 3
[profile.dev.package.faer]
opt-level = 3
[profile.dev.package.faer-traits]
opt-level = 3
[profile.dev.package.private-gemm-x86]
opt-level = 3
[profile.dev.package.gemm-common]
opt-level = 3
[profile.dev.package.gemm-f32]
opt-level = 3
[profile.dev.package.gemm-f64]
opt-level = 3
[profile.dev.package.nano-gemm-f32]
opt-level = 3
[profile.dev.package.nano-gemm-f64]
opt-level = 3
[profile.dev.package.pulp]
opt-level = 3
[profile.dev.package.spindle]
opt-level = 3
# Hashing (model files are checked by sha256 on load: 10% of notebook 02's time at
# opt-level 0), tokenising and PNG encoding run in every notebook.
[profile.dev.package.sha2]
opt-level = 3
[profile.dev.package.tokenizers]
opt-level = 3
[profile.dev.package.onig_sys]
opt-level = 3
[profile.dev.package.png]
opt-level = 3
[profile.dev.package.fdeflate]
opt-level = 3
[profile.dev.package.miniz_oxide]
opt-level = 3
[profile.dev.package.crc32fast]
opt-level = 3
[profile.dev.package.plotters-bitmap]
opt-level = 3
[profile.dev.package.ab_glyph_rasterizer]
opt-level = 3
TOML
  [ "$cold" = 1 ] || export EVCXR_TMPDIR=$ROOT/target/evcxr/crate
else
  log "EVCXR_TMPDIR set by you: numeric crates are built at the notebook's :opt level"
fi

# The kernel's crate resolves its dependencies afresh; seeding its lock file with the
# project's keeps them at the versions the tests ran with.
prepare_crate_dir() {
  mkdir -p "$1"
  [ -f "$1/Cargo.lock" ] || cp Cargo.lock "$1/Cargo.lock"
}
[ "$cold" = 1 ] || prepare_crate_dir "$EVCXR_TMPDIR"

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for nb in "${notebooks[@]}"; do
  [ -f "$nb" ] || { log "no such notebook: $nb"; exit 2; }
done

# Executes one notebook; returns non-zero on any cell error.
run_one() {
  local nb=$1 name start
  name=$(basename "$nb")
  if [ "$cold" = 1 ]; then
    # Nothing reused: a new kernel build folder and an empty embedding cache.
    export EVCXR_TMPDIR=$ROOT/target/evcxr/cold/${name%.ipynb}
    rm -rf "$EVCXR_TMPDIR" "$out/cache"
    prepare_crate_dir "$EVCXR_TMPDIR"
    export LEXALIGN_CACHE=$out/cache
    log "cold run: kernel crate $EVCXR_TMPDIR, embedding cache $LEXALIGN_CACHE"
  fi
  log "executing $nb (cell timeout ${TIMEOUT}s)"
  start=$(date +%s)
  # The kernel runs in the notebook's own folder (so `:dep lexalign = { path = ".." }`
  # resolves); the executed copy goes to $out and replaces $nb only on success.
  # --allow-errors keeps evcxr's messages in the output, which check_errors prints;
  # any error output still fails the run.
  if ! jupyter nbconvert --to notebook --execute --allow-errors \
      --ExecutePreprocessor.timeout="$TIMEOUT" \
      --ExecutePreprocessor.kernel_name=rust \
      --output-dir "$out" --output "$name" "$nb" \
    || ! check_errors "$out/$name"; then
    log "FAILED: $nb after $(( $(date +%s) - start )) s (committed notebook left unchanged)"
    return 1
  fi
  cell_times "$out/$name"
  if [ "$check" = 1 ]; then
    log "ok: $nb in $(( $(date +%s) - start )) s (--check: file left unchanged)"
  else
    mv "$out/$name" "$nb"
    log "done: $nb in $(( $(date +%s) - start )) s"
  fi
  # A cold run's kernel build folder is not reused: free its disk space.
  if [ "$cold" = 1 ]; then rm -rf "$EVCXR_TMPDIR"; fi
}

total_start=$(date +%s)
if [ "$cold" = 1 ] && [ "$jobs" -gt 1 ]; then log "--cold runs one notebook at a time (ignoring --jobs $jobs)"; jobs=1; fi
if [ "$jobs" = 1 ] || [ "${#notebooks[@]}" -le 1 ]; then
  for nb in "${notebooks[@]}"; do run_one "$nb" || exit 1; done
else
  # The first notebook alone builds the kernel crate (a parallel cargo build); then the
  # rest in lanes, each lane its notebooks in order with its own copy of the built crate
  # (a kernel's cell builds are mostly one process each: two lanes keep both cores busy).
  run_one "${notebooks[0]}" || exit 1
  rest=("${notebooks[@]:1}")
  [ "$jobs" -le "${#rest[@]}" ] || jobs=${#rest[@]}
  base=$EVCXR_TMPDIR
  for ((k = 0; k < jobs; k++)); do
    lane=()
    for ((i = k; i < ${#rest[@]}; i += jobs)); do lane+=("${rest[$i]}"); done
    dir=$base
    if [ "$k" -gt 0 ]; then
      dir=$base-lane$k
      rm -rf "$dir" && cp -a "$base" "$dir"
    fi
    log "lane $k: ${lane[*]} (kernel crate $dir)"
    # Each line is prefixed with its lane as it comes; the lane's status goes to a file
    # (a pipeline's own status would be sed's).
    ( export EVCXR_TMPDIR=$dir
      rc=0
      for nb in "${lane[@]}"; do run_one "$nb" || { rc=1; break; }; done
      echo "$rc" > "$out/lane$k.rc" ) 2>&1 | sed -u "s/^/[lane $k] /" >&2 &
  done
  wait
  failed=0
  for ((k = 0; k < jobs; k++)); do
    [ "$(cat "$out/lane$k.rc" 2>/dev/null)" = 0 ] || { log "FAILED: lane $k (its lines are above)"; failed=1; }
  done
  for ((k = 1; k < jobs; k++)); do rm -rf "$base-lane$k"; done
  [ "$failed" = 0 ] || exit 1
fi
log "all notebooks executed in $(( $(date +%s) - total_start )) s"
