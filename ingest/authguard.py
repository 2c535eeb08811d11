"""Brute-force guard for tracking API credentials: failed authentications per client IP.

Every request whose write key is unknown or disabled counts one failure for its client IP (the address
`client_ip` believes, so X-Forwarded-For only behind TRUSTED_PROXIES). Once an IP has AUTH_FAILURE_LIMIT
failures in the current AUTH_FAILURE_WINDOW seconds, its requests get 429 with Retry-After until the window
ends, *without* looking the key up in the database: guessing keys then costs us a cache read per try,
however many different keys are tried. Keys this process already knows stay usable from a blocked IP
(the cache is consulted, never the database), so a legitimate client sharing an address with a guesser
keeps working. `scope` lets other credential checks (e.g. a Track API site id) keep their own count.

Counters live in the Django cache: per process with the default local-memory cache, shared by every
process when CACHE_URL points at Redis. AUTH_FAILURE_LIMIT=0 turns the guard off.
"""

from __future__ import annotations

import itertools
import math
import time

from django.conf import settings
from django.core.cache import cache

# Bumped by reset(): a new generation starts every counter at zero without enumerating cache keys.
_generation = itertools.count()
_current = next(_generation)


def _window() -> int:
    return max(1, int(settings.AUTH_FAILURE_WINDOW))


def _key(scope: str, slot: int) -> str:
    return f"authguard:{_current}:{scope}:{slot}"


def blocked(scope: str) -> int | None:
    """Seconds until `scope` (e.g. "ip:203.0.113.9") may try again, or None when it is not blocked."""
    limit = int(settings.AUTH_FAILURE_LIMIT or 0)
    if limit <= 0:
        return None
    window = _window()
    now = time.time()
    slot = int(now // window)
    if (cache.get(_key(scope, slot)) or 0) < limit:
        return None
    return max(1, math.ceil((slot + 1) * window - now))


def record_failure(scope: str) -> None:
    """Count one failed authentication for `scope` in the current window."""
    if int(settings.AUTH_FAILURE_LIMIT or 0) <= 0:
        return
    window = _window()
    key = _key(scope, int(time.time() // window))
    if not cache.add(key, 1, timeout=window + 1):
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=window + 1)


def ip_scope(ip: str | None) -> str:
    return f"ip:{ip or 'unknown'}"


def reset() -> None:
    """Forget every counter (tests; an operator after unblocking a client)."""
    global _current
    _current = next(_generation)
