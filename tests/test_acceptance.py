"""Acceptance rows: measured, pass/fail/not measured, never invented."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from prometheus_sim.acceptance import FAIL, NOT_MEASURED, PASS, evaluate
from prometheus_sim.cli import main, simulated_wiring
from prometheus_sim.sweep import SweepConfig, run_sweep
from tests.conftest import SCENARIOS


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("acc") / "run"
    cfg = SweepConfig(scenarios=(str(SCENARIOS / "default.yaml"),), seeds=tuple(range(1, 9)),
                      strategies=("equal_weight", "hold"), horizon_days=60, seeds_per_task=8)  # fmt: skip
    run_sweep(cfg, out, simulated_wiring())
    return out


def test_parts_that_do_not_exist_are_not_measured(run_dir):
    report = evaluate(run_dir)
    names = [c.name for c in report.criteria]
    assert names == [
        "Forecast MAE", "7-day forecast MAPE", "RL policy Sharpe in backtests", "Recommendation win rate",
        "Inference latency p99", "Inference throughput",
    ]  # fmt: skip
    assert all(c.status == NOT_MEASURED and c.measured is None for c in report.criteria)
    assert not report.failed
    win = report.criteria[3]
    assert set(win.baselines) == {"hold", "equal_weight"} and win.definition
    assert json.dumps(report.to_dict())  # valid JSON, NaN-free


def test_measured_rows_pass_or_fail(run_dir):
    (run_dir / "forecast_eval.json").write_text(json.dumps({"mae_pct": 7.5, "mape_7d": 8.0}))
    try:
        report = evaluate(run_dir)
        assert report.criteria[0].status == FAIL and report.criteria[0].measured == 7.5
        assert report.criteria[1].status == PASS
        result = CliRunner().invoke(main, ["acceptance", str(run_dir)])
        assert result.exit_code == 1
        assert "FAIL" in result.output and "NOT MEASURED" in result.output
    finally:
        (run_dir / "forecast_eval.json").unlink()
    ok = CliRunner().invoke(main, ["acceptance", str(run_dir)])
    assert ok.exit_code == 0, ok.output


def test_acceptance_on_a_missing_run_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(main, ["acceptance", str(tmp_path / "nothing")])
    assert result.exit_code == 2 and "not a sweep directory" in result.output
