"""The one outbound HTTP module. No destination imports `requests` itself.

- keep-alive connection pools (one per process, shared by threads), connect/read timeouts, our User-Agent;
- the SSRF guard: user-supplied hosts resolving to private, loopback, link-local, multicast or reserved
  addresses are refused unless OUTBOUND_ALLOW_PRIVATE is on. The check runs on every send (DNS is
  re-resolved each time, so a name that later points inward is caught), and the connection goes to an
  address that check approved: the name is resolved once per send, so a rebinding DNS server cannot
  answer the connection's own lookup differently. Host header, TLS SNI and certificate verification
  stay on the name. (Through an HTTP(S)_PROXY the proxy resolves the name: see docs/security.md.)
- one classification: 2xx ok; 408, 423, 429, 5xx, timeouts and connection errors retryable (Retry-After
  read); any other status permanent;
- responses read streamed and capped at OUTBOUND_MAX_RESPONSE_BYTES after decompression (bounded, so a
  gzip bomb is never inflated); a larger one is a DeliveryError, the connection dropped;
- an Exchange record of the request and response with bodies truncated and secrets redacted.
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import functools
import ipaddress
import socket
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import SplitResult, urlencode, urlsplit

import certifi
import orjson
import requests
import urllib3
from django.conf import settings

from .errors import DeliveryError

USER_AGENT = "Pipelines/1.0 (+self-hosted data pipeline)"
BODY_LIMIT = 4096
RETRYABLE_STATUSES = frozenset({408, 423, 429})
# What a marketer reads beside the status of the statuses a wrong setting causes.
STATUS_HINTS = {
    401: ": the credentials were refused (check the API key or token)",
    403: ": access was refused (check the credentials and their permissions)",
    404: ": the address was not found (check the URL or region)",
}
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


def check_url(url: str) -> list[str]:
    """Raise UnsafeURL unless `url` is http(s) and every address its host resolves to is allowed.
    Returns the approved addresses, as check_host does."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeURL("The URL must start with http:// or https:// and name a host.")
    return check_host(parts.hostname, _port(parts))


