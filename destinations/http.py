"""The one outbound HTTP module. No destination imports `requests` itself.

- keep-alive sessions (one per process and destination kind), connect/read timeouts, our User-Agent;
- the SSRF guard: user-supplied hosts resolving to private, loopback, link-local, multicast or reserved
  addresses are refused unless OUTBOUND_ALLOW_PRIVATE is on. The check runs on every send (DNS is
  re-resolved each time, so a name that later points inward is caught);
- one classification: 2xx ok; 408, 423, 429, 5xx, timeouts and connection errors retryable (Retry-After
  read); any other status permanent;
- an Exchange record of the request and response with bodies truncated and secrets redacted.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import http.cookiejar
import ipaddress
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import orjson
import requests
from django.conf import settings

from .errors import DeliveryError

USER_AGENT = "Pipelines/1.0 (+self-hosted data pipeline)"
BODY_LIMIT = 4096
RETRYABLE_STATUSES = frozenset({408, 423, 429})
REDACTED = "[redacted]"
SECRET_HEADERS = frozenset({"authorization", "x-api-key", "api-key", "x-signature", "cookie", "proxy-authorization"})


@dataclass
class Exchange:
    method: str
    url: str
    request_headers: dict[str, str]
    request_body: str
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: str = ""
    duration_ms: int = 0

    def as_record(self) -> dict[str, Any]:
        return asdict(self)

    def json(self) -> Any:
        try:
            return orjson.loads(self.response_body)
        except orjson.JSONDecodeError:
            return None


class UnsafeURL(ValueError):
    """The URL points at an address we refuse to send to."""


class UnresolvableHost(UnsafeURL):
    """The host name does not resolve now. At send time this is retried: DNS failures are often passing."""


_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True only for globally routable unicast addresses.

    `is_global` (not merely "not private") also refuses shared address space (100.64.0.0/10, used inside
    cloud networks), benchmarking and documentation ranges; IPv6 forms that embed an IPv4 address
    (mapped, 6to4, NAT64) are judged by the embedded address, so ::ffff:127.0.0.1 is loopback.
    """
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        elif ip.sixtofour:
            ip = ip.sixtofour
        elif ip in _NAT64:
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.is_global and not (
        ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved
        or ip.is_unspecified
    )


def check_url(url: str) -> None:
    """Raise UnsafeURL unless `url` is http(s) and every address its host resolves to is allowed."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeURL("The URL must start with http:// or https:// and name a host.")
    check_host(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))


def check_host(host: str, port: int) -> list[str]:
    """Raise UnsafeURL unless every address `host` resolves to is public (or OUTBOUND_ALLOW_PRIVATE is on).

    Returns the resolved addresses (empty when private addresses are allowed, as nothing was resolved),
    so a non-HTTP client (the warehouse) can connect to exactly the address that was checked."""
    if settings.OUTBOUND_ALLOW_PRIVATE:
        return []
    if not host or host.startswith("/"):
        raise UnsafeURL("A local socket path is not allowed (OUTBOUND_ALLOW_PRIVATE is off).")
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise UnresolvableHost(f"The host {host} cannot be resolved.") from exc
    addresses = []
    for info in infos:
        ip = ipaddress.ip_address(info[4][0].split("%")[0])
        if not _is_public(ip):
            raise UnsafeURL(
                f"The host {host} resolves to {ip}, a private or local address; "
                "sending there is not allowed (OUTBOUND_ALLOW_PRIVATE is off)."
            )
        addresses.append(str(ip))
    return addresses


def endpoint(kind: str, default: str) -> str:
    """The base URL for a vendor API: DESTINATION_ENDPOINTS[kind] when set (tests, proxies), else default."""
    return settings.DESTINATION_ENDPOINTS.get(kind, default).rstrip("/")




@dataclass
class Capture:
    """The requests made inside a `capture()` block, in order (each an Exchange)."""

    dry_run: bool
    exchanges: list[Exchange] = field(default_factory=list)


_capture: contextvars.ContextVar[Capture | None] = contextvars.ContextVar("http_capture", default=None)


@contextlib.contextmanager
def capture(*, dry_run: bool) -> Iterator[Capture]:
    """Record every request `send` prepares inside the block. With `dry_run=True` nothing goes out:
    `send` returns the prepared Exchange (status None) as if it had succeeded. Used by the action
    preview to show the exact request a destination would send, through the destination's own code."""
    token = _capture.set(Capture(dry_run=dry_run))
    try:
        yield _capture.get()  # type: ignore[misc]
    finally:
        _capture.reset(token)


def active_capture() -> Capture | None:
    """The enclosing `capture()` block's record, if any. Destinations that do not speak HTTP (the
    warehouse) use it to honour dry runs and to show what they would do."""
    return _capture.get()


_sessions: dict[str, requests.Session] = {}
_sessions_lock = threading.Lock()


