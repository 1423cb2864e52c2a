"""Live-mode settings (``devchain.json`` or a file of the same shape): where the chain is, what is on it,
and the guard rails. No secret ever lives here: the signing key comes from the environment or an
encrypted keystore (:mod:`adapters.chain.signer`)."""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from prometheus_sim.redact import redacted_url
from prometheus_sim.scenario import ASSET_KINDS

ADDRESS_FIELDS = ("vault_manager", "policy_engine", "price_oracle")


_KEY_LIKE = re.compile(r"[0-9a-fA-F]{64}")  # 32 bytes in hex: a private key's size


def shown(value: object) -> str:
    """``value`` as an error message may show it: a text holding 32 bytes of hex (a private key pasted into an
    address field) is not shown, and a long one is cut (review of 2026-12-05: a key in ``oracle_account`` was
    echoed in full)."""
    if isinstance(value, str) and _KEY_LIKE.search(value):
        return "a text holding 32 bytes of hex (a private key? not shown)"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def key_hidden(text: str) -> str:
    """``text`` whole, unless it holds 32 bytes of hex (a private key pasted where a path goes): a long path is shown
    in full, where :func:`shown` cuts it (a keystore's file name alone is about 77 characters)."""
    return "a text holding 32 bytes of hex (a private key? not shown)" if _KEY_LIKE.search(text) else text


def refuse_repeated_users(users) -> None:
    """A ValueError naming the first address given twice, in any case: one vault twice is sent twice (the same
    idempotency key, the second reverting) or rebalanced twice with a cool-down of 0 (review, session 19)."""
    seen: set[str] = set()
    for user in users:
        if user.lower() in seen:
            raise ValueError(f"users: {user} is named more than once")
        seen.add(user.lower())


def _address(name: str, value: object) -> str:
    if not isinstance(value, str) or len(value) != 42 or not value.startswith("0x"):
        raise ValueError(f"{name}: expected a 0x-prefixed 20-byte address, got {shown(value)}")
    try:
        int(value[2:], 16)
    except ValueError:
        raise ValueError(f"{name}: expected a 0x-prefixed 20-byte address, got {shown(value)}") from None
    return value


PAUSE_OFF = ("", "0", "false", "no", "off")  # PROMETHEUS_PAUSE values that do not pause (case aside)


