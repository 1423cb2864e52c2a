"""``dqn``: a registered Double-DQN policy deciding the guide's seven actions in batches.

Each decision builds, per user, exactly the observation the policy was trained on
(:mod:`prometheus_sim.rl.env`: the guide's 32-value state plus the recent features of the first
three crypto assets, from the snapshot's history only) and takes the greedy action. It decides
every ``period_days`` the policy was trained with. Rebuilt from its spec in every worker (the model
comes from the MLflow registry there); its resume identity includes the resolved model version.

The observation names no asset, except in two places: the guide's ``btc_return_7d``/``eth_return_7d``
and the feature tail read the market's largest crypto assets (``AssetBook.featured``). A policy
trained where those were BTC, ETH and SOL would, on a market whose third largest crypto is another
asset (or that has only two), read that asset's data, or zeros, in slots it learned as SOL's. So a
policy's metadata records the featured assets of each training market, and the strategy refuses a
market whose featured assets match none of them, naming both, unless ``allow_other_assets=True``
(a deliberate transfer). A policy registered before the record was kept (2026-12-03) also records no observation
version (0) and is refused at load (:func:`prometheus_sim.rl.env.observation_mismatch`).

Training episodes begin after the features' warm-up (``features.WARMUP_DAYS``, 33 days: the 30-day
statistics and the feature tail need that much history), so the policy has never decided on the
zeros and part-filled windows before it. So the strategy's first decision is the first of its weekly
grid after the warm-up (``first_decision_day``: day 35 at weekly decisions), and the portfolio stays as
it starts until then. Until 2026-12-04 the network decided there, on observations it had never seen;
then the strategy held there, and those five holds were counted among the policy's actions (a sixth of
a year's decisions, enough to hide a collapsed policy from the 90 % flag). A caller that asks it
anyway (live mode, a direct call) gets HOLD before the warm-up.

A policy trained with a forecaster's columns (``policy train --forecaster``, :mod:`prometheus_sim.rl.forecast_obs`)
loads the very forecaster version its metadata records, computes each decision's columns from the snapshot's
history (the forecaster's window plus a year, so slow statistics match the env's whole-market table), first decides
after the forecaster's first whole window, and refuses, naming the block, a market lacking data its forecaster reads.
"""

from __future__ import annotations

import numpy as np

from prometheus_sim.features import snapshot_features
from prometheus_sim.portfolio import Action, AssetBook, OrderBatch
from prometheus_sim.registry import DQN_NAME
from prometheus_sim.snapshot import SnapshotBatch
from strategies.base import BatchStrategy


def featured_mismatch(meta: dict, book: AssetBook) -> str | None:
    """Why a policy with metadata ``meta`` must not decide on ``book``'s market, or None (module docstring)."""
    from prometheus_sim.rl.env import featured_names

    trained = meta.get("featured_assets")
    here = featured_names(book)
    if trained is None or here in {tuple(names) for names in trained.values()}:
        return None
    seen = "; ".join(f"{scenario}: {', '.join(names) or 'none'}" for scenario, names in trained.items())
    return (
        f"was trained on markets whose largest crypto assets were [{seen}]; this market's are "
        f"{', '.join(here) or 'none'}, so its observation would put other data in the slots the policy learned "
        "(train on such a market, or pass allow_other_assets=true to decide anyway)"
    )


