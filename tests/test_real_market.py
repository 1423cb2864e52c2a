"""Real markets: built from files with stated rules, no truth, absent blocks that say so, and the
backtest, sweep, lookahead check and report running on them unchanged."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from adapters.sim import SimAdapter, SimConfig, backtest
from prometheus_sim.blocks import MissingDataError
from prometheus_sim.cli import main, simulated_wiring
from prometheus_sim.lookahead import check_lookahead
from prometheus_sim.market import Market, NoTruthError
from prometheus_sim.real import SHIPPED_DATA, RealDataError, read_daily_bars
from prometheus_sim.real_market import import_market
from prometheus_sim.strategy_spec import StrategySpec
from prometheus_sim.sweep import SavedMarket, SweepConfig, plan_tasks, run_sweep
from strategies import registry
from tests.conftest import SCENARIOS

FILES = sorted(SHIPPED_DATA.glob("*.csv"))


@pytest.fixture(scope="module")
def real() -> Market:
    return import_market(FILES, start="2022-01-01", end="2022-12-31")


def test_the_calendar_is_the_days_every_file_has():
    m = import_market(FILES)
    assert m.assets == ["BTC", "ETH", "SOL", "USDC", "USDT"]
    assert m.asset_kinds == ["crypto", "crypto", "crypto", "stable", "stable"]
    # SOL starts last (2020-04-10); every file ends 2024-02-13
    assert str(m.calendar[0].date()) == "2020-04-10" and str(m.calendar[-1].date()) == "2024-02-13"
    assert m.n_paths == 1 and m.n_steps == (m.calendar[-1] - m.calendar[0]).days + 1
    btc = pd.read_csv(SHIPPED_DATA / "BTC.csv", index_col="date", parse_dates=True)
    np.testing.assert_array_equal(m.close[0, :, 0], btc.loc["2020-04-10":"2024-02-13", "close"].to_numpy())
    assert m.source["window"] == ["2020-04-10", "2024-02-13"]
    assert all(len(b["sha256"]) == 64 for b in m.source["bars"])


def test_a_real_market_has_no_truth_and_says_so(real):
    assert real.is_real and real.truth is None
    with pytest.raises(NoTruthError, match="oracle forecast needs the simulator's truth.*real data"):
        real.require_truth("oracle forecast")


def test_absent_blocks_are_nan_and_reading_them_by_name_is_an_error(real):
    assert real.absent == ("onchain", "macro")
    assert np.isnan(real.blocks.onchain).all() and np.isnan(real.blocks.macro).all()  # never zeros
    history = SimAdapter(real).snapshot(10).history
    assert not history.has("macro")
    with pytest.raises(MissingDataError, match="macro column 'fed_rate' is absent from this market"):
        history.macro_column("fed_rate")
    with pytest.raises(MissingDataError, match="the onchain block is absent"):
        history.onchain  # noqa: B018
    assert "fed_rate" not in real.frame(0, "BTC").columns


def test_a_partial_onchain_file_gives_its_columns_and_marks_the_rest_absent(tmp_path):
    days = pd.date_range("2023-01-01", "2023-03-31", freq="D")
    f = tmp_path / "onchain.csv"
    pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "whale_transactions": np.arange(len(days)) % 7}).to_csv(
        f, index=False
    )
    m = import_market(FILES, onchain=f, start="2023-01-01", end="2023-03-31")
    assert m.absent == ("onchain.active_addresses", "onchain.exchange_inflow", "onchain.exchange_outflow", "macro")
    history = SimAdapter(m).snapshot(20).history
    np.testing.assert_array_equal(history.onchain_column("whale_transactions")[0], np.arange(21) % 7)
    with pytest.raises(MissingDataError, match="onchain column 'exchange_inflow' is absent"):
        history.onchain_column("exchange_inflow")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("date,whale_transactions\n2023-01-01,3\n2023-01-02,4\n", "2 day(s) of the market's calendar missing, first 2023-01-03"),
        ("date,whales\n2023-01-01,3\n", "unknown column(s) ['whales']"),
        ("date,whale_transactions\n2023-01-01,3\n2023-01-02,-1\n", "row 3, column whale_transactions: -1 must be >= 0"),
    ],
)  # fmt: skip
def test_a_bad_series_file_names_file_and_problem(tmp_path, content, message):
    f = tmp_path / "onchain.csv"
    f.write_text(content)
    with pytest.raises(RealDataError) as info:
        import_market(FILES, onchain=f, start="2023-01-01", end="2023-01-04")
    assert str(f) in str(info.value) and message in str(info.value)


def test_macro_rates_are_fractions_a_year_as_the_simulator_writes_them(tmp_path):
    """FRED's percent figure (5.33) was taken as 533 % a year: the excess Sharpe of equal_weight read -16 (review of
    2026-12-05, session 19)."""
    days = pd.date_range("2023-01-01", "2023-01-10", freq="D").strftime("%Y-%m-%d")
    f = tmp_path / "macro.csv"
    for rates, problem in (({"fed_rate": 5.33}, "column fed_rate: 5.33 must be a yearly rate as a fraction in [0, 1]"),
                           ({"inflation_rate": -1.5}, "column inflation_rate: -1.5 must be a yearly rate as a fraction "
                                                      "in [-1, 1]")):  # fmt: skip
        pd.DataFrame({"date": days, **rates}).to_csv(f, index=False)
        with pytest.raises(RealDataError, match=re.escape(problem)):
            import_market(FILES, macro=f, start="2023-01-01", end="2023-01-10")
    pd.DataFrame({"date": days, "fed_rate": 0.0533, "inflation_rate": -0.01}).to_csv(f, index=False)
    m = import_market(FILES, macro=f, start="2023-01-01", end="2023-01-10")
    assert SimAdapter(m).snapshot(5).history.macro_column("fed_rate")[0, -1] == 0.0533
    # a file in percent says so (FRED's 0.05-0.33 % of 2020-2022 passed the bounds as 5-33 % a year; review of
    # 2026-12-05, session 24): read as fractions, and its unit recorded in the market's source
    pd.DataFrame({"date": days, "fed_rate": 5.33, "inflation_rate": -1.5}).to_csv(f, index=False)
    m = import_market(FILES, macro=f, start="2023-01-01", end="2023-01-10", rates_in="percent")
    assert SimAdapter(m).snapshot(5).history.macro_column("fed_rate")[0, -1] == pytest.approx(0.0533, rel=1e-15)
    assert m.source["macro"]["rates_in"] == "percent"
    pd.DataFrame({"date": days, "fed_rate": 533.0}).to_csv(f, index=False)
    with pytest.raises(RealDataError, match=re.escape("column fed_rate: 533 must be a yearly rate in percent in "
                                                      "[0, 100] (--rates-in percent)")):  # fmt: skip
        import_market(FILES, macro=f, start="2023-01-01", end="2023-01-10", rates_in="percent")
    with pytest.raises(RealDataError, match=re.escape("rates_in: 'percentage' is not one of ['fraction', 'percent']")):
        import_market(FILES, macro=f, rates_in="percentage")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda f: f.assign(date=pd.to_datetime(f["date"]) + pd.Timedelta(hours=23, minutes=59, seconds=59)),
            "2023-01-01 23:59:59 has a time of day",
        ),  # an exchange's close time: sat a day ahead of a midnight file
        (lambda f: f.assign(date=pd.to_datetime(f["date"]).dt.tz_localize("UTC")), "dates carry a time zone (UTC)"),
        (lambda f: f.assign(Close=f["close"]), "column(s) ['close'] given more than once"),
    ],
)
def test_a_parquet_file_must_be_dated_by_calendar_day(tmp_path, change, message):
    """Parquet stores timestamps: a time of day or a zone passed every check, shifted one file's bars by a day
    against another's, hid a missing day and made tracebacks downstream (review of 2026-12-05)."""
    bars = pd.read_csv(SHIPPED_DATA / "ETH.csv")
    change(bars[bars["date"] >= "2023-01-01"].reset_index(drop=True)).to_parquet(tmp_path / "ETH.parquet")
    with pytest.raises(RealDataError, match=re.escape(message)):
        read_daily_bars(tmp_path / "ETH.parquet")


