"""The Segment / Customer.io Data Pipelines compatible tracking API (/v1/*).

Plain Django views on purpose: this is the hot path, and a DRF view costs ~20% more per request here.
Every response is JSON; success is exactly 200 `{"success": true}` and is only sent once the events are
committed. Errors carry `code` and `message` (clients crash on other shapes) and the status tells clients
what to do: 400 drop, 401 unknown key, 429 back off (Retry-After), 503 retry later.
"""

from __future__ import annotations

import logging
import zlib
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import orjson
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DataError, IntegrityError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from connections.models import Destination, DestinationMode

from . import auth, authguard, cors, group_commit, ratelimit
from .client_ip import client_ip
from .normalize import Envelope, normalize
from .services import store_events
from .validation import MAX_EVENT_BYTES, MAX_REQUEST_BYTES, envelope_errors, message_errors

log = logging.getLogger(__name__)

SUCCESS = b'{"success":true}'
# Error lists are capped so a 2,500-item batch of garbage does not produce a megabyte of errors.
MAX_REPORTED_ERRORS = 200


class Rejected(Exception):
    """A request we answer with an error; carries the response."""

    def __init__(self, response: HttpResponse) -> None:
        self.response = response


def error(status: int, code: str, message: str, errors: list[dict[str, Any]] | None = None) -> HttpResponse:
    """A JSON error response `{code, message[, errors]}` readable from any origin."""
    body: dict[str, Any] = {"code": code, "message": message}
    if errors is not None:
        body["errors"] = errors
    response = HttpResponse(orjson.dumps(body), status=status, content_type="application/json")
    return cors.add_headers(response)


def _not_allowed(allow: str) -> HttpResponse:
    response = error(405, "method_not_allowed", f"Use {allow.split(',')[0]}.")
    response["Allow"] = allow
    return response


