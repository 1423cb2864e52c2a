"""The guide's portfolio model: actions, risk profiles, portfolio state, trades, recommendations.

Plain, validated value objects; the arrays-at-once forms (:class:`RiskProfiles`) are what the
kernels read. Conventions shared by every part:

* Holdings are units of every asset, the stablecoin (the *cash asset*) included: cash is held in
  the stablecoin, so a depeg really does cost the portfolio.
* A ``Trade`` says ``side`` and ``percentage``. A **sell** sells ``percentage`` % of the units held
  of that asset. A **buy** spends ``percentage`` % of the cash available *after the same
  recommendation's sells are filled*; that is what lets one recommendation rebalance.
* A recommendation's ``trades`` are what executes; its ``action`` is the label that the action
  distribution and the win rate count. A label that contradicts the trades is refused.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from functools import cached_property
from typing import Literal

import numpy as np


class Action(IntEnum):
    """The guide's seven decisions (the DQN's action space), as the planner turns them into trades.

    "Volatile" and "stable" rank the non-cash assets by their trailing 30-day volatility of daily
    log returns, measured on closes up to the decision step only. Before two daily returns exist,
    assets rank by kind instead (stable < bond < equity < crypto, ties in column order).

    * ``HOLD``: nothing.
    * ``BUY_CONSERVATIVE``: spends 50 % of cash, the guide's "30 % USDC and 20 % ETH" with cash
      already held in the stablecoin: 30 points go to the least volatile *defensive* asset (a
      bond, an equity or another stablecoin; when the market has none, those 30 points stay in
      the cash stablecoin, which is what "buying USDC" means here) and 20 points to the least
      volatile crypto asset.
    * ``BUY_MODERATE``: spends 50 % of cash split equally over every non-cash asset (a balanced mix).
    * ``BUY_AGGRESSIVE``: spends 50 % of cash on the most volatile crypto asset.
    * ``SELL_PARTIAL``: sells 25 % of each of the two most volatile holdings.
    * ``SELL_MAJOR``: sells 50 % of every non-cash holding.
    * ``REBALANCE``: moves to the risk profile's target (:class:`~prometheus_sim.portfolio.rules.RebalanceRules`).
    """

    HOLD = 0
    BUY_CONSERVATIVE = 1
    BUY_MODERATE = 2
    BUY_AGGRESSIVE = 3
    SELL_PARTIAL = 4
    SELL_MAJOR = 5
    REBALANCE = 6


BUY_ACTIONS = (Action.BUY_CONSERVATIVE, Action.BUY_MODERATE, Action.BUY_AGGRESSIVE)
SELL_ACTIONS = (Action.SELL_PARTIAL, Action.SELL_MAJOR)

# Asset kinds as the kernels see them; the order is also the volatility fallback ranking.
KIND_CODES = {"stable": 0, "bond": 1, "equity": 2, "crypto": 3}

# The market regime estimate (:func:`prometheus_sim.portfolio.nb.regime_nb`).
REGIMES = ("sideways", "bull", "bear")
SIDEWAYS, BULL, BEAR = 0, 1, 2


class InvalidRecommendation(ValueError):
    """A strategy returned something that cannot be executed; the message names the item."""


def _is_number(x: object) -> bool:
    """A real number, numpy scalars included; booleans are not percentages."""
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, (bool, np.bool_))


def _check_finite(name: str, value: object, low: float, high: float = math.inf, low_open: bool = False) -> None:
    if not _is_number(value) or not math.isfinite(value) or value > high or value < low or (low_open and value == low):
        bound = f"({low}, {high}]" if low_open else f"[{low}, {high}]"
        raise ValueError(f"{name}: must be a number in {bound}, got {value!r}")


@dataclass(frozen=True, kw_only=True)
class RiskProfile:
    """One user's profile, with the guide's fields.

    Attributes
    ----------
    risk_tolerance : float in [0, 1]; 0 means capital preservation, 1 maximum growth
    time_to_goal : int, months from the start of the run to the user's goal (counts down as time passes)
    investment_amount : float > 0, the starting value of the portfolio (deposited in cash at the start)
    monthly_contribution : float >= 0, deposited in cash at the close of every calendar month's last step (for the
        next month; the decision at that close sees it)
    """

    risk_tolerance: float = 0.5
    time_to_goal: int = 24
    investment_amount: float = 100_000.0
    monthly_contribution: float = 0.0

    def __post_init__(self) -> None:
        _check_finite("risk_tolerance", self.risk_tolerance, 0.0, 1.0)
        if not isinstance(self.time_to_goal, (int, np.integer)) or isinstance(self.time_to_goal, bool):
            raise ValueError(f"time_to_goal: must be a whole number of months >= 1, got {self.time_to_goal!r}")
        if not 1 <= self.time_to_goal <= 1200:
            raise ValueError(f"time_to_goal: must be in [1, 1200] months, got {self.time_to_goal}")
        _check_finite("investment_amount", self.investment_amount, 0.0, 1e15, low_open=True)
        _check_finite("monthly_contribution", self.monthly_contribution, 0.0, 1e15)


@dataclass(frozen=True)
class RiskProfiles:
    """One :class:`RiskProfile` per user, as arrays of shape (n_users,) (what the kernels read)."""

    risk_tolerance: np.ndarray
    time_to_goal: np.ndarray
    investment_amount: np.ndarray
    monthly_contribution: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.risk_tolerance)
        for name in ("risk_tolerance", "time_to_goal", "investment_amount", "monthly_contribution"):
            arr = np.ascontiguousarray(getattr(self, name), dtype=np.int64 if name == "time_to_goal" else np.float64)
            if arr.shape != (n,):
                raise ValueError(f"{name}: expected shape ({n},), got {arr.shape}")
            arr.flags.writeable = False
            object.__setattr__(self, name, arr)
        for i in range(n):  # each row is a valid profile: errors name the user row
            try:
                self.profile(i)
            except ValueError as exc:
                raise ValueError(f"profiles[{i}].{exc}") from None

    @classmethod
    def of(cls, profiles: RiskProfile | list[RiskProfile] | RiskProfiles, n_users: int) -> RiskProfiles:
        """One profile for every user, a list with one per user, or profiles already batched."""
        if isinstance(profiles, RiskProfiles):
            if len(profiles) != n_users:
                raise ValueError(f"profiles: {len(profiles)} given for {n_users} users")
            return profiles
        if isinstance(profiles, RiskProfile):
            profiles = [profiles] * n_users
        if len(profiles) != n_users:
            raise ValueError(f"profiles: {len(profiles)} given for {n_users} users")
        return cls(
            risk_tolerance=np.array([p.risk_tolerance for p in profiles], dtype=float),
            time_to_goal=np.array([p.time_to_goal for p in profiles], dtype=np.int64),
            investment_amount=np.array([p.investment_amount for p in profiles], dtype=float),
            monthly_contribution=np.array([p.monthly_contribution for p in profiles], dtype=float),
        )

    def __len__(self) -> int:
        return len(self.risk_tolerance)

    def profile(self, i: int) -> RiskProfile:
        return RiskProfile(
            risk_tolerance=float(self.risk_tolerance[i]),
            time_to_goal=int(self.time_to_goal[i]),
            investment_amount=float(self.investment_amount[i]),
            monthly_contribution=float(self.monthly_contribution[i]),
        )

    def rows(self, rows: slice | np.ndarray) -> RiskProfiles:
        return RiskProfiles(
            self.risk_tolerance[rows], self.time_to_goal[rows], self.investment_amount[rows],
            self.monthly_contribution[rows],
        )  # fmt: skip


@dataclass(frozen=True)
class PortfolioState:
    """The guide's ``PortfolioState`` of one user at a decision step.

    ``volatility_30d`` and ``sharpe_ratio`` are annualised (x sqrt(365)) over the trailing 30 daily
    time-weighted returns (deposits are not gains); ``unrealized_pnl`` is the value of the holdings
    minus their average cost (cash deposits count at what was paid). ``market_regime`` is estimated
    from observable closes (:func:`prometheus_sim.portfolio.nb.regime_nb`), never read from truth.
    """

    total_value: float
    asset_allocation: dict[str, float]
    unrealized_pnl: float
    volatility_30d: float
    sharpe_ratio: float
    market_regime: Literal["bull", "bear", "sideways"]


@dataclass(frozen=True)
class Trade:
    """One leg of a recommendation: ``percentage`` in (0, 100] (see the module docstring)."""

    asset: str
    side: Literal["buy", "sell"]
    percentage: float


@dataclass(frozen=True)
class Recommendation:
    """What a strategy recommends for one portfolio at one step."""

    action: Action
    trades: tuple[Trade, ...] = ()
    confidence: float = 1.0
    reason: str = field(default="", compare=False)

    def encode_for_chain(self, addresses: dict[str, str]) -> tuple[list[tuple[str, int, int]], int]:
        """The PolicyEngine's encoding: ``tuple(address,uint8,uint256)[]`` and confidence in bps.

        Side is 0 for buy and 1 for sell; percentages are basis points (100 % = 10,000).
        """
        legs = []
        for trade in self.trades:
            if trade.asset not in addresses:
                raise KeyError(f"no chain address for asset {trade.asset!r}")
            legs.append((addresses[trade.asset], 0 if trade.side == "buy" else 1, round(trade.percentage * 100)))
        return legs, round(self.confidence * 10_000)


LARGEST_BY_NAME = ("BTC", "ETH")


def crypto_by_size(names: Sequence[str], kinds: Sequence[str], sizes: Sequence[float] | None = None) -> tuple[int, ...]:
    """The crypto columns, largest first: what the guide's ``btc_return_7d``/``eth_return_7d`` and the
    RL observation's feature tail read.

    The guide names BTC and ETH, so assets named so (any case) come first, in that order; the other
    crypto assets follow by ``sizes`` (a scenario's declared daily dollar volume, the only size a
    scenario states), largest first, ties and markets without sizes (real data, a chain) in column
    order. A declared figure, never realised data: the order cannot depend on a path's future.
    """
    crypto = [a for a, k in enumerate(kinds) if k == "crypto"]
    if sizes is not None and len(sizes) != len(kinds):
        raise ValueError(f"sizes: one per asset ({len(kinds)}), got {len(sizes)}")

    def rank(a: int):
        name = str(names[a]).upper()
        by_name = LARGEST_BY_NAME.index(name) if name in LARGEST_BY_NAME else len(LARGEST_BY_NAME)
        return (by_name, -float(sizes[a]) if sizes is not None else 0.0, a)

    return tuple(sorted(crypto, key=rank))


@dataclass(frozen=True)
class AssetBook:
    """Which columns are cash, crypto and defensive assets; shared by planning and checking."""

    names: tuple[str, ...]
    cash_index: int
    risky: tuple[int, ...]
    kinds: tuple[str, ...] = ()
    sizes: tuple[float, ...] | None = None  # each asset's declared size, where the market states one

    @classmethod
    def from_kinds(cls, names: Sequence[str], kinds: Sequence[str], sizes: Sequence[float] | None = None) -> AssetBook:
        """The book of a market's columns; ``sizes`` (one per asset, or None) orders :attr:`featured`."""
        if sizes is not None and len(sizes) != len(kinds):
            raise ValueError(f"sizes: one per asset ({len(kinds)}), got {len(sizes)}")
        stables = [i for i, k in enumerate(kinds) if k == "stable"]
        if not stables:
            raise ValueError("a portfolio needs a stablecoin to hold cash in; the scenario has none")
        unknown = [k for k in kinds if k not in KIND_CODES]
        if unknown:
            raise ValueError(f"asset kind {unknown[0]!r} unknown; known: {list(KIND_CODES)}")
        risky = tuple(i for i, k in enumerate(kinds) if k == "crypto")
        return cls(names=tuple(names), cash_index=stables[0], risky=risky, kinds=tuple(kinds),
                   sizes=None if sizes is None else tuple(float(x) for x in sizes))  # fmt: skip

    @cached_property
    def featured(self) -> tuple[int, ...]:
        """The crypto columns, largest first (:func:`crypto_by_size`; a book built without kinds: ``risky``)."""
        return crypto_by_size(self.names, self.kinds, self.sizes) if self.kinds else self.risky

    def featured_columns(self, k: int) -> np.ndarray:
        """The ``k`` largest crypto columns, int64, padded with -1 where the market has fewer."""
        return np.array((list(self.featured) + [-1] * k)[:k], dtype=np.int64)

    @property
    def kind_codes(self) -> np.ndarray:
        """Shape (n_assets,), int64 codes of :data:`KIND_CODES` (what the planner kernel reads)."""
        return np.array([KIND_CODES[k] for k in self.kinds], dtype=np.int64)


