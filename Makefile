# brainalign — every target sets up its own virtual environment (.venv) when missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.brainalign-installed
PYTEST_ARGS ?=

.PHONY: demo test lint bench clean-venv venv

venv: $(STAMP)

# torch is installed first, pinned, so that nothing later pulls a CUDA build.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[test,meeg,viz,parallel]"
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/brainalign demo

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check brainalign tests benchmarks
	$(BIN)/ruff format --check brainalign tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_encoders.py

clean-venv:
	rm -rf $(VENV)
