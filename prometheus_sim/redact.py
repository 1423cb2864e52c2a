"""What may be a credential in a URL, taken out before the URL reaches an error message, a log or a journal.

One helper for every place that shows a URL the user configured: a chain node's (``rpc_url``), the model
registry's (``MLFLOW_TRACKING_URI``), a rate-limit store's. A user and password, a query, and a path segment that
looks like an API key (``.../v3/<key>``) are replaced by ``***``; the scheme, host, port and the rest of the path
stay, so the message still says where.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

_SECRET_SEGMENT = re.compile(r"[A-Za-z0-9_-]{24,}")  # a path segment this long is an API key, not a route
_URI = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")


def redacted_url(url: str, key_segments: bool = True) -> str:
    """``url`` without its user, password, query and (``key_segments``) key-like path segments."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "<an unreadable URL>"
    host = parts.hostname or ""
    netloc = ("***@" if parts.username or parts.password else "") + (f"[{host}]" if ":" in host else host)
    netloc += f":{port}" if port else ""
    path = "/".join("***" if key_segments and _SECRET_SEGMENT.fullmatch(seg) else seg for seg in parts.path.split("/"))
    # built by hand: urlunsplit drops the '//' of a URL with no host, and sqlite:////tmp/a/mlflow.db (an absolute
    # path) came out as sqlite://tmp/a/mlflow.db, another place (review of 2026-12-05, session 24)
    slashes = "//" if url[len(parts.scheme) + 1 :].startswith("//") else ""
    return f"{parts.scheme}:{slashes}{netloc}{path}" + ("?***" if parts.query else "")


def redact_uris(text: str) -> str:
    """``text`` with every URI in it passed through :func:`redacted_url`."""
    return _URI.sub(lambda m: redacted_url(m.group(0)), text)


def without_credentials(fields: dict) -> dict:
    """``fields`` (a run's arguments) with its ``tracking_uri`` passed through :func:`redacted_url`: a password in
    the registry's URI was logged as a run parameter (anyone who opens the MLflow UI sees those) and saved in the
    model's metadata and ``policy_eval.json`` (review of 2026-12-05, session 24). The URI itself is read again from
    the option or the environment whenever it is needed."""
    uri = fields.get("tracking_uri")
    # user, password and query only: a long folder name in a store's path is not a key, and masking it lost the
    # report the registry the run recorded (review of this session's diff)
    return {**fields, "tracking_uri": redacted_url(uri, key_segments=False)} if isinstance(uri, str) else fields


__all__ = ["redact_uris", "redacted_url", "without_credentials"]
