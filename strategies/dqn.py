"""``dqn``: a registered Double-DQN policy deciding the guide's seven actions in batches.

Each decision builds, per user, exactly the observation the policy was trained on
(:mod:`prometheus_sim.rl.env`: the guide's 32-value state plus the recent features of the first
three crypto assets, from the snapshot's history only) and takes the greedy action. It decides
every ``period_days`` the policy was trained with. Rebuilt from its spec in every worker (the model
comes from the MLflow registry there); its resume identity includes the resolved model version.
"""

from __future__ import annotations

import numpy as np

from prometheus_sim.features import snapshot_features
from prometheus_sim.portfolio import OrderBatch
from prometheus_sim.snapshot import SnapshotBatch
from strategies.base import BatchStrategy

DQN_NAME = "prometheus-dqn"


class DQNStrategy(BatchStrategy):
    name = "dqn"
    #: float32 network: one user alone and in a batch agree to float32 precision
    batch_rtol = 1e-5

    def __init__(self, model: str = f"{DQN_NAME}@latest", tracking_uri: str | None = None):
        import torch

        from prometheus_sim.registry import load_pytorch

        self.model, self.ref = load_pytorch(model, tracking_uri)
        meta = getattr(self.model, "meta", None)
        if not isinstance(meta, dict) or meta.get("kind") != DQN_NAME:
            raise ValueError(f"model {model!r} is not a prometheus DQN policy (no policy metadata)")
        self.meta = meta
        self.decision_every_days = int(meta["period_days"])
        self._torch = torch

    @classmethod
    def identity(cls, model: str = f"{DQN_NAME}@latest", tracking_uri: str | None = None, **_) -> dict:
        from prometheus_sim.registry import resolve

        name, version = resolve(model, tracking_uri)
        return {"model_version": f"{name}/{version}"}

    def observations(self, snapshots: SnapshotBatch) -> np.ndarray:
        """(n_users, obs_dim) float32, as the env builds them."""
        from prometheus_sim.rl.env import observation_vector, recent_features

        recent = recent_features(snapshot_features(snapshots), snapshots.book.featured)[:, -1]
        n_users = snapshots.n_users
        rows = np.arange(n_users) if recent.shape[0] == n_users else np.zeros(n_users, dtype=np.int64)
        obs = observation_vector(snapshots.observation(), recent[rows])
        if obs.shape[1] != self.meta["obs_dim"]:
            raise ValueError(f"observation has {obs.shape[1]} values; policy {self.ref} was trained on "
                             f"{self.meta['obs_dim']}")  # fmt: skip
        return obs

    def decide_batch(self, snapshots: SnapshotBatch) -> OrderBatch:
        with self._torch.no_grad():
            q = self.model(self._torch.as_tensor(self.observations(snapshots)))
        return snapshots.plan(q.argmax(dim=1).numpy())


__all__ = ["DQNStrategy"]
