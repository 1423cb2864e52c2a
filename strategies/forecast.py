"""``forecast``: a strategy that acts on the forecaster's predictions and calibrated bands.

Every ``period_days`` days, for each user, the registered forecaster predicts each crypto asset's
log return over ``horizon`` days (``mu``) and its conformal band at ``level`` (half-width ``b``,
in log-return units: the band the predictor's ``confidence`` refers to). The signal-to-noise
score ``s = mu / b`` tilts the user's target (``RebalanceRules``: ``0.2 + 0.6 x risk_tolerance`` of
the value in the crypto basket, equally split): each crypto weight is scaled by
``clip(1 + tilt x s, 0, 2)`` and the basket's total is kept at or below the target share; the rest
stays in the stablecoin. With no signal (``s = 0``) it holds the rules' target, so it differs from
``buy_and_hold`` only through what the model predicts. Its first decision is on the first day the
forecaster has a full window (the features' warm-up plus 30 days: ``first_decision_day``).

It is rebuilt from its spec in every worker (the model is loaded from the registry there), reads
only the snapshot's history (so the lookahead check applies unchanged), and its resume identity
includes the model version the reference resolves to (:meth:`identity`).
"""

from __future__ import annotations

import numpy as np

from prometheus_sim.features import WARMUP_DAYS, snapshot_features
from prometheus_sim.forecast.data import Windows, WindowSource
from prometheus_sim.portfolio import Action, OrderBatch, orders_for_target_weights
from prometheus_sim.registry import FORECASTER_NAME
from prometheus_sim.snapshot import SnapshotBatch
from strategies.base import BatchStrategy


class ForecastStrategy(BatchStrategy):
    name = "forecast"
    #: One user alone and the same user in a batch agree to float32 precision (a network's matrix
    #: products may round differently between batch sizes), not to the last bit.
    batch_rtol = 1e-5

    def __init__(self, model: str = f"{FORECASTER_NAME}@latest", period_days: int = 7, level: float = 0.8,
                 tilt: float = 2.0, horizon: int | None = None, tracking_uri: str | None = None):  # fmt: skip
        if not isinstance(period_days, int) or period_days < 1:
            raise ValueError(f"period_days: must be an integer >= 1, got {period_days!r}")
        if not 0.0 <= tilt <= 20.0:
            raise ValueError(f"tilt: must be in [0, 20], got {tilt!r}")
        from prometheus_sim.forecast.predictor import PricePredictor

        self.decision_every_days = period_days
        self.predictor = PricePredictor.load(model, tracking_uri)
        self.level = float(level)
        self.predictor.band_quantile(self.predictor.meta["assets"][0], self.level)  # an uncalibrated level fails here
        self.tilt = float(tilt)
        self.horizon = self.predictor.horizon if horizon is None else int(horizon)
        if not 1 <= self.horizon <= self.predictor.horizon:
            raise ValueError(f"horizon: must be in 1..{self.predictor.horizon}, got {horizon!r}")
        # the first day with a full window (the clock rounds it up to the decision grid), as DQNStrategy's: the
        # holds before it were counted as decisions (hiding the collapse flag), baselines aligned to it were not,
        # and a market too short for one decision recorded hold's figures as forecast's (review of 2026-12-05)
        self.first_decision_day = WARMUP_DAYS + self.predictor.window - 1

    @classmethod
    def identity(cls, model: str = f"{FORECASTER_NAME}@latest", tracking_uri: str | None = None, **_) -> dict:
        """The model version ``model`` resolves to now, and the run that logged it: part of a sweep's resume key."""
        from prometheus_sim.registry import version_identity

        return version_identity(model, tracking_uri)

    def scores(self, snapshots: SnapshotBatch) -> np.ndarray | None:
        """Signal-to-noise ``mu / b`` per user and asset (0 for non-crypto), or None before a full window."""
        hist = snapshots.history
        fs = snapshot_features(snapshots, self.predictor.features)
        src = WindowSource.from_features(fs, self.predictor.window, self.predictor.horizon)
        day = src.n_days - 1
        if day + 1 < WARMUP_DAYS + self.predictor.window:
            return None
        n_users, n_assets = snapshots.holdings.shape
        rows = np.arange(n_users) if hist.close.shape[0] == n_users else np.zeros(n_users, dtype=np.int64)
        crypto = [a for a, k in enumerate(snapshots.book.kinds) if k == "crypto" and snapshots.assets[a] in
                  self.predictor.meta["assets"]]  # fmt: skip
        out = np.zeros((n_users, n_assets))
        if not crypto:
            return out
        path = np.repeat(rows, len(crypto))
        asset = np.tile(np.array(crypto), n_users)
        w = Windows(path, asset, np.full(path.shape, day))
        mu, _ = self.predictor.predict_windows(src, w)
        half = self.predictor.band(src, w, list(snapshots.assets), self.level)
        h = self.horizon - 1
        out[np.repeat(np.arange(n_users), len(crypto)), asset] = mu[:, h] / np.maximum(half[:, h], 1e-12)
        return out

    def decide_batch(self, snapshots: SnapshotBatch) -> OrderBatch:
        n_users, n_assets = snapshots.holdings.shape
        batch = OrderBatch.hold(n_users, n_assets)
        s = self.scores(snapshots)
        if s is None:
            return batch
        base = snapshots.rules.target_weights(snapshots.book, snapshots.profiles.risk_tolerance)
        base = np.broadcast_to(base, (n_users, n_assets))
        crypto = np.array([k == "crypto" for k in snapshots.book.kinds])
        tilted = np.where(crypto, base * np.clip(1.0 + self.tilt * s, 0.0, 2.0), 0.0)
        budget = base[:, crypto].sum(axis=1)
        total = tilted.sum(axis=1)
        scale = np.where(total > budget, budget / np.maximum(total, 1e-12), 1.0)
        target = np.where(crypto, tilted * scale[:, None], base)
        cash = snapshots.book.cash_index
        target[:, cash] += 1.0 - target.sum(axis=1)
        sells, buys = orders_for_target_weights(snapshots.holdings, snapshots.prices, target, cash)
        batch.sell_fraction[:] = sells
        batch.buy_fraction[:] = buys
        trades = (sells > 0).any(axis=1) | (buys > 0).any(axis=1)
        batch.action[trades] = Action.REBALANCE
        return batch


__all__ = ["ForecastStrategy"]
