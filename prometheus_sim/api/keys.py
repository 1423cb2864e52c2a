"""API keys, stored hashed: a key is shown once when made, only its SHA-256 is kept.

The store is a JSON file (``{name: {"sha256": ..., "created": ..., "revoked": bool}}``, default
``.prometheus/api_keys.json``, or ``PROMETHEUS_API_KEYS_FILE``); keys may also be given as hashes
in ``PROMETHEUS_API_KEY_HASHES`` (``name:sha256hex,...``). The server re-reads the file when it
changes, so a revocation takes effect on the next request without a restart. Keys are random 256-bit
tokens, so a plain SHA-256 is the right hash (no password stretching needed).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

DEFAULT_FILE = Path(".prometheus") / "api_keys.json"
PREFIX = "psk_"


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class Unauthorized(Exception):
    """No key, or a key this server does not know (401)."""


class Forbidden(Exception):
    """A revoked key (403)."""


class StoreUnreadable(Exception):
    """The key store's file cannot be read as a key store (503): no key is checked against a damaged file, and the
    last good set is not used either (it could hold a key whose revocation the damaged write carried)."""


@dataclass(frozen=True)
class KeyRecord:
    name: str
    sha256: str
    created: float
    revoked: bool = False


def _record(path: Path, name: str, r: object) -> KeyRecord:
    """One record of the file, its fields checked by name: a hand-edited ``"created": "yesterday"`` was "could not
    convert string to float", ``"revoked": "false"`` read as revoked, an upper-case hash never matched (review)."""
    if not isinstance(r, dict):
        raise ValueError(f"key store {path}: record {name!r} is not an object")
    h = r.get("sha256")
    if not isinstance(h, str) or len(h) != 64 or any(c not in "0123456789abcdefABCDEF" for c in h):
        raise ValueError(f"key store {path}: record {name!r} has no sha256 of 64 hex digits")
    created = r.get("created", 0)
    if isinstance(created, bool) or not isinstance(created, int | float):
        raise ValueError(f"key store {path}: record {name!r}: created must be a number (seconds), got {created!r}")
    revoked = r.get("revoked", False)
    if not isinstance(revoked, bool):
        raise ValueError(f"key store {path}: record {name!r}: revoked must be true or false, got {revoked!r}")
    return KeyRecord(name, h.lower(), float(created), revoked)


class KeyStore:
    def __init__(self, path: str | Path | None = None, env: dict | None = None):
        env = os.environ if env is None else env
        self.path = Path(path or env.get("PROMETHEUS_API_KEYS_FILE") or DEFAULT_FILE)
        self._env_hashes = env.get("PROMETHEUS_API_KEY_HASHES", "")
        self._mtime: float | None = None
        self._file_records: dict[str, KeyRecord] = {}  # what the file holds: all that a save writes
        self._records: dict[str, KeyRecord] = {}
        self._by_hash: dict[str, KeyRecord] = {}
        self.reload()

    def reload(self) -> None:
        records: dict[str, KeyRecord] = {}
        if self.path.exists():
            try:
                raw = json.loads(self.path.read_text())
            except json.JSONDecodeError as exc:
                raise ValueError(f"key store {self.path}: not JSON ({exc})") from None
            if not isinstance(raw, dict):
                raise ValueError(f"key store {self.path}: expected an object of named key records")
            for name, r in raw.items():
                records[name] = _record(self.path, name, r)
            self._mtime = self.path.stat().st_mtime
        else:  # deleted under a running server: its keys went on working until a restart (review of 2026-12-05)
            self._mtime = None
        self._file_records = dict(records)
        # a key revoked in the file stays revoked when the environment names it too: `keys revoke` of a key given in
        # PROMETHEUS_API_KEY_HASHES wrote revoked to the file, said so, and the environment's entry let it in still
        # (review of 2026-12-05)
        revoked = {r.sha256 for r in records.values() if r.revoked}
        for item in filter(None, (x.strip() for x in self._env_hashes.split(","))):
            name, _, h = item.partition(":")
            if len(h) != 64:
                raise ValueError(f"PROMETHEUS_API_KEY_HASHES: entry {name!r} needs name:sha256hex (64 hex digits)")
            records[name] = KeyRecord(name, h.lower(), 0.0, h.lower() in revoked)
        self._records = records
        self._by_hash = {r.sha256: r for r in records.values()}

    def _fresh(self) -> None:
        """Reload the file when it changed. A file damaged under a running server (cut short, a record without its
        sha256, a list) made every request a bare 500 with a traceback (review of 2026-12-05, session 19): it is a
        :class:`StoreUnreadable` now, until the file reads again."""
        mtime = self.path.stat().st_mtime if self.path.exists() else None
        if mtime != self._mtime or (mtime is None and self._file_records):
            try:
                self.reload()
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                raise StoreUnreadable(f"the API key store {self.path} cannot be read ({type(exc).__name__}: "
                                      f"{exc}); fix or restore it (prometheus-sim keys)") from None  # fmt: skip

    def verify(self, key: str | None) -> str:
        """The key's name; :class:`Unauthorized` or :class:`Forbidden` otherwise."""
        if not key:
            raise Unauthorized("an API key is required (header X-API-Key)")
        self._fresh()
        h = digest(key)
        record = self._by_hash.get(h)
        if record is None or not hmac.compare_digest(record.sha256, h):
            raise Unauthorized("unknown API key")
        if record.revoked:
            raise Forbidden(f"API key {record.name!r} is revoked")
        return record.name

    def add(self, name: str) -> str:
        """Make a key for ``name``; return it (the only time it is seen)."""
        if not name or not name.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"name: letters, digits, - and _ only, got {name!r}")
        self._fresh()
        if name in self._records and not self._records[name].revoked:
            raise ValueError(f"name: a live key named {name!r} exists; revoke it first")
        key = PREFIX + secrets.token_urlsafe(32)
        self._file_records[name] = self._records[name] = KeyRecord(name, digest(key), time.time())
        self._save()
        return key

    def revoke(self, name: str) -> None:
        self._fresh()
        if name not in self._records:
            raise ValueError(f"name: no key named {name!r}")
        r = self._records[name]
        # an environment key's revocation is written to the file too (the file's revoked hash wins in reload)
        self._file_records[name] = self._records[name] = KeyRecord(r.name, r.sha256, r.created, True)
        self._save()

    def names(self) -> list[KeyRecord]:
        self._fresh()
        return sorted(self._records.values(), key=lambda r: r.name)

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        # the file's own records only: the environment's (PROMETHEUS_API_KEY_HASHES) were written too, so a key
        # taken out of the environment later still opened the API (review of 2026-12-05)
        tmp.write_text(json.dumps({n: {"sha256": r.sha256, "created": r.created, "revoked": r.revoked}
                                   for n, r in self._file_records.items()}, indent=2) + "\n")  # fmt: skip
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)
        self._mtime = self.path.stat().st_mtime
        self._by_hash = {r.sha256: r for r in self._records.values()}


__all__ = ["DEFAULT_FILE", "Forbidden", "KeyRecord", "KeyStore", "StoreUnreadable", "Unauthorized", "digest"]