def test_a_csv_header_that_names_a_column_twice_is_refused(tmp_path):
    """pandas reads a repeated 'close' as 'close' and 'close.1', so the repeated-column check saw none and the first
    close was kept without a word (review of 2026-12-05, session 24)."""
    f = tmp_path / "DUP.csv"
    f.write_text("date,open,high,low,close,close,volume\n2023-01-01,1,2,1,1.5,9,10\n2023-01-02,1,2,1,1.2,9,10\n")
    with pytest.raises(RealDataError, match=re.escape("DUP.csv: column(s) ['close'] given more than once")):
        read_daily_bars(f)


def test_bar_files_without_volume_or_overlap_are_refused(tmp_path):
    f = tmp_path / "XYZ.csv"
    f.write_text("date,open,high,low,close\n2023-01-01,1,1,1,1\n2023-01-02,1,1,1,1\n")
    with pytest.raises(RealDataError, match=r"XYZ.csv: missing column 'volume'"):
        import_market([f])
    g = tmp_path / "ABC.csv"
    g.write_text("date,open,high,low,close,volume\n2010-01-01,1,1,1,1,5\n2010-01-02,1,1,1,1,5\n")
    with pytest.raises(RealDataError, match="share fewer than 2 days"):
        import_market([g, FILES[0]])
    with pytest.raises(RealDataError, match=r"kinds: \['DOGE'\] are not among the assets"):
        import_market(FILES, kinds={"DOGE": "crypto"})
    with pytest.raises(RealDataError, match="--from: 'soon' is not a date"):
        import_market(FILES, start="soon")
    # a day of volume 0 (how exports write a missing day): the next open's fill paid the 50 % slippage cap (review)
    z = tmp_path / "ZERO.csv"
    z.write_text("date,open,high,low,close,volume\n2023-01-01,1,1,1,1,5\n2023-01-02,1,1,1,1,0\n")
    with pytest.raises(RealDataError, match=r"ZERO.csv: row 3, column volume: 0 must be > 0"):
        import_market([z])


