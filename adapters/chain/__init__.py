"""Live mode on an EVM chain: the only package that imports web3.

* :mod:`~adapters.chain.config`: ``ChainConfig`` (``devchain.json``), guard rails.
* :mod:`~adapters.chain.node`: connecting, with every check made before anything is sent.
* :mod:`~adapters.chain.signer`: the key (environment or keystore), nonces, fees, simulation.
* :mod:`~adapters.chain.adapter`: ``ChainAdapter`` and ``LiveClock``.
* :mod:`~adapters.chain.deploy`: a dev chain's contracts, vaults and oracle feed.
* :mod:`~adapters.chain.journal`: the run's JSON-lines journal.
* :mod:`~adapters.chain.replay`: ``live replay``: same snapshots, same recommendations?
"""

from adapters.chain.adapter import ChainAdapter, LiveClock, idempotency_key
from adapters.chain.config import ChainConfig, GuardRails
from adapters.chain.node import Chain, NodeDown, connect

__all__ = ["Chain", "ChainAdapter", "ChainConfig", "GuardRails", "LiveClock", "NodeDown", "connect", "idempotency_key"]
