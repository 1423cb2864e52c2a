"""The live run's journal: JSON lines of everything read and sent (bars, snapshots, orders,
transactions, receipts, events), flushed line by line so a crash loses nothing written before it.
Addresses and hashes only: no key ever reaches it."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return str(value)


class Journal:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, kind: str, **fields) -> None:
        """Append one line (opened and closed each time: nothing is held open, nothing buffered)."""
        line = {"kind": kind, "time": round(time.time(), 3), **fields}
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(line, default=_plain) + "\n")

    def close(self) -> None:
        """Nothing is held open between lines; kept so a venue can say the run is over."""


def read_journal(path: str | Path) -> list[dict]:
    path = Path(path)
    if not path.exists():
        raise ValueError(f"journal {path}: not found")
    out = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():  # a trailing newline added by an editor made the whole journal "not JSON" (review)
            continue
        try:
            parsed = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"journal {path}, line {n}: not JSON ({exc})") from None
        if not isinstance(parsed, dict) or not isinstance(parsed.get("kind"), str):
            # `[]` or a line with no kind failed later as a TypeError or KeyError traceback (review, session 25)
            raise ValueError(f"journal {path}, line {n}: not a journal line (a JSON object with a 'kind')")
        out.append(parsed)
    return out


__all__ = ["Journal", "read_journal"]
