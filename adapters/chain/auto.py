"""The guide's ``PolicyEngine.autoRebalance(user, inflation)``, called by the tool itself.

For each user, ``canRebalance(user)`` is read first and the call is made only when it is true (a user in
cool-down or not opted in is reported and skipped, never sent a transaction that would revert); the
inflation goes in scaled by 100 (percent -> basis points); each call is simulated (``eth_call`` and a gas
estimate) under the guide's limit for an auto-rebalance, 1,000,000 gas, and, only with ``execute``, signed
and sent. Guard rails: ``paused`` (or ``PROMETHEUS_PAUSE``, or ``pause_file``), the gas-price cap, and the oracle's latest round,
at which the contract trades: not older than ``max_price_age_s``, not moved from the round before by more than
``max_price_move`` (:mod:`adapters.chain.oracle`). Every call goes to the
journal as it is made. Until 2026-12-05 nothing in the tool called ``autoRebalance``: the live tests called
it themselves (review).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

from web3 import Web3
from web3.logs import DISCARD

from adapters.chain.config import refuse_repeated_users
from adapters.chain.journal import Journal
from adapters.chain.node import Chain
from adapters.chain.oracle import latest_prices_refusal
from adapters.chain.signer import Reverted, Sender

AUTO_REBALANCE_GAS = 1_000_000  # the guide's gas limit for an auto-rebalance (500,000 for a submission)
MAX_INFLATION_PCT = 1_000.0  # a typo guard: 1,000 % a year is beyond any inflation the contract's tilt reads


@dataclass(frozen=True)
class AutoRebalanceOutcome:
    """One user's call: ``status`` is ``skipped`` (canRebalance false), ``refused``, ``dry_run``, ``sent`` (mined,
    ``detail`` holds the hash, block and gas) or ``reverted`` (mined, status 0)."""

    user: str
    status: str
    detail: str


def inflation_bps(inflation_pct: float) -> int:
    """Percent a year as the contract's basis points (x100, rounded), refusing what it cannot take."""
    if (
        isinstance(inflation_pct, bool)
        or not isinstance(inflation_pct, int | float)
        or not math.isfinite(inflation_pct)
    ):
        raise ValueError(f"inflation: a finite number of percent a year, got {inflation_pct!r}")
    if not 0.0 <= inflation_pct <= MAX_INFLATION_PCT:
        raise ValueError(f"inflation: {inflation_pct:g} % is outside 0..{MAX_INFLATION_PCT:g} (the contract takes "
                         "a uint256 of basis points; below 0 its tilt does nothing)")  # fmt: skip
    return int(round(inflation_pct * 100))


def waiting_calls(chain: Chain, journal: Journal | None) -> dict[str, str]:
    """{user: hash} of the journal's earlier ``autoRebalance`` sends that the node holds and has not mined."""
    from adapters.chain.journal import read_journal

    if journal is None or not journal.path.exists():
        return {}
    out = {}
    for line in read_journal(journal.path):
        if line.get("kind") != "sending" or line.get("call") != "autoRebalance" or not line.get("tx_hash"):
            continue
        # mined: canRebalance at the latest block sees its trade; dropped: never executed
        if chain.transaction_state(line["tx_hash"])[0] == "pending":
            out[Web3.to_checksum_address(line["user"])] = line["tx_hash"]
    return out


