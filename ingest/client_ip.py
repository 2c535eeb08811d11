"""The address a message came from, for `context.ip`.

X-Forwarded-For is believed only when the direct peer (REMOTE_ADDR) is one of settings.TRUSTED_PROXIES
(IPs or CIDRs): anyone else could write any address into that header. Behind trusted proxies the client
is the right-most address in the chain that is not itself a trusted proxy.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Any

from django.conf import settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(e.strip(), strict=False) for e in entries if e.strip())


def _is_trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in net for net in networks)


def client_ip(meta: dict[str, Any]) -> str:
    """The client address for a request's META (empty string when unknown)."""
    remote = meta.get("REMOTE_ADDR") or ""
    trusted = settings.TRUSTED_PROXIES
    if not trusted:
        return remote
    networks = _networks(tuple(trusted))
    forwarded = meta.get("HTTP_X_FORWARDED_FOR")
    if not forwarded or not _is_trusted(remote, networks):
        return remote
    hops = [h.strip() for h in forwarded.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, networks):
            return hop
    return hops[0] if hops else remote
