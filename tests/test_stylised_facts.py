"""The default scenario shows the stylised facts of real crypto data; the fact functions are right."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from prometheus_sim.facts import (
    correlation_table,
    daily_log_returns,
    excess_kurtosis,
    max_drawdown,
    squared_return_acf,
    stylised_facts,
)
from prometheus_sim.market import Market


@pytest.fixture(scope="module")
def default_market(default_spec):
    # 300 paths x 3 years: medians over paths are stable to a few percent
    return Market.simulate(default_spec, seed=123, n_paths=300)


def test_btc_annual_vol_is_in_the_crypto_range(default_market):
    facts = stylised_facts(default_market)
    assert 0.55 <= facts.loc[("BTC", "annual_vol"), "median"] <= 0.80


def test_btc_daily_returns_are_fat_tailed(default_market):
    facts = stylised_facts(default_market)
    assert facts.loc[("BTC", "excess_kurtosis"), "median"] > 3.0


def test_squared_returns_stay_autocorrelated_for_ten_lags(default_market):
    rets = daily_log_returns(default_market)[:, :, 0]
    acf = squared_return_acf(rets[:, :, None])[:, :, 0]  # (paths, 10)
    medians = np.median(acf, axis=0)
    assert np.all(medians > 0.0), medians


def test_btc_eth_correlation(default_market):
    corr = correlation_table(default_market)
    assert 0.75 <= corr.loc["BTC", "ETH"] <= 0.88  # real daily BTC/ETH: 0.79-0.84 (FACTS.md)


def test_stablecoin_and_bond_stay_calm(default_market):
    facts = stylised_facts(default_market)
    assert facts.loc[("USDC", "max_drawdown"), "p95"] < 0.02
    assert facts.loc[("BOND", "annual_vol"), "median"] < 0.1


def test_fact_functions_match_obvious_references():
    rng = np.random.default_rng(0)
    x = rng.standard_t(5, size=(3, 500, 2))
    ref_kurt = stats.kurtosis(x, axis=1)
    np.testing.assert_allclose(excess_kurtosis(x), ref_kurt, rtol=1e-10)
    acf = squared_return_acf(x, lags=3)
    for p in range(3):
        s = x[p, :, 1] ** 2 - (x[p, :, 1] ** 2).mean()
        for lag in (1, 2, 3):
            ref = np.sum(s[lag:] * s[:-lag]) / np.sum(s * s)
            assert acf[p, lag - 1, 1] == pytest.approx(ref, rel=1e-10)
    prices = np.exp(np.cumsum(x * 0.01, axis=1))
    for p in range(3):
        worst, peak = 0.0, -np.inf
        for v in prices[p, :, 0]:
            peak = max(peak, v)
            worst = max(worst, 1 - v / peak)
        assert max_drawdown(prices)[p, 0] == pytest.approx(worst, rel=1e-12)


def test_a_market_too_short_for_the_facts_gives_nan_facts_without_numpys_warnings(default_spec):
    """``horizon_days: 2`` is valid: its facts are NaN (one return), and say so, not in NumPy's RuntimeWarnings."""
    import warnings

    from prometheus_sim.facts import FACTS_MIN_DAYS, stylised_facts_and_correlation

    for days in (2, FACTS_MIN_DAYS):
        market = Market.simulate(default_spec.with_horizon(days), n_paths=2)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            facts, corr = stylised_facts_and_correlation(market)
        lag10 = facts.xs("sq_return_acf_lag10", level="fact")["median"]
        assert lag10.isna().all() if days == 2 else lag10.notna().any(), (days, lag10)
        assert corr.isna().all().all() if days == 2 else corr.notna().any().any()
