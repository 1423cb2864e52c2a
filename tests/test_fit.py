"""`scenarios fit`: parameters recovered from data the engine made, the shipped fitted scenario
bracketing its window's real facts, and a header that says what was done."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from prometheus_sim.cli import main
from prometheus_sim.facts_compare import compare
from prometheus_sim.fit import fit_crypto, fit_peg
from prometheus_sim.market import Market
from prometheus_sim.real import SHIPPED_DATA, read_closes
from prometheus_sim.scenario import ScenarioSpec, load_scenario
from tests.conftest import SCENARIOS

FITTED = SCENARIOS / "fitted_2020_2023.yaml"


def _bars(market: Market, asset: str) -> pd.DataFrame:
    frame = market.frame(0, asset)[["open", "high", "low", "close", "volume"]]
    frame.index = frame.index.normalize()
    return frame


@pytest.fixture(scope="module")
def synthetic() -> Market:
    spec = ScenarioSpec.from_dict({
        "name": "recover", "seed": 3, "start_date": "2020-01-01", "horizon_days": 2920,
        "assets": [
            {"name": "BTC", "kind": "crypto", "start_price": 10000, "drift": 0.2, "vol": 0.6,
             "process": {"type": "garch_jump", "garch": {"alpha": 0.05, "beta": 0.9},
                         "jumps": {"intensity": 3, "mean": -0.05, "std": 0.15}}},
            {"name": "USDC", "kind": "stable", "start_price": 1.0, "drift": 0.0, "vol": 0.06,
             "process": {"type": "peg", "peg": {"kappa": 140}}},
        ],
    })  # fmt: skip
    return Market.simulate(spec, n_paths=1)


def test_the_peg_fit_recovers_the_engines_kappa_and_vol(synthetic):
    bars = _bars(synthetic, "USDC")
    fit = fit_peg("USDC", bars, bars.index[0], bars.index[-1], "units")
    kappa = fit.process["peg"]["kappa"]
    assert kappa == pytest.approx(140, rel=0.25), fit.notes
    assert fit.vol == pytest.approx(0.06, rel=0.1), fit.notes


def test_the_crypto_fit_recovers_vol_and_finds_the_jumps(synthetic):
    bars = _bars(synthetic, "BTC")
    fit = fit_crypto("BTC", bars, bars.index[0], bars.index[-1], "units")
    assert fit.vol == pytest.approx(0.6, rel=0.15), fit.notes
    assert fit.process["type"] == "garch_jump"
    jumped = synthetic.truth.jumps[0, 1:, 0] > 0
    true_days = synthetic.calendar[1:][jumped].normalize()
    assert 0 < len(fit.jump_days) <= len(true_days) + 3, (len(fit.jump_days), len(true_days))
    # the days found are jump days (a count alone passed every day reported 9 days late: review of the tests,
    # session 25); most of the engine's jumps are too small to tell from a day's diffusion, so recall is low
    found = fit.jump_days.intersection(true_days)
    assert len(fit.jump_days) >= 3 and len(found) >= 0.8 * len(fit.jump_days), (list(fit.jump_days), list(true_days))
    assert fit.process["jumps"]["mean"] < 0


def test_a_lone_jump_day_stays_in_the_diffusions_variance():
    """ETH in 2021 has one day beyond 4 conditional sd: too few for a jump process, so the fit makes it plain GARCH,
    but it dropped the day from ``vol`` too (1.025 against a total 1.073: 9 % of the variance modelled by nothing)."""
    from prometheus_sim.real import read_daily_bars

    bars = read_daily_bars(SHIPPED_DATA / "ETH.csv")
    fit = fit_crypto("ETH", bars, pd.Timestamp("2021-01-01"), pd.Timestamp("2021-12-31"), "units")
    r = np.log(bars["close"]).diff().loc["2021-01-01":"2021-12-31"].dropna()
    assert fit.process["type"] == "garch" and len(fit.jump_days) == 0
    assert fit.vol == pytest.approx(r.std(ddof=1) * np.sqrt(365.0), rel=1e-12)


@pytest.fixture(scope="module")
def fitted_table() -> pd.DataFrame:
    """facts compare of the shipped fitted scenario on its window, as its header's check runs it (500 paths)."""
    return compare(Market.simulate(load_scenario(FITTED), n_paths=500),
                   read_closes(sorted(SHIPPED_DATA.glob("*.csv"))), "2020-01-01", "2023-12-31")  # fmt: skip


