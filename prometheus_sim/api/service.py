"""What the API computes, apart from HTTP: the market it serves, forecasts, recommendations, risk.

:class:`MarketFeed` is the API's :class:`~prometheus_sim.datasource.DataSource` use: one path of a
saved run directory (or a simulated scenario), revealed one day per ``step_seconds`` from
``start_day`` (the default stand-in for the guide's Kafka ingestion). Nothing after the current day
is read by any endpoint: the history handed on is cut there.

:class:`ForecastService` prepares, at each new day, every asset's scaled model input (features
are computed once for the path; they read nothing after each day), so a request costs one row of a
batched model call. :class:`PortfolioService` answers ``/v1/optimize/portfolio`` through the same
strategy objects as backtests (the registered DQN by default, ``forecast`` when asked), on a
one-user :class:`~prometheus_sim.snapshot.SnapshotBatch` built from the request. :func:`assess_risk`
scores a portfolio with the project's metrics on the feed's trailing year of daily closes.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from prometheus_sim.features import WARMUP_DAYS, daily_bars
from prometheus_sim.forecast.data import Windows
from prometheus_sim.forecast.predictor import DEFAULT_LEVEL, PredictionError, PricePredictor
from prometheus_sim.market import Market
from prometheus_sim.portfolio import AssetBook, RebalanceRules, RiskProfile, RiskProfiles
from prometheus_sim.portfolio.model import PortfolioStates
from prometheus_sim.snapshot import MarketHistory, Marks, SnapshotBatch

RISK_WINDOW_DAYS = 365


class Feed:
    """What every API feed shares: listeners told of each new day, and the history cut at the current day.

    A subclass provides ``market`` (a one-path :class:`Market` holding at least the current day) and ``day``.
    """

    market: Market
    day: int

    def on_advance(self, listener) -> None:
        self._listeners.append(listener)

    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener(self.day)

    def history(self, n_users: int = 1) -> MarketHistory:
        """Every bar up to the current day, seen by ``n_users`` users (views, nothing after the day)."""
        t = self.day
        blocks = self.market.blocks.head(t + 1)
        if n_users != 1:
            from prometheus_sim.blocks import MarketBlocks

            blocks = MarketBlocks(*(np.broadcast_to(a, (n_users,) + a.shape[1:]) for a in blocks))
        return MarketHistory(blocks, self.market.calendar[: t + 1], self.market.absent)

    def closes(self) -> np.ndarray:
        return self.market.close[0, : self.day + 1]

    def timestamp(self) -> int:
        return int(pd.Timestamp(self.market.calendar[self.day]).timestamp())


class MarketFeed(Feed):
    """One daily path of a market, advancing one day every ``step_seconds`` (0: never advances).

    A :class:`~prometheus_sim.datasource.DataSource`: ``history()`` is every bar up to the current day.
    """

    def __init__(self, market: Market, path: int = 0, start_day: int | None = None, step_seconds: float = 60.0):
        if market.steps_per_day != 1:
            raise ValueError(f"market {market.name!r}: the API serves daily markets (steps_per_day 1), "
                             f"got {market.steps_per_day}")  # fmt: skip
        if not 0 <= path < market.n_paths:
            raise ValueError(f"path: {path} is not a path of market {market.name!r} ({market.n_paths} paths)")
        self.market = market.rows(slice(path, path + 1))
        self.assets = list(self.market.assets)
        self.asset_kinds = tuple(self.market.asset_kinds)
        self.steps_per_day = 1
        self.book = AssetBook.from_kinds(self.assets, self.market.asset_kinds, self.market.asset_sizes)
        last = self.market.n_steps - 1
        self.day = min(last, 365) if start_day is None else int(start_day)
        if not 0 <= self.day <= last:
            raise ValueError(f"start_day: must be in 0..{last}, got {start_day}")
        self.step_seconds = float(step_seconds)
        self._listeners: list = []
        self._lock = threading.Lock()

    @property
    def last_day(self) -> int:
        return self.market.n_steps - 1

    @property
    def ended(self) -> bool:
        """At the market's last day, where the feed stays."""
        return self.day >= self.last_day

    def advance(self) -> bool:
        """Reveal the next day; False at the end of the market."""
        with self._lock:
            if self.day >= self.last_day:
                return False
            self.day += 1
        self._notify()
        return True


