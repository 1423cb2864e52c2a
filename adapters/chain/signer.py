"""Signing and sending: the key, nonces, EIP-1559 fees, simulation before every send, receipt waits.

The key comes from ``PROMETHEUS_PRIVATE_KEY`` or an encrypted keystore (``PROMETHEUS_KEYSTORE``, its
password in ``PROMETHEUS_KEYSTORE_PASSWORD``), read by eth-account; never from a config file or a
command-line argument, and it is never written to a log or the journal (only the address is).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3.exceptions import ContractLogicError, TimeExhausted

from adapters.chain.config import key_hidden
from adapters.chain.node import Chain, NodeDown

KEY_ENV = "PROMETHEUS_PRIVATE_KEY"
KEYSTORE_ENV = "PROMETHEUS_KEYSTORE"
KEYSTORE_PASSWORD_ENV = "PROMETHEUS_KEYSTORE_PASSWORD"
GWEI = 10**9


class Reverted(RuntimeError):
    """A call that the chain refuses, with its reason; nothing was sent."""


def load_account(env: dict | None = None) -> LocalAccount:
    """The signing account from the environment (see the module docstring), or a clear error."""
    env = os.environ if env is None else env
    if env.get(KEY_ENV):
        try:
            return Account.from_key(env[KEY_ENV])
        except Exception:
            raise ValueError(f"{KEY_ENV}: not a valid private key (its value is not shown)") from None
    if env.get(KEYSTORE_ENV):
        path = Path(env[KEYSTORE_ENV])
        if not path.exists():
            # shown(): a private key pasted here instead of a path was echoed in full (review of 2026-12-05, session 19)
            raise ValueError(f"{KEYSTORE_ENV}: keystore {key_hidden(str(path))} not found")
        if KEYSTORE_PASSWORD_ENV not in env:
            raise ValueError(f"{KEYSTORE_PASSWORD_ENV}: required to decrypt the keystore {key_hidden(str(path))}")
        try:
            keystore = path.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"{KEYSTORE_ENV}: cannot read {key_hidden(str(path))} ({type(exc).__name__})") from None
        try:
            decrypted = Account.decrypt(keystore, env[KEYSTORE_PASSWORD_ENV])
        except ValueError:
            raise ValueError(
                f"{KEYSTORE_ENV}: cannot decrypt {key_hidden(str(path))} with the given password"
            ) from None
        except (KeyError, TypeError, AttributeError):  # '{}' was a KeyError traceback (review, session 23)
            raise ValueError(f"{KEYSTORE_ENV}: {key_hidden(str(path))} is not a keystore file (Web3 Secret Storage "
                             "JSON, as geth and `cast wallet` write)") from None  # fmt: skip
        return Account.from_key(decrypted)
    raise ValueError(f"--execute needs a signing key: set {KEY_ENV} or {KEYSTORE_ENV} (+ {KEYSTORE_PASSWORD_ENV})")


@dataclass
class Prepared:
    """A transaction simulated and priced, ready to sign (or to show in a dry run)."""

    description: str
    tx: dict


class Sender:
    """Sends contract calls from one account: local nonces, simulation first, fees capped."""

    def __init__(self, chain: Chain, account_address: str, account: LocalAccount | None = None,
                 max_gas_price_gwei: float = 500.0, gas_limit: int = 500_000):  # fmt: skip
        self.chain = chain
        self.address = chain.w3.to_checksum_address(account_address)
        self._account = account
        self.max_fee_cap = int(max_gas_price_gwei * GWEI)
        self.gas_limit = gas_limit
        self._nonce: int | None = None

    def prepare(self, fn, description: str, gas_limit: int | None = None) -> Prepared:
        """Simulate ``fn`` (``eth_call``), estimate its gas and price it; a revert raises :class:`Reverted`."""
        w3 = self.chain.w3
        try:
            fn.call({"from": self.address})
            gas = fn.estimate_gas({"from": self.address})
            block = w3.eth.get_block("latest")
        except ContractLogicError as exc:
            raise Reverted(f"{description}: the chain refuses it ({exc.message or exc})") from None
        except (OSError, ConnectionError) as exc:
            raise NodeDown(self.chain.config.rpc_url, type(exc).__name__) from None
        except Exception as exc:  # an in-process chain (eth-tester) raises its own TransactionFailed
            if "revert" not in str(exc).lower():
                raise
            raise Reverted(f"{description}: the chain refuses it ({exc})") from None
        limit = gas_limit or self.gas_limit
        if gas > limit:
            raise Reverted(f"{description}: needs {gas} gas, above the limit of {limit}")
        base = int(block.get("baseFeePerGas", 0) or 0)
        tip = min(GWEI, self.max_fee_cap)
        max_fee = 2 * base + tip
        if base + tip > self.max_fee_cap:
            raise Reverted(f"{description}: gas price {(base + tip) / GWEI:.2f} gwei is above the cap "
                           f"({self.max_fee_cap / GWEI:.2f} gwei, guard_rails.max_gas_price_gwei); not sent")  # fmt: skip
        tx = fn.build_transaction({
            # headroom over the estimate, never above the limit (the guide's 500,000 a submission): 526,974 was sent
            # for an estimate of 430,812 (review of 2026-12-05)
            "from": self.address, "gas": min(int(gas * 1.2) + 10_000, limit), "maxFeePerGas": min(max_fee, self.max_fee_cap),
            "maxPriorityFeePerGas": tip, "chainId": self.chain.config.chain_id, "nonce": 0,
        })  # fmt: skip
        return Prepared(description, tx)

    def send(self, prepared: Prepared, before_send: Callable[[str], None] | None = None,
             on_failure: Callable[[str, str], None] | None = None) -> str:  # fmt: skip
        """Sign locally and send; the nonce is the larger of the node's pending count, read before every send, and
        this Sender's own count (another process signing with the same key, an auto-rebalance beside a live run, made
        a cached nonce 'too low' and stopped the run; review of 2026-12-05).

        ``before_send`` gets the signed transaction's hash before it leaves: a caller journals it there, so a crash or
        a timeout after the node took it (whose reply, the hash, never arrives) leaves the hash on record (review of
        2026-12-05, session 19: a mined trade could have no journal line). ``on_failure`` gets (hash, error) when the
        node refuses the transaction, so that line does not stand for a send; a nonce found too low is re-read and
        the transaction signed and sent once more."""
        if self._account is None:
            raise ValueError("this Sender has no key: it can only prepare (dry run)")
        w3 = self.chain.w3
        retried = False
        while True:
            try:
                pending = w3.eth.get_transaction_count(self.address, "pending")
            except (OSError, ConnectionError) as exc:
                raise NodeDown(self.chain.config.rpc_url, type(exc).__name__) from None
            self._nonce = max(self._nonce or 0, pending)
            signed = self._account.sign_transaction(dict(prepared.tx, nonce=self._nonce))
            signed_hash = signed.hash.to_0x_hex()
            if before_send is not None:  # outside the node's try: a full disk here is not the node being down (review)
                before_send(signed_hash)
            try:
                tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
            except (OSError, ConnectionError) as exc:
                self._nonce = None  # re-read after the node is back
                raise NodeDown(self.chain.config.rpc_url, type(exc).__name__) from None
            except Exception as exc:  # the node refused it: the 'sending' line must not stand for a send
                if _already_held(exc):  # ... unless it refused because it holds this very transaction: it was sent
                    self._nonce += 1
                    return signed_hash
                if on_failure is not None:
                    on_failure(signed_hash, str(exc))
                if not retried and "nonce too low" in str(exc).lower():
                    retried, self._nonce = True, None  # another signer used it: the pending count is read again
                    continue
                raise
            self._nonce += 1
            return tx_hash.to_0x_hex()

    def wait(self, tx_hashes: list[str], timeout_s: float, retry_safe: bool = True) -> list[dict]:
        """Receipts of every hash (sent together, awaited together), within ``timeout_s`` overall. ``retry_safe``:
        the transactions carry an idempotency key (a submission's), so the timeout's message may say a retry is safe;
        an ``autoRebalance`` has none, and a retry after its cool-down rebalances again."""
        w3 = self.chain.w3
        deadline = time.monotonic() + timeout_s
        receipts = []
        for h in tx_hashes:
            left = max(deadline - time.monotonic(), 0.1)
            try:
                receipts.append(w3.eth.wait_for_transaction_receipt(h, timeout=left, poll_latency=0.05))
            except TimeExhausted:
                self._nonce = None
                why = (
                    "its idempotency key makes a retry safe (a mined submission is never sent twice)"
                    if retry_safe
                    else "it may still be mined: a rerun with the same journal skips the user while the call waits "
                    "in the node's pool (its 'sending' line, and canRebalance at the pending block where the node "
                    "serves one), but not a call sent by hand or from another journal: read the vault's last trade "
                    "before running it otherwise, as a call without an idempotency key can execute twice"
                )
                raise TimeoutError(f"no receipt for {h} within {timeout_s:.0f} s; {why}") from None  # fmt: skip
            except (OSError, ConnectionError) as exc:
                self._nonce = None
                raise NodeDown(self.chain.config.rpc_url, type(exc).__name__) from None
        return receipts


# What nodes answer a transaction already in their pool: geth and its forks, Anvil, Erigon and Nethermind. Seen where
# the node's pending count lags its pool (a load-balanced RPC: the count from one node, the pool of another), so the
# same nonce is signed again: the same transaction, the same hash. Journalled as send_failed and raised, a run stopped
# on a call that was then mined (review of 2026-12-05, left until the twenty-second session).
_ALREADY_HELD = ("already known", "already imported", "known transaction", "alreadyknown")


def _already_held(exc: Exception) -> bool:
    """Whether the node refused a transaction because it already holds that very one (so it was sent)."""
    return any(words in str(exc).lower() for words in _ALREADY_HELD)


__all__ = ["KEYSTORE_ENV", "KEYSTORE_PASSWORD_ENV", "KEY_ENV", "Prepared", "Reverted", "Sender", "load_account"]
