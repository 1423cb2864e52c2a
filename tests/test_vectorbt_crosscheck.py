"""Cross-check the accounting kernel against an independent engine: ``vectorbt.Portfolio.from_orders``.

Our side runs the real loop (:func:`prometheus_sim.backtest.run` with a
:class:`adapters.sim.SimAdapter` and :class:`strategies.baselines.EqualWeightRebalance`) on a
small synthetic market; a the receipts the loop records give the units each fill step actually traded. The same
units are then handed to vectorbt as ``amount`` orders and vectorbt does its own cash, fee and
valuation arithmetic. The two per-day portfolio value curves must agree to 1e-9 relative.

How our conventions map onto vectorbt's:

* The cash asset (a stablecoin priced exactly 1.0 every day) is vectorbt's cash; the risky assets
  are vectorbt columns, grouped per path with ``cash_sharing=True``.
* Orders decided at step t fill at ``open[t + 1]``: vectorbt gets the orders on row t + 1 with
  ``price=open`` and values the portfolio with ``close=close``.
* Sells fill before buys within a step: ``call_seq="auto"`` (sells first, to release cash).
* Fees: vectorbt's ``fees`` is a fraction of the order value paid in cash on top of a buy and out of
  a sell. Ours: a buy spending S gets ``S / (px (1 + fee))`` units, i.e. notional ``units x px``
  plus ``fee x notional`` = S; a sell of N units returns ``N px (1 - fee)``. Same thing, so
  vectorbt's cash after our units must equal our stablecoin holdings.

The last test shows the tolerance discriminates: a perturbed fee or the wrong fill price (close
instead of open, or the decision bar instead of the next) breaks agreement by far more than 1e-9.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from adapters.sim import SimAdapter, SimConfig
from prometheus_sim.backtest import DecisionClock, run
from prometheus_sim.blocks import MarketBlocks
from prometheus_sim.market import Market
from prometheus_sim.portfolio import CostModel, RiskProfile
from strategies.baselines import EqualWeightRebalance

vbt = pytest.importorskip("vectorbt")

pytestmark = [
    pytest.mark.slow,  # the first from_orders call JIT-compiles (~11 s on a cold Numba cache)
    # vectorbt 1.2.0 can emit these two (pytest runs with -W error); they say nothing about our code
    pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning"),
    pytest.mark.filterwarnings("ignore::numba.core.errors.NumbaPendingDeprecationWarning"),
]

N_PATHS = 3
N_DAYS = 300
RISKY = ("AAA", "BBB", "CCC")
ASSETS = (*RISKY, "USD1")  # the last one is the cash stablecoin, priced exactly 1.0
FEES_BPS = 10.0
PERIOD_DAYS = 30
INITIAL = 100_000.0
RTOL = 1e-9


def synthetic_market(seed: int = 20240601) -> Market:
    """A market from bars: 3 GBM-ish risky assets with overnight gaps (open != close) + cash at 1.0."""
    rng = np.random.default_rng(seed)
    n_risky = len(RISKY)
    start = np.array([40_000.0, 2_000.0, 90.0])
    vol = np.array([0.03, 0.04, 0.06])
    intraday = rng.normal(0.0005, vol, size=(N_PATHS, N_DAYS, n_risky))
    overnight = rng.normal(0.0, 0.3 * vol, size=(N_PATHS, N_DAYS, n_risky))
    log_close = np.log(start) + np.cumsum(overnight + intraday, axis=1)
    close_r = np.exp(log_close)
    open_r = np.exp(log_close - intraday)  # open = previous close x overnight gap
    shape = (N_PATHS, N_DAYS, len(ASSETS))
    open_, close = np.ones(shape), np.ones(shape)
    open_[..., :n_risky], close[..., :n_risky] = open_r, close_r
    high = np.maximum(open_, close) * 1.001
    low = np.minimum(open_, close) * 0.999
    high[..., -1] = low[..., -1] = 1.0
    volume = rng.uniform(1e3, 1e5, size=shape)
    assert np.all(open_[..., -1] == 1.0) and np.all(close[..., -1] == 1.0)
    assert np.all(open_[..., :n_risky] != close[..., :n_risky])
    kinds = ["crypto"] * n_risky + ["stable"]
    blocks = MarketBlocks(
        open_, high, low, close, volume, np.full((N_PATHS, N_DAYS, 4), np.nan), np.full((N_PATHS, N_DAYS, 3), np.nan)
    )
    calendar = pd.date_range("2024-01-01", periods=N_DAYS, freq="D")
    return Market.from_bars("synthetic", list(ASSETS), kinds, calendar, blocks, {"kind": "synthetic GBM, built in the test"},
                            ("onchain", "macro"))  # fmt: skip


@pytest.fixture(scope="module")
def ours():
    market = synthetic_market()
    config = SimConfig(costs=CostModel(fees_bps=FEES_BPS, slippage_bps=0.0, impact=0.0))
    adapter = SimAdapter(market, config, RiskProfile(investment_amount=INITIAL))
    strategy = EqualWeightRebalance(PERIOD_DAYS)
    result = run(strategy, adapter, DecisionClock.for_strategy(strategy, market.n_steps, 1))
    # the units each fill step actually traded, from the receipts the loop recorded
    traded_units = {}
    for d, t in enumerate(result.decision_steps):
        delta = np.zeros((N_PATHS, len(ASSETS)))
        rows = result.fills.decision == d
        delta[result.fills.row[rows]] = result.fills.after[rows] - result.fills.before[rows]
        traded_units[int(t) + 1] = delta
    return market, SimpleNamespace(traded_units=traded_units, holdings=adapter.state.holdings.copy()), result


def vbt_inputs(market, traded_units: dict[int, np.ndarray], shift: int = 0):
    """Our traded units as vectorbt ``amount`` orders: rows = steps, columns = (path, risky asset)."""
    n_risky = len(RISKY)
    size = np.full((market.n_steps, N_PATHS * n_risky), np.nan)
    for step, delta in traded_units.items():
        size[step + shift] = delta[:, :n_risky].reshape(-1)
    to_2d = lambda a: a[..., :n_risky].transpose(1, 0, 2).reshape(market.n_steps, -1)  # noqa: E731
    group_by = np.repeat(np.arange(N_PATHS), n_risky)
    return size, to_2d(market.open), to_2d(market.close), group_by


def vbt_portfolio(market, traded_units, fees=FEES_BPS / 1e4, price="open", shift=0):
    size, open_2d, close_2d, group_by = vbt_inputs(market, traded_units, shift)
    return vbt.Portfolio.from_orders(
        close=close_2d,
        size=size,
        size_type="amount",
        price=open_2d if price == "open" else close_2d,
        fees=fees,
        init_cash=INITIAL,
        cash_sharing=True,
        group_by=group_by,
        call_seq="auto",
        freq="1D",
    )


def as_paths_by_steps(frame) -> np.ndarray:
    """vectorbt's (steps, groups) value or cash frame as (paths, steps)."""
    return np.asarray(frame, dtype=float).reshape(-1, N_PATHS).T


