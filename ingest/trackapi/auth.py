"""Track API credentials: HTTP Basic site_id:api_key → the enabled Journeys Track API source.

Sources are looked up by site id and cached for CACHE_SECONDS, so a busy client costs no query per
request. The API key is compared against the stored SHA-256 digest in constant time. A key that does not
match the cached source is checked once more against the database, so a freshly rotated key works at
once; a disabled source or a revoked key stops working within CACHE_SECONDS.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from django.core.cache import cache

from connections.models import Source, SourceKind, hash_api_key

CACHE_SECONDS = 10
_MISSING = "missing"
# Compared against when the site id is unknown, so an unknown site costs the same as a wrong key.
_DUMMY_DIGEST = hash_api_key("not-a-key")


def _cache_key(site_id: str) -> str:
    # Site ids come from the client: hash them so any text makes a valid cache key.
    return "trackapi:site:" + hashlib.sha256(site_id.encode("utf-8", "surrogatepass")).hexdigest()


def _load(site_id: str) -> Source | None:
    source = (
        Source.objects.filter(site_id=site_id, kind=SourceKind.JOURNEYS_TRACK_API)
        .only("id", "workspace_id", "name", "kind", "enabled", "site_id", "api_key_hash")
        .first()
    )
    cache.set(_cache_key(site_id), source if source is not None else _MISSING, CACHE_SECONDS)
    return source


def _lookup(site_id: str) -> Source | None:
    cached = cache.get(_cache_key(site_id))
    if cached is None:
        return _load(site_id)
    return None if cached == _MISSING else cached


def forget(site_id: str) -> None:
    """Drop a site id from the cache, so a change to its source takes effect at once where this cache is
    shared (the other processes' copies, with a per-process cache, still expire within CACHE_SECONDS)."""
    cache.delete(_cache_key(site_id))


def credentials(authorization: str) -> tuple[str, str] | None:
    """(site_id, api_key) from an `Authorization: Basic …` header value, or None."""
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    site_id, sep, api_key = decoded.partition(":")
    if not sep or not site_id or not api_key:
        return None
    return site_id, api_key


def authenticate(authorization: str) -> Source | None:
    """The enabled Journeys Track API source these credentials belong to, or None."""
    pair = credentials(authorization)
    if pair is None:
        return None
    site_id, api_key = pair
    if len(site_id) > 64:
        return None
    source = _lookup(site_id)
    if source is None:
        hmac.compare_digest(_DUMMY_DIGEST, hash_api_key(api_key))
        return None
    if not source.check_track_api_key(api_key):
        source = _load(site_id)  # the key may have been rotated since we cached the source
        if source is None or not source.check_track_api_key(api_key):
            return None
    return source if source.enabled else None
