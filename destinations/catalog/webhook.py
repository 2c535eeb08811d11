"""Webhook: POST (or PUT/PATCH) events as JSON to a URL of yours, optionally signed.

One action, "Send", whose `data` field (default: the whole event) is the body. Batch size 1 sends one
request per event; more sends a JSON array of up to that many (Send names the `batch_size` setting as its
batch_size_setting).
With a shared secret, `X-Signature` is the hex HMAC-SHA1 of the exact body bytes (the whole batch when
batched). Header values are secrets: encrypted at rest and redacted from delivery records.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any

import orjson

from .. import http
from ..mapping import path
from .base import ActionDefinition, ActionField, BatchResult, DestinationDefinition, SettingField

ALL_TYPES = 'type in ["track", "identify", "page", "screen", "group", "alias"]'


def _request_args(settings: dict[str, Any], body: Any) -> dict[str, Any]:
    # Serialize once here so the signature covers exactly the bytes sent.
    s = DEFINITION.read(settings)
    headers = s.headers("headers")
    secrets = (*headers.values(), *s.secrets("shared_secret"))
    raw = orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS)
    headers["Content-Type"] = "application/json"
    secret = s.text("shared_secret")
    if secret:
        headers["X-Signature"] = hmac.new(secret.encode(), raw, hashlib.sha1).hexdigest()
    return {"data": raw, "headers": headers, "secrets": secrets}


def _target(settings: dict[str, Any]) -> tuple[str, str]:
    """(method, url) of the destination's requests."""
    s = DEFINITION.read(settings)
    return s.choice("method"), s.text("url")


def perform(settings: dict[str, Any], payload: dict[str, Any]) -> http.Exchange:
    """One event, one request: the mapped `data` as the JSON body (SSRF-checked at send time)."""
    return http.send(*_target(settings), user_url=True, **_request_args(settings, payload.get("data", {})))


def perform_batch(settings: dict[str, Any], payloads: list[dict[str, Any]]) -> BatchResult:
    """Several events in one request: a JSON array of their mapped `data` (used when batch_size > 1)."""
    body = [p.get("data", {}) for p in payloads]
    exchange = http.send(*_target(settings), user_url=True, **_request_args(settings, body))
    return BatchResult(exchange=exchange)


MAX_BATCH = 1000
_HEADER_NAME_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
# Headers the HTTP client must own: letting a user set them would corrupt the request.
_RESERVED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection", "content-type"})


def _validate(settings: dict[str, Any]) -> dict[str, str]:
    """Checked on save: the URL passes the SSRF guard now (it is checked again on every send), header
    names are real header names, and the batch size is 1..MAX_BATCH."""
    errors: dict[str, str] = {}
    try:
        http.check_url(DEFINITION.read(settings).text("url"))
    except http.UnsafeURL as exc:
        errors["url"] = str(exc)
    for name, value in DEFINITION.read(settings).headers("headers").items():
        if not _HEADER_NAME_RE.match(name):
            errors["headers"] = f"{name!r} is not a valid header name."
        elif name.lower() in _RESERVED_HEADERS:
            errors["headers"] = f"The {name} header is set by Pipelines and cannot be overridden."
        elif "\r" in value or "\n" in value:
            errors["headers"] = f"The value of {name} must be on one line."
    size = DEFINITION.read(settings).integer("batch_size")
    if size is None or not 1 <= size <= MAX_BATCH:
        errors["batch_size"] = f"Between 1 (one request per event) and {MAX_BATCH}."
    return errors


def check_credentials(settings: dict[str, Any]) -> tuple[bool, str]:
    from ..errors import DeliveryError

    try:
        exchange = http.send(*_target(settings), user_url=True,
                             **_request_args(settings, {"type": "test", "message": "Test from Pipelines"}))
    except DeliveryError as exc:
        return False, exc.message
    return True, f"The endpoint answered HTTP {exchange.status}."


SEND = ActionDefinition(
    key="send",
    title="Send",
    description="Send the event (or a mapped body) to the webhook URL.",
    default_trigger=ALL_TYPES,
    fields=(
        ActionField("data", "Data", "object", "The JSON body sent for each event.", default=path("$.")),
    ),
    perform=perform,
    perform_batch=perform_batch,
    batch_size=1,
    batch_size_setting="batch_size",  # the destination's Batch size setting (1 = one request per event)
)

DEFINITION = DestinationDefinition(
    key="webhook",
    name="Webhook",
    category="Raw data",
    mode="cloud",
    description="Send events as JSON to any HTTP endpoint you run.",
    settings=(
        SettingField("url", "Webhook URL", "url", "Where events are sent.", required=True),
        SettingField(
            "method", "HTTP method", "choice", default="POST",
            choices=(("POST", "POST"), ("PUT", "PUT"), ("PATCH", "PATCH")),
        ),
        SettingField("headers", "Headers", "headers", "Extra headers sent with every request (values are secret).",
                     secret=True),
        SettingField("shared_secret", "Shared secret", "string",
                     "If set, each request carries X-Signature: the hex HMAC-SHA1 of the body.", secret=True),
        SettingField("batch_size", "Batch size", "integer",
                     "1 sends one request per event; more sends a JSON array of up to this many.", default=1),
    ),
    actions=(SEND,),
    check_credentials=check_credentials,
    validate=_validate,
)
