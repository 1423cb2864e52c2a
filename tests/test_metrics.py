"""Metrics against obvious references."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest
from scipy import stats

from prometheus_sim import metrics as m


@pytest.fixture
def equity():
    rng = np.random.default_rng(4)
    r = rng.normal(0.0008, 0.02, size=(3, 400))
    return 100.0 * np.cumprod(np.concatenate([np.ones((3, 1)), 1 + r], axis=1), axis=1)


def test_sharpe_sortino_vol(equity):
    r = m.simple_returns(equity)
    for p in range(3):
        x = r[p]
        assert m.sharpe(r)[p] == pytest.approx(x.mean() / x.std(ddof=1) * math.sqrt(365), rel=1e-12)
        downside = math.sqrt(np.mean(np.minimum(x, 0) ** 2))
        assert m.sortino(r)[p] == pytest.approx(x.mean() / downside * math.sqrt(365), rel=1e-12)
        assert m.annual_vol(r)[p] == pytest.approx(x.std(ddof=1) * math.sqrt(365), rel=1e-12)
    assert m.sharpe(np.zeros((1, 10)))[0] == 0.0


def test_drawdown_calmar_returns(equity):
    for p in range(3):
        e = equity[p]
        worst = max(1 - e[i] / e[: i + 1].max() for i in range(len(e)))
        assert m.max_drawdown(equity)[p] == pytest.approx(worst, rel=1e-12)
        ann = (e[-1] / e[0]) ** (365 / (len(e) - 1)) - 1
        assert m.annual_return(equity)[p] == pytest.approx(ann, rel=1e-12)
        assert m.calmar(equity)[p] == pytest.approx(ann / worst, rel=1e-12)
    assert m.max_drawdown(np.array([1.0, 2.0, 1.0, 3.0])) == pytest.approx(0.5)


def test_probabilistic_sharpe_matches_the_formula(equity):
    r = m.simple_returns(equity)
    x = r[0]
    sr = x.mean() / x.std(ddof=1)
    skew = stats.skew(x)
    kurt = stats.kurtosis(x, fisher=False)
    z = sr * math.sqrt(len(x) - 1) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2)
    assert m.probabilistic_sharpe(r)[0] == pytest.approx(NormalDist().cdf(z), rel=1e-9)


def test_win_rate_and_intervals():
    assert m.win_rate(np.array([[1, 0, -1], [1, -1, -1]])) == pytest.approx(2 / 3)
    assert math.isnan(m.win_rate(np.array([-1, -1])))
    mean, lo, hi = m.mean_interval(np.array([1.0, 2.0, 3.0, 4.0]))
    half = 3.182446 * np.std([1, 2, 3, 4], ddof=1) / 2  # Student's t at 0.975 with 3 degrees of freedom (tables)
    assert (mean, lo, hi) == pytest.approx((2.5, 2.5 - half, 2.5 + half), rel=1e-6)
    for level in (0.0, 1.0, 95.0):
        with pytest.raises(ValueError, match="level: a confidence level in"):
            m.mean_interval(np.array([1.0, 2.0]), level=level)
    # a bounded metric's interval stops at its bound (fees over four seeds, one of them large)
    fees = np.array([0.0, 0.0, 0.0, 0.004])
    assert m.mean_interval(fees)[1] < 0.0
    mean, lo, hi = m.mean_interval(fees, bounds=m.METRIC_BOUNDS["fees_paid"])
    assert mean == pytest.approx(0.001) and lo == 0.0 and hi == m.mean_interval(fees)[2]
    assert m.metric_interval(fees, "fees_paid") == (mean, lo, hi)
    assert m.metric_interval(fees, "sharpe") == m.mean_interval(fees)  # an unbounded metric is not cut
    assert m.mean_interval(np.array([0.9, 1.0, 1.0, 1.0]), bounds=m.METRIC_BOUNDS["win_rate"])[2] == 1.0
    # values outside the range (they can happen: a day losing more than its equity) never exclude the mean
    mean, lo, hi = m.mean_interval(np.array([1.9, 1.8, 1.2, 1.1]), bounds=(0.0, 1.0))
    assert lo <= mean <= hi and mean == pytest.approx(1.5)


def test_a_clustered_interval_counts_clusters_not_cells():
    rng = np.random.default_rng(7)
    x = rng.normal(0.3, 0.5, 12)
    # one value a cluster: the plain Student-t interval exactly
    assert m.clustered_mean_interval(x, np.arange(12)) == pytest.approx(m.mean_interval(x), rel=1e-12)
    # balanced clusters: the t interval over the 4 cluster means (3 degrees of freedom), not over 12 cells
    labels = np.repeat(["seed 1", "seed 2", "seed 3", "seed 4"], 3)
    means = x.reshape(4, 3).mean(axis=1)
    assert m.clustered_mean_interval(x, labels) == pytest.approx(m.mean_interval(means), rel=1e-12)
    # a value copied into three scenarios (shared random numbers) is no more certain than the value once
    once = m.mean_interval(x[:4])
    thrice = m.clustered_mean_interval(np.tile(x[:4], 3), np.tile(np.arange(4), 3))
    assert thrice == pytest.approx(once, rel=1e-12)
    assert m.mean_interval(np.tile(x[:4], 3))[2] - m.mean_interval(np.tile(x[:4], 3))[1] < 0.5 * (once[2] - once[1])
    # non-finite values drop out with their labels; one cluster left has no interval
    mean, lo, hi = m.clustered_mean_interval(np.array([1.0, 2.0, np.nan]), np.array(["a", "a", "b"]))
    assert mean == 1.5 and math.isnan(lo) and math.isnan(hi)
    assert m.metric_interval(np.array([0.9, 1.0, 1.0, 1.0]), "win_rate", clusters=np.arange(4))[2] == 1.0
    with pytest.raises(ValueError, match="clusters: one label a value"):
        m.clustered_mean_interval(x, np.arange(3))


def test_every_path_metric_has_a_definition():
    for name in m.PATH_METRICS:
        if name != "n_scored":
            assert name in m.DEFINITIONS


def test_edges_are_defined_and_quiet():
    import warnings

    days = np.arange(366)
    riskless = 100.0 * 1.001**days  # +0.1 %/day, no risk: the float noise must not make a Sharpe of 1e14
    bankrupt = np.array([100.0, 50.0, 0.0, 0.0, 0.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = m.simple_returns(riskless[None])
        assert np.isnan(m.sharpe(r)[0]) and np.isnan(m.sortino(r)[0]) and np.isnan(m.probabilistic_sharpe(r)[0])
        flat = np.zeros((1, 30))
        assert m.sharpe(flat)[0] == 0.0 and m.sortino(flat)[0] == 0.0
        b = m.twr_returns(bankrupt[None, 1:], np.zeros((1, 4)), np.array([100.0]))
        assert b.tolist() == [[-0.5, -1.0, 0.0, 0.0]]  # lost stays lost: no NaN after the fall
        idx = m.growth_index(b)
        assert m.total_return(idx)[0] == -1.0 and m.annual_return(idx)[0] == -1.0 and m.max_drawdown(idx)[0] == 1.0
        assert np.isfinite(m.sharpe(b)[0]) and m.sharpe(b)[0] < 0 and m.sortino(b)[0] < 0
        one_point = np.array([[100.0]])
        assert np.isnan(m.annual_return(one_point)[0]) and np.isnan(m.turnover(np.array([0.0]), one_point)[0])
        one_return = np.array([[0.01]])
        assert np.isnan(m.sharpe(one_return)[0]) and np.isnan(m.annual_vol(one_return)[0])
        assert np.isnan(m.sortino(one_return)[0]) and np.isnan(m.probabilistic_sharpe(one_return)[0])
        # deposits after a total loss do not revive the index
        revived = m.twr_returns(np.array([[0.0, 500.0]]), np.array([[0.0, 500.0]]), np.array([100.0]))
        assert revived.tolist() == [[-1.0, 0.0]]


def test_a_collapse_on_one_source_is_flagged_though_the_pool_is_not():
    """Sources A and B: all hold on A, all rebalance on B. Pooled, no action passes 90 %; A and B each do."""
    import pandas as pd

    from prometheus_sim.metrics import ACTION_SHARE_COLUMNS, collapsed_sources

    rows = []
    for source, action in (("A", "share_hold"), ("B", "share_rebalance"), ("C", None)):
        for _ in range(3):
            shares = dict.fromkeys(ACTION_SHARE_COLUMNS, 0.0 if action else 1 / 7)
            if action:
                shares[action] = 1.0
            rows.append({"scenario": source, **shares})
    frame = pd.DataFrame(rows)
    assert frame[list(ACTION_SHARE_COLUMNS)].mean().max() < 0.9
    assert collapsed_sources(frame) == [("A", 1.0, "hold"), ("B", 1.0, "rebalance")]


def test_never_traded_is_turnover_zero_in_every_cell_whatever_the_actions_are_called():
    """Sells of an all-cash book trade nothing: a policy mixing hold and sells below the 90 % flag held its opening
    book and was never flagged (review)."""
    import pandas as pd

    rows = pd.DataFrame({"turnover": [0.0, 0.0], "share_hold": [0.74, 0.6], "share_sell_major": [0.26, 0.4]})
    assert m.never_traded(rows)
    assert not m.never_traded(rows.assign(turnover=[0.0, 0.01]))
    assert not m.never_traded(rows.iloc[:0]) and not m.never_traded(pd.DataFrame({"share_hold": [1.0]}))
