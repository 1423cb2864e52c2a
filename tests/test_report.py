"""The backtest report: files, content, valid PNGs, and every plot rendering in a real browser.

One small sweep (two scenarios, plus a strategy that always returns an invalid recommendation
so the failures section has rows) is built once per module. The browser test opens report.html in headless Chromium and reads the
count of decoded plots the page's own script writes to ``<body data-plots-rendered>``.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from prometheus_sim.acceptance import evaluate
from prometheus_sim.cli import simulated_wiring
from prometheus_sim.portfolio import Action, Recommendation, Trade
from prometheus_sim.report.builder import build_report
from prometheus_sim.sweep import SweepConfig, run_sweep
from strategies import registry
from strategies.base import BaseStrategy

ROOT = Path(__file__).resolve().parent.parent
STRATEGIES = ("equal_weight", "sixty_forty", "buy_and_hold", "hold")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class AlwaysInvalid(BaseStrategy):
    """Asks to buy 150 % of its cash: every cell fails, so the report has a failures table."""

    name = "always_invalid"
    decision_every_days = 30

    def decide(self, snapshot):
        return Recommendation(Action.BUY_AGGRESSIVE, (Trade("BTC", "buy", 150.0),))


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[Path, dict[str, Path]]:
    base = tmp_path_factory.mktemp("report")
    with registry.registered("always_invalid", AlwaysInvalid):
        cfg = SweepConfig(
            scenarios=(str(ROOT / "scenarios/default.yaml"), str(ROOT / "scenarios/sideways_chop.yaml")),
            seeds=tuple(range(1000, 1020)),
            strategies=(*STRATEGIES, "always_invalid"),
            horizon_days=120,
            seeds_per_task=10,
        )
        run = base / "run"
        run_sweep(cfg, run, simulated_wiring(), workers=1)
    return run, build_report(run)


def _json(run: Path) -> dict:
    return json.loads((run / "report.json").read_text())


def test_report_files_exist(report):
    run, files = report
    for name in ("report.md", "report.html", "report.json"):
        assert files[name] == run / name and (run / name).stat().st_size > 0


def test_json_has_every_summary_row_and_criterion(report):
    run, _ = report
    data = _json(run)
    metrics = pd.read_parquet(run / "metrics.parquet")
    expected = set(metrics[["scenario", "strategy"]].itertuples(index=False, name=None))
    assert expected == {(r["scenario"], r["strategy"]) for r in data["summary"]}
    assert {s for s, _ in expected} == {"default", "sideways_chop"}
    assert len(expected) == 2 * len(STRATEGIES)
    names = [c.name for c in evaluate(run).criteria]
    assert [c["name"] for c in data["acceptance"]["criteria"]] == names and names
    hold = next(r for r in data["summary"] if r["strategy"] == "hold")
    assert hold["metrics"]["win_rate"]["mean"] is None  # NaN -> null, shown as n/a
    assert data["run"]["n_seeds"] == 20 and data["run"]["costs"] == [
        {"fees_bps": 10.0, "slippage_bps": 1.0, "impact": 0.1}
    ]
    assert {"total_return", "sharpe", "psr", "win_rate", "daily_return", "actions", "reward"} <= set(
        data["definitions"]
    )


def test_failures_are_listed(report):
    run, _ = report
    data = _json(run)
    failed = {(f["scenario"], f["seeds"], f["strategy"]) for f in data["failures"]}
    assert failed == {
        (sc, str(seed), "always_invalid") for sc in ("default", "sideways_chop") for seed in range(1000, 1020)
    }
    md = (run / "report.md").read_text()
    assert (
        "| default | 1000 | always_invalid | InvalidRecommendation: path 0, step 0: trades[0].percentage: must be a number in (0, 100], got 150.0"
        in md
    )


def test_markdown_mentions_every_plot_and_sections_in_order(report):
    run, files = report
    data = _json(run)
    md = (run / "report.md").read_text()
    plots = [p["file"] for p in data["plots"]]
    assert sorted(plots) == sorted(k for k in files if k.startswith("plots/"))
    assert len(plots) == 4  # equity + drawdown for each scenario that ran
    for rel in plots:
        assert f"]({rel})" in md
    headings = [md.index(h) for h in ("## Run", "## Acceptance", "## Summary", "## Plots", "## Definitions")]
    assert headings == sorted(headings)
    assert "n/a" in md and " %" in md


def test_plots_are_valid_pngs(report):
    run, _ = report
    for plot in _json(run)["plots"]:
        path = run / plot["file"]
        assert path.read_bytes()[:8] == PNG_SIGNATURE
        with Image.open(path) as img:
            img.verify()
        with Image.open(path) as img:
            assert img.format == "PNG" and img.size[0] > 300 and img.size[1] > 200
            assert "Software" not in img.info  # no version stamp: rebuilds give the same bytes


def test_html_is_self_contained(report):
    run, _ = report
    page = (run / "report.html").read_text()
    srcs = re.findall(r'src="([^"]*)"', page)
    assert len(srcs) == len(_json(run)["plots"])
    assert all(s.startswith("data:image/png;base64,") for s in srcs)
    assert "<link" not in page and "http://" not in page and "https://" not in page
    assert len(re.findall(r"<script", page)) == 1 and "<script src" not in page


def test_rebuild_is_byte_identical(report):
    run, files = report
    before = {k: p.read_bytes() for k, p in files.items()}
    again = build_report(run)
    assert {k: p.read_bytes() for k, p in again.items()} == before


# ---------------------------------------------------------------- headless browser


class _DomFacts(HTMLParser):
    """What the browser test needs from a dumped DOM: body attributes, tables, plot images."""

    def __init__(self) -> None:
        super().__init__()
        self.body: dict[str, str | None] = {}
        self.tables: list[dict[str, str | None]] = []
        self.plot_imgs = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "body":
            self.body = a
        elif tag == "table":
            self.tables.append(a)
        elif tag == "img" and "plot" in (a.get("class") or "").split():
            self.plot_imgs += 1


def _chromium() -> str:
    exe = shutil.which("chromium")
    if exe is None:
        pytest.fail("chromium is not on PATH; run `make setup` (it installs chromium for the report's browser test)")
    return exe


def _browser_dom(html_file: Path, profile: Path) -> _DomFacts:
    """Load the page in headless Chromium, let its load handler run, and parse the dumped DOM."""
    cmd = [
        _chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", "--virtual-time-budget=5000", "--dump-dom", html_file.resolve().as_uri(),
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    facts = _DomFacts()
    facts.feed(proc.stdout)
    return facts


def test_every_plot_renders_in_headless_chromium(report, tmp_path):
    run, _ = report
    n_plots = len(_json(run)["plots"])
    dom = _browser_dom(run / "report.html", tmp_path / "profile")
    assert n_plots > 0 and dom.plot_imgs == n_plots
    assert dom.body.get("data-plots-rendered") == str(n_plots), dom.body
    assert any(t.get("id") == "acceptance" for t in dom.tables)
    assert any(t.get("class") == "summary" for t in dom.tables)


def test_browser_check_catches_a_broken_plot(report, tmp_path):
    """Negative control: corrupt one image's data URI; the rendered count must drop by one."""
    run, _ = report
    page = (run / "report.html").read_text()
    broken = tmp_path / "broken.html"
    broken.write_text(page.replace("data:image/png;base64,iVBOR", "data:image/png;base64,AAAA", 1))
    dom = _browser_dom(broken, tmp_path / "profile")
    assert dom.body.get("data-plots-rendered") == str(len(_json(run)["plots"]) - 1)


