"""Reaching a node: a ``Web3`` with the three contracts, checked before anything is sent.

Every failure to reach the node becomes :class:`NodeDown`, which names the RPC URL; a wrong chain
id, an address without code and a token map that misses a vault asset are clear errors here, at
connection time, not half-way through a run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from web3 import Web3
from web3.contract import Contract
from web3.exceptions import Web3Exception

from adapters.chain.config import ChainConfig, redacted_url

ROOT = Path(__file__).resolve().parents[2]
ABI_DIR = ROOT / "abis"
BUILD_DIR = ROOT / "contracts_mock" / "build"
CONTRACTS = ("VaultManager", "PolicyEngine", "PriceOracle")


# what web3 raises when the node refuses a call or a transaction (funds run out, a contract reverts in a call, an
# oracle round is missing): the CLI names it without importing web3 itself (DESIGN: one package talks to chains)
ChainRefused = Web3Exception


class NodeDown(ConnectionError):
    """The node at ``rpc_url`` does not answer (or stopped answering mid-run)."""

    def __init__(self, rpc_url: str, detail: str):
        super().__init__(f"the node at {redacted_url(rpc_url)} does not answer ({detail}); nothing was sent after this point. "
                         "Start it (prometheus-sim devchain up) or fix rpc_url, then run again: the run resumes "
                         "from the chain's state")  # fmt: skip
        self.rpc_url = rpc_url


def abi(name: str) -> list:
    """The committed ABI of contract ``name`` (``abis/<name>.json``)."""
    return json.loads((ABI_DIR / f"{name}.json").read_text())


def bytecode(name: str) -> str:
    return "0x" + (BUILD_DIR / f"{name}.bin").read_text().strip()


@dataclass
class Chain:
    """A connected node and the contracts of a :class:`ChainConfig`."""

    w3: Web3
    config: ChainConfig
    vault: Contract
    engine: Contract
    oracle: Contract
    token_of: dict[str, str]
    asset_of: dict[str, str]

    def transaction_state(self, tx_hash: str):
        """("mined", its receipt), ("pending", None) while the node holds it unmined, or ("dropped", None) when the
        node knows it no longer (never executed): what a rerun asks of an earlier run's journalled sends."""
        from web3.exceptions import TransactionNotFound

        try:
            return "mined", self.call(self.w3.eth.get_transaction_receipt, tx_hash)
        except TransactionNotFound:
            try:
                self.call(self.w3.eth.get_transaction, tx_hash)
            except TransactionNotFound:
                return "dropped", None
            return "pending", None

    def call(self, fn, *args, **kwargs):
        """A contract call, with a dropped connection reported as :class:`NodeDown`."""
        return call_node(self.config.rpc_url, fn, *args, **kwargs)


def call_node(rpc_url: str, fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` against the node at ``rpc_url``, with a dropped connection reported as :class:`NodeDown`
    (what :meth:`Chain.call` does, and :func:`connect` before it has a Chain)."""
    try:
        return fn(*args, **kwargs)
    except (OSError, ConnectionError) as exc:
        if isinstance(exc, NodeDown):
            raise
        raise NodeDown(rpc_url, type(exc).__name__) from None
    except Exception as exc:  # requests' and aiohttp's connection errors are not OSErrors
        if "connect" in type(exc).__name__.lower() or "Connection" in str(exc)[:200]:
            raise NodeDown(rpc_url, type(exc).__name__) from None
        raise


def web3_for(rpc_url: str, timeout_s: float = 10.0) -> Web3:
    return Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout_s}))


def connect(config: ChainConfig, w3: Web3 | None = None) -> Chain:
    """Connect and check: the node answers, the chain id, code at every address, the contracts wired to each other
    as the config says, the token map."""
    w3 = w3 or web3_for(config.rpc_url, config.rpc_timeout_s)
    try:
        chain_id = w3.eth.chain_id
    except Exception as exc:
        raise NodeDown(config.rpc_url, f"{type(exc).__name__}") from None
    if chain_id != config.chain_id:
        raise ValueError(
            f"chain_id: the node at {redacted_url(config.rpc_url)} is chain {chain_id}, the config says {config.chain_id}"
        )
    contracts = {}
    for field_name, name in (("vault_manager", "VaultManager"), ("policy_engine", "PolicyEngine"),
                             ("price_oracle", "PriceOracle")):  # fmt: skip
        address = Web3.to_checksum_address(getattr(config, field_name))
        if len(w3.eth.get_code(address)) == 0:
            raise ValueError(f"{field_name}: {address} is not a contract on chain {chain_id} (no code there)")
        contracts[name] = w3.eth.contract(address=address, abi=abi(name))
    # the contracts' own wiring: the engine fills at its oracle's prices and trades its vault manager's books, and
    # everything this tool checks (prices, balances, the guard rails) is read from the config's addresses; a config
    # mixing two deployments passed every check while the engine filled at prices nobody checked (review of
    # 2026-12-05, session 19: ETH at 3x filled)
    engine, vault, oracle = contracts["PolicyEngine"], contracts["VaultManager"], contracts["PriceOracle"]
    url = config.rpc_url
    for who, where, wired, expected, field_name in (
        ("PolicyEngine", config.policy_engine, _wiring(engine, "oracle", "policy_engine", url), oracle.address,
         "price_oracle"),
        ("PolicyEngine", config.policy_engine, _wiring(engine, "vault", "policy_engine", url), vault.address,
         "vault_manager"),
        ("VaultManager", config.vault_manager, _wiring(vault, "oracle", "vault_manager", url), oracle.address,
         "price_oracle"),
    ):  # fmt: skip
        if Web3.to_checksum_address(wired) != expected:
            raise ValueError(f"{field_name}: the {who} at {where} works with {Web3.to_checksum_address(wired)}, not "
                             f"the config's {expected}: the config mixes two deployments")  # fmt: skip
    token_of = {a: Web3.to_checksum_address(t) for a, t in config.tokens.items()}
    asset_of = {t: a for a, t in token_of.items()}
    on_chain = [Web3.to_checksum_address(t) for t in _wiring(vault, "getAssets", "vault_manager", url)]
    missing = [t for t in on_chain if t not in asset_of]
    if missing:
        raise ValueError(f"tokens: the VaultManager holds token(s) {missing} that the config's token map does not name")
    unknown = [a for a, t in token_of.items() if t not in on_chain]
    if unknown:
        raise ValueError(f"tokens: asset(s) {unknown} are not assets of the VaultManager at {config.vault_manager}")
    return Chain(w3, config, contracts["VaultManager"], contracts["PolicyEngine"], contracts["PriceOracle"],
                 token_of, asset_of)  # fmt: skip


def _wiring(contract, function: str, field_name: str, rpc_url: str):
    """``contract.function()``, with a contract that does not answer it named by its config field: a config whose
    policy_engine was the PriceOracle's address failed with "the chain refused a call ... every transaction already
    sent is in the journal", at connect time, naming no field (review, session 23)."""
    try:
        return call_node(rpc_url, getattr(contract.functions, function)().call)
    except NodeDown:
        raise
    except Exception as exc:
        kind = "PolicyEngine" if field_name == "policy_engine" else "VaultManager"
        raise ValueError(f"{field_name}: the contract at {contract.address} does not answer {kind}.{function}() "
                         f"({type(exc).__name__}): not a {kind}?") from None  # fmt: skip


__all__ = [
    "ABI_DIR",
    "BUILD_DIR",
    "CONTRACTS",
    "Chain",
    "ChainRefused",
    "NodeDown",
    "abi",
    "bytecode",
    "call_node",
    "connect",
    "web3_for",
]
