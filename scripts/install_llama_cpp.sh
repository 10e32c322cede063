#!/usr/bin/env bash
# `make llama-cpp`: builds llama.cpp, the reference implementation of GGUF, from the PyPI
# source distribution of llama-cpp-python into the project's reference environment (.venv)
# only. lexalign never needs it; `make check-llama-cpp` and the bench's llama.cpp peer do.
#   llama-cpp-python 0.3.36 (sdist, vendors llama.cpp), built with the PyPI cmake and ninja
#   and the system C/C++ compiler (Debian build-essential, installed with apt-get if missing).
#   CPU only, GGML_NATIVE=ON: the peer is compiled for this CPU (-march=native: AVX2, FMA,
#   F16C here), as llama.cpp's own default build is, so the bench compares lexalign with
#   llama.cpp at its best on the machine; ONNX Runtime picks its kernels at run time, so
#   neither side is held back. The library is not portable to another CPU: rebuild there.
# Idempotent: skipped when the pinned version is importable. ~20-40 min on 2 quiet cores; the
# source and the CMake build folder are kept under $LEXALIGN_ASSETS/build/ (git-ignored), so an
# interrupted build resumes where it stopped (on a loaded machine it can take over an hour).
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=0.3.36
SDIST_SHA=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
EXT=${LEXALIGN_ASSETS:-$PWD/data/external}
WORK=$EXT/build/llama-cpp-python-$VERSION
VPY=.venv/bin/python
log() { echo "[llama-cpp] $*" >&2; }
[ -x "$VPY" ] || { log "no .venv: run \`make setup\` first"; exit 1; }

if "$VPY" -c "import llama_cpp, sys; sys.exit(llama_cpp.__version__ != '$VERSION')" 2>/dev/null; then
  log "llama-cpp-python $VERSION already importable from .venv; nothing to do"
  exit 0
fi

if ! command -v cc >/dev/null || ! command -v c++ >/dev/null || ! command -v make >/dev/null; then
  log "no C/C++ compiler: installing Debian build-essential (apt-get, needs root)"
  [ "$(id -u)" = 0 ] || { log "not root: install build-essential (gcc, g++) and rerun"; exit 1; }
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq build-essential
fi

# Build tools pinned, from PyPI, into the reference environment (no build isolation, so the
# versions are the ones named here).
.venv/bin/pip install -q scikit-build-core==1.1.2 cmake==4.4.5 ninja==1.13.2
export PATH=$PWD/.venv/bin:$PATH
# CPU only: no CUDA/Metal/Vulkan/BLAS; no multimodal library, tests, tools or examples.
export CMAKE_ARGS="-DGGML_NATIVE=ON -DGGML_BLAS=OFF -DGGML_CUDA=OFF -DGGML_VULKAN=OFF -DGGML_METAL=OFF -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF"
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}
SDIST=$WORK/llama_cpp_python-$VERSION.tar.gz
if [ ! -f "$WORK/src/pyproject.toml" ]; then
  mkdir -p "$WORK"
  if [ ! -f "$SDIST" ]; then
    log "pip download --no-deps --no-binary llama-cpp-python llama-cpp-python==$VERSION"
    .venv/bin/pip download -q --no-deps --no-build-isolation --no-binary llama-cpp-python \
      "llama-cpp-python==$VERSION" -d "$WORK"
  fi
  echo "$SDIST_SHA  $SDIST" | sha256sum -c --quiet - || { log "$SDIST: sha256 differs from $SDIST_SHA"; exit 1; }
  rm -rf "$WORK/src.tmp" && mkdir -p "$WORK/src.tmp"
  tar xzf "$SDIST" -C "$WORK/src.tmp" --strip-components 1
  mv "$WORK/src.tmp" "$WORK/src"
fi
log "building llama-cpp-python $VERSION from source in $WORK (CMAKE_ARGS=$CMAKE_ARGS)"
.venv/bin/pip install --no-build-isolation --no-deps -C "build-dir=$WORK/build" "$WORK/src"
.venv/bin/pip install -q "typing-extensions>=4.5.0" "numpy>=1.20.0" "diskcache>=5.6.1" "jinja2>=2.11.3"
"$VPY" -c "import llama_cpp; print('[llama-cpp] installed', llama_cpp.__version__)" >&2