def test_report_command_prints_where_the_files_are(report):
    from click.testing import CliRunner

    from prometheus_sim.cli import main

    run, _ = report
    result = CliRunner().invoke(main, ["report", str(run)])
    assert result.exit_code == 0, result.output
    assert str(run / "report.html") in result.output and "PNG files" in result.output
    missing = CliRunner().invoke(main, ["report", str(run / "nope")])
    assert missing.exit_code == 2 and "not a sweep directory" in missing.output


def test_report_shows_evidence_provenance(report, tmp_path):
    from prometheus_sim.evidence import write_evidence

    run, _ = report
    ev = write_evidence(tmp_path / "bench.json", "api_bench", {"p50_ms": 3.0, "p99_ms": 12.5, "predictions_per_s": 2400.0,
                        "n_requests": 50_000, "duration_s": 20.8, "failed_requests": 0},
                        command="python benchmarks/bench_api.py")  # fmt: skip
    files = build_report(run, [ev])
    md = files["report.md"].read_text()
    assert "`python benchmarks/bench_api.py`" in md and "12.5 ms" in md
    data = json.loads(files["report.json"].read_text())
    p99 = next(c for c in data["acceptance"]["criteria"] if c["name"] == "Inference latency p99")
    assert p99["status"] == "pass" and p99["evidence"][0]["verified"]
    build_report(run)  # leave the shared fixture as the other tests expect it