def check_host(host: str, port: int) -> list[str]:
    """Raise UnsafeURL unless every address `host` resolves to is public (or OUTBOUND_ALLOW_PRIVATE is on).

    Returns the resolved addresses (empty when private addresses are allowed, as nothing was resolved),
    so a client can connect to exactly the address that was checked (`send` does; so does the warehouse)."""
    if settings.OUTBOUND_ALLOW_PRIVATE:
        return []
    if not host or host.startswith("/"):
        raise UnsafeURL("A local socket path is not allowed (OUTBOUND_ALLOW_PRIVATE is off).")
    addresses = resolve(host, port)
    for address in addresses:
        if not _is_public(ipaddress.ip_address(address)):
            raise UnsafeURL(
                f"The host {host} resolves to {address}, a private or local address; "
                "sending there is not allowed (OUTBOUND_ALLOW_PRIVATE is off)."
            )
    return addresses


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (one DNS lookup), in the resolver's order, without duplicates.
    Raises UnresolvableHost."""
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnresolvableHost(f"The host {host} cannot be resolved.") from exc
    addresses = list(dict.fromkeys(str(ipaddress.ip_address(str(info[4][0]).split("%")[0])) for info in infos))
    if not addresses:
        raise UnresolvableHost(f"The host {host} cannot be resolved.")
    return addresses


def _port(parts: SplitResult) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


def endpoint(kind: str, default: str) -> str:
    """The base URL for a vendor API: DESTINATION_ENDPOINTS[kind] when set (tests, proxies), else default."""
    configured: str = settings.DESTINATION_ENDPOINTS.get(kind, default)
    return configured.rstrip("/")




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


# One urllib3 pool manager per process (and one per proxy), shared by every thread: connections outlive
# the tasks and threads that opened them. urllib3 directly rather than through requests: the hot path
# sends thousands of small requests a second, and requests' per-request layers (prepare, environment
# and ~/.netrc lookups, cookie jars, adapters) were about half of a delivery worker's Python time. It
# keeps no cookies, which matters as much: destinations share it, and a Set-Cookie from one customer's
# endpoint must never travel to another's.
_pools: dict[str | None, urllib3.PoolManager] = {}
_pools_lock = threading.Lock()
DEFAULT_HEADERS = {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate", "Accept": "*/*",
                   "Connection": "keep-alive"}


def _pool(proxy: str | None) -> urllib3.PoolManager:
    pool = _pools.get(proxy)
    if pool is not None:
        return pool
    with _pools_lock:
        if proxy not in _pools:
            size = max(16, 2 * settings.DELIVERY_SEND_THREADS)
            options: dict[str, Any] = {"num_pools": 64, "maxsize": size, "block": False, "retries": False,
                                       "ca_certs": settings.OUTBOUND_CA_BUNDLE or certifi.where()}
            _pools[proxy] = urllib3.ProxyManager(proxy, **options) if proxy else urllib3.PoolManager(**options)
        return _pools[proxy]


def reset_pools() -> None:
    """Close and forget every connection pool (after settings that shape them change, e.g. in tests)."""
    with _pools_lock:
        for pool in _pools.values():
            pool.clear()
        _pools.clear()


@functools.lru_cache(maxsize=1024)
def _proxy_for(scheme: str, netloc: str) -> str | None:
    """The proxy from HTTP(S)_PROXY / ALL_PROXY / NO_PROXY for this scheme and host (read once per host)."""
    url = f"{scheme}://{netloc}/"
    return requests.utils.select_proxy(url, requests.utils.get_environ_proxies(url, no_proxy=None))


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
    # The addresses the SSRF guard approved; the connection goes to one of them (empty: not yet resolved).
    approved: list[str] = []
    if user_url:
        try:
            approved = check_url(url)
        except UnsafeURL as exc:
            raise DeliveryError(str(exc), retryable=isinstance(exc, UnresolvableHost)) from exc
    if params:
        query = urlencode([(k, v) for k, v in params.items() if v is not None], doseq=True)
        url = f"{url}{'&' if '?' in url else '?'}{query}" if query else url
    hdrs = urllib3.HTTPHeaderDict(DEFAULT_HEADERS)
    hdrs.update(headers or {})  # case-insensitive: a caller's content-type replaces ours
    body: bytes = b""
    if json is not None:
        body = orjson.dumps(json, option=orjson.OPT_NON_STR_KEYS)
        hdrs.setdefault("Content-Type", "application/json")
    elif isinstance(data, dict):
        body = urlencode(data, doseq=True).encode()
        hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
    elif data is not None:
        body = data.encode() if isinstance(data, str) else bytes(data)
    if auth is not None:
        hdrs["Authorization"] = _basic_auth(*auth)
    if body or method not in ("GET", "HEAD", "OPTIONS", "DELETE"):
        hdrs["Content-Length"] = str(len(body))
    exchange = Exchange(
        method=method,
        url=_redact(url, secrets),
        request_headers=_redact_headers(hdrs, secrets),
        request_body=_truncate(_redact(body.decode("utf-8", "replace"), secrets)),
    )
    recorder = _capture.get()
    if recorder is not None:
        recorder.exchanges.append(exchange)
        dry_run = dry_run or recorder.dry_run
    if dry_run:
        return exchange
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DeliveryError(f"Not a valid http(s) URL: {exchange.url}", retryable=False, exchange=exchange)
    timeout = urllib3.Timeout(connect=settings.OUTBOUND_CONNECT_TIMEOUT, read=settings.OUTBOUND_READ_TIMEOUT)
    proxy = _proxy_for(parts.scheme, parts.netloc)
    started = time.monotonic()
    try:
        if user_url and proxy is None:
            if not approved:  # OUTBOUND_ALLOW_PRIVATE: nothing was checked, but still one lookup per send
                try:
                    approved = resolve(parts.hostname, _port(parts))
                except UnresolvableHost as exc:
                    raise DeliveryError(str(exc), retryable=True, exchange=exchange) from exc
            resp = _open_pinned(method, parts, approved, body, hdrs, timeout)
        else:
            resp = _pool(proxy).request(
                method, url, body=body or None, headers=hdrs, timeout=timeout, redirect=False, retries=False,
                preload_content=False)
        try:
            raw_body = _read_capped(resp, settings.OUTBOUND_MAX_RESPONSE_BYTES)
        except ResponseTooLarge as exc:
            resp.close()  # the rest is never read: this connection cannot serve another request
            exchange.duration_ms = int((time.monotonic() - started) * 1000)
            exchange.status = resp.status
            exchange.response_headers = _redact_headers(resp.headers, secrets)
            exchange.response_body = f"[not kept: {exc}]"
            raise DeliveryError(
                f"The response from {parts.hostname} (HTTP {resp.status}) is larger than {exc}",
                retryable=resp.status in RETRYABLE_STATUSES or resp.status >= 500,
                status=resp.status, exchange=exchange,
            ) from exc
        finally:
            resp.release_conn()
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        exchange.duration_ms = int((time.monotonic() - started) * 1000)
        raise DeliveryError(describe_connection_error(exc, parts.hostname, _port(parts)), retryable=True,
                            exchange=exchange) from exc
    exchange.duration_ms = int((time.monotonic() - started) * 1000)
    status = resp.status
    exchange.status = status
    exchange.response_headers = _redact_headers(resp.headers, secrets)
    exchange.response_body = _truncate(_redact(_text(resp, raw_body), secrets))
    if 200 <= status < 300:
        return exchange
    retryable = status in RETRYABLE_STATUSES or status >= 500
    raise DeliveryError(
        f"HTTP {status} from {parts.hostname}{STATUS_HINTS.get(status, '')}",
        retryable=retryable,
        status=status,
        exchange=exchange,
        retry_after=_retry_after(resp.headers.get("Retry-After")),
    )


# A name with many addresses: how many of the approved ones are tried when connecting is refused.
PINNED_ATTEMPTS = 3


def _open_pinned(method: str, parts: SplitResult, addresses: list[str], body: bytes,
                 headers: urllib3.HTTPHeaderDict, timeout: urllib3.Timeout) -> urllib3.BaseHTTPResponse:
    """Send to one of `addresses` (the ones the SSRF guard approved for `parts.hostname`), never looking
    the name up again. The request still names the host: Host header, TLS SNI and certificate
    verification use `parts.hostname`. Pools are keyed by (address, port, name), so connections are
    shared only by requests for the same name at the same address. An address that refuses the
    connection gives way to the next one (nothing was sent yet); a connect timeout does not."""
    host = parts.hostname or ""
    port = _port(parts)
    headers = headers.copy()
    bracketed = f"[{host}]" if ":" in host else host
    headers["Host"] = bracketed if parts.port in (None, 443 if parts.scheme == "https" else 80) \
        else f"{bracketed}:{parts.port}"
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    pool_kwargs = {"server_hostname": host, "assert_hostname": host} if parts.scheme == "https" else None
    refused: urllib3.exceptions.NewConnectionError | None = None
    for address in addresses[:PINNED_ATTEMPTS]:
        pool = _pool(None).connection_from_host(address, port, parts.scheme, pool_kwargs=pool_kwargs)
        try:
            return pool.urlopen(method, target, body=body or None, headers=headers, timeout=timeout,
                                redirect=False, retries=False, preload_content=False, assert_same_host=False,
                                release_conn=False)
        except urllib3.exceptions.NewConnectionError as exc:
            if isinstance(exc, urllib3.exceptions.NameResolutionError):
                raise
            refused = exc
    assert refused is not None  # addresses is never empty: resolve() raises instead
    raise refused


def _basic_auth(username: str, password: str) -> str:
    raw = f"{username}:{password}"
    try:
        encoded = raw.encode("latin-1")  # what HTTP clients (requests, curl) send for Basic credentials
    except UnicodeEncodeError:
        encoded = raw.encode("utf-8")
    return "Basic " + base64.b64encode(encoded).decode("ascii")


class ResponseTooLarge(Exception):
    """A response body (decompressed) went over OUTBOUND_MAX_RESPONSE_BYTES; str() says so in words."""


READ_CHUNK = 64 * 1024


def _read_capped(resp: urllib3.BaseHTTPResponse, limit: int) -> bytes:
    """The response body, decoded (gzip, deflate), streamed: never more than `limit` bytes of it are held.

    Decompression is bounded too: zlib produces at most the bytes still allowed from each raw chunk of at
    most READ_CHUNK bytes, so a gzip bomb stops at `limit` + 1 bytes instead of inflating in memory (a
    shared worker serves every destination). An encoding we did not ask for is kept as it came.
    Raises ResponseTooLarge past `limit`."""
    decoder = _Decoder(resp.headers.get("Content-Encoding", ""))
    body = bytearray()
    for raw in resp.stream(READ_CHUNK, decode_content=False):
        try:
            body += decoder.decompress(raw, limit - len(body) + 1)
        except zlib.error as exc:  # as urllib3 reports it: a broken response, retried like one
            raise urllib3.exceptions.DecodeError(f"Content-Encoding {decoder.kind}: {exc}") from exc
        if len(body) > limit:
            raise ResponseTooLarge(f"OUTBOUND_MAX_RESPONSE_BYTES ({limit} bytes)")
    return bytes(body)


class _Decoder:
    """gzip (several members too) and deflate (zlib-wrapped or raw), each call bounded by `max_length`."""

    def __init__(self, content_encoding: str) -> None:
        self.kind = content_encoding.strip().lower()
        self._zlib = self._new()
        self._first = True

    def _new(self, wbits: int | None = None) -> Any:
        if self.kind in ("gzip", "x-gzip"):
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        if self.kind == "deflate":
            return zlib.decompressobj(zlib.MAX_WBITS if wbits is None else wbits)
        return None

    def decompress(self, data: bytes, max_length: int) -> bytes:
        if self._zlib is None:
            return data[:max_length]
        out = bytearray()
        while data and len(out) < max_length:
            try:
                out += self._zlib.decompress(data, max_length - len(out))
            except zlib.error:
                if not (self._first and self.kind == "deflate"):
                    raise
                self._zlib = self._new(-zlib.MAX_WBITS)  # a server sending raw deflate, as some do
                self._first = False
                continue
            self._first = False
            if self._zlib.unconsumed_tail:  # max_length reached with input left: the caller stops
                break
            data = self._zlib.unused_data if self._zlib.eof else b""
            if data:  # another gzip member follows
                self._zlib = self._new()
        return bytes(out)


def _text(resp: urllib3.BaseHTTPResponse, data: bytes) -> str:
    charset = "utf-8"
    content_type = resp.headers.get("Content-Type", "")
    for part in content_type.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.lower() == "charset" and value:
            charset = value.strip('"')
    try:
        return data.decode(charset, "replace")
    except LookupError:  # an unknown charset name
        return data.decode("utf-8", "replace")


def _causes(exc: BaseException) -> Iterator[BaseException]:
    cause: BaseException | None = exc
    seen: set[int] = set()
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        yield cause
        cause = cause.__context__ if cause.__cause__ is None else cause.__cause__


def describe_connection_error(exc: BaseException, host: str, port: int) -> str:
    """What happened, in words, for a request that got no HTTP answer: the name did not resolve, the
    connection was refused, it timed out connecting or waiting, TLS failed, or the server hung up.
    Every message starts with "Connection error: " or "Timed out ", so callers can still tell them apart
    from an HTTP status. Urllib3 files a refused or unresolvable connection under its connect-timeout
    class; the reason is read from the underlying OS error instead, so a DNS failure that took 0.3 s is
    never reported as a 5 s timeout."""
    causes = list(_causes(exc))
    for cause in causes:
        if isinstance(cause, (socket.gaierror, urllib3.exceptions.NameResolutionError)):
            detail = next((c.strerror for c in causes if isinstance(c, socket.gaierror) and c.strerror), "")
            return (f"Connection error: the name {host} could not be resolved (DNS lookup failed"
                    f"{': ' + detail if detail else ''})")
    for cause in causes:
        if isinstance(cause, ConnectionRefusedError):
            return f"Connection error: Connection refused by {host} on port {port} (nothing accepts connections there)"
    for cause in causes:
        if isinstance(cause, urllib3.exceptions.SSLError) or cause.__class__.__name__.startswith("SSL"):
            return f"Connection error: the TLS handshake with {host} failed ({_short(cause)})"
    if isinstance(exc, urllib3.exceptions.ReadTimeoutError):
        return (f"Timed out waiting for the response from {host} "
                f"(connected, but no answer within {settings.OUTBOUND_READ_TIMEOUT:g} s)")
    if isinstance(exc, urllib3.exceptions.NewConnectionError):  # unreachable network, no route...
        return f"Connection error: could not connect to {host} on port {port} ({_connection_reason(exc)})"
    if isinstance(exc, urllib3.exceptions.ConnectTimeoutError):
        return (f"Timed out connecting to {host} on port {port} "
                f"(no answer within {settings.OUTBOUND_CONNECT_TIMEOUT:g} s)")
    if isinstance(exc, urllib3.exceptions.TimeoutError):
        return f"Timed out waiting for the response from {host} (after {settings.OUTBOUND_READ_TIMEOUT:g} s)"
    for cause in causes:
        if isinstance(cause, (ConnectionResetError, BrokenPipeError)) or \
                cause.__class__.__name__ == "RemoteDisconnected":
            return f"Connection error: {host} closed the connection without answering"
    return f"Connection error: {_connection_reason(exc)}"


def _short(exc: BaseException) -> str:
    text = getattr(exc, "reason", None) or exc
    return str(text).split("\n")[0][:200]


def _connection_reason(exc: BaseException) -> str:
    """A short reason without the connection object's repr: "Network is unreachable", "DecodeError"..."""
    for cause in _causes(exc):
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror
    reason = getattr(exc, "reason", None)
    return reason.__class__.__name__ if isinstance(reason, BaseException) else exc.__class__.__name__
