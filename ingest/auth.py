"""Write-key resolution for the tracking API.

The key travels in one of three places, checked in this order (each is the only carrier for at least
one official client): HTTP Basic username (`base64("KEY:")`), `Authorization: Bearer KEY`, then the JSON
body's `writeKey` (batch level, then the first item that has one).

Sources are looked up through a small per-process cache that remembers hits AND misses for
INGEST_KEY_CACHE_SECONDS: the hot path does no query for a known key, and a flood of unknown keys costs
one indexed lookup per key per interval, never more. A disabled or rotated key stops working within that
interval in every process (sooner in the process that made the change, see `forget`).
"""

from __future__ import annotations

import base64
import binascii
import threading
import time
from typing import Any

from django.conf import settings

from connections.models import Source

# Keys we issue are ~32 characters; anything much longer is rejected without a query.
MAX_KEY_LENGTH = 200
# Upper bound on remembered keys, so random keys cannot grow the cache without limit.
MAX_CACHED_KEYS = 10_000

_cache: dict[str, tuple[float, Source | None]] = {}
_lock = threading.Lock()


def key_from_headers(meta: dict[str, Any]) -> str | None:
    """The write key carried by the Authorization header (Basic username, else Bearer), if any."""
    header = meta.get("HTTP_AUTHORIZATION")
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    scheme = scheme.lower()
    value = value.strip()
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value, validate=False).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
        username = decoded.split(":", 1)[0]
        return username or None
    if scheme == "bearer":
        return value or None
    return None


def key_from_body(body: dict[str, Any]) -> str | None:
    """The `writeKey` of a parsed body: batch level first, then the first batch item carrying one."""
    key = body.get("writeKey")
    if isinstance(key, str) and key:
        return key
    items = body.get("batch")
    if isinstance(items, list):
        for item in items:
            if isinstance(item, dict):
                key = item.get("writeKey")
                if isinstance(key, str) and key:
                    return key
    return None


def resolve(write_key: str | None) -> Source | None:
    """The enabled source owning `write_key`, or None. May raise django.db.DatabaseError on a cache miss.

    The returned Source carries id, workspace_id, kind, name and write_key; treat it as read-only.
    """
    if not write_key or len(write_key) > MAX_KEY_LENGTH:
        return None
    now = time.monotonic()
    hit = _cache.get(write_key)
    if hit is not None and hit[0] > now:
        return hit[1]
    source = (
        Source.objects.filter(write_key=write_key, enabled=True)
        .only("id", "workspace_id", "kind", "name", "write_key", "enabled")
        .first()
    )
    ttl = float(getattr(settings, "INGEST_KEY_CACHE_SECONDS", 10.0))
    with _lock:
        if len(_cache) >= MAX_CACHED_KEYS:
            _cache.clear()
        _cache[write_key] = (now + ttl, source)
    return source


def cached(write_key: str | None) -> Source | None:
    """The source this process remembers for `write_key` (a fresh cache hit), never querying the database."""
    hit = _cache.get(write_key) if write_key else None
    if hit is not None and hit[0] > time.monotonic():
        return hit[1]
    return None


def forget(write_key: str | None = None) -> None:
    """Drop one key (or every key) from this process's cache, e.g. after a rotation or in tests."""
    with _lock:
        if write_key is None:
            _cache.clear()
        else:
            _cache.pop(write_key, None)