def test_the_shipped_fitted_scenario_brackets_its_windows_crypto_facts(fitted_table):
    """Every real fact of BTC, ETH and SOL, and every crypto pair's correlations, inside the 5-95 % band."""
    crypto = fitted_table.loc[["BTC", "ETH", "SOL", "BTC/ETH", "BTC/SOL", "ETH/SOL"]]
    outside = crypto[~crypto["inside"]]
    assert outside.empty, outside


def test_the_fitted_header_states_window_method_and_its_check(fitted_table):
    header = "\n".join(line for line in FITTED.read_text().splitlines() if line.startswith("#"))
    for needed in ("2020-01-01..2023-12-31", "arch", "simulated moments", "Not fitted", "common jump loading"):
        assert needed in header, needed
    claim = re.search(r"(\d+) of (\d+) real figures inside", header)
    assert claim is not None
    assert (int(claim[1]), int(claim[2])) == (int(fitted_table["inside"].sum()), len(fitted_table))


def test_scenarios_fit_from_the_cli(tmp_path):
    out = tmp_path / "fit.yaml"
    files = [str(SHIPPED_DATA / f"{a}.csv") for a in ("BTC", "ETH", "USDC")]
    res = CliRunner().invoke(main, ["scenarios", "fit", *files, "--from", "2021-01-01", "--to", "2022-12-31",
                                    "--out", str(out)])  # fmt: skip
    assert res.exit_code == 0, res.output
    spec = load_scenario(out)
    # 730 returns dated 2021-01-01..2022-12-31 and the close before them: paths as long as the window
    assert spec.name == "fit" and spec.horizon_days == 731 and str(spec.start_date) == "2021-01-01"
    assert [a.kind for a in spec.assets] == ["crypto", "crypto", "stable"]
    assert "BTC/ETH" in spec.correlation and np.isfinite(spec.correlation["BTC/ETH"])
    # the check command it prints names the file written: `facts compare fit` found no scenario (review 2026-12-05)
    assert f"prometheus-sim facts compare {out} --from 2021-01-01" in res.output
    res = CliRunner().invoke(main, ["scenarios", "fit", *files, "--from", "2023-06-01", "--to", "2023-08-01",
                                    "--out", str(tmp_path / "short.yaml")])  # fmt: skip
    assert res.exit_code == 2 and "BTC: 62 daily returns in the window" in res.output


def test_the_shipped_fitted_scenario_is_what_scenarios_fit_gives_now():
    """README's fit command, re-run: the same scenario (labels aside). The shipped file had gone stale after two fixes
    to the fit (ETH/SOL 0.582 where the fit now gives 0.574; review of 2026-12-04): regenerate it when the fit changes."""
    from prometheus_sim.fit import fit_scenario
    from prometheus_sim.scenario import ScenarioSpec

    files = [SHIPPED_DATA / f"{a}.csv" for a in ("BTC", "ETH", "SOL", "USDC")]
    scenario, _ = fit_scenario(files, "2020-01-01", "2023-12-31", name="fitted_2020_2023")
    assert ScenarioSpec.from_dict(scenario).paths_digest() == load_scenario(FITTED).paths_digest()


