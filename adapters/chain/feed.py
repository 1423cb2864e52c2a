"""``ChainFeed``: a chain's price oracle as the inference API's market feed (``serve --market devchain.json``).

A :class:`~prometheus_sim.datasource.DataSource` like the API's default ``MarketFeed``: the history is
the config's warm start (a run directory or a file of closes) and then one bar per oracle round,
read as the rounds appear (``advance`` polls; listeners hear of each new bar). The chain gives
closes only, so volume, on-chain and macro data are absent: the served forecaster must be one
trained on price features (``forecast train --no volume --no onchain --no macro``); another is
refused at start with a message saying so.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pandas as pd

from adapters.chain.config import ChainConfig
from adapters.chain.node import connect
from adapters.chain.oracle import latest_round, read_round
from prometheus_sim.api.service import Feed


class ChainFeed(Feed):
    def __init__(self, config: str | Path | ChainConfig, w3=None):
        from adapters.chain.commands import history_source

        cfg = config if isinstance(config, ChainConfig) else ChainConfig.load(config)
        if cfg.steps_per_day != 1:
            raise ValueError(f"steps_per_day: the API serves daily bars, the config says {cfg.steps_per_day}")
        self.config = cfg
        self.chain = connect(cfg, w3)
        self.source = history_source(cfg)
        self.assets = list(self.source.assets)
        self.asset_kinds = tuple(self.source.asset_kinds)
        self.steps_per_day = 1
        self.book = self.source.book()
        self._tokens = [self.chain.token_of[a] for a in self.assets]
        self._rounds = 0
        self._listeners: list = []
        self._lock = threading.Lock()
        self._market = None
        self._catch_up()

    @property
    def day(self) -> int:  # the latest bar read
        return self.source.n_steps - 1

    @property
    def last_day(self) -> int:
        return self.day

    @property
    def ended(self) -> bool:
        """Never: new oracle rounds keep coming (day >= last_day always held, and /health said "ended"; review)."""
        return False

    @property
    def market(self):
        """The history so far as a one-path real market (rebuilt when a bar arrives; features read it)."""
        from prometheus_sim.market import Market

        if self._market is None or self._market.n_steps != self.source.n_steps:
            hist = self.source.history()
            self._market = Market.from_bars(f"chain {self.config.chain_id}", self.assets, list(self.asset_kinds),
                                            hist.calendar, hist.blocks, {"kind": "chain", "rpc_url": self.config.rpc_url},
                                            hist.absent)  # fmt: skip
        return self._market

    def _catch_up(self) -> int:
        latest = latest_round(self.chain, self._tokens)
        new = 0
        for rid in range(self._rounds + 1, latest + 1):
            close, _ = read_round(self.chain, self._tokens, rid)
            self.source.append(self.source.history().calendar[-1] + pd.Timedelta(days=1), close)
            self._rounds = rid
            new += 1
        return new

    def advance(self) -> bool:
        """Read any new oracle rounds as bars and tell the listeners; True: keep polling (a chain has no end)."""
        with self._lock:
            new = self._catch_up()
        if new:
            self._notify()
        return True


__all__ = ["ChainFeed"]