def test_the_report_says_what_each_strategy_did(tmp_path):
    """Action shares per strategy; only an AI strategy with one action above 90 % is flagged."""
    from click.testing import CliRunner

    from prometheus_sim.cli import main
    from prometheus_sim.report.builder import action_rows
    from prometheus_sim.sweep import load_sweep

    runner = CliRunner()
    res = runner.invoke(main, ["backtest", "default", "--strategy", "hold,equal_weight", "--seeds", "1-2",
                               "--horizon-days", "60", "--out", str(tmp_path / "bt"), "--no-progress"])  # fmt: skip
    assert res.exit_code == 0, res.output
    _, metrics, _ = load_sweep(tmp_path / "bt")
    rows = {r["strategy"]: r for r in action_rows(metrics)}
    assert rows["hold"]["hold"] == 1.0 and not rows["hold"]["collapsed"]
    flagged = action_rows(metrics.assign(strategy=metrics["strategy"].replace({"hold": "dqn"})))
    assert [r["strategy"] for r in flagged if r["collapsed"]] == ["dqn"]
    assert runner.invoke(main, ["report", str(tmp_path / "bt")]).exit_code == 0
    assert "## What the strategies did" in (tmp_path / "bt" / "report.md").read_text()


def _policy_metrics() -> pd.DataFrame:
    """Synthetic sweep rows: 30 seeds of one scenario at two fee levels and one real row. At 0 bps the policy
    (Sharpe 1.0 + noise) is above hold and below buy_and_hold (2.0); at 25 bps it drops under hold."""
    import numpy as np

    rng = np.random.default_rng(0)
    rows = []
    for fees, policy, hold, bah in ((0.0, 1.0, 0.5, 2.0), (25.0, 0.2, 0.5, 1.9)):
        suffix = f" [fees {fees:g} bps, slippage 1 bps, impact 0.1]"
        for name, level in (("dqn", policy), ("hold", hold), ("buy_and_hold", bah)):
            for seed in range(30):
                rows.append({"scenario": "sim", "seed": seed, "strategy": name + suffix,
                             "sharpe": level + 0.05 * rng.standard_normal(), "fees_bps": fees, "slippage_bps": 1.0,
                             "impact": 0.1, "win_rate": 0.5, "sharpe_excess": level})  # fmt: skip
            rows.append({"scenario": "real", "seed": 0, "strategy": name + suffix, "sharpe": level, "fees_bps": fees,
                         "slippage_bps": 1.0, "impact": 0.1, "win_rate": 0.5, "sharpe_excess": level})  # fmt: skip
    return pd.DataFrame(rows)