def _read_body(request: HttpRequest, limit: int) -> bytes:
    """The request body, gunzipped when Content-Encoding says so, at most `limit` bytes once decoded."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise _too_big(limit)
    try:
        raw = request.body
    except RequestDataTooBig:
        raise _too_big(limit) from None
    encoding = (request.META.get("HTTP_CONTENT_ENCODING") or "").strip().lower()
    if encoding in ("gzip", "x-gzip", "deflate"):
        # wbits 47 accepts gzip and zlib headers; max_length stops decompression bombs early.
        decompressor = zlib.decompressobj(47)
        try:
            raw = decompressor.decompress(raw, limit + 1)
        except zlib.error:
            raise Rejected(error(400, "invalid_encoding", "The body is not valid gzip data.")) from None
        if len(raw) > limit or decompressor.unconsumed_tail:
            raise _too_big(limit)
        if not decompressor.eof:
            raise Rejected(error(400, "invalid_encoding", "The gzip body is truncated."))
    elif encoding not in ("", "identity"):
        raise Rejected(error(400, "invalid_encoding", f"Unsupported Content-Encoding {encoding!r}; use gzip."))
    if len(raw) > limit:
        raise _too_big(limit)
    return raw


def _too_big(limit: int) -> Rejected:
    return Rejected(error(400, "payload_too_large", f"The request body is larger than {limit // 1024} KB."))


def _parse(raw: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise Rejected(error(400, "invalid_json", f"The body is not valid JSON: {exc}.")) from None
    if not isinstance(body, dict):
        raise Rejected(error(400, "invalid_json", "The body must be a JSON object."))
    return body


def _unauthorized(message: str) -> Rejected:
    return Rejected(error(401, "unauthorized", message))


def _authenticate(header_key: str | None, body: dict[str, Any] | None, ip: str | None) -> Any:
    key = header_key if header_key else (auth.key_from_body(body) if body is not None else None)
    if not key:
        raise _unauthorized(
            "Missing write key: send it as the HTTP Basic username, a Bearer token, or writeKey in the body."
        )
    return _resolve_guarded(key, ip)


def _resolve_guarded(key: str, ip: str | None) -> Any:
    """The source of `key`; 401 for an unknown key, 429 once this IP failed too often (see authguard)."""
    source = auth.cached(key)
    if source is not None:
        return source  # a known key works whatever its IP did: no need to consult the guard's counters
    scope = authguard.ip_scope(ip)
    retry_after = authguard.blocked(scope)
    source = auth.resolve(key) if retry_after is None else auth.cached(key)
    if source is None:
        if retry_after is not None:
            response = error(429, "too_many_auth_failures",
                             f"Too many requests with unknown write keys from your address; retry in {retry_after} s.")
            response["Retry-After"] = str(retry_after)
            raise Rejected(response)
        authguard.record_failure(scope)
        raise _unauthorized("Unknown or disabled write key.")
    return source


def _rate_limit(source: Any) -> None:
    retry_after = ratelimit.check(source.id)
    if retry_after is not None:
        response = error(429, "rate_limited", f"Too many requests for this source; retry in {retry_after} s.")
        response["Retry-After"] = str(retry_after)
        response["X-RateLimit-Reset"] = str(ratelimit.reset_time(retry_after))
        raise Rejected(response)


def _invalid(errors: list[dict[str, Any]], total: int | None) -> Rejected:
    if total is None:
        message = errors[0]["message"]
    else:
        bad = len({e["index"] for e in errors})
        message = f"{bad} of {total} messages are invalid; nothing was stored."
    return Rejected(error(400, "invalid_request", message, errors[:MAX_REPORTED_ERRORS]))


def _accept(request: HttpRequest, type_: str | None) -> HttpResponse:
    """Authenticate, validate, normalize and store one request; raise Rejected for any refusal."""
    received_at = datetime.now(UTC)
    ip = client_ip(request.META)
    header_key = auth.key_from_headers(request.META)
    source = _authenticate(header_key, None, ip) if header_key else None
    if source is not None:
        _rate_limit(source)
    is_batch = type_ is None
    raw = _read_body(request, MAX_REQUEST_BYTES if is_batch else MAX_EVENT_BYTES)
    body = _parse(raw)
    if source is None:
        source = _authenticate(None, body, ip)
        _rate_limit(source)

    if not is_batch:
        problems = message_errors(body, type_)
        if problems:
            raise _invalid([{"field": f, "message": m} for f, m in problems], None)
        messages = [normalize(body, type_, Envelope(received_at, ip))]
    else:
        problems = envelope_errors(body)
        if problems:
            raise _invalid([{"field": f, "message": m} for f, m in problems], None)
        items = body["batch"]
        errors: list[dict[str, Any]] = []
        check_size = len(raw) > MAX_EVENT_BYTES
        for index, item in enumerate(items):
            for field, message in message_errors(item, None):
                errors.append({"index": index, "field": field, "message": message})
            if check_size and isinstance(item, dict) and len(orjson.dumps(item)) > MAX_EVENT_BYTES:
                errors.append({"index": index, "field": "", "message": "The message is larger than 32 KB."})
        if errors:
            raise _invalid(errors, len(items))
        envelope = Envelope(received_at, ip, body.get("context"), body.get("integrations"), body.get("sentAt"))
        messages = [normalize(item, None, envelope) for item in items]

    try:
        if group_commit.enabled():
            group_commit.writer.store(source, messages, received_at)
        else:
            store_events(source, messages, received_at)
    except (DataError, IntegrityError) as exc:  # e.g. a \u0000 in a string, which PostgreSQL's jsonb refuses
        # The content's fault, not the store's: 400, so the client drops it rather than retry it forever.
        raise Rejected(error(400, "invalid_request", f"The message cannot be stored: {exc}".strip())) from None
    return cors.add_headers(HttpResponse(SUCCESS, content_type="application/json"))


def _handle(request: HttpRequest, type_: str | None) -> HttpResponse:
    if request.method == "OPTIONS":
        return cors.preflight(request)
    if request.method != "POST":
        return _not_allowed("POST, OPTIONS")
    try:
        return _accept(request, type_)
    except Rejected as rejected:
        return rejected.response
    except (OperationalError, InterfaceError):
        # Never acknowledge what we could not store: 503 makes every official client retry.
        log.warning("event store unavailable; answering 503", exc_info=True)
        return error(503, "unavailable", "The event store is temporarily unavailable; retry later.")


@csrf_exempt
def single(request: HttpRequest, type_: str) -> HttpResponse:
    """POST /v1/{identify,track,page,screen,group,alias} (and the browser's short forms)."""
    return _handle(request, type_)


@csrf_exempt
def batch(request: HttpRequest) -> HttpResponse:
    """POST /v1/batch, /v1/b, /v1/import: `{"batch": [...], "context"?, "integrations"?, "sentAt"?}`."""
    return _handle(request, None)


@csrf_exempt
def metrics(request: HttpRequest) -> HttpResponse:
    """POST /v1/m: the browser library's own telemetry. Accepted and dropped (also the benchmark's no-op)."""
    if request.method == "OPTIONS":
        return cors.preflight(request)
    if request.method != "POST":
        return _not_allowed("POST, OPTIONS")
    return cors.add_headers(HttpResponse(SUCCESS, content_type="application/json"))


@csrf_exempt
def browser_settings(request: HttpRequest, write_key: str) -> HttpResponse:
    """GET /v1/projects/{writeKey}/settings: what analytics-next loads before sending anything.

    Points the `Segment.io` and `Customer.io Data Pipelines` integrations at this server, and lists the
    browser settings of each enabled direct-mode destination connected to the source.
    """
    if request.method == "OPTIONS":
        return cors.preflight(request, "GET, OPTIONS")
    if request.method not in ("GET", "HEAD"):
        return _not_allowed("GET, OPTIONS")
    try:
        try:
            source = _resolve_guarded(write_key, client_ip(request.META))
        except Rejected as rejected:
            if rejected.response.status_code == 429:
                return rejected.response
            return error(404, "not_found", "No enabled source has this write key.")
        integrations = {**_our_integrations(request, write_key), **_direct_destinations(source)}
    except (OperationalError, InterfaceError):
        log.warning("database unavailable for browser settings", exc_info=True)
        return error(503, "unavailable", "Settings are temporarily unavailable; retry later.")
    body = {
        "integrations": integrations,
        "plan": {
            "track": {"__default": {"enabled": True, "integrations": {}}},
            "identify": {"__default": {"enabled": True}},
            "group": {"__default": {"enabled": True}},
        },
        "metrics": {"sampleRate": 0},
        "enabledMiddleware": {},
        "middlewareSettings": {},
        "remotePlugins": [],
    }
    response = HttpResponse(orjson.dumps(body), content_type="application/json")
    response["Cache-Control"] = "public, max-age=60"
    return cors.add_headers(response)


def _our_integrations(request: HttpRequest, write_key: str) -> dict[str, Any]:
    base = settings.PUBLIC_URL or f"{request.scheme}://{request.get_host()}"
    parts = urlsplit(base)
    entry = {
        "apiKey": write_key,
        "apiHost": parts.netloc + parts.path.rstrip("/") + "/v1",
        "protocol": parts.scheme or "https",
    }
    return {"Segment.io": entry, "Customer.io Data Pipelines": dict(entry)}


def _direct_destinations(source: Any) -> dict[str, Any]:
    """The browser settings of the source's direct-mode destinations. This answer is public (anyone with
    the website's write key reads it), so it is built from the plain `config` only: the encrypted
    secrets are not even loaded, and nothing here can decrypt them."""
    destinations = Destination.objects.filter(
        workspace_id=source.workspace_id,
        enabled=True,
        mode=DestinationMode.DIRECT,
        connections__source_id=source.id,
        connections__enabled=True,
    ).only("id", "kind", "config").order_by("id")
    found: dict[str, Any] = {}
    for destination in destinations:
        try:
            definition = destination.definition
        except KeyError:  # a type removed from the catalog: nothing the browser could load
            continue
        public = definition.public_settings(destination.config)
        if public is not None:
            found[definition.browser_integration] = public
    return found
