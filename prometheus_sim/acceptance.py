"""The seed's acceptance criteria, scored from a run directory -> :class:`AcceptanceReport`.

Each row holds the measured value, a 95 % interval over seeds, the baselines' values, a status of
``pass``, ``fail`` or ``not measured``, and the definition used. Rows for parts that do not exist
yet say "not measured", never a made-up number. Later issues fill them by adding their outputs to
the run directory: a ``dqn`` or ``forecast`` strategy in the sweep, ``forecast_eval.json`` (the
forecaster's out-of-sample errors) and ``inference_bench.json`` (the API's latency and throughput).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from prometheus_sim.metrics import DEFINITIONS, mean_interval
from prometheus_sim.sweep import load_sweep

PASS, FAIL, NOT_MEASURED = "pass", "fail", "not measured"
BASELINES = ("hold", "buy_and_hold", "equal_weight", "sixty_forty")
AI_STRATEGIES = ("dqn", "forecast")
FORECAST_FILE = "forecast_eval.json"
INFERENCE_FILE = "inference_bench.json"
# One rule for every backtest row: the mean over all (scenario, seed) cells meets the target. The
# interval beside it treats cells as independent draws, which scenarios are not: read it as a guide.
MEAN_RULE = " Pass rule: the mean over every (scenario, seed) cell meets the target."


@dataclass
class Criterion:
    """One row of the acceptance table."""

    name: str
    target: str
    status: str
    measured: float | None = None
    low: float | None = None
    high: float | None = None
    unit: str = ""
    baselines: dict[str, float] = field(default_factory=dict)
    definition: str = ""
    note: str = ""


@dataclass
class AcceptanceReport:
    criteria: list[Criterion]

    @property
    def failed(self) -> bool:
        return any(c.status == FAIL for c in self.criteria)

    def to_dict(self) -> dict:
        return {"criteria": [_clean(asdict(c)) for c in self.criteria], "failed": self.failed}

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(c) for c in self.criteria])


def _clean(d: dict) -> dict:
    """NaN -> None so the JSON is valid."""
    out = {}
    for k, v in d.items():
        if isinstance(v, float) and not math.isfinite(v):
            out[k] = None
        elif isinstance(v, dict):
            out[k] = _clean(v)
        else:
            out[k] = v
    return out


def _baseline_means(metrics: pd.DataFrame, column: str) -> dict[str, float]:
    if metrics.empty:
        return {}
    present = [b for b in BASELINES if b in set(metrics["strategy"])]
    return {b: float(metrics.loc[metrics["strategy"] == b, column].mean()) for b in present}


def _strategy_row(
    metrics: pd.DataFrame,
    strategies: tuple[str, ...],
    column: str,
    name: str,
    target: str,
    passes,
    unit: str,
    definition: str,
    missing_note: str,
) -> Criterion:
    baselines = _baseline_means(metrics, column)
    have = [s for s in strategies if not metrics.empty and s in set(metrics["strategy"])]
    if not have:
        return Criterion(
            name, target, NOT_MEASURED, unit=unit, baselines=baselines, definition=definition, note=missing_note
        )
    values = metrics.loc[metrics["strategy"].isin(have), column].to_numpy(dtype=float)
    mean, low, high = mean_interval(values)
    if not math.isfinite(mean):
        return Criterion(name, target, NOT_MEASURED, unit=unit, baselines=baselines, definition=definition,
                         note=f"{', '.join(have)} produced no scored value")  # fmt: skip
    status = PASS if passes(mean, low) else FAIL
    return Criterion(
        name, target, status, mean, low, high, unit, baselines, definition, note=f"strategies: {', '.join(have)}"
    )


def _file_row(run: Path, file: str, key: str, name: str, target: str, passes, unit: str, definition: str, note: str):
    path = run / file
    if not path.exists():
        return Criterion(name, target, NOT_MEASURED, unit=unit, definition=definition, note=note)
    data = json.loads(path.read_text())
    if key not in data or data[key] is None:
        return Criterion(name, target, NOT_MEASURED, unit=unit, definition=definition, note=f"{file} has no {key!r}")
    value = float(data[key])
    low, high = data.get(f"{key}_low"), data.get(f"{key}_high")
    return Criterion(name, target, PASS if passes(value) else FAIL, value, low, high, unit, definition=definition,
                     note=f"from {file}")  # fmt: skip


def evaluate(run_dir: str | Path) -> AcceptanceReport:
    """Score every criterion the framework can measure from a run directory."""
    run = Path(run_dir)
    _, metrics, _ = load_sweep(run)
    rows = [
        _file_row(run, FORECAST_FILE, "mae_pct", "Forecast MAE", "< 5 %", lambda v: v < 5.0, "%",
                  DEFINITIONS["mae_pct"], "the forecaster is not built yet (no forecast_eval.json)"),
        _file_row(run, FORECAST_FILE, "mape_7d", "7-day forecast MAPE", "< 10 %", lambda v: v < 10.0, "%",
                  DEFINITIONS["mape"] + " At a 7-day horizon.", "the forecaster is not built yet (no forecast_eval.json)"),
        _strategy_row(metrics, ("dqn",), "sharpe", "RL policy Sharpe in backtests", "mean > 0",
                      lambda m, lo: m > 0, "", DEFINITIONS["sharpe"] + MEAN_RULE,
                      "no 'dqn' strategy in this run (the DQN is not built yet)"),
        _strategy_row(metrics, AI_STRATEGIES, "win_rate", "Recommendation win rate", "mean >= 80 %",
                      lambda m, lo: m >= 0.8, "fraction", DEFINITIONS["win_rate"] + MEAN_RULE,
                      "no 'dqn' or 'forecast' strategy in this run; baselines shown for reference"),
        _file_row(run, INFERENCE_FILE, "p99_ms", "Inference latency p99", "< 100 ms", lambda v: v < 100.0, "ms",
                  "99th percentile of single-request latency of the inference API.", "the inference API is not built yet"),
        _file_row(run, INFERENCE_FILE, "predictions_per_s", "Inference throughput", "> 1,000 predictions/s",
                  lambda v: v > 1000.0, "1/s", "Predictions served per second under load.", "the inference API is not built yet"),
    ]  # fmt: skip
    return AcceptanceReport(rows)