@dataclass(frozen=True)
class DayInputs:
    day: int
    x: np.ndarray  # (A, window, F) scaled, float32
    c: np.ndarray  # (A, C) scaled, float32
    last_close: np.ndarray  # (A,)
    half_band: np.ndarray  # (A, H) at DEFAULT_LEVEL
    timestamp: int
    problem: tuple[str | None, ...]  # per asset: why it cannot be predicted today (None: it can)


class ForecastService:
    """Batched price predictions of one registered forecaster on a :class:`MarketFeed`."""

    def __init__(self, predictor: PricePredictor, feed: MarketFeed):
        self.predictor = predictor
        self.feed = feed
        self._market = feed.market
        self.src = predictor.source(self._market)
        self.assets = [a for a in feed.assets if a in predictor.meta["assets"]]
        self._inputs: DayInputs | None = None
        self._predicted: tuple[DayInputs, dict[int, np.ndarray]] | None = None  # the day's predictions, by column
        self._lock = threading.Lock()
        self.prepare(feed.day)
        feed.on_advance(self.prepare)

    @property
    def horizon(self) -> int:
        return self.predictor.horizon

    def problems_today(self) -> list[str | None]:
        """Why each served asset cannot be forecast at the inputs' day (None where it can)."""
        with self._lock:
            inputs = self._inputs
        return [] if inputs is None else [inputs.problem[self.feed.assets.index(a)] for a in self.assets]

    def prepare(self, day: int) -> DayInputs:
        """Every asset's scaled input at ``day`` (the feed's current day); called when the feed advances."""
        if self.feed.market is not self._market:  # a growing feed (the chain's): its features are recomputed
            self._market = self.feed.market
            self.src = self.predictor.source(self._market)
        n = len(self.feed.assets)
        problem: list[str | None] = [None] * n
        need = WARMUP_DAYS + self.predictor.window
        windows = Windows(np.zeros(n, dtype=np.int64), np.arange(n), np.full(n, day))
        if day + 1 < need:
            problem = [f"too little history: a forecast needs {need} days, day {day} has {day + 1}"] * n
            x = np.zeros((n, self.predictor.window, len(self.predictor.meta["window_features"])), np.float32)
            c = np.zeros((n, 0), np.float32)
        else:
            raw_x, raw_c = self.src.inputs(windows)
            for a in range(n):
                if not np.isfinite(raw_x[a]).all():
                    problem[a] = f"NaN in {self.feed.assets[a]}'s inputs at day {day}"
                elif not np.isfinite(raw_c[a]).all():  # the context C(t): NaN predictions, and invalid JSON, before
                    names = [self.predictor.context_names[f] for f in np.flatnonzero(~np.isfinite(raw_c[a]))]
                    problem[a] = f"NaN in {self.feed.assets[a]}'s context {names} at day {day}"
            x = self.predictor.scaler.x(np.nan_to_num(raw_x)).astype(np.float32)
            c = (self.predictor.scaler.c(np.nan_to_num(raw_c)).astype(np.float32) if raw_c.shape[1]
                 else raw_c.astype(np.float32))  # fmt: skip
        for a, name in enumerate(self.feed.assets):
            if name not in self.predictor.meta["assets"]:
                problem[a] = f"asset {name!r}: the model was trained on {self.predictor.meta['assets']} only"
        last = np.exp(self.src.last_log_close(windows))
        half = (self.predictor.band(self.src, windows, self.feed.assets, DEFAULT_LEVEL)
                if day + 1 >= need else np.zeros((n, self.horizon)))  # fmt: skip
        _, days = daily_bars(self._market)
        inputs = DayInputs(day, x, c, last, half, int(days[day].timestamp()), tuple(problem))
        with self._lock:
            self._inputs = inputs
        return inputs

    def day_predictions(self, inputs: DayInputs) -> dict[int, np.ndarray]:
        """Predicted log returns (H,) of every asset the day can predict, by market column: one model call a day.

        Every asset at once, whichever were asked: a float32 model's last digits depend on the batch it runs in, and
        answers varied with the requests in flight (80 of 90 under load differed from the same request alone; review
        of 2026-12-05, session 24). The same inputs give the same answer, so it is computed once for a day's inputs
        and shared by every request until the feed moves on."""
        import torch

        with self._lock:
            if self._predicted is not None and self._predicted[0] is inputs:
                return self._predicted[1]
        day_rows = np.array([a for a in range(len(inputs.problem)) if inputs.problem[a] is None], dtype=np.int64)
        by_row: dict[int, np.ndarray] = {}
        if day_rows.size:
            with torch.no_grad():
                xt = torch.from_numpy(inputs.x[day_rows]).to(self.predictor.device)
                ct = torch.from_numpy(inputs.c[day_rows]).to(self.predictor.device) if inputs.c.shape[1] else None
                p, _ = self.predictor.model(xt, ct)
            logret = self.predictor.scaler.y_inverse(p.float().cpu().numpy().astype(np.float64))
            by_row = dict(zip(day_rows.tolist(), logret, strict=True))
        with self._lock:
            self._predicted = (inputs, by_row)
        return by_row

    def predict_batch(self, items: list[tuple[str, int]]) -> list[dict | Exception]:
        """The guide's response for each (asset, horizon), from the day's predictions (:meth:`day_predictions`)."""
        with self._lock:
            inputs = self._inputs
        if inputs.day != self.feed.day:
            # the feed moved on and its listener has not rebuilt the inputs yet: a socket woken first read the day
            # before, pushed nothing (same timestamp) and skipped that day for good (review of 2026-12-05)
            inputs = self.prepare(self.feed.day)
        rows, out = [], []
        for asset, _ in items:
            a = self.feed.assets.index(asset)
            rows.append(a)
        ok = [i for i, a in enumerate(rows) if inputs.problem[a] is None]
        by_row = self.day_predictions(inputs) if ok else {}
        preds = {i: by_row[rows[i]] for i in ok}
        for i, (asset, horizon) in enumerate(items):
            a = rows[i]
            if inputs.problem[a] is not None:
                out.append(PredictionError(inputs.problem[a]))
                continue
            h = slice(0, horizon)
            last, pred, half = inputs.last_close[a], preds[i], inputs.half_band[a]
            out.append({
                "asset": asset, "horizon_days": horizon,
                "predictions": (last * np.exp(pred[h])).tolist(), "confidence": [DEFAULT_LEVEL] * horizon,
                "lower": (last * np.exp(pred[h] - half[h])).tolist(), "upper": (last * np.exp(pred[h] + half[h])).tolist(),
                "level": DEFAULT_LEVEL, "last_close": float(last), "timestamp": inputs.timestamp,
                "model": self.predictor.model_uri,
            })  # fmt: skip
        return out