def test_the_policy_section_says_plainly_where_the_policy_loses(tmp_path):
    from prometheus_sim.report.builder import (
        compare_intervals,
        fmt_value,
        one_path_sharpe_interval,
        policy_blocks,
        policy_evaluation,
        render_markdown,
        verdict,
    )

    assert compare_intervals({"low": 1.1, "high": 1.2}, {"low": 0.9, "high": 1.0}) == "above"
    assert compare_intervals({"low": 0.5, "high": 0.8}, {"low": 0.9, "high": 1.0}) == "below"
    assert compare_intervals({"low": 0.5, "high": 0.95}, {"low": 0.9, "high": 1.0}) == "overlapping"
    # common seeds: the paired difference decides, even where the two intervals overlap
    overlapping = ({"low": 0.5, "high": 0.95}, {"low": 0.9, "high": 1.0})
    assert verdict(*overlapping, {"n": 30, "mean": 0.1, "low": 0.05, "high": 0.15}) == "above"
    assert verdict(*overlapping, {"n": 30, "mean": -0.1, "low": -0.15, "high": -0.05}) == "below"
    assert verdict(*overlapping, {"n": 30, "mean": 0.0, "low": -0.05, "high": 0.05}) == "overlapping"
    assert verdict(*overlapping, {"n": 1, "mean": 0.1, "low": math.nan, "high": math.nan}) == "overlapping"
    low, high = one_path_sharpe_interval(1.0, 365)  # a year of days: about +-1.96 x 1.0
    assert high - low == pytest.approx(2 * 1.959964 * (1 + 1 / 730) ** 0.5, rel=1e-6)

    context = {"model": "prometheus-dqn/1", "trained_on": {"scenarios": ["sim"], "seeds": "0-9"}, "seeds": "100-129",
               "real": [{"name": "real", "path": "x", "days": 400, "window": ["2023-01-01", "2024-02-04"],
                         "basis": "the whole real history"}]}  # fmt: skip
    pe = policy_evaluation(_policy_metrics(), context)
    same = policy_evaluation(_policy_metrics(), context, tmp_path)  # a run dir without curves: Lo's, as before
    assert json.dumps(same, sort_keys=True, default=str) == json.dumps(pe, sort_keys=True, default=str)
    assert pe["reference_costs"] == {"fees_bps": 25.0, "slippage_bps": 1.0, "impact": 0.1}  # no 10 bps: the dearest
    verdicts = {(c["scenario"], c["baseline"]): c["verdict"] for c in pe["comparisons"]}
    assert verdicts == {("sim", "hold"): "below", ("sim", "buy_and_hold"): "below",
                        ("real", "hold"): "overlapping", ("real", "buy_and_hold"): "overlapping"}  # fmt: skip
    assert pe["counts"] == {"above": 0, "overlapping": 2, "below": 2, "no interval": 0}  # one path: wide intervals
    sweep = {r["scenario"]: r for r in pe["cost_sweep"]}
    assert [lv["rank"] for lv in sweep["sim"]["levels"]] == [2, 3]
    assert sweep["sim"]["holds"] == "does not hold: the policy ranks 2 at 0 bps, 3 at 25 bps"
    md = render_markdown(policy_blocks({"policy": pe}))
    assert "It does not beat buy_and_hold, hold everywhere" in md
    assert "does NOT beat it (paired over 30 seeds" in md
    at_0, at_25 = (fmt_value(lv["policy_sharpe"]) for lv in sweep["sim"]["levels"])
    assert f"| sim | {at_0} (2 of 3) | {at_25} (3 of 3) | does not hold: the policy ranks 2 at 0 bps" in md
    assert "real, one path, 2023-01-01..2024-02-04 (400 days)" in md
    # a saved simulated market's rows are its paths: "paired over 30 seeds" named seeds that never ran (session 25)
    saved = {**context, "real": [*context["real"], {"name": "sim", "kind": "simulated", "paths": 30, "path": "y",
                                                    "days": 1096, "window": ["2024-01-01", "2026-12-31"],
                                                    "basis": "a saved simulated market of 30 path(s)"}]}  # fmt: skip
    md_saved = render_markdown(policy_blocks({"policy": policy_evaluation(_policy_metrics(), saved)}))
    assert "does NOT beat it (paired over 30 paths" in md_saved and "paired over 30 seeds" not in md_saved


def test_a_policy_without_baselines_or_a_record_of_its_training_is_not_said_to_beat_anything():
    """A run of dqn alone said "It beats every baseline on every source" after 0 comparisons, with a stray "; .";
    and a backtest run (no policy_eval.json) called the policy's own training scenario "Trained on it: no"."""
    from prometheus_sim.report.builder import policy_blocks, policy_evaluation, render_markdown

    alone = _policy_metrics()
    alone = alone[alone["strategy"].str.startswith("dqn")]
    pe = policy_evaluation(alone, {})
    assert pe["comparisons"] == [] and "No baseline ran beside the policy: nothing is compared." in pe["headline"]
    assert "beats every baseline" not in pe["headline"]
    assert all(not text.endswith("; .") for _, text in pe["findings"]), pe["findings"]
    assert {s["trained_on"] for s in pe["sources"]} == {None}
    assert "| not recorded |" in render_markdown(policy_blocks({"policy": pe}))


def test_acceptance_scores_a_cost_sweep_at_one_setting():
    from prometheus_sim.acceptance import at_reference_costs

    metrics = _policy_metrics()
    scored, failures, note = at_reference_costs(
        metrics, [{"strategy": "dqn [fees 25 bps, slippage 1 bps, impact 0.1]", "seeds": "3"},
                  {"strategy": "dqn [fees 0 bps, slippage 1 bps, impact 0.1]", "seeds": "4"}])  # fmt: skip
    assert set(scored["strategy"]) == {"dqn", "hold", "buy_and_hold"} and (scored["fees_bps"] == 25.0).all()
    assert len(scored) == 3 * 31 and failures == [{"strategy": "dqn", "seeds": "3"}]
    assert "scored at fees 25 bps, slippage 1 bps, impact 0.1 (the most expensive setting)" in note
    one = metrics[metrics["fees_bps"] == 0.0]
    assert at_reference_costs(one, [])[0] is one  # one setting: as it is