@dataclass(frozen=True)
class PortfolioStates:
    """:class:`PortfolioState` for many users at one step, as arrays of shape (n_users,).

    ``regime`` holds codes into :data:`REGIMES` (0 sideways, 1 bull, 2 bear).
    """

    unrealized_pnl: np.ndarray
    volatility_30d: np.ndarray
    sharpe_ratio: np.ndarray
    regime: np.ndarray

    def state(self, i: int, total_value: float, allocation: dict[str, float]) -> PortfolioState:
        return PortfolioState(
            total_value=total_value,
            asset_allocation=allocation,
            unrealized_pnl=float(self.unrealized_pnl[i]),
            volatility_30d=float(self.volatility_30d[i]),
            sharpe_ratio=float(self.sharpe_ratio[i]),
            market_regime=REGIMES[int(self.regime[i])],  # type: ignore[arg-type]
        )


#: The venue's cap on a fill's slippage (``portfolio.nb.MAX_SLIPPAGE``, 50 %) in basis points; kept here so that this
#: module stays free of Numba (a test checks the two agree).
MAX_SLIPPAGE_BPS = 5_000


@dataclass(frozen=True, kw_only=True)
class CostModel:
    """Trading costs of a simulated venue. ``impact`` is the extra slippage per unit of participation (units / volume)."""

    fees_bps: float = 10.0
    slippage_bps: float = 1.0
    impact: float = 0.1

    def __post_init__(self) -> None:
        for name in ("fees_bps", "slippage_bps", "impact"):
            value = getattr(self, name)
            if not _is_number(value) or not math.isfinite(value) or value < 0:
                raise ValueError(f"{name}: must be a finite number >= 0, got {value!r}")
        if self.fees_bps >= 10_000:
            raise ValueError(f"fees_bps: must be < 10000, got {self.fees_bps}")
        if self.slippage_bps >= MAX_SLIPPAGE_BPS:  # 5,000, 20,000 and 1,000,000 bps all filled at the cap, identical
            # results under three labels of a cost sweep (review of 2026-12-05, session 24)
            raise ValueError(f"slippage_bps: must be < {MAX_SLIPPAGE_BPS} (a fill's slippage is capped at 50 %, so "
                             f"any larger setting fills as that cap), got {self.slippage_bps:g}")  # fmt: skip


__all__ = [
    "Action", "AssetBook", "CostModel", "BUY_ACTIONS", "InvalidRecommendation", "KIND_CODES", "PortfolioState", "PortfolioStates", "REGIMES",
    "Recommendation", "RiskProfile", "RiskProfiles", "SELL_ACTIONS", "Trade",
]  # fmt: skip