@dataclass(frozen=True, kw_only=True)
class GuardRails:
    """What a live run may never do, whatever the strategy says.

    * ``max_trade_fraction``: the largest fraction of a holding (sell) or of cash (buy) one leg may move.
    * ``max_period_value``: the most value (dollars) traded per UTC day of the chain's clock, all users together,
      counted over the journal's fills (a restart with the same journal keeps the day's count).
    * ``confidence_floor``: recommendations below this confidence are not sent.
    * ``allowlist``: the only assets a leg may name.
    * ``max_gas_price_gwei``: no transaction is sent while the base fee plus tip is above this.
    * ``max_price_age_s``: nothing is sent on an oracle price written longer than this before the latest block
      (a feed that stopped: the contracts execute at the oracle's prices, so a stale one mis-prices the trade).
    * ``max_price_move``: nothing is sent on a bar where an asset's price moved by more than this fraction from the
      bar before (a glitch or a manipulated round; a real move of that size is no time for an automatic trade).
    * ``paused``: stops every submission of a run started with it (also ``PROMETHEUS_PAUSE`` in the environment,
      any value but empty, ``0``, ``false``, ``no`` or ``off``: a misspelt "true" paused nothing; review, session 25).
    * ``pause_file``: while a file at this path exists, nothing is sent; read before every submission, so
      ``touch``-ing it pauses a run already going (the two switches above are read when the process starts).
    """

    max_trade_fraction: float = 1.0
    max_period_value: float = 1e12
    confidence_floor: float = 0.0
    allowlist: tuple[str, ...] = ()
    max_gas_price_gwei: float = 500.0
    max_price_age_s: float = 2 * 86_400.0  # two days: a daily feed's heartbeat missed twice
    max_price_move: float = 0.5
    paused: bool = False
    pause_file: str | None = None

    def __post_init__(self) -> None:
        for name, low, high in (("max_trade_fraction", 0.0, 1.0), ("confidence_floor", 0.0, 1.0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
                raise ValueError(f"guard_rails.{name}: must be a number in [{low}, {high}], got {shown(value)}")
        for name in ("max_period_value", "max_gas_price_gwei", "max_price_age_s", "max_price_move"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"guard_rails.{name}: must be a finite number > 0, got {shown(value)}")
        if not isinstance(self.paused, bool):
            raise ValueError(f"guard_rails.paused: must be true or false, got {shown(self.paused)}")
        if self.pause_file is not None and (not isinstance(self.pause_file, str) or not self.pause_file.strip()):
            raise ValueError(f"guard_rails.pause_file: a file path or null, got {shown(self.pause_file)}")
        # a string is a list of its letters to tuple(): "BTC" allowed B, T and C, and every leg was refused (review)
        if (
            isinstance(self.allowlist, str)
            or not isinstance(self.allowlist, list | tuple)
            or not all(isinstance(a, str) and a for a in self.allowlist)
        ):
            raise ValueError(f"guard_rails.allowlist: a list of asset names, got {shown(self.allowlist)}")
        object.__setattr__(self, "allowlist", tuple(self.allowlist))

    def pause_reason(self) -> str | None:
        """Why nothing may be sent now, or None: ``paused``, ``PROMETHEUS_PAUSE`` or ``pause_file`` (class docstring).
        Fail-safe: an environment value that is not plainly "off" pauses."""
        if self.paused:
            return "paused (guard_rails.paused)"
        env = os.environ.get("PROMETHEUS_PAUSE", "").strip()
        if env.lower() not in PAUSE_OFF:
            return f"paused (PROMETHEUS_PAUSE={env})"
        if self.pause_file is not None and os.path.exists(self.pause_file):
            return f"paused (guard_rails.pause_file {self.pause_file} exists)"
        return None


@dataclass(frozen=True, kw_only=True)
class ChainConfig:
    """One chain and the contracts a live run talks to.

    ``tokens`` maps asset names (the market's columns) to token addresses; ``asset_kinds`` gives
    each asset's kind (stable, crypto, ...). A live step is the oracle's next round (a bar);
    ``step_blocks`` or ``step_seconds`` is how often the clock looks for it (every N new blocks, or
    every interval); ``steps_per_day`` is the stated day length in steps, which maps a strategy's
    ``decision_every_days`` to steps (1 by default: a dev chain fed one day per block, or a daily
    interval; ``step_seconds: 3600`` with ``steps_per_day: 24`` on a real chain).
    """

    rpc_url: str
    chain_id: int
    vault_manager: str
    policy_engine: str
    price_oracle: str
    tokens: dict[str, str]
    asset_kinds: dict[str, str]
    users: tuple[str, ...] = ()
    step_blocks: int | None = None  # 1 when step_seconds is not given either
    step_seconds: float | None = None
    steps_per_day: int = 1
    receipt_timeout_s: float = 30.0
    rpc_timeout_s: float = 10.0
    """how long one RPC call may take before the node counts as down"""
    guard_rails: GuardRails = field(default_factory=GuardRails)
    history: str | None = None
    """a run directory or CSV/Parquet of closes the market history is warm-started from"""
    history_row: int = 0
    """the run directory's path the live market continues"""
    history_until: int | None = None
    """the last warm-start bar (the oracle's round 1 is the bar after it)"""
    oracle_account: str | None = None
    """the PolicyEngine's authorised sender (public address: a dry run simulates from it)"""
    journal: str = "runs/live/journal.jsonl"

    def __post_init__(self) -> None:
        if not isinstance(self.rpc_url, str) or not self.rpc_url.startswith(("http://", "https://", "ws://", "wss://")):
            raise ValueError(
                f"rpc_url: expected an http(s) or ws(s) URL, got "
                f"{redacted_url(self.rpc_url) if isinstance(self.rpc_url, str) else shown(self.rpc_url)}"
            )
        if isinstance(self.chain_id, bool) or not isinstance(self.chain_id, int) or self.chain_id < 1:
            raise ValueError(f"chain_id: must be a positive integer, got {shown(self.chain_id)}")
        for name in ADDRESS_FIELDS:
            _address(name, getattr(self, name))
        if not isinstance(self.tokens, dict) or not self.tokens:
            raise ValueError("tokens: a map from asset name to token address is required")
        for asset, address in self.tokens.items():
            _address(f"tokens.{asset}", address)
        # one token for two assets made the second's column read and trade the first's balance (review, session 25)
        by_address: dict[str, str] = {}
        for asset, address in self.tokens.items():
            if address.lower() in by_address:
                raise ValueError(f"tokens: {by_address[address.lower()]} and {asset} name the same address {address}")
            by_address[address.lower()] = asset
        if not isinstance(self.asset_kinds, dict):
            raise ValueError(f"asset_kinds: a map from asset name to kind, got {shown(self.asset_kinds)}")
        if set(self.asset_kinds) != set(self.tokens):
            raise ValueError(f"asset_kinds: must name the same assets as tokens; tokens {sorted(self.tokens)}, "
                             f"asset_kinds {sorted(self.asset_kinds)}")  # fmt: skip
        for asset, kind in self.asset_kinds.items():
            if kind not in ASSET_KINDS:
                raise ValueError(f"asset_kinds.{asset}: one of {', '.join(ASSET_KINDS)}, got {shown(kind)}")
        if isinstance(self.users, str) or not isinstance(self.users, list | tuple):
            raise ValueError(f"users: a list of vault owners' addresses, got {shown(self.users)}")
        object.__setattr__(self, "users", tuple(_address("users[]", u) for u in self.users))
        refuse_repeated_users(self.users)
        if self.oracle_account is not None:
            _address("oracle_account", self.oracle_account)
        if self.step_blocks is None and self.step_seconds is None:
            object.__setattr__(self, "step_blocks", 1)  # every new block
        # the default was step_blocks 1, so the docstring's own `step_seconds: 3600` was refused as giving both (review)
        if self.step_blocks is not None and self.step_seconds is not None:
            raise ValueError(
                "step_blocks, step_seconds: give exactly one (the clock looks for the next bar every N blocks or every interval)"
            )
        # booleans are refused where numbers are due (JSON's true read as 1 s or 1 block), and so is a negative
        # history_until, which cut the warm start's last bars without a word (review of 2026-12-05, session 19)
        for name, low in (("step_blocks", 1), ("steps_per_day", 1), ("history_row", 0), ("history_until", 0)):
            value = getattr(self, name)
            if value is None and name in ("step_blocks", "history_until"):
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name}: must be an integer >= {low}, got {shown(value)}")
        for name in ("step_seconds", "receipt_timeout_s", "rpc_timeout_s"):
            value = getattr(self, name)
            if value is None and name == "step_seconds":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"{name}: must be a finite number > 0 (seconds), got {shown(value)}")
        for name in ("history", "journal"):
            value = getattr(self, name)
            if not (isinstance(value, str) and value) and not (value is None and name == "history"):
                raise ValueError(f"{name}: must be a path (a text), got {shown(value)}")
        if isinstance(self.guard_rails, dict):
            object.__setattr__(self, "guard_rails", GuardRails(**self.guard_rails))
        elif not isinstance(self.guard_rails, GuardRails):  # null or a list failed later as an AttributeError
            raise ValueError(
                f"guard_rails: must be an object of guard rails (or left out), got {shown(self.guard_rails)}"
            )
        unknown = [a for a in self.guard_rails.allowlist if a not in self.tokens]
        if unknown:  # a misspelt allowlist refused every leg later, each as "not in the allowlist" (review, session 25)
            raise ValueError(f"guard_rails.allowlist: {unknown} are not among tokens {sorted(self.tokens)}")

    @classmethod
    def load(cls, file: str | Path) -> ChainConfig:
        file = Path(file)
        if not file.exists():
            raise ValueError(f"config {file}: not found (prometheus-sim devchain up writes devchain.json)")
        try:
            raw = json.loads(file.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"config {file}: not JSON ({exc})") from None
        if not isinstance(raw, dict):
            raise ValueError(f"config {file}: expected a JSON object")
        for secret in ("private_key", "key", "mnemonic", "password"):
            if secret in raw:
                raise ValueError(f"config {file}: field {secret!r} is refused: keys come from PROMETHEUS_PRIVATE_KEY "
                                 "or an encrypted keystore, never from a config file")  # fmt: skip
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(raw) - known - {"anvil_pid", "deployer"})
        if unknown:
            raise ValueError(f"config {file}: unknown field(s) {unknown}")
        raw = {k: v for k, v in raw.items() if k in known}
        try:
            return cls(**raw)
        except TypeError as exc:
            raise ValueError(f"config {file}: {exc}") from None

    def to_json(self) -> dict:
        """The config as the journal's start line records it (the node's URL without credentials)."""
        out = asdict(self)
        out["rpc_url"] = redacted_url(self.rpc_url)
        out["users"] = list(self.users)
        out["guard_rails"]["allowlist"] = list(self.guard_rails.allowlist)
        return out

    @property
    def assets(self) -> tuple[str, ...]:
        return tuple(self.tokens)


__all__ = ["ChainConfig", "GuardRails", "key_hidden", "refuse_repeated_users", "shown"]