def test_a_file_without_volume_is_said_and_two_files_of_one_asset_are_refused(tmp_path):
    """Found by a review (2026-12-05): a fit invented daily_usd 1e9 for a file without volume and said nothing (it
    sets the simulated volume and impact), and two files named BTC.csv fitted 'BTC' from the second's prices."""
    from prometheus_sim.fit import fit_scenario
    from prometheus_sim.real import SHIPPED_DATA, RealDataError, read_closes

    pd.read_csv(SHIPPED_DATA / "USDT.csv").drop(columns=["volume"]).to_csv(tmp_path / "USDT.csv", index=False)
    _, comments = fit_scenario([tmp_path / "USDT.csv"], "2022-01-01", "2022-12-31")
    assert any(c.startswith("USDT: its file has no volume column: daily_usd 1e+09 is a placeholder") for c in comments)
    (tmp_path / "other").mkdir()
    pd.read_csv(SHIPPED_DATA / "ETH.csv").to_csv(tmp_path / "other" / "BTC.csv", index=False)
    two = [SHIPPED_DATA / "BTC.csv", tmp_path / "other" / "BTC.csv"]
    for read in (read_closes, lambda files: fit_scenario(files, "2022-01-01", "2022-12-31")):
        with pytest.raises(RealDataError, match=re.escape("asset(s) ['BTC'] given by more than one file")):
            read(two)


def test_an_asset_that_begins_inside_the_window_starts_where_its_median_meets_its_first_close():
    """SOL's first return is 2020-04-11: its 2020-04-10 close sat on the window's 2020-01-01 before (review of
    2026-12-05), and the simulated median was 45 % above the real price there."""
    from prometheus_sim.fit import fit_scenario

    scenario, comments = fit_scenario([SHIPPED_DATA / "BTC.csv", SHIPPED_DATA / "SOL.csv"], "2020-01-01", "2020-12-31")
    close = read_closes([SHIPPED_DATA / "SOL.csv"])["SOL"].dropna()
    r = np.log(close).diff().dropna().loc["2020-01-01":"2020-12-31"]
    gap = (r.index[0] - pd.Timestamp("2020-01-01")).days
    assert gap == 101
    expected = float(close.loc[: r.index[0]].iloc[-2]) * np.exp(-r.mean() * gap)
    assert scenario["assets"][1]["start_price"] == pytest.approx(expected, rel=1e-5)
    assert any(c.startswith("SOL: its data begins 2020-04-11, 101 days into the window") for c in comments)
    spec = ScenarioSpec.from_dict(scenario)
    market = Market.simulate(spec.with_overrides(seed=3), n_paths=200)
    median_then = np.median(np.asarray(market.close)[:, gap, 1])
    assert median_then == pytest.approx(float(close.loc[: r.index[0]].iloc[-2]), rel=0.15)


def test_a_window_no_file_reaches_back_to_is_refused():
    """--from 2010-01-01 on BTC's file (from 2014-09-17) wrote a scenario 'calibrated to' 2010-2015 whose every asset
    was taken back 4.7 years (review of 2026-12-05, session 24): only an asset that starts later is taken back."""
    from prometheus_sim.fit import fit_scenario
    from prometheus_sim.real import RealDataError

    btc = SHIPPED_DATA / "BTC.csv"
    with pytest.raises(RealDataError, match=re.escape("--from 2010-01-01: on or before the first day any file has "
                                                      "(2014-09-17); the first window a fit can have starts "
                                                      "2014-09-18")):  # fmt: skip
        fit_scenario([btc], "2010-01-01", "2015-12-31")
    scenario, _ = fit_scenario([btc], "2014-09-18", "2015-12-31")
    assert scenario["horizon_days"] == (pd.Timestamp("2015-12-31") - pd.Timestamp("2014-09-18")).days + 2


def test_a_flat_stablecoin_fits_a_valid_scenario_and_a_bad_name_from_out_says_so(tmp_path):
    """A stablecoin whose close never moved got the fit's 1e-6 vol floor, which the YAML's four decimals made 0.0: the
    fitted scenario was refused by its own validation ('assets[0].vol: must be >= 1e-06'); and a name taken from
    --out's file name ('my scen.yaml') was refused with no word of where it came from (review of 2026-12-05)."""
    frame = pd.read_csv(SHIPPED_DATA / "USDC.csv")
    frame[["open", "high", "low", "close"]] = 1.0
    frame.to_csv(tmp_path / "FLAT.csv", index=False)
    out = tmp_path / "flat.yaml"
    args = ["scenarios", "fit", str(tmp_path / "FLAT.csv"), "--kind", "FLAT=stable", "--from", "2022-01-01", "--to",
            "2022-12-31"]  # fmt: skip
    res = CliRunner().invoke(main, [*args, "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert load_scenario(out).assets[0].vol == 1e-6
    res = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "my scen.yaml")])
    assert res.exit_code == 2 and "(the name comes from --out's file name 'my scen.yaml': give --name)" in res.output


