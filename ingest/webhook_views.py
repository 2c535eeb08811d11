"""POST /v1/webhooks/{key}: incoming webhooks from services that cannot set headers (the source's write
key is in the path) and that post their own JSON or form bodies rather than Segment messages.

Same limits and error shapes as the rest of /v1 (ingest.views): 500 KB per body once decoded, gzip
accepted, 401 for an unknown key or a refused signature (nothing is stored then), 429 when rate
limited, 503 when the store is down. A body that passed is committed (ingest.webhooks.receive) before
the answer: 200 when its mapping made events, 202 when it is kept unmapped, with the reason shown on
the source page, for re-processing once the mapping is fixed.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import orjson
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from connections.models import SourceKind

from . import cors, webhooks
from .client_ip import client_ip
from .validation import MAX_REQUEST_BYTES
from .views import Rejected, _not_allowed, _rate_limit, _read_body, _resolve_guarded, error
from .webhook_mapping import kept_headers, request_headers, signature_problem

log = logging.getLogger(__name__)


def _accept(request: HttpRequest, key: str) -> HttpResponse:
    received_at = datetime.now(UTC)
    ip = client_ip(request.META)
    source = _resolve_guarded(key, ip)
    if source.kind != SourceKind.WEBHOOK:
        raise Rejected(error(404, "not_found", "This source is not an incoming webhook source."))
    _rate_limit(source)
    raw = _read_body(request, MAX_REQUEST_BYTES)
    settings = webhooks.settings_for(source)
    problem = signature_problem(webhooks.signature_check(settings), request_headers(request.META), raw)
    if problem:
        raise Rejected(error(401, "invalid_signature", problem))
    signed_by = settings.signature_header if settings.signature_scheme != "none" else ""
    body = webhooks.receive(source, raw, request.META.get("CONTENT_TYPE") or "",
                            kept_headers(request.META, signed_by), ip or "", settings, received_at)
    answer: dict[str, object] = {"success": True, "id": body.id, "events": body.event_count}
    status = 200
    if body.status != body.Status.PROCESSED:
        status = 202
        answer["message"] = "Stored; this source's mapping did not turn it into events yet."
    return cors.add_headers(HttpResponse(orjson.dumps(answer), status=status, content_type="application/json"))


@csrf_exempt
def receive(request: HttpRequest, key: str) -> HttpResponse:
    """POST any JSON or url-encoded form body; see the module docstring for the answers."""
    if request.method == "OPTIONS":
        return cors.preflight(request)
    if request.method != "POST":
        return _not_allowed("POST, OPTIONS")
    try:
        return _accept(request, key)
    except Rejected as rejected:
        return rejected.response
    except (OperationalError, InterfaceError):
        log.warning("webhook store unavailable; answering 503", exc_info=True)
        return error(503, "unavailable", "The event store is temporarily unavailable; retry later.")
