"""A dev chain's set-up: deploy the three contracts, list the assets, seed vaults, feed prices.

Works on any node whose first accounts are unlocked (Anvil, eth-tester). Tokens are entries of the
mock VaultManager's ledger, named by addresses derived from the asset names (no ERC-20 is
deployed: the mock holds balances itself). Account 0 deploys and feeds the oracle; account 1 is
the AI oracle the PolicyEngine accepts submissions from (the live run's signer); accounts 2.. own
the seeded vaults.
"""

from __future__ import annotations

import numpy as np
from web3 import Web3

from adapters.chain.node import abi, bytecode
from prometheus_sim.portfolio import CostModel, RebalanceRules

PRICE_DECIMALS = 8
UNIT = 10**18


def token_address(asset: str) -> str:
    """A stable address standing for ``asset`` on a dev chain."""
    return Web3.to_checksum_address(Web3.keccak(text=f"prometheus-sim token {asset}")[-20:])


def _deploy(w3: Web3, name: str, sender: str, *args) -> str:
    factory = w3.eth.contract(abi=abi(name), bytecode=bytecode(name))
    tx = factory.constructor(*args).transact({"from": sender})
    receipt = w3.eth.wait_for_transaction_receipt(tx)
    if receipt.status != 1:
        raise RuntimeError(f"deploying {name} reverted")
    return receipt.contractAddress


def _transact(w3: Web3, fn, sender: str) -> None:
    receipt = w3.eth.wait_for_transaction_receipt(fn.transact({"from": sender}))
    if receipt.status != 1:
        raise RuntimeError(f"{fn.fn_name} reverted")


def deploy(w3: Web3, assets: list[str], kinds: list[str], *, costs: CostModel | None = None,
           rules: RebalanceRules | None = None, cooldown_seconds: int | None = None) -> dict:  # fmt: skip
    """Deploy and wire the contracts; return the config fields (addresses, tokens, kinds, chain id)."""
    costs, rules = costs or CostModel(fees_bps=10.0, slippage_bps=0.0, impact=0.0), rules or RebalanceRules()
    if costs.slippage_bps or costs.impact:
        raise ValueError("costs: the PolicyEngine charges a fee only (slippage_bps and impact must be 0)")
    if "stable" not in kinds:
        raise ValueError("kinds: a vault needs a stablecoin to hold cash in")
    owner, ai = w3.eth.accounts[0], w3.eth.accounts[1]
    tokens = {a: token_address(a) for a in assets}
    cash = tokens[assets[kinds.index("stable")]]
    oracle = _deploy(w3, "PriceOracle", owner)
    vault = _deploy(w3, "VaultManager", owner, oracle, list(tokens.values()), cash)
    cooldown = rules.cooldown_days * 86_400 if cooldown_seconds is None else cooldown_seconds
    bps = [round(rules.min_risky * 1e4), round(rules.risky_span * 1e4), round(rules.inflation_target * 1e4),
           round(rules.inflation_tilt_cap * 1e4)]  # fmt: skip
    if costs.fees_bps != round(costs.fees_bps):  # the contract's fee is whole basis points: 2.5 was deployed as 2
        raise ValueError(f"fees_bps: the PolicyEngine charges whole basis points, got {costs.fees_bps:g}")
    engine = _deploy(w3, "PolicyEngine", owner, vault, oracle, round(costs.fees_bps), cooldown, bps)
    v = w3.eth.contract(address=vault, abi=abi("VaultManager"))
    e = w3.eth.contract(address=engine, abi=abi("PolicyEngine"))
    _transact(w3, v.functions.setEngine(engine), owner)
    _transact(w3, e.functions.setOracle(ai, True), owner)
    risky = [tokens[a] for a, k in zip(assets, kinds, strict=True) if k == "crypto"]
    if risky:
        _transact(w3, e.functions.setRiskyAssets(risky, True), owner)
    return {"chain_id": w3.eth.chain_id, "vault_manager": vault, "policy_engine": engine, "price_oracle": oracle,
            "tokens": tokens, "asset_kinds": dict(zip(assets, kinds, strict=True)), "deployer": owner}  # fmt: skip


def feed_prices(w3: Web3, oracle_address: str, tokens: dict[str, str], closes: dict[str, float],
                sender: str | None = None) -> None:  # fmt: skip
    """One bar into the oracle: 8-decimal prices of every asset, one transaction (one block on automine)."""
    oracle = w3.eth.contract(address=oracle_address, abi=abi("PriceOracle"))
    names = list(closes)
    answers = [int(round(closes[a] * 10**PRICE_DECIMALS)) for a in names]
    _transact(w3, oracle.functions.setPrices([tokens[a] for a in names], answers), sender or w3.eth.accounts[0])


def seed_vaults(w3: Web3, vault_address: str, tokens: dict[str, str], cash_asset: str, users: list[str],
                amount: float = 100_000.0, opt_in: bool = True) -> list[str]:  # fmt: skip
    """Vaults for ``users`` with risk tolerance spread over [0.2, 0.8], each holding ``amount`` in cash."""
    vault = w3.eth.contract(address=vault_address, abi=abi("VaultManager"))
    owner = w3.eth.accounts[0]
    for i, user in enumerate(users):
        rt = 0.2 + 0.6 * i / max(len(users) - 1, 1)
        units = int(round(amount * 1e6)) * 10**12  # exact in 18 decimals (amount * 1e18 is not, as a float)
        profile = (round(rt * 1e4), 24 + 12 * i, units, 0)
        _transact(w3, vault.functions.createVault(user, profile, opt_in), owner)
        _transact(w3, vault.functions.deposit(user, tokens[cash_asset], units), owner)
    return list(users)


def bar_closes(close_row: np.ndarray, assets: list[str]) -> dict[str, float]:
    return {a: float(c) for a, c in zip(assets, close_row, strict=True)}


__all__ = ["PRICE_DECIMALS", "UNIT", "bar_closes", "deploy", "feed_prices", "seed_vaults", "token_address"]
