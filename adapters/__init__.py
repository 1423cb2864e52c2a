"""Adapters: the port (:mod:`adapters.base`) and its simulated side (:mod:`adapters.sim`).

Only ``adapters/chain.py`` (a later issue) will import web3.
"""

from __future__ import annotations

from adapters.base import Adapter, Receipts
from adapters.sim import CostModel, SimAdapter, SimConfig, backtest

__all__ = ["Adapter", "CostModel", "Receipts", "SimAdapter", "SimConfig", "backtest"]
