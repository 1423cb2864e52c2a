# make demo: set up .venv and run the main job on a shipped scenario.
# make test: set up .venv and run the whole test suite.
# Both work on a fresh machine: they install pinned dependencies (torch first, alone: a local CPU wheel).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Caches stay inside the project so runs never write to the home directory.
export NUMBA_CACHE_DIR := $(CURDIR)/.cache/numba
export MPLCONFIGDIR := $(CURDIR)/.cache/matplotlib
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup demo test lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml requirements/requirements.txt requirements/constraints.lock.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -r requirements/requirements.txt -c requirements/constraints.lock.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

demo: setup
	$(BIN)/prometheus-sim simulate default --paths 1000 --out runs/demo --progress
	@echo "demo outputs: runs/demo (manifest.json, Parquet blocks, stylised_facts.csv, fan_*.png)"

test: setup
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check prometheus_sim strategies adapters tests benchmarks
	$(BIN)/ruff format --check prometheus_sim strategies adapters tests benchmarks

bench: setup
	$(BIN)/python benchmarks/bench_simulate.py

clean:
	rm -rf $(VENV) .cache runs