def test_market_and_orders_are_non_trivial(ours):
    market, adapter, result = ours
    fills = sorted(adapter.traded_units)
    assert fills == [t + 1 for t in range(0, N_DAYS - 1, PERIOD_DAYS)]  # fill at the open after each decision
    # every rebalance after the first both sells and buys risky assets, so sells-before-buys matters
    later = np.stack([adapter.traded_units[s][:, : len(RISKY)] for s in fills[1:]])
    assert (later < 0).any() and (later > 0).any()
    assert np.all(result.fees > 0)
    np.testing.assert_allclose(result.fees, FEES_BPS / 1e4 * result.notional, rtol=1e-12)
    assert np.all(np.isfinite(result.equity))


def test_equity_matches_vectorbt(ours):
    market, adapter, result = ours
    pf = vbt_portfolio(market, adapter.traded_units)
    n_risky = len(RISKY)

    # every order we handed over was filled as given (none rejected or resized)
    records = pf.orders.values
    n_orders = sum(int(np.count_nonzero(d[:, :n_risky])) for d in adapter.traded_units.values())
    assert len(records) == n_orders

    # the per-day portfolio value curves
    np.testing.assert_allclose(result.equity, as_paths_by_steps(pf.value()), rtol=RTOL, atol=0)
    # the pieces: vectorbt's cash is our stablecoin, its positions are our risky holdings, fees agree
    np.testing.assert_allclose(adapter.holdings[:, -1], as_paths_by_steps(pf.cash())[:, -1], rtol=RTOL, atol=0)
    assets = np.asarray(pf.assets(), dtype=float)[-1].reshape(N_PATHS, n_risky)
    np.testing.assert_allclose(adapter.holdings[:, :n_risky], assets, rtol=RTOL, atol=0)
    fees_vbt = np.bincount(records["col"] // n_risky, weights=records["fees"], minlength=N_PATHS)
    np.testing.assert_allclose(result.fees, fees_vbt, rtol=RTOL, atol=0)


@pytest.mark.parametrize(
    "perturbation",
    [
        {"fees": FEES_BPS / 1e4 * 1.01},  # a 1 % different fee rate
        {"fees": 0.0},  # fees ignored
        {"price": "close"},  # filled at the fill bar's close instead of its open
        {"shift": -1},  # filled on the decision bar (lookahead-free convention broken)
    ],
    ids=["fee+1%", "no-fees", "fill-at-close", "fill-on-decision-bar"],
)
def test_tolerance_catches_convention_changes(ours, perturbation):
    """The comparison is not vacuous: each of these changes breaks agreement by far more than RTOL."""
    market, adapter, result = ours
    pf = vbt_portfolio(market, adapter.traded_units, **perturbation)
    theirs = as_paths_by_steps(pf.value())
    rel = np.nanmax(np.abs(result.equity - theirs) / np.abs(theirs))
    assert rel > 1000 * RTOL, f"{perturbation}: max relative difference only {rel:.2e}"