class DQNStrategy(BatchStrategy):
    name = "dqn"
    #: float32 network: one user alone and in a batch agree to float32 precision
    batch_rtol = 1e-5

    def __init__(self, model: str = f"{DQN_NAME}@latest", tracking_uri: str | None = None,
                 allow_other_assets: bool = False):  # fmt: skip
        from prometheus_sim.registry import load_pytorch

        network, ref = load_pytorch(model, tracking_uri)
        self._adopt(network, ref, allow_other_assets, f"model {model!r}", tracking_uri)

    @classmethod
    def from_network(cls, network, label: str = "checkpoint") -> DQNStrategy:
        """A strategy deciding by an in-memory network that carries its run's ``meta`` (the trainer scoring
        its checkpoints, :mod:`prometheus_sim.rl.select`): nothing is loaded from the registry."""
        self = cls.__new__(cls)
        meta = getattr(network, "meta", None)
        args = meta.get("args") if isinstance(meta, dict) else None  # its forecaster is in the run's registry
        self._adopt(network, (label, "in memory"), False, label, (args or {}).get("tracking_uri"))
        return self

    def _adopt(self, network, ref: tuple[str, str], allow_other_assets: bool, what: str,
               tracking_uri: str | None = None) -> None:  # fmt: skip
        import torch

        from prometheus_sim.rl.forecast_obs import ForecastInputs, policy_first_day

        meta = getattr(network, "meta", None)
        if not isinstance(meta, dict) or meta.get("kind") != DQN_NAME:
            raise ValueError(f"{what} is not a prometheus DQN policy (no policy metadata)")
        from prometheus_sim.rl.env import observation_mismatch

        problem = observation_mismatch(meta)
        if problem:
            raise ValueError(f"{what} {problem}")
        if not isinstance(allow_other_assets, bool):
            raise ValueError(f"allow_other_assets: true or false, got {allow_other_assets!r}")
        self.model, self.ref = network.eval(), ref
        self.meta = meta
        self.tracking_uri = tracking_uri  # the store it came from: a run's record names it for the report
        self.allow_other_assets = allow_other_assets
        self.decision_every_days = int(meta["period_days"])
        # the clock rounds it up to the decision grid (module docstring); a forecast policy's is its forecaster's
        # first whole window
        self.first_decision_day = policy_first_day(meta)
        recorded = meta.get("forecast")
        try:  # the very version the policy trained with (never @latest), at its level
            self.forecast = (ForecastInputs.load(recorded["model"], recorded["level"], tracking_uri)
                             if recorded else None)  # fmt: skip
        except (LookupError, TypeError, ValueError) as exc:  # LookupError: a forecaster deleted from the registry
            raise ValueError(
                f"{what} observes forecasts, and its forecaster {recorded!r} cannot be loaded: {exc}"
            ) from None
        self._torch = torch

    def check_market(self, book: AssetBook) -> None:
        """Refuse a market whose featured crypto assets are not those of a training market (module docstring)."""
        problem = None if self.allow_other_assets else featured_mismatch(self.meta, book)
        if problem:
            raise ValueError(f"policy {self.ref[0]}/{self.ref[1]} {problem}")

    def check_blocks(self, absent) -> None:
        """Refuse a market lacking a block the policy's forecaster reads (``absent``: the market's absent columns),
        naming it: it failed at every decision as a KeyError (an HTTP 500 in the API, a traceback in a replay)."""
        from prometheus_sim.rl.forecast_obs import blocks_problem

        problem = blocks_problem(self.meta, absent)
        if problem:
            raise ValueError(f"policy {self.ref[0]}/{self.ref[1]} {problem}")

    @classmethod
    def identity(cls, model: str = f"{DQN_NAME}@latest", tracking_uri: str | None = None, **_) -> dict:
        """The model version ``model`` resolves to now, and the run that logged it: part of a sweep's resume key."""
        from prometheus_sim.registry import version_identity

        return version_identity(model, tracking_uri)

    def observations(self, snapshots: SnapshotBatch) -> np.ndarray:
        """(n_users, obs_dim) float32, as the env builds them."""
        from prometheus_sim.rl.env import observation_vector, recent_features

        self.check_market(snapshots.book)
        self.check_blocks(snapshots.history.absent)
        contributing = np.asarray(snapshots.profiles.monthly_contribution, dtype=float) > 0
        if contributing.any():  # no training episode has one: PortfolioEnv and its batched form draw none
            raise ValueError(f"policy {self.ref[0]}/{self.ref[1]} was trained without monthly contributions (its "
                             "episodes never had one), and this run's profiles contribute (monthly_contribution "
                             f"{float(np.max(snapshots.profiles.monthly_contribution)):g}): its observation would hold "
                             "a contribution it never saw; run it with monthly_contribution 0")  # fmt: skip
        featured = snapshots.book.featured
        recent = recent_features(snapshot_features(snapshots), featured)[:, -1]
        if self.forecast is not None:  # the forecaster's columns, as the env appends them (rl.forecast_obs)
            fs = snapshot_features(snapshots, self.forecast.predictor.features, days=self.forecast.history_days)
            recent = np.concatenate([recent, self.forecast.last_day(fs, featured)], axis=-1)
        n_users = snapshots.n_users
        rows = np.arange(n_users) if recent.shape[0] == n_users else np.zeros(n_users, dtype=np.int64)
        obs = observation_vector(snapshots.observation(), recent[rows])
        if obs.shape[1] != self.meta["obs_dim"]:
            raise ValueError(f"observation has {obs.shape[1]} values; policy {self.ref} was trained on "
                             f"{self.meta['obs_dim']}")  # fmt: skip
        return obs

    def decide_batch(self, snapshots: SnapshotBatch) -> OrderBatch:
        """The greedy action per user; HOLD before the first decision day (the features' or the forecaster's
        warm-up: module docstring)."""
        from prometheus_sim.rl.env import last_whole_day

        with self._torch.no_grad():
            q = self.model(self._torch.as_tensor(self.observations(snapshots)))
        actions = q.argmax(dim=1).numpy()
        if last_whole_day(snapshots.step, snapshots.steps_per_day) < self.first_decision_day:
            actions = np.full_like(actions, int(Action.HOLD))
        return snapshots.plan(actions)


__all__ = ["DQNStrategy", "featured_mismatch"]