def test_one_path_intervals_keep_the_days_dependence_and_pair_the_strategies():
    """A real market's intervals come from a stationary bootstrap over its days (prometheus_sim.report.one_path).
    On independent returns it agrees with Lo's iid interval; on mean-reverting ones (a stablecoin book: lag-1
    autocorrelation -0.45) it is narrower, as it must be (Lo's was about eight times too wide for the real market's
    hold); two strategies resampled on the same days give a paired interval of their Sharpe difference; seeded."""
    from prometheus_sim.metrics import sharpe
    from prometheus_sim.report.builder import one_path_sharpe_interval
    from prometheus_sim.report.one_path import returns_from_growth, sharpe_difference_interval, sharpe_interval

    rng = np.random.default_rng(5)
    iid = 0.0015 + 0.03 * rng.standard_normal(1400)
    boot, lo = sharpe_interval(iid), one_path_sharpe_interval(float(sharpe(iid)), 1400)
    assert boot == sharpe_interval(iid)  # seeded: the same returns, the same interval
    assert boot[0] < float(sharpe(iid)) < boot[1]
    assert (boot[1] - boot[0]) == pytest.approx(lo[1] - lo[0], rel=0.2)
    noise = 0.001 * rng.standard_normal(1401)
    reverting = 0.00005 + noise[1:] - 0.45 * noise[:-1]  # an MA(1): lag-1 autocorrelation about -0.37
    boot, lo = sharpe_interval(reverting), one_path_sharpe_interval(float(sharpe(reverting)), 1400)
    assert boot[1] - boot[0] < 0.7 * (lo[1] - lo[0])
    # paired: a strategy with the same days' luck and a steady edge is established above, though the two intervals
    # overlap; the same strategy against itself differs by exactly 0
    edge = iid + 0.0008
    low, high = sharpe_difference_interval(edge, iid)
    assert 0.0 < low < float(sharpe(edge) - sharpe(iid)) < high
    assert sharpe_interval(edge)[0] < sharpe_interval(iid)[1]  # unpaired, the intervals overlap
    assert sharpe_difference_interval(iid, iid) == (0.0, 0.0)
    # a riskless curve that gains has no Sharpe (metrics' edges): no interval; a flat one's is 0 at every draw
    assert all(math.isnan(x) for x in sharpe_interval(np.full(500, 0.001)))
    assert sharpe_interval(np.zeros(500)) == (0.0, 0.0)
    # an equity curve's returns start from 1 before its first day
    np.testing.assert_allclose(returns_from_growth(np.array([1.1, 0.99, 1.188])), [0.1, -0.1, 0.2])


def test_one_path_intervals_resample_both_series_blocks_and_refuse_too_few_days(monkeypatch):
    """A pair is resampled with the longer of the two series' block lengths (a mean-reverting hold's dependence is
    kept when it is the baseline); fewer than MIN_DAYS days give no interval rather than an error inside arch; a
    curve that falls to 0 has returns 0 after it, as metrics.twr_returns defines them."""
    import prometheus_sim.report.one_path as one_path
    from prometheus_sim.metrics import sharpe

    rng = np.random.default_rng(9)
    iid = 0.001 + 0.02 * rng.standard_normal(1000)
    noise = 0.0005 * rng.standard_normal(1001)
    reverting = noise[1:] - 0.8 * noise[:-1]
    long_pair = one_path.block_length(iid, reverting)
    assert long_pair == one_path.block_length(reverting) > 5 * one_path.block_length(iid)
    seen = []
    real_block = one_path.block_length
    monkeypatch.setattr(one_path, "block_length", lambda *s: seen.append(len(s)) or real_block(*s))
    one_path.sharpe_difference_interval(iid, reverting)
    assert seen == [2]  # both series, not the first alone
    monkeypatch.undo()
    for days in (3, 7, one_path.MIN_DAYS - 1):
        assert all(math.isnan(x) for x in one_path.sharpe_interval(iid[:days]))
        assert all(math.isnan(x) for x in one_path.sharpe_difference_interval(iid[:days], reverting[:days]))
    assert all(math.isfinite(x) for x in one_path.sharpe_interval(iid[: one_path.MIN_DAYS]))
    lost = one_path.returns_from_growth(np.array([0.5, 0.0, 0.0, 0.0]))
    np.testing.assert_array_equal(lost, [-0.5, -1.0, 0.0, 0.0])
    assert math.isfinite(float(sharpe(lost)))


