"""The guide's features: equal to pandas' own rolling/ewm on one path, blind to the future, switchable."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prometheus_sim.blocks import MarketBlocks, MissingDataError
from prometheus_sim.features import (
    MACRO_FEATURES,
    ONCHAIN_FEATURES,
    PRICE_FEATURES,
    VOLUME_FEATURES,
    WARMUP_DAYS,
    FeatureConfig,
    compute_features,
    feature_frame,
)
from prometheus_sim.market import Market
from prometheus_sim.scenario import load_scenario
from tests.conftest import SCENARIOS


@pytest.fixture(scope="module")
def market() -> Market:
    return Market.simulate(load_scenario(SCENARIOS / "default.yaml").with_horizon(160), n_paths=3)


def _pandas_reference(d: pd.DataFrame) -> dict[str, pd.Series]:
    c, v = d["close"], d["volume"]
    r = c.pct_change()

    def ema(x: pd.Series, span: int) -> pd.Series:
        return x.ewm(span=span, adjust=False, min_periods=span).mean()

    macd = (ema(c, 12) - ema(c, 26)) / c
    delta = c.diff()
    gain, loss = delta.clip(lower=0).rolling(14).mean(), (-delta.clip(upper=0)).rolling(14).mean()
    mid, sd = c.rolling(20).mean(), c.rolling(20).std()
    whale, active = d["whale_transactions"].astype(float), d["active_addresses"].astype(float)
    return {
        "return_1d": r, "return_7d": c.pct_change(7), "return_30d": c.pct_change(30),
        "sma_7": c.rolling(7).mean() / c, "sma_30": c.rolling(30).mean() / c, "ema_7": ema(c, 7) / c,
        "volatility_7d": r.rolling(7).std(), "volatility_30d": r.rolling(30).std(),
        "rsi_14": 100 - 100 / (1 + gain / loss), "macd": macd, "macd_signal": ema(macd, 9),
        "bb_upper": (mid + 2 * sd) / c, "bb_lower": (mid - 2 * sd) / c, "bb_width": 4 * sd / c,
        "volume_sma_7": v.rolling(7).mean() / v, "volume_sma_30": v.rolling(30).mean() / v,
        "volume_change": v.pct_change(), "vp_corr_7d": c.rolling(7).corr(v),
        "whale_tx_sma": whale.rolling(7).mean(), "whale_tx_change": whale.diff() / whale.shift().clip(lower=1),
        "active_addr_sma": active.rolling(7).mean(), "active_addr_change": active.diff() / active.shift().clip(lower=1),
        "exchange_netflow": d["exchange_inflow"] - d["exchange_outflow"], "inflation": d["inflation_rate"],
        "fed_rate": d["fed_rate"], "fed_rate_change": d["fed_rate"].diff(), "dxy": d["dxy_index"].pct_change(),
    }  # fmt: skip


@pytest.mark.parametrize("asset", ["BTC", "SOL", "USDC"])
def test_every_feature_equals_pandas_on_one_path(market, asset):
    frame = feature_frame(market, 1, asset)
    ref = _pandas_reference(market.frame(1, asset))
    assert list(frame.columns) == [*PRICE_FEATURES, *VOLUME_FEATURES, *ONCHAIN_FEATURES, *MACRO_FEATURES]
    for name, expected in ref.items():
        got = frame[name].to_numpy()
        want = expected.to_numpy(dtype=float)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=f"{name}: NaN pattern")
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12, err_msg=name)
    assert not frame.iloc[WARMUP_DAYS:].isna().any().any(), "every feature is defined after the warm-up"
    assert frame.iloc[WARMUP_DAYS - 1].isna().any(), "WARMUP_DAYS is the first day with every feature"


def _perturbed_after(market: Market, t: int, factor: np.ndarray) -> Market:
    """The same market with every block changed after day t (prices scaled, series shifted)."""
    b = market.blocks
    later = np.arange(market.n_steps) > t
    scale = np.where(later[None, :, None], factor[None, :, None], 1.0)
    blocks = MarketBlocks(
        open=b.open * scale, high=b.high * scale, low=b.low * scale, close=b.close * scale,
        volume=b.volume * scale[::-1], onchain=np.where(later[None, :, None], b.onchain * 1.7 + 3, b.onchain),
        macro=np.where(later[None, :, None], b.macro * 0.5 + 0.01, b.macro),
    )  # fmt: skip
    return Market.from_bars("perturbed", market.assets, market.asset_kinds, market.calendar, blocks, {"kind": "test"})


@settings(max_examples=15, deadline=None)
@given(t=st.integers(0, 158), seed=st.integers(0, 2**31))
def test_no_feature_at_t_reads_a_day_after_t(market, t, seed):
    factor = np.random.default_rng(seed).uniform(0.3, 3.0, market.n_steps)
    before, after = compute_features(market), compute_features(_perturbed_after(market, t, factor))
    for name in ("asset", "market", "context"):
        a, b = getattr(before, name)[:, : t + 1], getattr(after, name)[:, : t + 1]
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
        np.testing.assert_array_equal(np.nan_to_num(a), np.nan_to_num(b), err_msg=name)
    if t + 1 < market.n_steps:  # and the perturbation does reach the features after t
        assert not np.allclose(np.nan_to_num(before.asset[:, t + 1 :]), np.nan_to_num(after.asset[:, t + 1 :]))


def test_switches_and_absent_blocks(market):
    only_price = compute_features(market, FeatureConfig(volume=False, onchain=False, macro=False))
    assert only_price.asset.shape[-1] == len(PRICE_FEATURES) and only_price.market.shape[-1] == 0
    assert only_price.context.shape[-1] == 0
    with pytest.raises(ValueError, match="price or volume must be on"):
        FeatureConfig(price=False, volume=False)
    b = market.blocks
    nan = np.full_like(b.onchain, np.nan)
    real_like = Market.from_bars("bars", market.assets, market.asset_kinds, market.calendar,
                                 b._replace(onchain=nan, macro=np.full_like(b.macro, np.nan)), {"kind": "test"},
                                 ("onchain", "macro"))  # fmt: skip
    fs = compute_features(real_like)  # the default config follows what the market has
    assert fs.config.window_names == PRICE_FEATURES + VOLUME_FEATURES and fs.context.shape[-1] == 0
    with pytest.raises(
        MissingDataError, match="onchain column 'whale_transactions' is absent.*feature switch 'onchain'"
    ):
        compute_features(real_like, FeatureConfig())


def test_sub_daily_steps_use_daily_bars():
    spec = load_scenario(SCENARIOS / "default.yaml").with_horizon(80)
    intraday = Market.simulate(spec.model_copy(update={"steps_per_day": 4}), n_paths=1)
    fs = compute_features(intraday)
    close = intraday.close[0, 3::4, 0]  # the day's last step
    assert fs.n_days == 80 and len(fs.calendar) == 80
    np.testing.assert_array_equal(fs.close[0, :, 0], close)
    np.testing.assert_allclose(fs.asset[0, 1:, 0, 0], close[1:] / close[:-1] - 1, rtol=1e-12)
    volume = intraday.volume[0, :, 0].reshape(80, 4).sum(axis=1)
    np.testing.assert_allclose(
        fs.asset[0, 7:, 0, PRICE_FEATURES.__len__() + 2], volume[7:] / volume[6:-1] - 1, rtol=1e-12
    )