def auto_rebalance(chain: Chain, users: list[str], inflation_pct: float, *, execute: bool, sender: Sender | None,
                   journal: Journal | None, timeout_s: float) -> list[AutoRebalanceOutcome]:  # fmt: skip
    """``autoRebalance(user, inflation x 100)`` for each user whose ``canRebalance`` is true (module docstring)."""
    bps = inflation_bps(inflation_pct)
    refuse_repeated_users(users)
    if execute and sender is None:
        raise ValueError("execute: a Sender with a key is required to send transactions")
    rails = chain.config.guard_rails
    engine = chain.engine

    def log(kind: str, user: str, **fields) -> None:
        if journal:
            journal.write(kind, call="autoRebalance", user=user, inflation_bps=bps, **fields)

    def log_sending(user: str, tx_hash: str) -> None:
        log("sending", user, tx_hash=tx_hash)

    def log_send_failed(user: str, tx_hash: str, error: str) -> None:  # the node refused it: not a send
        log("send_failed", user, tx_hash=tx_hash, error=error[:500])

    waiting = waiting_calls(chain, journal)
    if journal:
        journal.write("start", call="autoRebalance", config=chain.config.to_json(), users=list(users), execute=execute,
                      inflation_pct=inflation_pct)  # fmt: skip
    out = []
    prices_refusal: list[str | None] = []  # read once, at the first user the prices matter for
    for user in (Web3.to_checksum_address(u) for u in users):
        text = f"PolicyEngine.autoRebalance(user={user}, inflationBps={bps})"
        if not chain.call(engine.functions.canRebalance(user).call):
            out.append(AutoRebalanceOutcome(user, "skipped", f"{text}: canRebalance is false: not called"))
            log("skipped", user, text=text, reason="canRebalance is false")
            continue
        # a call sent by an earlier run (killed, or timed out waiting for its receipt) and not yet mined leaves
        # canRebalance true at the latest block, and a rerun sent a second call, which the cool-down then reverted,
        # at the sender's cost (its trade would have run twice with no cool-down). Two reads find one: the journal's
        # earlier sends the node holds unmined, and canRebalance at the pending block (where the node serves a
        # pending state with its pool in it, as Anvil and geth do; eth-tester's "pending" is its latest block)
        reason = None
        if user in waiting:
            reason = f"an earlier run's call {waiting[user]} for this user is waiting to be mined"
        elif not chain.call(partial(engine.functions.canRebalance(user).call, block_identifier="pending")):
            reason = "canRebalance is false at the pending block: a call for this user is waiting to be mined"
        if reason is not None:
            out.append(AutoRebalanceOutcome(user, "skipped", f"{text}: {reason}: not called"))
            log("skipped", user, text=text, reason=reason)
            continue
        paused = rails.pause_reason()  # per user: a pause file made mid-run stops the calls after it
        if paused is not None:
            out.append(AutoRebalanceOutcome(user, "refused", f"{text}: refused: {paused}"))
            log("refused", user, text=text, reason=paused)
            continue
        if not prices_refusal:
            prices_refusal.append(latest_prices_refusal(chain, [chain.token_of[a] for a in chain.config.assets]))
        if prices_refusal[0] is not None:
            out.append(AutoRebalanceOutcome(user, "refused", f"{text}: refused: {prices_refusal[0]}"))
            log("refused", user, text=text, reason=prices_refusal[0])
            continue
        fn = engine.functions.autoRebalance(user, bps)
        try:
            prep = sender.prepare(fn, text, gas_limit=AUTO_REBALANCE_GAS) if sender else None
        except Reverted as exc:
            out.append(AutoRebalanceOutcome(user, "refused", str(exc)))
            log("reverted", user, text=text, reason=str(exc))
            continue
        if not execute:  # without oracle_account nothing was simulated: said so, as a submission's dry run says it
            gas = f", gas {prep.tx['gas']}" if prep else " (not simulated: set oracle_account to simulate it)"
            out.append(AutoRebalanceOutcome(user, "dry_run", f"DRY RUN (not sent): {text}{gas}"))
            log("dry_run", user, text=text, gas=prep.tx["gas"] if prep else None)
            continue
        # journalled once signed, before it leaves (a timeout after the node took it left a mined rebalance with no
        # line, as submissions did; review of 2026-12-05, session 19)
        tx_hash = sender.send(prep, partial(log_sending, user), partial(log_send_failed, user))
        log("transaction", user, tx_hash=tx_hash)
        receipt = sender.wait([tx_hash], timeout_s, retry_safe=False)[0]
        if receipt.status != 1:
            out.append(AutoRebalanceOutcome(user, "reverted", f"{tx_hash}: reverted on chain"))
            log("receipt", user, tx_hash=tx_hash, status=0)
            continue
        events = engine.events.AutoRebalanced().process_receipt(receipt, errors=DISCARD)
        event = {k: (v.hex() if isinstance(v, bytes) else v) for k, v in dict(events[0].args).items()} if events else {}
        out.append(
            AutoRebalanceOutcome(user, "sent", f"{tx_hash} (block {receipt.blockNumber}, gas {receipt.gasUsed})")
        )
        log("receipt", user, tx_hash=tx_hash, status=1, block=receipt.blockNumber, gas_used=receipt.gasUsed,
            event=event)  # fmt: skip
    if journal:
        journal.write("end")
    return out


__all__ = ["AUTO_REBALANCE_GAS", "AutoRebalanceOutcome", "auto_rebalance", "inflation_bps", "waiting_calls"]