class NotWarmedUp(RuntimeError):
    """The served strategy does not decide yet at the feed's day (its features' warm-up): the API's 503."""


class PortfolioService:
    """A strategy's recommendation for one portfolio at the feed's current day."""

    def __init__(self, strategy, feed: MarketFeed, label: str):
        self.strategy = strategy
        self.feed = feed
        self.label = label
        self.rules = RebalanceRules()
        self._lock = threading.Lock()

    def snapshot(self, portfolio: dict[str, float], profile: RiskProfile) -> SnapshotBatch:
        feed, t = self.feed, self.feed.day
        price = feed.market.close[0, t]
        value = np.array([float(portfolio.get(a, 0.0)) for a in feed.assets])
        holdings = (value / price)[None]
        total = value.sum()
        hist = feed.history()
        from prometheus_sim.portfolio import nb

        regime = nb.regime_row_nb(feed.market.close, 0, t, 1, feed.book.kind_codes)
        vol, sharpe = trailing_state(feed, value)
        states = PortfolioStates(np.zeros(1), np.array([vol]), np.array([sharpe]), np.array([regime], dtype=np.int64))
        return SnapshotBatch(
            step=t, timestamp=feed.market.calendar[t], users=np.array([0]), book=feed.book, holdings=holdings,
            prices=price[None].copy(), value=np.array([total]), profiles=RiskProfiles.of(profile, 1), state=states,
            can_rebalance=np.array([True]), reward=np.full(1, np.nan), history=hist, steps_per_day=1, rules=self.rules,
            marks=Marks(np.array([t]), feed.market.calendar[t : t + 1].values, np.array([[total]]), None),
        )  # fmt: skip

    def recommend(self, portfolio: dict[str, float], profile: RiskProfile) -> dict:
        """The guide's recommendation. Before the strategy's first decision day a :class:`NotWarmedUp`: the strategy
        holds there without deciding, and that HOLD was answered as the model's decision, confidence 1 (review of
        2026-12-05, session 19). ``confidence`` is the strategy's: 1 for the DQN policy and the forecast strategy,
        which give no probability of being right (the forecaster's own confidence is the price endpoint's)."""
        first = int(getattr(self.strategy, "first_decision_day", 0) or 0)
        if self.feed.day < first:
            # a forecast strategy holds its forecaster as .predictor, a policy with forecast features as .forecast
            # (only the second was looked for: the forecast strategy's wait was put down to its features; review)
            uses_forecaster = any(getattr(self.strategy, a, None) is not None for a in ("forecast", "predictor"))
            why = "its forecaster's first whole window" if uses_forecaster else "its features' warm-up"
            raise NotWarmedUp(f"{self.label} decides from the market's day {first} on ({why}); the "
                              f"served market is at day {self.feed.day}")  # fmt: skip
        snap = self.snapshot(portfolio, profile)
        with self._lock:  # strategies keep per-run state; one decision at a time
            orders = self.strategy.decide_batch(snap)
        rec = orders.recommendation(0, self.feed.book)
        trades, note = effective_trades(rec, self.feed.book, portfolio)
        return {
            "action": rec.action.name if trades else "HOLD",
            "recommendations": [
                {"asset": t.asset, "action": t.side.upper(), "percentage": round(t.percentage, 6)} for t in trades
            ],  # fmt: skip
            "confidence": float(rec.confidence),
            "risk_assessment": assess_risk(self.feed, portfolio),
            "strategy": self.label,
            "note": note,
        }