def test_save_and_load_round_trip_with_the_source(real, tmp_path, monkeypatch):
    real.save(tmp_path / "m")
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert manifest["kind"] == "real" and manifest["source"]["window"] == ["2022-01-01", "2022-12-31"]
    assert not (tmp_path / "m" / "truth_assets.parquet").exists()
    import prometheus_sim.market as market_module

    copied = []  # load reads straight into sealed memory: nothing is copied into it a second time
    seal = market_module.seal_copy  # but the calendar, small, which is sealed from its index (2026-12-05)
    monkeypatch.setattr(market_module, "seal_copy",
                        lambda arrays: copied.append(sorted(arrays)) or (seal(arrays) if list(arrays) == ["calendar"]
                                                                         else {}))  # fmt: skip
    back = Market.load(tmp_path / "m")
    assert copied == [["calendar"]]
    monkeypatch.undo()
    assert back.digest() == real.digest() and back.absent == real.absent and back.truth is None
    assert back.calendar.equals(real.calendar)


def test_a_backtest_on_real_bars_values_holdings_at_real_closes(real):
    """buy_and_hold's equity after its last fill is exactly its units times the real closes."""
    result = backtest(registry.build(StrategySpec("buy_and_hold", ())), real)
    fills = result.fills
    assert len(fills.row) >= 1
    units = fills.after[-1]
    fill_step = int(result.decision_steps[fills.decision[-1]]) + 1  # orders fill at the next open
    expect = (units[None, :] * real.close[0, fill_step:]).sum(axis=1)
    np.testing.assert_allclose(result.equity[0, fill_step:], expect, rtol=1e-12)