def test_a_saved_market_is_not_said_to_run_on_the_configured_seeds():
    """A real-only run said "Seeds: 30 (1000-1029)" for its one path (review of 2026-12-05)."""
    from prometheus_sim.report.builder import _seeds_text, run_info

    doc = {"config": {"seeds": list(range(1000, 1030)), "scenarios": {"real": "d1", "default": "d2"}}}
    real = pd.DataFrame({"scenario": ["real", "real"], "seed": [0, 0], "strategy": ["hold", "sixty_forty"]})
    assert _seeds_text(run_info(doc, real)) == "saved market(s) real run on their own path(s), not on these seeds"
    both = pd.concat(
        [real, pd.DataFrame({"scenario": ["default"] * 2, "seed": [1000, 1001], "strategy": ["hold"] * 2})]
    )
    assert _seeds_text(run_info(doc, both)) == (
        "30 (1000-1029); saved market(s) real run on their own path(s), not on these seeds"
    )
    # seeds from 0: the real market's row 0 passed for seed 0; the sweep records its saved markets (review)
    recorded = {"config": {"seeds": list(range(30)), "scenarios": {"real": "d1"}, "saved_markets": ["real"]}}
    assert _seeds_text(run_info(recorded, real)) == "saved market(s) real run on their own path(s), not on these seeds"


def test_a_source_the_policy_did_not_run_on_is_no_comparison():
    """Where dqn's cells failed (refused on a BTC-only real market), each baseline there counted as "not
    established": 4 comparisons claimed where 2 existed (review of 2026-12-05)."""
    from prometheus_sim.report.builder import policy_evaluation

    metrics = _policy_metrics()
    metrics = metrics[~((metrics["scenario"] == "real") & metrics["strategy"].str.startswith("dqn"))]
    pe = policy_evaluation(metrics, {})
    assert {c["scenario"] for c in pe["comparisons"]} == {"sim"} and len(pe["comparisons"]) == 2
    assert pe["headline"].startswith("In 2 comparisons")
    assert any("the policy did not run here" in text for scenario, text in pe["findings"] if scenario == "real")


def test_markdown_is_escaped_and_a_cost_sweeps_lines_stay_tellable_apart():
    """A strategy's error holding <script> reached report.md as a tag; a cost sweep of 4 strategies x 3 fees drew two
    strategies in one colour (a palette of ten, one colour a cell); a forecast table on in-time real days was called
    out of sample beside the acceptance row that refused it (review of 2026-12-05, session 19)."""
    from prometheus_sim.report.builder import Para, _md_block, _md_cell, forecasting_blocks
    from prometheus_sim.report.plots import strategy_colours, strategy_styles

    assert _md_cell("boom <script>alert(1)</script> | x") == "boom &lt;script&gt;alert(1)&lt;/script&gt; \\| x"
    assert "<script>" not in _md_block(Para("a <script> in a paragraph"))
    labels = [f"{s} [fees {f} bps]" for s in ("a", "b", "c", "d") for f in (0, 10, 50)]
    colours, styles = strategy_colours(labels), strategy_styles(labels)
    assert len(set(colours.values())) == 4 and len({(colours[x], styles[x]) for x in labels}) == 12
    assert colours["a [fees 0 bps]"] == colours["a [fees 50 bps]"] != colours["b [fees 0 bps]"]
    table = {"evidence": "e.json", "table": "t.csv", "model": "models:/m/1", "problem": None, "in_time": ["real"],
             "rows": [{"scenario": "real", "forecaster": "model", "n_windows": 10, "mae_pct": 4.0, "mae_pct_low": 3.0,
                       "mae_pct_high": 5.0, "mape_7d": 6.0, "rmse": 0.1, "dm_t": 0.0, "dm_p": 1.0, "gap_closed": None,
                       "gap_closed_low": None, "gap_closed_high": None, "coverage_0.8": 0.8, "coverage_0.95": 0.95}]}  # fmt: skip
    text = " ".join(getattr(b, "text", "") for b in forecasting_blocks({"forecasting": {"tables": [table]}}))
    assert "NOT out of sample: real market(s) real" in text and "Student's t" in text