def effective_trades(rec, book: AssetBook, portfolio: dict[str, float]) -> tuple[list, str | None]:
    """The recommendation's trades that move something in ``portfolio``, and a note when some do not.

    A sell of an asset the portfolio does not hold sells nothing; a buy spends a share of the cash held after the
    sells, so with none it buys nothing. Answered as they came, ``{"USDC": 100000}`` got SELL_PARTIAL with no trade
    and ``{"BTC": 1}`` BUY_CONSERVATIVE buying BTC and BOND with cash it did not have (review of 2026-12-05, session
    24); a recommendation left with no trade is answered HOLD, and the note says what the strategy chose."""
    values = {a: float(portfolio.get(a, 0.0)) for a in book.names}
    sells = [t for t in rec.trades if t.side == "sell"]
    cash = values[book.names[book.cash_index]] + sum(values[t.asset] * t.percentage / 100.0 for t in sells)
    kept = [t for t in rec.trades if (values[t.asset] > 0 if t.side == "sell" else cash > 0)]
    dropped = [t for t in rec.trades if t not in kept]
    why = "; ".join(f"{t.side} {t.asset}: " + ("not held" if t.side == "sell" else "no cash to buy with")
                    for t in dropped) or "its plan holds no trade here"  # fmt: skip
    if kept:
        return kept, f"left out, as they move nothing in this portfolio: {why}" if dropped else None
    if rec.action.name == "HOLD":
        return kept, None
    return kept, f"the strategy chose {rec.action.name}, which moves nothing in this portfolio ({why}): answered HOLD"


MIN_RISK_RETURNS = 30  # daily returns a volatility, a Sharpe and a drawdown are given over, at least


def held_returns(feed: MarketFeed, values: np.ndarray, days: int) -> np.ndarray:
    """Daily returns, over the feed's last ``days`` (fewer early on), of a portfolio whose weights (``values``' shares)
    are held fixed: what the risk figures and the decision state are taken over."""
    close = feed.closes()[-(days + 1) :]
    return (close[1:] / close[:-1] - 1.0) @ (values / values.sum())