def test_the_lookahead_check_runs_on_real_data_and_catches_the_canary(real):
    honest = check_lookahead(StrategySpec("equal_weight", ()), real.head(200), SimAdapter, registry.build, n_checks=4)
    assert honest.passed
    leaky = check_lookahead(
        StrategySpec("strategies.canary:LeakyCanary", ()), real.head(200), SimAdapter, registry.build, n_checks=4
    )
    assert not leaky.passed


def test_a_sweep_runs_a_saved_real_market_beside_a_scenario(real, tmp_path):
    real.save(tmp_path / "real")
    cfg = SweepConfig(
        scenarios=(str(tmp_path / "real"), str(SCENARIOS / "default.yaml")), seeds=(1, 2, 3),
        strategies=("equal_weight", "buy_and_hold"), horizon_days=120, seeds_per_task=3, plot_seeds=2,
    )  # fmt: skip
    assert isinstance(cfg.load_scenarios()["real"], SavedMarket)
    tasks = plan_tasks(cfg)
    assert [t.seeds for t in tasks] == [(0,), (1, 2, 3)]
    out = run_sweep(cfg, tmp_path / "bt", simulated_wiring())
    assert not out.failures
    rows = out.metrics[out.metrics["scenario"] == "real"]
    assert len(rows) == 2 and rows["sharpe_excess"].isna().all()  # no policy rate in the files: not measured
    assert out.metrics[out.metrics["scenario"] == "default"]["sharpe_excess"].notna().all()
    direct = backtest(registry.build(StrategySpec("equal_weight", ())), real.head(120))
    got = rows[rows["strategy"] == "equal_weight"]["total_return"].iloc[0]
    assert got == pytest.approx(direct.daily_equity()[0, -1] / direct.initial_value[0] - 1.0, rel=1e-9)
    assert run_sweep(cfg, tmp_path / "bt", simulated_wiring()).tasks_run == 0  # resumes
    assert json.loads((tmp_path / "bt" / "sweep.json").read_text())["config"]["saved_markets"] == ["real"]
    # the same files re-imported into the same folder with USDT as a crypto asset: the same arrays, other results,
    # so the sweep refuses to resume into its cells (it resumed them with the old numbers; review 2026-12-05)
    shutil.rmtree(tmp_path / "real")
    import_market(FILES, start="2022-01-01", end="2022-12-31", kinds={"USDT": "crypto"}).save(tmp_path / "real")
    again = SweepConfig(**{f: getattr(cfg, f) for f in ("scenarios", "seeds", "strategies", "horizon_days",
                                                        "seeds_per_task", "plot_seeds")})  # fmt: skip
    with pytest.raises(ValueError, match="other settings"):
        run_sweep(again, tmp_path / "bt", simulated_wiring())