class InvalidAfterRises(BaseStrategy):
    """Fails (a 150 % buy) on the seeds where BTC rose over the first 30 days: its cells fail on the good seeds."""

    name = "invalid_after_rises"
    decision_every_days = 30

    def decide(self, snapshot):
        btc = snapshot.assets.index("BTC")
        if snapshot.step > 0 and snapshot.prices[btc] > snapshot.history.close[0, 0, btc]:
            return Recommendation(Action.BUY_AGGRESSIVE, (Trade("BTC", "buy", 150.0),))
        return Recommendation(Action.HOLD, ())


def test_strategies_over_different_seeds_are_said_not_comparable_and_shown_over_the_common_ones(tmp_path):
    """A strategy whose cells failed on its best seeds looked 16 points worse than its twin over the seeds it kept
    (review of 2026-12-05): the summary says so and adds the seeds every strategy ran; colours are the run's."""
    from prometheus_sim.report.plots import strategy_colours

    with registry.registered("invalid_after_rises", InvalidAfterRises):
        cfg = SweepConfig(scenarios=(str(ROOT / "scenarios/default.yaml"),), seeds=tuple(range(1000, 1008)),
                          strategies=("hold", "invalid_after_rises"), horizon_days=60, seeds_per_task=1)  # fmt: skip
        run_sweep(cfg, tmp_path / "run", simulated_wiring(), workers=1)
    build_report(tmp_path / "run")
    data = _json(tmp_path / "run")
    counts = {r["strategy"]: r["n_seeds"] for r in data["summary"]}
    assert counts["hold"] == 8 and 0 < counts["invalid_after_rises"] < 8, counts
    common = {r["strategy"]: r["n_seeds"] for r in data["summary_common"]}
    assert common == {"hold": counts["invalid_after_rises"], "invalid_after_rises": counts["invalid_after_rises"]}
    md = (tmp_path / "run" / "report.md").read_text()
    assert "**Not comparable as they stand**" in md and f"Over the {common['hold']} seed(s) every strategy ran" in md
    assert "up to 8 seeds (some strategies fewer" in md
    assert strategy_colours(["a", "hold", "z"])["hold"] != strategy_colours(["hold", "z"])["hold"]  # why the run's


def test_a_figure_near_its_target_gets_the_digits_that_tell_it_apart():
    """A p99 of 99.99 ms that passed "< 100 ms" read "100.0 ms", an MAE of 4.999 "5.00 %" (review of 2026-12-05)."""
    from prometheus_sim.report.builder import fmt_measured

    assert fmt_measured(99.99, "ms", target="< 100 ms") == "99.99 ms"
    assert fmt_measured(1000.4, "1/s", target="> 1,000") == "1,000.4 /s"
    assert fmt_measured(4.999, "%", 4.0, 4.9999, target="< 5 %") == "4.9990 % [4.0000, 4.9999]"
    assert fmt_measured(4.2, "%", 4.0, 4.5, target="< 5 %") == "4.20 % [4.00, 4.50]"  # far from it: as before


def test_equal_seed_counts_over_different_seeds_are_still_said_not_comparable():
    """a failed on seed 4 and b on seed 3: three seeds each, different markets; the warning keyed on counts."""
    from prometheus_sim.report.builder import SUMMARY_METRICS, common_seed_rows, summary_blocks, summary_rows

    rows = [{"scenario": "s", "strategy": st, "seed": seed, **{m: float(seed) for m in SUMMARY_METRICS}}
            for st, seeds in (("a", (1, 2, 3)), ("b", (1, 2, 4))) for seed in seeds]  # fmt: skip
    metrics = pd.DataFrame(rows)
    data = {"summary": summary_rows(metrics), "summary_common": summary_rows(common_seed_rows(metrics)),
            "run": {"scenarios": [{"name": "s"}]}}  # fmt: skip
    text = " ".join(str(getattr(b, "text", "")) for b in summary_blocks(data))
    assert "Not comparable as they stand" in text and "Over the 2 seed(s) every strategy ran" in text
