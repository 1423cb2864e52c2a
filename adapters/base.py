"""The Adapter port (defined in the core, :mod:`prometheus_sim.ports`, so the loop is typed without
importing this package). Two sides implement it: :class:`adapters.sim.SimAdapter` (backtests,
fills against a simulated market) and, later, ``adapters.chain.ChainAdapter`` (reads
VaultManager, writes PolicyEngine).
"""

from __future__ import annotations

from prometheus_sim.ports import Adapter, Receipts

__all__ = ["Adapter", "Receipts"]
