"""Track API endpoints: Customer.io's routes, status codes and bodies, backed by store_events.

v1 answers 200 `{}`, 400 `{"meta": {"errors": [...]}}` (merge_customers also carries `meta.error`, as its
OpenAPI entry documents), 401. v2 answers 200 `{}`, 400 `{"errors": [{reason, field, message}]}`, 401, and
for a batch with some bad items 207 `{"errors": [{batch_index, reason, field, message}]}` after storing
the good ones. Nothing here answers 500 for bad input; a database outage answers 503 so clients retry.
"""

from __future__ import annotations

import ipaddress
import logging
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from typing import Any
from urllib.parse import unquote

import orjson
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from connections.models import Source
from ingest import authguard, ratelimit
from ingest.services import store_events

from . import messages as m
from . import operations as ops
from . import validation as v
from .auth import authenticate
from .errors import TrackError
from .messages import CallContext

log = logging.getLogger(__name__)

UNAUTHORIZED = "Unauthorized request. Make sure that you provided the right credentials."
View = Callable[..., HttpResponse]


# --- responses -----------------------------------------------------------------------------------------


def _json(body: Any, status: int = 200, **headers: str) -> HttpResponse:
    response = HttpResponse(orjson.dumps(body), status=status, content_type="application/json")
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _error(version: str, status: int, errors: list[TrackError], *, singular: bool = False) -> HttpResponse:
    if version == "v2":
        return _json({"errors": [e.as_v2() for e in errors]}, status)
    meta: dict[str, Any] = {"errors": [e.message for e in errors]}
    if singular:
        meta["error"] = errors[0].message
    return _json({"meta": meta}, status)


def _too_many(version: str, retry_after: int, message: str) -> HttpResponse:
    response = _error(version, 429, [TrackError(f"{message} Retry in {retry_after} s.", reason="rate_limited")])
    response["Retry-After"] = str(retry_after)
    return response


def _unauthorized(version: str) -> HttpResponse:
    response = _error(version, 401, [TrackError(UNAUTHORIZED, reason="unauthorized")])
    response["WWW-Authenticate"] = 'Basic realm="Track API"'
    return response


# --- request plumbing ----------------------------------------------------------------------------------