def trailing_state(feed: MarketFeed, values: np.ndarray) -> tuple[float, float]:
    """(volatility_30d, sharpe_ratio) of the state a strategy decides on: the portfolio's weights today held over the
    feed's last 30 daily returns (``portfolio.nb.WINDOW_DAYS``), annualised as the step kernel's, 0 and 0 before two
    returns exist or for a flat window (as the kernel gives).

    The request states values, not a history of the portfolio, so its weights held fixed are the best estimate;
    before, the state said 0 and 0 for every portfolio (a 100 % BTC book was shown to the policy as riskless, where
    training never showed it one: 8 of 63 test decisions changed once the state said the book's own figures; review
    of 2026-12-05, session 24). ``unrealized_pnl`` stays 0: the request gives no cost basis."""
    from prometheus_sim import metrics
    from prometheus_sim.portfolio import nb

    if not float(values.sum()) > 0 or feed.day < 2:  # two daily returns at least, as the kernel's window
        return 0.0, 0.0
    returns = held_returns(feed, values, nb.WINDOW_DAYS)[None]
    vol, sharpe = float(metrics.annual_vol(returns)[0]), float(metrics.sharpe(returns)[0])
    if not (np.isfinite(vol) and np.isfinite(sharpe)) or vol == 0.0:
        return 0.0, 0.0
    return vol, sharpe


def assess_risk(feed: MarketFeed, portfolio: dict[str, float]) -> dict:
    """Risk of holding ``portfolio`` (values per asset, weights kept fixed) over the feed's trailing year."""
    from prometheus_sim import metrics

    close = feed.closes()[-(RISK_WINDOW_DAYS + 1) :]
    if len(close) - 1 < MIN_RISK_RETURNS:  # day 0 or 1 gave a risk of 0 (200 OK), day 2 a Sharpe of 56 (review)
        raise NotWarmedUp(f"too little history for a risk figure: {len(close) - 1} daily return(s) at day {feed.day}, "
                          f"{MIN_RISK_RETURNS} needed")  # fmt: skip
    values = np.array([float(portfolio.get(a, 0.0)) for a in feed.assets])
    weights = values / values.sum()
    returns = held_returns(feed, values, RISK_WINDOW_DAYS)
    equity = np.cumprod(np.concatenate([[1.0], 1.0 + returns]))  # from 1: a drawdown does not depend on the size
    vol = float(metrics.annual_vol(returns[None])[0]) if len(returns) > 1 else 0.0
    sharpe = float(metrics.sharpe(returns[None])[0]) if len(returns) > 1 else 0.0
    drawdown = float(metrics.max_drawdown(equity[None])[0])
    score = float(np.clip(100.0 * vol, 0.0, 100.0))  # annualised volatility in percent, capped at 100
    notes = []
    top = int(np.argmax(weights))
    if weights[top] > 0.4:
        notes.append(f"concentration: {feed.assets[top]} is {weights[top]:.0%} of the portfolio (above 40 %)")
    crypto = sum(w for w, k in zip(weights, feed.market.asset_kinds, strict=True) if k == "crypto")
    if crypto > 0.8:
        notes.append(f"crypto is {crypto:.0%} of the portfolio: a crypto drawdown hits it almost fully")
    if vol > 0.6:
        notes.append(f"volatility {vol:.0%} a year: expect swings of {vol / np.sqrt(12):.0%} in a typical month")
    if drawdown > 0.3:
        notes.append(f"the worst fall over the last year was {drawdown:.0%} from a peak")
    if not notes:
        notes.append("no concentration, crypto share or volatility flag")
    return {"risk_score": round(score, 4), "volatility": vol, "sharpe_ratio": sharpe, "max_drawdown": drawdown,
            "recommendations": notes, "window_days": len(returns)}  # fmt: skip


class Clock:
    """Seconds since start (``/health``'s uptime)."""

    def __init__(self):
        self.started = time.time()

    def uptime(self) -> float:
        return time.time() - self.started


__all__ = [
    "Clock",
    "DayInputs",
    "Feed",
    "ForecastService",
    "MarketFeed",
    "NotWarmedUp",
    "PortfolioService",
    "assess_risk",
]