def _session(kind: str) -> requests.Session:
    """One keep-alive session per destination kind and process, shared by every thread (urllib3's pools
    are thread-safe), so connections outlive the task and the threads that opened them.

    Nothing in it depends on the environment per request (`trust_env` off: no ~/.netrc lookup per send;
    proxies come from `_proxies`), and it keeps no cookies: destinations share it, and a Set-Cookie from
    one customer's endpoint must never travel to another's."""
    session = _sessions.get(kind)
    if session is not None:
        return session
    with _sessions_lock:
        if kind not in _sessions:
            s = requests.Session()
            s.trust_env = False
            s.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
            s.headers["User-Agent"] = USER_AGENT
            size = max(16, 2 * settings.DELIVERY_SEND_THREADS)
            adapter = requests.adapters.HTTPAdapter(pool_connections=32, pool_maxsize=size, max_retries=0)
            s.mount("http://", adapter)
            s.mount("https://", adapter)
            _sessions[kind] = s
        return _sessions[kind]


@functools.lru_cache(maxsize=1024)
def _proxies_for(scheme: str, netloc: str) -> dict[str, str]:
    """HTTP(S)_PROXY / NO_PROXY from the environment for this scheme and host (read once per host)."""
    return requests.utils.get_environ_proxies(f"{scheme}://{netloc}/", no_proxy=None)


def _proxies(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    return _proxies_for(parts.scheme, parts.netloc)


def _redact_headers(headers: Any, secrets: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for k, v in dict(headers).items():
        out[k] = REDACTED if k.lower() in SECRET_HEADERS else _redact(str(v), secrets)
    return out


def _redact(text: str, secrets: tuple[str, ...]) -> str:
    for s in secrets:
        if s and len(s) >= 4:
            text = text.replace(s, REDACTED)
    return text


def _truncate(text: str) -> str:
    return text if len(text) <= BODY_LIMIT else text[:BODY_LIMIT] + f"… [{len(text) - BODY_LIMIT} more bytes]"


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def send(
    kind: str,
    method: str,
    url: str,
    *,
    json: Any = None,
    data: Any = None,
    headers: dict[str, str] | None = None,
    auth: tuple[str, str] | None = None,
    params: dict[str, Any] | None = None,
    user_url: bool = False,
    secrets: tuple[str, ...] = (),
    dry_run: bool = False,
) -> Exchange:
    """Send one request and return its Exchange for 2xx; raise DeliveryError otherwise.

    `user_url=True` runs the SSRF guard (for URLs a user typed: webhooks, Slack hooks, warehouse hosts).
    `secrets` are values to blank out of the recorded request and response.
    `dry_run=True` (or an enclosing `capture(dry_run=True)`) prepares the request exactly, records it and
    returns its Exchange without sending it (status None).
    """
    if user_url:
        try:
            check_url(url)
        except UnsafeURL as exc:
            raise DeliveryError(str(exc), retryable=isinstance(exc, UnresolvableHost)) from exc
    hdrs = dict(headers or {})
    body: bytes | None = None
    if json is not None:
        body = orjson.dumps(json, option=orjson.OPT_NON_STR_KEYS)
        hdrs.setdefault("Content-Type", "application/json")
    req = requests.Request(method, url, data=body if body is not None else data, headers=hdrs, auth=auth, params=params)
    prepared = _session(kind).prepare_request(req)
    raw_body = prepared.body or b""
    body_text = raw_body.decode("utf-8", "replace") if isinstance(raw_body, bytes) else str(raw_body)
    exchange = Exchange(
        method=method,
        url=_redact(prepared.url or url, secrets),
        request_headers=_redact_headers(prepared.headers, secrets),
        request_body=_truncate(_redact(body_text, secrets)),
    )
    recorder = _capture.get()
    if recorder is not None:
        recorder.exchanges.append(exchange)
        dry_run = dry_run or recorder.dry_run
    if dry_run:
        return exchange
    started = time.monotonic()
    try:
        resp = _session(kind).send(
            prepared,
            timeout=(settings.OUTBOUND_CONNECT_TIMEOUT, settings.OUTBOUND_READ_TIMEOUT),
            allow_redirects=False,
            proxies=_proxies(prepared.url or url),
        )
    except requests.Timeout as exc:
        exchange.duration_ms = int((time.monotonic() - started) * 1000)
        raise DeliveryError(f"Timed out: {exc.__class__.__name__}", retryable=True, exchange=exchange) from exc
    except requests.RequestException as exc:
        exchange.duration_ms = int((time.monotonic() - started) * 1000)
        raise DeliveryError(f"Connection error: {exc.__class__.__name__}", retryable=True, exchange=exchange) from exc
    exchange.duration_ms = int((time.monotonic() - started) * 1000)
    exchange.status = resp.status_code
    exchange.response_headers = _redact_headers(resp.headers, secrets)
    exchange.response_body = _truncate(_redact(resp.text, secrets))
    if 200 <= resp.status_code < 300:
        return exchange
    retryable = resp.status_code in RETRYABLE_STATUSES or resp.status_code >= 500
    raise DeliveryError(
        f"HTTP {resp.status_code} from {urlsplit(url).hostname}",
        retryable=retryable,
        status=resp.status_code,
        exchange=exchange,
        retry_after=_retry_after(resp.headers.get("Retry-After")),
    )