def _trusted(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for network in settings.TRUSTED_PROXIES:
        try:
            if ip in ipaddress.ip_network(network, strict=False):
                return True
        except ValueError:
            continue
    return False


def client_ip(request: HttpRequest) -> str | None:
    """The caller's address; X-Forwarded-For is believed only when it came through TRUSTED_PROXIES."""
    remote = request.META.get("REMOTE_ADDR") or None
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if remote and forwarded and _trusted(remote):
        for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
            if not _trusted(hop):
                return hop
    return remote


def _read_body(request: HttpRequest, limit: int) -> bytes:
    length = request.META.get("CONTENT_LENGTH") or "0"
    if length.isdigit() and int(length) > limit:
        raise TrackError(f"request body is larger than {limit} bytes", reason="too_large")
    try:
        raw = request.body
    except RequestDataTooBig:
        raise TrackError(f"request body is larger than {limit} bytes", reason="too_large") from None
    if request.META.get("HTTP_CONTENT_ENCODING", "").lower() == "gzip" and raw:
        inflater = zlib.decompressobj(wbits=31)
        try:
            raw = inflater.decompress(raw, limit + 1)
        except zlib.error:
            raise TrackError("request body is not valid gzip") from None
    if len(raw) > limit:
        raise TrackError(f"request body is larger than {limit} bytes", reason="too_large")
    return raw


def _parse_object(request: HttpRequest, limit: int, *, optional: bool = False) -> dict[str, Any]:
    """The JSON object in the body; an empty body is `{}` when `optional`."""
    raw = _read_body(request, limit)
    if not raw.strip():
        if optional:
            return {}
        raise TrackError("request body must be a JSON object", reason="required")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise TrackError(f"request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise TrackError("request body must be a JSON object")
    return body


def _call(request: HttpRequest, version: str) -> CallContext:
    return CallContext(
        received_at=datetime.now(UTC), api_version=version, ip=client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT") or None,
    )


def _store(source: Source, call: CallContext, messages: list[dict[str, Any]], version: str) -> HttpResponse | None:
    """Store durably; None when done, else the 503 to answer (clients retry 5xx)."""
    try:
        store_events(source, messages, call.received_at)
    except DatabaseError:
        log.exception("could not store Track API events for source %s", source.pk)
        return _error(version, 503, [TrackError("temporarily unable to store data, retry later",
                                                reason="unavailable")])
    return None


def track_endpoint(methods: tuple[str, ...], version: str = "v1", *, singular_error: bool = False
                   ) -> Callable[[View], View]:
    """Method check (405), credentials (401), TrackError → 400 in the version's shape."""

    def decorate(view: View) -> View:
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                response = _error(version, 405, [TrackError(f"method {request.method} is not allowed here")])
                response["Allow"] = ", ".join(methods)
                return response
            # Same brute-force guard and per-source rate limit as the /v1 API (ingest/authguard.py,
            # ingest/ratelimit.py): a blocked address gets 429 without any credential lookup.
            scope = authguard.ip_scope(client_ip(request))
            retry_after = authguard.blocked(scope)
            if retry_after is not None:
                return _too_many(version, retry_after, "Too many failed authentications from your address.")
            source = authenticate(request.META.get("HTTP_AUTHORIZATION", ""))
            if source is None:
                authguard.record_failure(scope)
                return _unauthorized(version)
            retry_after = ratelimit.check(source.id)
            if retry_after is not None:
                response = _too_many(version, retry_after, "Too many requests for this source.")
                response["X-RateLimit-Reset"] = str(ratelimit.reset_time(retry_after))
                return response
            try:
                return view(request, source, *args, **kwargs)
            except TrackError as exc:
                return _error(version, 400, [exc], singular=singular_error)

        return wrapper

    return decorate


def _accept(request: HttpRequest, source: Source, build: Callable[[CallContext], list[dict[str, Any]]],
            *, status: int = 200) -> HttpResponse:
    """Build the messages of a v1 call, store them, answer 200 `{}` (or 204 with no body)."""
    call = _call(request, "v1")
    messages = v.storable(build(call))
    failure = _store(source, call, messages, "v1")
    if failure:
        return failure
    return HttpResponse(status=204) if status == 204 else _json({}, status)


# --- v1 ------------------------------------------------------------------------------------------------


@track_endpoint(("GET",))
def region(request: HttpRequest, source: Source) -> HttpResponse:
    """Credentials check: where to send Track API calls (this server), the region, the workspace."""
    base = settings.PUBLIC_URL.rstrip("/") or request.build_absolute_uri("/").rstrip("/")
    return _json({"url": base, "region": "us", "environment_id": source.workspace_id})


@track_endpoint(("PUT", "DELETE", "POST"))
def customers(request: HttpRequest, source: Source, rest: str) -> HttpResponse:
    """Everything under /api/v1/customers/: the identifier may itself contain "/" (sent as %2F)."""
    identifier, sub = _split_customer_path(request, rest)
    method = request.method
    if sub == [] and method in ("PUT", "DELETE"):
        if method == "PUT":
            body = _parse_object(request, v.MAX_V1_BODY_BYTES, optional=True)
            return _accept(request, source, lambda call: ops.v1_identify(call, identifier, body))
        _parse_object(request, v.MAX_V1_BODY_BYTES, optional=True)
        return _accept(request, source, lambda call: ops.v1_semantic(call, identifier, m.USER_DELETED))
    if sub == ["events"] and method == "POST":
        body = _parse_object(request, v.MAX_V1_BODY_BYTES)
        return _accept(request, source, lambda call: ops.v1_person_event(call, identifier, body))
    if sub == ["devices"] and method == "PUT":
        body = _parse_object(request, v.MAX_V1_BODY_BYTES)
        return _accept(request, source, lambda call: ops.v1_device_put(call, identifier, body))
    if len(sub) == 2 and sub[0] == "devices" and method == "DELETE":
        return _accept(request, source, lambda call: ops.v1_device_delete(call, identifier, sub[1]))
    if sub in (["suppress"], ["unsuppress"]) and method == "POST":
        event = m.USER_SUPPRESSED if sub == ["suppress"] else m.USER_UNSUPPRESSED
        return _accept(request, source, lambda call: ops.v1_semantic(call, identifier, event))
    allowed = {(): "PUT, DELETE", ("events",): "POST", ("devices",): "PUT", ("suppress",): "POST",
               ("unsuppress",): "POST"}.get(tuple(sub), "DELETE" if sub[:1] == ["devices"] else "")
    if not allowed:
        return _error("v1", 404, [TrackError(f"no such Track API route: customers/…/{'/'.join(sub)}")])
    response = _error("v1", 405, [TrackError(f"method {method} is not allowed here")])
    response["Allow"] = allowed
    return response


_SUFFIXES = (["events"], ["suppress"], ["unsuppress"], ["devices"])


def _split_customer_path(request: HttpRequest, rest: str) -> tuple[str, list[str]]:
    """(identifier, the route segments after it) for a path under /api/v1/customers/.

    When the server hands us the raw request path, its segments are split before percent-decoding, so
    an identifier such as "a/b" (sent as a%2Fb) is exact. Otherwise (the decoded path only) the known
    route suffixes are matched from the right for the request method.
    """
    raw = _raw_path(request)
    marker = "/api/v1/customers/"
    if raw and marker in raw:
        segments = [unquote(s) for s in raw.split(marker, 1)[1].split("/")]
        return segments[0], segments[1:]
    parts = rest.split("/")
    method = request.method
    if method == "DELETE" and "devices" in parts[1:-1]:
        # The leftmost "devices": device tokens may contain "/" more often than ids contain "/devices/".
        at = parts.index("devices", 1)
        return "/".join(parts[:at]), ["devices", "/".join(parts[at + 1:])]
    for suffix in _SUFFIXES:
        wanted = "PUT" if suffix == ["devices"] else "POST"
        if method == wanted and len(parts) > 1 and parts[-1] == suffix[0]:
            return "/".join(parts[:-1]), suffix
    if method == "POST":  # POST needs one of the suffixes: report the unknown route
        return "/".join(parts[:-1]) or rest, parts[-1:]
    return rest, []


def _raw_path(request: HttpRequest) -> str | None:
    """The undecoded request path, when the server provides it (gunicorn RAW_URI, uWSGI REQUEST_URI,
    ASGI raw_path)."""
    raw = request.META.get("RAW_URI") or request.META.get("REQUEST_URI")
    scope = getattr(request, "scope", None)
    if not raw and isinstance(scope, dict) and scope.get("raw_path"):
        raw = scope["raw_path"].decode("latin-1")
    if not raw:
        return None
    return raw.split("?", 1)[0]


@track_endpoint(("POST",))
def anonymous_events(request: HttpRequest, source: Source) -> HttpResponse:
    body = _parse_object(request, v.MAX_V1_BODY_BYTES)
    return _accept(request, source, lambda call: ops.v1_anonymous_event(call, body))


@track_endpoint(("POST",), singular_error=True)
def merge_customers(request: HttpRequest, source: Source) -> HttpResponse:
    body = _parse_object(request, v.MAX_V1_BODY_BYTES)
    return _accept(request, source, lambda call: ops.v1_merge(call, body))


@track_endpoint(("POST",))
def metrics(request: HttpRequest, source: Source) -> HttpResponse:
    """Delivery metrics of any channel → track "Report Delivery Event". Customer.io takes this call
    without credentials; we need them to know which source the event belongs to."""
    body = _parse_object(request, v.MAX_V1_BODY_BYTES)
    return _accept(request, source, lambda call: ops.v1_metric(call, body))


@track_endpoint(("POST",))
def push_events(request: HttpRequest, source: Source) -> HttpResponse:
    """Push metrics (/api/v1/push/events, also served at /push/events) → track "Report Delivery Event"."""
    body = _parse_object(request, v.MAX_V1_BODY_BYTES)
    return _accept(request, source, lambda call: ops.v1_push_event(call, body))


@track_endpoint(("POST",))
def segment_customers(request: HttpRequest, source: Source, segment_id: str, change: str) -> HttpResponse:
    """Manual segment membership → one "Added to / Removed from Manual Segment" event per person."""
    body = _parse_object(request, v.MAX_V1_BODY_BYTES)
    id_type = request.GET.get("id_type")
    return _accept(request, source, lambda call: ops.v1_segment(call, segment_id, id_type, body,
                                                                added=change == "add_customers"))


@track_endpoint(("POST",))
def form_submit(request: HttpRequest, source: Source, form_id: str) -> HttpResponse:
    """A form submission → track "Form Submitted"; 204 like Customer.io."""
    body = _parse_object(request, v.MAX_V1_BODY_BYTES)
    return _accept(request, source, lambda call: ops.v1_form(call, form_id, body), status=204)


@csrf_exempt
def unknown_route(request: HttpRequest, **_: Any) -> HttpResponse:
    """Any other path under a Track API prefix: 404 in the v1 error shape (the one the official clients
    read), whatever the method and credentials."""
    return _error("v1", 404, [TrackError(f"no such Track API route: {request.method} {request.path}",
                                         reason="not_found")])


# --- v2 ------------------------------------------------------------------------------------------------


@track_endpoint(("POST",), "v2")
def entity(request: HttpRequest, source: Source) -> HttpResponse:
    body = _parse_object(request, v.MAX_ENTITY_BYTES)
    call = _call(request, "v2")
    messages = v.storable(ops.v2_operation(call, body))
    return _store(source, call, messages, "v2") or _json({})


@track_endpoint(("POST",), "v2")
def batch(request: HttpRequest, source: Source) -> HttpResponse:
    """Every valid item is stored; invalid ones are reported by index (207). Nothing valid → 400."""
    body = _parse_object(request, v.MAX_BATCH_BYTES)
    items = body.get("batch")
    if not isinstance(items, list):
        raise TrackError("batch must be an array of operations", field="batch",
                         reason="required" if items is None else "invalid")
    if not items:
        raise TrackError("batch must contain at least one operation", field="batch", reason="required")
    call = _call(request, "v2")
    messages: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        try:
            if isinstance(item, dict) and len(orjson.dumps(item)) > v.MAX_ENTITY_BYTES:
                raise TrackError(f"operation is larger than {v.MAX_ENTITY_BYTES} bytes", reason="too_large")
            messages.extend(v.storable(ops.v2_operation(call, item)))
        except TrackError as exc:
            errors.append({"batch_index": index, **exc.as_v2()})
    if errors and len(errors) == len(items):
        return _json({"errors": errors}, 400)
    failure = _store(source, call, messages, "v2")
    if failure:
        return failure
    return _json({"errors": errors}, 207) if errors else _json({})
