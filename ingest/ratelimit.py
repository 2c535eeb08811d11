"""Per-source request rate limit for the tracking API (settings.INGEST_RATE_LIMIT requests/second; 0 = off).

A fixed window counter in the Django cache: one `incr` per request. With the default local-memory cache the
limit is per server process; set CACHE_URL to Redis in production for one limit shared by all processes.
Rates below 1/s use a longer window (0.5/s = 1 request per 2 s).
"""

from __future__ import annotations

import math
import time

from django.conf import settings
from django.core.cache import cache


def check(source_id: int) -> int | None:
    """Count one request for `source_id`; return None if allowed, else the seconds until the window resets."""
    rate = float(settings.INGEST_RATE_LIMIT or 0)
    if rate <= 0:
        return None
    window = 1 if rate >= 1 else math.ceil(1 / rate)
    allowance = max(1, math.floor(rate * window))
    now = time.time()
    slot = int(now // window)
    key = f"ingest:rl:{source_id}:{window}:{slot}"
    if cache.add(key, 1, timeout=window + 1):
        count = 1
    else:
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=window + 1)
            count = 1
    if count <= allowance:
        return None
    return max(1, math.ceil((slot + 1) * window - now))


def reset_time(retry_after: int) -> int:
    """Unix time (seconds) when a limited client may send again, for X-RateLimit-Reset."""
    return int(time.time()) + retry_after
