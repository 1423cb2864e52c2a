"""Acceptance rows: every criterion present, verdicts that cannot pass on survivors or hand-written files."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from prometheus_sim.acceptance import (
    FAIL,
    INCONCLUSIVE,
    MIN_CELLS,
    NOT_MEASURABLE,
    NOT_MEASURED,
    PASS,
    UNVERIFIED,
    evaluate,
)
from prometheus_sim.cli import main, simulated_wiring
from prometheus_sim.evidence import EvidenceError, write_evidence
from prometheus_sim.sweep import SweepConfig, run_sweep
from tests.conftest import SCENARIOS

GUIDE = [
    ("Model", "Forecast MAE"), ("Model", "7-day forecast MAPE"), ("Model", "RL policy Sharpe in backtests"),
    ("Model", "RL policy Sharpe over the policy rate"), ("Model", "Recommendation win rate"),
    ("API", "Inference latency p99"), ("API", "Inference throughput"), ("API", "Uptime over 30 days"),
    ("API", "Soak test (proxy for uptime)"), ("Integration", "Reads portfolios from VaultManager"),
    ("Integration", "Submits recommendations to PolicyEngine"), ("Integration", "Auto-rebalancing triggers correctly"),
    ("Security", "API authentication"), ("Security", "Rate limiting"),
    ("Security", "Model inputs validated and sanitised"), ("Security", "No sensitive data in logs"),
]  # fmt: skip


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("acc") / "run"
    cfg = SweepConfig(scenarios=(str(SCENARIOS / "default.yaml"),), seeds=tuple(range(1, 9)),
                      strategies=("equal_weight", "hold"), horizon_days=60, seeds_per_task=8)  # fmt: skip
    run_sweep(cfg, out, simulated_wiring())
    return out


def fake_run(path, cells: dict[str, list[float]], failures: list[dict] = (), column: str = "sharpe"):
    """A run directory with hand-made cells: strategy -> one value per seed."""
    path.mkdir(parents=True)
    rows = [{"scenario": "default", "seed": np.uint64(s), "strategy": k, "sharpe": v, "sharpe_excess": v - 0.1,
             "win_rate": v} for k, vals in cells.items() for s, v in enumerate(vals)]  # fmt: skip
    pd.DataFrame(rows).to_parquet(path / "metrics.parquet")
    (path / "failures.json").write_text(json.dumps(list(failures)))
    (path / "sweep.json").write_text(json.dumps({"config": {}, "status": "complete"}))
    return path


def row(report, name):
    return next(c for c in report.criteria if c.name == name)


def test_every_guide_criterion_has_a_row(run_dir):
    report = evaluate(run_dir)
    assert [(c.group, c.name) for c in report.criteria] == GUIDE
    statuses = {c.name: c.status for c in report.criteria}
    assert statuses.pop("Uptime over 30 days") == NOT_MEASURABLE
    assert set(statuses.values()) == {NOT_MEASURED}
    assert all(c.measured is None for c in report.criteria)
    assert not report.failed
    win = row(report, "Recommendation win rate")
    assert set(win.baselines) == {"hold", "equal_weight"} and win.definition
    assert win.baselines["equal_weight"]["status"] == NOT_MEASURED  # 8 cells < MIN_CELLS
    assert json.dumps(report.to_dict())  # valid JSON, NaN-free


def test_failed_cells_fail_the_row_and_are_counted(tmp_path):
    rng = np.random.default_rng(1)
    survivors = list(0.5 + rng.normal(0, 0.01, 30))
    failures = [{"scenario": "crypto_winter", "seeds": "1000-1014", "strategy": "dqn", "error": "boom"}]
    report = evaluate(fake_run(tmp_path / "r", {"dqn": survivors}, failures))
    sharpe = row(report, "RL policy Sharpe in backtests")
    assert sharpe.status == FAIL and sharpe.cells == 30 and sharpe.failed_cells == 15
    assert "15 of 45 cells failed" in sharpe.note
    assert report.failed
    # a task of seeds 1000, 1005, 1010 spans 1000-1010 but holds three: its failure records how many (review)
    spaced = [{"scenario": "crypto_winter", "seeds": "1000-1010", "n_seeds": 3, "strategy": "dqn", "error": "boom"}]
    sharpe = row(evaluate(fake_run(tmp_path / "s", {"dqn": survivors}, spaced)), "RL policy Sharpe in backtests")
    assert sharpe.failed_cells == 3 and "3 of 33 cells failed" in sharpe.note


def test_too_few_cells_are_not_measured_and_the_interval_decides(tmp_path):
    few = evaluate(fake_run(tmp_path / "few", {"dqn": [1.0] * (MIN_CELLS - 1)}))
    assert row(few, "RL policy Sharpe in backtests").status == NOT_MEASURED
    rng = np.random.default_rng(2)
    clear = evaluate(fake_run(tmp_path / "clear", {"dqn": list(0.5 + rng.normal(0, 0.1, 40))}))
    assert row(clear, "RL policy Sharpe in backtests").status == PASS
    loses = evaluate(fake_run(tmp_path / "loses", {"dqn": list(-0.5 + rng.normal(0, 0.1, 40))}))
    assert row(loses, "RL policy Sharpe in backtests").status == FAIL
    straddle = evaluate(fake_run(tmp_path / "straddle", {"dqn": list(0.01 + rng.normal(0, 1.0, 40))}))
    r = row(straddle, "RL policy Sharpe in backtests")
    assert r.status == INCONCLUSIVE and r.low < 0 < r.high


def test_cells_without_a_value_do_not_count_towards_the_minimum(tmp_path):
    """A win rate of 1.0 on 2 cells of 24 (the rest scored nothing) passed at a zero-width interval (found by a
    review): the minimum counts the cells with a value."""
    values = [float("nan")] * 22 + [1.0, 1.0]
    r = row(evaluate(fake_run(tmp_path / "sparse", {"dqn": values})), "Recommendation win rate")
    assert r.status == NOT_MEASURED and "only 2 cells with a value (at least 20 needed)" in r.note


def test_cells_of_one_seed_in_several_scenarios_are_one_cluster(tmp_path):
    """A cell of seed s is path 0 of Philox key s in every scenario, so three scenarios at 8 seeds are 8 draws, not
    24: scored as independent, these cells passed at an interval sqrt(3) too narrow (review of 2026-12-05)."""
    z = np.random.default_rng(5).normal(size=8)
    per_seed = 0.3 + 0.5 * (z - z.mean()) / z.std(ddof=1)  # mean 0.3, std 0.5: 8 seeds straddle 0, 24 cells do not
    path = tmp_path / "shared"
    path.mkdir()
    rows = [{"scenario": sc, "seed": np.uint64(1000 + s), "strategy": "dqn", "sharpe": v + 0.01 * k,
             "sharpe_excess": v, "win_rate": 0.5}
            for k, sc in enumerate(("default", "crypto_winter", "sideways_chop")) for s, v in enumerate(per_seed)]  # fmt: skip
    pd.DataFrame(rows).to_parquet(path / "metrics.parquet")
    (path / "failures.json").write_text("[]")
    (path / "sweep.json").write_text(json.dumps({"config": {"seeds": list(range(1000, 1008))}, "status": "complete"}))
    r = row(evaluate(path), "RL policy Sharpe in backtests")
    assert r.cells == 24 and r.status == INCONCLUSIVE and r.low < 0 < r.high, (r.low, r.high)
    assert "interval over 8 clusters of shared random numbers" in r.note
    # the same 24 values from a saved market's own rows (24 paths, each a cluster of its own) are 24 draws
    for k, cell in enumerate(rows):
        cell.update(scenario="saved_default", seed=np.uint64(k))
    pd.DataFrame(rows).to_parquet(path / "metrics.parquet")
    (path / "sweep.json").write_text(json.dumps({"config": {"seeds": [], "saved_markets": ["saved_default"]},
                                                 "status": "complete"}))  # fmt: skip
    r = row(evaluate(path), "RL policy Sharpe in backtests")
    assert r.status == PASS and r.low > 0 and "clusters" not in r.note


def test_two_recommenders_are_scored_one_by_one_never_pooled(tmp_path):
    """10 seeds of dqn and 10 of forecast made the 20 cells the minimum asks, and dqn at 0.70 pooled with forecast at
    0.99 gave one row whose mean, 0.846, described neither (review of 2026-12-05)."""
    rng = np.random.default_rng(3)
    few = evaluate(fake_run(tmp_path / "few", {"dqn": [0.86] * 10, "forecast": [0.86] * 10}))
    r = row(few, "Recommendation win rate")
    assert r.status == NOT_MEASURED and r.cells == 10 and "only 10 cells" in r.note
    mixed = evaluate(fake_run(tmp_path / "mixed", {"dqn": list(0.70 + rng.normal(0, 0.01, 30)),
                                                   "forecast": list(0.99 - abs(rng.normal(0, 0.005, 30)))}))  # fmt: skip
    r = row(mixed, "Recommendation win rate")
    assert r.status == FAIL and r.measured < 0.72 and r.cells == 30
    assert "the row is the weakest (dqn)" in r.note and "forecast pass" in r.note and "dqn fail" in r.note


def test_evidence_with_an_interval_and_failed_requests_is_judged_by_them(run_dir, tmp_path):
    """MAE 4.9 [3.0, 7.5] passed '< 5 %' though its own interval straddles 5; p99 latency and throughput passed on a
    benchmark in which 85 % of requests failed (its p99 counts only those that succeeded). Found by a review."""
    fc = write_evidence(tmp_path / "fc.json", "forecast_eval", {"mae_pct": 4.9, "mae_pct_low": 3.0, "mae_pct_high": 7.5,
                        "mape_7d": 9.0, "mape_7d_low": 8.0, "mape_7d_high": 9.5, "n_forecasts": 400},
                        command="prometheus-sim forecast evaluate ...")  # fmt: skip
    api = write_evidence(tmp_path / "api.json", "api_bench", {"p50_ms": 5.0, "p99_ms": 40.0, "predictions_per_s": 1500.0,
                         "duration_s": 60.0,
                         "n_requests": 100000, "failed_requests": 85000}, command="bench_api.py")  # fmt: skip
    report = evaluate(run_dir, [fc, api])
    mae = row(report, "Forecast MAE")
    assert mae.status == INCONCLUSIVE and "straddles the target" in mae.note
    assert row(report, "7-day forecast MAPE").status == PASS  # the whole interval below 10
    for name in ("Inference latency p99", "Inference throughput"):
        r = row(report, name)
        assert r.status == FAIL and "85000 of 100000 requests failed" in r.note, (name, r.note)


def test_a_do_nothing_baseline_that_passes_is_called_out(tmp_path):
    rng = np.random.default_rng(3)
    cells = {"dqn": list(0.2 + rng.normal(0, 0.05, 30)), "hold": list(0.015 + rng.normal(0, 0.001, 30))}
    sharpe = row(evaluate(fake_run(tmp_path / "h", cells)), "RL policy Sharpe in backtests")
    assert sharpe.baselines["hold"]["status"] == PASS
    assert "'hold' (doing nothing) passes this criterion too" in sharpe.note
    excess = row(evaluate(fake_run(tmp_path / "h2", cells)), "RL policy Sharpe over the policy rate")
    assert excess.baselines["hold"]["status"] == FAIL  # once cash's own rate is taken out


def test_hand_written_files_never_pass(run_dir, tmp_path):
    loose = run_dir / "forecast_eval.json"
    loose.write_text(json.dumps({"mae_pct": 0.1, "mape_7d": 0.2}))
    try:
        with pytest.raises(EvidenceError, match="loose result file without schema or provenance"):
            evaluate(run_dir)
        result = CliRunner().invoke(main, ["acceptance", str(run_dir)])
        assert result.exit_code == 2 and "forecast_eval.json" in result.output
    finally:
        loose.unlink()
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps({"kind": "api_bench", "schema_version": 1, "data": {
        "p50_ms": 0.1, "p99_ms": 0.5, "predictions_per_s": 1e9, "n_requests": 10, "duration_s": 1.0,
        "failed_requests": 0}}))  # fmt: skip
    report = evaluate(run_dir, [forged])
    assert row(report, "Inference latency p99").status == UNVERIFIED
    assert "no provenance" in row(report, "Inference latency p99").note


def test_written_evidence_counts_and_an_edit_is_detected(run_dir, tmp_path):
    good = write_evidence(tmp_path / "fc.json", "forecast_eval", {"mae_pct": 7.5, "mae_pct_low": 7.0, "mae_pct_high": 8.0,
                          "mape_7d": 8.0, "mape_7d_low": 7.5, "mape_7d_high": 8.5, "n_forecasts": 400},
                          command="prometheus-sim forecast evaluate ...", model_uri="models:/prometheus-forecaster/3",
                          model_version="3", seeds="1000-1019")  # fmt: skip
    report = evaluate(run_dir, [good])
    assert row(report, "Forecast MAE").status == FAIL and row(report, "Forecast MAE").measured == 7.5
    assert row(report, "7-day forecast MAPE").status == PASS
    assert row(report, "Forecast MAE").evidence[0]["model_version"] == "3"
    result = CliRunner().invoke(main, ["acceptance", str(run_dir), "--evidence", str(good)])
    assert result.exit_code == 1 and "FAIL" in result.output and "NOT MEASURED" in result.output
    doc = json.loads(good.read_text())
    doc["data"]["mae_pct"] = 0.1
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(doc))
    r = row(evaluate(run_dir, [edited]), "Forecast MAE")
    assert r.status == UNVERIFIED and "edited after it was written" in r.note
    # the provenance is digested too: its model, package and time were free to edit, and the newest by an edited time
    # was the one counted (review of 2026-12-05, session 19)
    for field, value in (("model_version", "99"), ("written_at", "2031-01-01T00:00:00Z"), ("package_version", "9.9.9")):
        doc = json.loads(good.read_text())
        doc["provenance"][field] = value
        edited.write_text(json.dumps(doc))
        r = row(evaluate(run_dir, [edited]), "Forecast MAE")
        assert r.status == UNVERIFIED and "does not match provenance.record_sha256" in r.note, (field, r.note)
    # written by another version of the package: not counted (its digest recomputed, as a release would have it)
    from prometheus_sim.evidence import record_digest

    doc = json.loads(good.read_text())
    doc["provenance"]["package_version"] = "0.1.0"
    doc["provenance"]["record_sha256"] = record_digest("forecast_eval", doc["data"], doc["provenance"])
    edited.write_text(json.dumps(doc))
    r = row(evaluate(run_dir, [edited]), "Forecast MAE")
    assert r.status == UNVERIFIED and "written by prometheus-sim 0.1.0" in r.note, r.note


def test_a_forecast_figure_without_its_interval_or_from_another_model_is_not_a_verdict(run_dir, tmp_path):
    """A MAPE of 12 forecasts of one path, with no interval, passed on its point; an evaluation of model v1 judged a
    run that backtested v2; one that scored real days inside the model's calibration window counted as out of
    sample (review of 2026-12-05, session 19)."""
    bare = write_evidence(tmp_path / "bare.json", "forecast_eval", {"mae_pct": 7.5, "mape_7d": 8.0, "n_forecasts": 12},
                          command="prometheus-sim forecast evaluate ...")  # fmt: skip
    report = evaluate(run_dir, [bare])
    for name in ("Forecast MAE", "7-day forecast MAPE"):
        assert row(report, name).status == INCONCLUSIVE and "no 95 % interval" in row(report, name).note
    data = {"mae_pct": 3.0, "mae_pct_low": 2.5, "mae_pct_high": 3.5, "mape_7d": 5.0, "mape_7d_low": 4.0,
            "mape_7d_high": 6.0, "n_forecasts": 400}  # fmt: skip
    in_time = write_evidence(tmp_path / "in_time.json", "forecast_eval", {**data, "in_time_markets": ["real"]},
                             command="prometheus-sim forecast evaluate ...")  # fmt: skip
    r = row(evaluate(run_dir, [in_time]), "Forecast MAE")
    assert r.status == NOT_MEASURED and "real market(s) real on days the forecaster's scenarios" in r.note, r.note
    v1 = write_evidence(tmp_path / "v1.json", "forecast_eval", data, command="prometheus-sim forecast evaluate ...",
                        model_uri="models:/prometheus-forecaster/1", model_version="1")  # fmt: skip
    swept = tmp_path / "swept"
    swept.mkdir()
    for name in ("metrics.parquet", "failures.json"):
        (swept / name).write_bytes((run_dir / name).read_bytes())
    doc = json.loads((run_dir / "sweep.json").read_text())
    doc["config"]["strategies"].append({"name": "forecast", "params": {}, "model_version": "prometheus-forecaster/2"})
    (swept / "sweep.json").write_text(json.dumps(doc))
    r = row(evaluate(swept, [v1]), "Forecast MAE")
    assert r.status == NOT_MEASURED and "evaluates prometheus-forecaster/1, and this run backtested " \
        "prometheus-forecaster/2" in r.note, r.note  # fmt: skip
    assert row(evaluate(run_dir, [v1]), "Forecast MAE").status == PASS  # a run without forecast: no model to match


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        (
            json.dumps(
                {
                    "kind": "forecast_eval",
                    "schema_version": 1,
                    "data": {"mae_pct": "abc", "mape_7d": 1, "n_forecasts": 5},
                }
            ),
            "data.mae_pct",
        ),  # fmt: skip
        (json.dumps({"kind": "weather", "schema_version": 1, "data": {}}), "kind: 'weather' is not an evidence kind"),
        (json.dumps({"kind": "api_soak", "schema_version": 9, "data": {}}), "schema_version: 9"),
    ],
)
def test_malformed_evidence_is_a_clear_error(run_dir, tmp_path, text, message):
    f = tmp_path / "bad.json"
    f.write_text(text)
    result = CliRunner().invoke(main, ["acceptance", str(run_dir), "--evidence", str(f)])
    assert result.exit_code == 2 and message in result.output and "bad.json" in result.output
    assert "Traceback" not in result.output


def test_the_soak_proxy_and_flags(run_dir, tmp_path):
    short = write_evidence(tmp_path / "soak.json", "api_soak", {"duration_s": 60, "n_requests": 6000,
                           "failed_requests": 0}, command="bench_api.py --soak 60")  # fmt: skip
    sec = write_evidence(tmp_path / "sec.json", "api_security", {"authentication": True, "rate_limiting": False,
                         "input_validation": True, "no_sensitive_logs": True, "tests": ["test_auth"]},
                         command="pytest tests/test_api_security.py")  # fmt: skip
    report = evaluate(run_dir, [short, sec])
    assert row(report, "Soak test (proxy for uptime)").status == INCONCLUSIVE
    assert row(report, "Uptime over 30 days").status == NOT_MEASURABLE
    assert row(report, "API authentication").status == PASS and row(report, "Rate limiting").status == FAIL


def test_acceptance_on_a_missing_run_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(main, ["acceptance", str(tmp_path / "nothing")])
    assert result.exit_code == 2 and "not a sweep directory" in result.output


def test_a_rows_interval_stays_inside_its_metrics_range():
    """Three win rates of 1, 1 and 1/3: the t interval's upper end is above 1 unless cut, as the report's
    interval note says every interval is (one row read 77.8 % [43.9, 111.7])."""
    from prometheus_sim.acceptance import _score_cells

    row = _score_cells(np.array([1.0, 1.0, 1 / 3]), np.arange(3), 3, 0, lambda v: v > 0.5, "win_rate")
    assert row["measured"] == pytest.approx(7 / 9) and row["high"] == 1.0 and 0.0 <= row["low"] < 7 / 9
    unbounded = _score_cells(np.array([1.0, 1.0, 1 / 3]), np.arange(3), 3, 0, lambda v: v > 0.5, "sharpe")
    assert unbounded["high"] > 1.0


def test_the_win_rate_prints_in_the_units_of_its_target(tmp_path):
    """The win rate's target is ">= 80 %": its measured value and interval print as percentages too (they printed
    as 0.512 beside it), and a baseline without a value says so instead of leaving a blank."""
    run = fake_run(tmp_path / "w", {"dqn": [0.5, 0.52, 0.54] * 8, "hold": [math.nan] * 24})
    result = CliRunner().invoke(main, ["acceptance", str(run)])
    line = next(x for x in result.output.splitlines() if "Recommendation win rate" in x)
    assert "target >= 80 %; measured 52.0 % [51.3 %, 52.7 %]" in line, line
    assert "hold no value not measured" in line, line
    sharpe = next(x for x in result.output.splitlines() if x.startswith("PASS") and "RL policy Sharpe in" in x)
    assert "measured 0.52 [" in sharpe  # a Sharpe ratio stays a number
    # near the target, the digits that tell it apart (79.96 % printed "80.0 %" beside ">= 80 %"), and a row with no
    # value prints no empty interval ("measured  [, ]"; review, session 23)
    near = fake_run(tmp_path / "n", {"dqn": [0.7995, 0.7996, 0.7997] * 8, "hold": [math.nan] * 24})
    line = next(x for x in CliRunner().invoke(main, ["acceptance", str(near)]).output.splitlines()
                if "Recommendation win rate" in x)  # fmt: skip
    assert line.startswith("FAIL") and "measured 79.96 % [79.96 %, 79.96 %]" in line, line
    empty = fake_run(tmp_path / "e", {"dqn": [math.nan] * 24, "hold": [math.nan] * 24})
    line = next(x for x in CliRunner().invoke(main, ["acceptance", str(empty)]).output.splitlines()
                if "Recommendation win rate" in x)  # fmt: skip
    assert "[, ]" not in line and "measured -" in line, line
