"""Sending operations to the Track API: one at a time, or as v2 batches with per-item results.

Every request carries HTTP Basic site_id:api_key and goes through destinations.http (timeouts, retry
classification, redacted records; the api_key is passed as a secret so records never show it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ... import http
from ...errors import DeliveryError, PayloadError
from ..base import BatchResult, regional_endpoint
from .operations import BATCH_PATH, MAX_BATCH_BYTES, Operation, check_size
from .settings import read

KIND = "customerio"
HOSTS = {"us": "https://track.customer.io", "eu": "https://track-eu.customer.io"}
# `{"batch": [` + `]}`: what the envelope adds around the comma-joined operations.
_ENVELOPE_BYTES = len(b'{"batch":[]}')

Builder = Callable[[dict[str, Any], dict[str, Any]], Operation]


def base_url(settings: dict[str, Any]) -> str:
    """The Track API host for the account region; DESTINATION_ENDPOINTS["customerio"] overrides it."""
    return regional_endpoint(KIND, HOSTS, read(settings))


def auth(settings: dict[str, Any]) -> dict[str, Any]:
    """HTTP Basic site_id:api_key, and the API key as a secret kept out of delivery records."""
    s = read(settings)
    return {"auth": (s.text("site_id"), s.text("api_key")), "secrets": s.secrets("api_key")}


def _vendor_errors(exchange: http.Exchange | None) -> str:
    """The error text of a Track API answer: {"meta": {"errors": [...]}} or {"errors": [...]}."""
    body = exchange.json() if exchange is not None else None
    if not isinstance(body, dict):
        return ""
    errors = body.get("errors")
    if errors is None and isinstance(body.get("meta"), dict):
        errors = body["meta"].get("errors")
    if isinstance(errors, list):
        parts = []
        for error in errors[:5]:
            if isinstance(error, dict):
                parts.append(": ".join(str(error[k]) for k in ("reason", "field", "message") if error.get(k)))
            else:
                parts.append(str(error))
        return "; ".join(p for p in parts if p)
    return str(errors) if errors else ""


def _explain(exc: DeliveryError) -> DeliveryError:
    """Give the engine a message a person can act on; the retry decision of http.send stands."""
    if exc.status in (401, 403):
        return DeliveryError(
            f"Customer.io refused the credentials (HTTP {exc.status}): check the Site ID, the API key and the "
            "account region of this destination.",
            retryable=False, status=exc.status, exchange=exc.exchange,
        )
    if exc.status is not None and not exc.retryable:
        detail = _vendor_errors(exc.exchange)
        return DeliveryError(
            f"Customer.io rejected the request (HTTP {exc.status})" + (f": {detail}" if detail else "."),
            retryable=False, status=exc.status, exchange=exc.exchange,
        )
    return exc


def send_operation(settings: dict[str, Any], operation: Operation) -> http.Exchange:
    """POST one operation to its endpoint (v2 entity or v1 anonymous events). Raises DeliveryError /
    PayloadError (over 32 KB)."""
    raw = check_size(operation)
    try:
        return http.send(
            "POST", base_url(settings) + operation.path, data=raw,
            headers={"Content-Type": "application/json"}, **auth(settings),
        )
    except DeliveryError as exc:
        raise _explain(exc) from exc


def _chunks(items: list[tuple[int, bytes]]) -> list[list[tuple[int, bytes]]]:
    """Group encoded operations, in order, into batches under the 500 KB request limit."""
    chunks: list[list[tuple[int, bytes]]] = []
    current: list[tuple[int, bytes]] = []
    size = _ENVELOPE_BYTES
    for index, raw in items:
        extra = len(raw) + (1 if current else 0)
        if current and size + extra > MAX_BATCH_BYTES:
            chunks.append(current)
            current, size, extra = [], _ENVELOPE_BYTES, len(raw)
        current.append((index, raw))
        size += extra
    if current:
        chunks.append(current)
    return chunks


def _send_batch(settings: dict[str, Any], chunk: list[tuple[int, bytes]]) -> tuple[http.Exchange, dict[int, Exception]]:
    """POST one /api/v2/batch; a 207 names the failed items by batch_index (0-based, in this chunk)."""
    raw = b'{"batch":[' + b",".join(r for _, r in chunk) + b"]}"
    try:
        exchange = http.send(
            "POST", base_url(settings) + BATCH_PATH, data=raw,
            headers={"Content-Type": "application/json"}, **auth(settings),
        )
    except DeliveryError as exc:
        raise _explain(exc) from exc
    failures: dict[int, Exception] = {}
    if exchange.status == 207:
        body = exchange.json()
        errors = body.get("errors") if isinstance(body, dict) else None
        for error in errors if isinstance(errors, list) else []:
            if not isinstance(error, dict) or not isinstance(error.get("batch_index"), int):
                continue
            position = error["batch_index"]
            if not 0 <= position < len(chunk):
                continue
            detail = ": ".join(str(error[k]) for k in ("reason", "field", "message") if error.get(k))
            # A 207 reports operations Customer.io found invalid (the OpenAPI: "at least one object in the
            # batch was invalid; all other requests are accepted"): sending them again cannot succeed.
            failures[chunk[position][0]] = DeliveryError(
                f"Customer.io rejected this item of the batch: {detail or 'invalid'}",
                retryable=False, status=207, exchange=exchange,
            )
    return exchange, failures


def send_operations(settings: dict[str, Any], payloads: list[dict[str, Any]], build: Builder) -> BatchResult:
    """Build and send many payloads: v2 operations in /api/v2/batch requests (split under 500 KB),
    anonymous v1 events one by one. Per-payload problems land in item_errors by payload index.

    When every payload went out in a single request that failed as a whole, that DeliveryError is raised
    instead, so the engine records the one exchange for every payload."""
    item_errors: dict[int, Exception] = {}
    batchable: list[tuple[int, bytes]] = []
    singles: list[tuple[int, Operation]] = []
    for index, payload in enumerate(payloads):
        try:
            operation = build(payload, settings)
            raw = check_size(operation)
        except PayloadError as exc:
            item_errors[index] = exc
            continue
        if operation.batchable:
            batchable.append((index, raw))
        else:
            singles.append((index, operation))

    chunks = _chunks(batchable)
    # Raising is only right when the one failure is every payload's outcome.
    raise_whole = len(chunks) + len(singles) == 1 and not item_errors
    exchange: http.Exchange | None = None
    for chunk in chunks:
        try:
            exchange, failures = _send_batch(settings, chunk)
        except DeliveryError as exc:
            if raise_whole:
                raise
            exchange = exc.exchange or exchange
            failures = {index: exc for index, _ in chunk}
        item_errors.update(failures)
    for index, operation in singles:
        try:
            single_exchange = send_operation(settings, operation)
            exchange = exchange or single_exchange
        except DeliveryError as exc:
            if raise_whole:
                raise
            item_errors[index] = exc
    # exchange is None only when no payload could be sent at all (each has its PayloadError).
    return BatchResult(exchange=exchange, item_errors=item_errors)