def test_fit_takes_kinds_and_reads_a_quote_suffix(tmp_path):
    """USDT-USD (Yahoo's file name) was fitted as crypto with GARCH alpha 0.999, and fit had no --kind."""
    pd.read_csv(SHIPPED_DATA / "USDT.csv").to_csv(tmp_path / "USDT-USD.csv", index=False)
    pd.read_csv(SHIPPED_DATA / "USDC.csv").to_csv(tmp_path / "COIN1.csv", index=False)
    out = tmp_path / "f.yaml"
    for files, kinds in (([tmp_path / "USDT-USD.csv"], []), ([tmp_path / "COIN1.csv"], ["--kind", "COIN1=stable"])):
        res = CliRunner().invoke(main, ["scenarios", "fit", *map(str, files), *kinds, "--from", "2022-01-01", "--to",
                                        "2022-12-31", "--out", str(out)])  # fmt: skip
        assert res.exit_code == 0, res.output
        assert load_scenario(out).assets[0].process.type == "peg"
    res = CliRunner().invoke(main, ["scenarios", "fit", str(tmp_path / "COIN1.csv"), "--kind", "FOO=stable",
                                    "--from", "2022-01-01", "--to", "2022-12-31", "--out", str(out)])  # fmt: skip
    assert res.exit_code == 2 and "--kind: ['FOO'] are not among the files' assets ['COIN1']" in res.output


def test_facts_compare_skips_an_asset_without_days_and_says_which_days_it_used():
    """SOL (from 2020) stopped a 2018-2019 comparison outright; --to past the data printed the window asked for."""
    res = CliRunner().invoke(main, ["facts", "compare", "fitted_2020_2023", "--from", "2018-06-01", "--to",
                                    "2019-12-31", "--paths", "20"])  # fmt: skip
    assert res.exit_code in (0, 1), res.output
    assert "skipped, fewer than 30 real returns in the window (with their pairs): SOL (0)" in res.output
    assert "BTC 2018-06-01..2019-12-31 (579)" in res.output and "SOL/" not in res.output and "/SOL" not in res.output
    res = CliRunner().invoke(main, ["facts", "compare", "fitted_2020_2023", "--from", "2023-01-01", "--to",
                                    "2025-12-31", "--paths", "20"])  # fmt: skip
    assert "BTC 2023-01-01..2024-02-13 (409)" in res.output, res.output


def test_a_pair_with_few_shared_days_is_estimated_on_them_or_named_when_unset():
    """A pair with 249 shared shock days was set to 0 without a word (review of 2026-12-05)."""
    import types

    from prometheus_sim.fit import MIN_PAIR_DAYS, shock_correlation

    rng = np.random.default_rng(0)
    days = pd.date_range("2020-01-01", periods=400, freq="D")
    common = rng.normal(size=400)
    a = pd.Series(common + 0.5 * rng.normal(size=400), index=days)
    b = pd.Series(common + 0.5 * rng.normal(size=400), index=days).where(days >= days[300])  # 100 shared days
    c = pd.Series(rng.normal(size=400), index=days).where(days < days[MIN_PAIR_DAYS - 1])  # too few with b
    fits = [types.SimpleNamespace(name=n, shocks=s) for n, s in (("A", a), ("B", b), ("C", c))]
    corr, note = shock_correlation(fits)
    assert corr[0, 1] > 0.6  # estimated on its 100 shared days
    assert corr[1, 2] == 0.0 and "B/C set to 0: fewer than 30 days with both assets' shocks" in note