def test_market_import_backtest_and_lookahead_from_the_cli(tmp_path):
    runner = CliRunner()
    res = runner.invoke(
        main,
        [
            "market",
            "import",
            *map(str, FILES),
            "--from",
            "2023-01-01",
            "--to",
            "2023-12-31",
            "--out",
            str(tmp_path / "r"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "365 days 2023-01-01..2023-12-31" in res.output and "absent: onchain, macro" in res.output
    res = runner.invoke(main, ["backtest", str(tmp_path / "r"), "--strategy", "equal_weight,hold", "--out",
                               str(tmp_path / "bt"), "--no-progress"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "= 2 cells" in res.output
    res = runner.invoke(main, ["backtest", str(tmp_path / "r"), "--strategy", "equal_weight,hold", "--fees-bps", "0,50",
                               "--out", str(tmp_path / "bt_costs"), "--no-progress"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "2 cost setting(s)" in res.output and "= 4 cells" in res.output
    res = runner.invoke(
        main, ["lookahead", "equal_weight", str(tmp_path / "r"), "--horizon-days", "120", "--checks", "3"]
    )
    assert res.exit_code == 0, res.output
    bad = tmp_path / "BAD.csv"
    bad.write_text("date,open,high,low,close,volume\n2023-01-01,1,1,1,1,5\n2023-01-01,1,1,1,1,5\n")
    res = runner.invoke(main, ["market", "import", str(bad), "--out", str(tmp_path / "x")])
    assert res.exit_code == 2 and "BAD.csv: row 3, column date: 2023-01-01 appears twice" in res.output


def test_a_cost_sweep_on_one_real_path_keeps_the_settings_apart(real, tmp_path):
    """Strategies x cost settings on one path: each cell labelled by its costs; dearer trading never pays more."""
    from prometheus_sim.portfolio import CostModel

    real.save(tmp_path / "real")
    grid = (CostModel(fees_bps=0.0, slippage_bps=0.0, impact=0.0), CostModel(fees_bps=10.0), CostModel(fees_bps=100.0))
    cfg = SweepConfig(scenarios=(str(tmp_path / "real"),), seeds=(1,), strategies=("equal_weight", "buy_and_hold"),
                      costs=grid)  # fmt: skip
    out = run_sweep(cfg, tmp_path / "bt", simulated_wiring())
    assert not out.failures and len(out.metrics) == 6
    ew = out.metrics[out.metrics["strategy"].str.startswith("equal_weight [")].sort_values("fees_bps")
    assert list(ew["fees_bps"]) == [0.0, 10.0, 100.0]
    assert ew["strategy"].iloc[2] == "equal_weight [fees 100 bps, slippage 1 bps, impact 0.1]"
    assert ew["total_return"].is_monotonic_decreasing and ew["total_return"].iloc[0] > ew["total_return"].iloc[2]
    assert (ew["fees_paid"].iloc[1:] > 0).all() and ew["fees_paid"].iloc[0] == 0.0
    free = backtest(registry.build(StrategySpec("equal_weight", ())), real, SimConfig(costs=grid[0]))
    assert ew["total_return"].iloc[0] == pytest.approx(free.daily_equity()[0, -1] / free.initial_value[0] - 1, rel=1e-9)
    with pytest.raises(ValueError, match="costs: a cost setting is given twice"):
        SweepConfig(scenarios=(str(tmp_path / "real"),), seeds=(1,), strategies=("hold",), costs=(grid[0], grid[0]))


def test_a_forecast_backtest_on_real_days_inside_its_calibration_window_is_left_out_of_acceptance(
    tmp_path, mlflow_store
):
    """A policy's in-time real markets were left out of the acceptance rows (policy_eval.json), a forecaster's were
    counted as unseen data (review of 2026-12-05, session 19): the backtest records them in in_time.json."""
    from prometheus_sim.features import FeatureConfig
    from prometheus_sim.forecast.train import TrainArgs, train

    # prices and volume only (a real market has no on-chain or macro series), default's calibration window 2020-2023
    trained = train(TrainArgs(scenarios=(str(SCENARIOS / "default.yaml"),), seeds=tuple(range(6)), epochs=1, horizon_days=300,
                    hidden_dim=16, lstm_layers=1, transformer_layers=1, nhead=4, batch_size=128,
                    max_windows_per_epoch=500, features=FeatureConfig(onchain=False, macro=False),
                    tracking_uri=mlflow_store, register_as="price-only-forecaster"))  # fmt: skip
    runner = CliRunner()
    res = runner.invoke(main, ["market", "import", *map(str, FILES), "--from", "2023-01-01", "--to", "2023-12-31",
                               "--name", "real2023", "--out", str(tmp_path / "r")])  # fmt: skip
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["backtest", str(tmp_path / "r"), "--strategy", "forecast,hold", "--strategy-param",
                               'forecast.model="price-only-forecaster@latest"', "--horizon-days", "150",
                               "--out", str(tmp_path / "bt"), "--no-progress"])  # fmt: skip
    assert res.exit_code == 0, res.output
    recorded = json.loads((tmp_path / "bt" / "in_time.json").read_text())
    assert recorded["markets"] == ["real2023"] and recorded["models"] == [f"price-only-forecaster/{trained.version}"]
    from prometheus_sim.acceptance import evaluate

    report = evaluate(tmp_path / "bt")
    row = next(c for c in report.criteria if c.name == "Recommendation win rate")
    assert row.cells == 0 and "left out: real market(s) real2023" in row.note, (row.cells, row.note)
