# make demo: set up .venv and run the main job on a shipped scenario.
# make test: set up .venv and run the whole test suite.
# Both work on a fresh machine: they install pinned dependencies (torch first, alone: a local CPU wheel).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Caches stay inside the project so runs never write to the home directory. Numba's compiled kernels go
# where the package puts them itself: .cache/numba/<digest of the kernel sources>, fresh after any change.
export MPLCONFIGDIR := $(CURDIR)/.cache/matplotlib
export PIP_DISABLE_PIP_VERSION_CHECK := 1

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SEEDS ?= 1000-1005

.PHONY: setup browser demo test lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml requirements/requirements.txt requirements/constraints.lock.txt package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "installing Debian's nodejs and npm (solc-js and Anvil for live mode)"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends nodejs npm; }
	npm ci --no-audit --no-fund --loglevel=error
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --no-compile torch==2.13.0
	$(BIN)/pip install --quiet --no-compile -r requirements/requirements.txt -c requirements/constraints.lock.txt
	$(BIN)/pip install --quiet --no-deps -e .
	@# byte-compile on every core, not pip's one (measured: 39 s against about 86 s inside pip); a few
	@# files in site-packages are not Python 3.11 (test data, other versions), as pip itself ignores
	$(BIN)/python -m compileall -q -j 0 $(VENV)/lib >/dev/null || true
	$(BIN)/prometheus-sim warmup
	touch $(STAMP)

# Debian's Chromium renders the HTML report in a test (headless); Debian's redis-server backs the API's
# rate-limit test (started and stopped by the test itself).
browser:
	@command -v chromium >/dev/null 2>&1 || { echo "installing Debian's chromium (for the report test)"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium; }
	@command -v redis-server >/dev/null 2>&1 || { echo "installing Debian's redis-server (for the API's rate-limit test)"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends redis-server; }

demo: setup
	@# each demo is a fresh run: steps 2 and 4 register new model versions, and a backtest folder of the last demo
	@# holds cells of the older ones, which the sweep refuses to resume (a second `make demo` stopped at step 5)
	@[ ! -f runs/demo/devchain.json ] || $(BIN)/prometheus-sim devchain down --config runs/demo/devchain.json >/dev/null 2>&1 || true
	rm -rf runs/demo
	@echo "== $$(date +%T) 1/8 simulate the default scenario (1,000 paths)"
	$(BIN)/prometheus-sim simulate default --paths 1000 --out runs/demo/market --progress
	@echo "== $$(date +%T) 2/8 train a quick forecaster (serving size, a few epochs) on the forecasting scenario; MLflow store in .mlflow/"
	$(BIN)/prometheus-sim forecast train forecasting --seeds 0-23 --horizon-days 730 --epochs 5 --max-windows 8000 \
	  --hidden 64 --lstm-layers 1 --transformer-layers 1 --heads 4 --batch-size 64 --lr 0.003 --progress
	@echo "== $$(date +%T) 3/8 score it out of sample (unseen seeds, later days) beside last value, drift, EWMA and the oracle"
	$(BIN)/prometheus-sim forecast evaluate forecasting default --seeds 5000-5007 --out runs/demo/forecast
	@echo "== $$(date +%T) 4/8 train a short Double-DQN policy on PortfolioEnv (weekly decisions, 64 envs, one update per 64 env steps; the checkpoint with the best Sharpe on held-out seeds 900-907 is registered)"
	$(BIN)/prometheus-sim policy train default --seeds 0-15 --steps 200000 --num-envs 64 --replay-ratio 0.015625 --select-seeds 900-907 --progress
	@echo "== $$(date +%T) 5/8 backtest forecast and dqn beside the baselines over every shipped scenario x seeds $(SEEDS)"
	$(BIN)/prometheus-sim backtest scenarios/*.yaml --strategy forecast,dqn,equal_weight,sixty_forty,buy_and_hold,hold \
	  --seeds $(SEEDS) --fees-bps 10 --workers 2 --out runs/demo/backtest --progress
	@echo "== $$(date +%T) 6/8 acceptance criteria"
	$(BIN)/prometheus-sim acceptance runs/demo/backtest --evidence runs/demo/forecast/evidence/forecast_eval.json \
	  $$(for f in runs/evidence/*.json; do [ -f $$f ] && echo --evidence $$f; done) \
	  || echo "(acceptance exits 1 while a criterion fails or is not measured: see the rows above)"
	@echo "== $$(date +%T) 7/8 report"
	$(BIN)/prometheus-sim report runs/demo/backtest --evidence runs/demo/forecast/evidence/forecast_eval.json \
	  $$(for f in runs/evidence/*.json; do [ -f $$f ] && echo --evidence $$f; done)
	@echo "HTML report: $(CURDIR)/runs/demo/backtest/report.html"
	@echo "== $$(date +%T) 8/8 live mode, dry run: a dev chain (Anvil), the contracts, 5 vaults; equal_weight decides, nothing is sent"
	$(BIN)/prometheus-sim devchain up --config runs/demo/devchain.json --market runs/demo/market --start 400
	$(BIN)/prometheus-sim devchain feed --config runs/demo/devchain.json --steps 2
	$(BIN)/prometheus-sim live --config runs/demo/devchain.json --strategy equal_weight --strategy-param period_days=1 \
	  --steps 2 --journal runs/demo/live/journal.jsonl --wait-timeout 20 & \
	  sleep 3; $(BIN)/prometheus-sim devchain feed --config runs/demo/devchain.json --steps 2; wait $$!; \
	  status=$$?; $(BIN)/prometheus-sim devchain down --config runs/demo/devchain.json; exit $$status

test: setup browser
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check prometheus_sim strategies adapters tests benchmarks examples
	$(BIN)/ruff format --check prometheus_sim strategies adapters tests benchmarks examples

bench: setup
	$(BIN)/pip install --quiet -r requirements/bench.txt -c requirements/constraints.lock.txt
	$(BIN)/python benchmarks/bench_simulate.py
	$(BIN)/python benchmarks/bench_rl.py

clean:
	rm -rf $(VENV) .cache runs node_modules
