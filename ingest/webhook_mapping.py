"""Incoming webhooks, the pure part: signature checks, body parsing, and mapping a body to events.

Nothing here touches the database (ingest.webhooks stores and re-processes; connections.services
validates settings on write). A webhook source's mapping is an object of event field → mapping, in the
directives of destinations.mapping (`@path`, `@if`, `@template`, `@literal`, `@arrayPath`, ...),
evaluated against the *root*:

    {"body": <the parsed body>, "headers": {<lower-cased name>: <value>}}

and, when an array path is set (e.g. `$.body.line_items`), once per element of that array with
`"item": <the element>, "index": <its position>` added. What it resolves to is one Segment message per
root: `type` (default "track"), `event`, `name`, `userId`, `anonymousId`, `groupId`, `previousId`,
`properties`, `traits`, `context`, `timestamp` (ISO-8601, or a number of seconds or milliseconds since the
epoch as many services send), `messageId`. A message without a mapped messageId gets a deterministic one,
a hash of the raw body and the element's index, so a sender's retry of the same body stores nothing twice.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

import orjson

from destinations import timestamps
from destinations.mapping import MappingError, read_path, resolve, validate_mapping

from .normalize import Envelope, normalize
from .validation import MAX_BATCH_EVENTS, MAX_EVENT_BYTES, TYPES, message_errors

# The fields a webhook mapping may produce; anything else is refused when the mapping is saved.
EVENT_FIELDS = ("type", "event", "name", "userId", "anonymousId", "groupId", "previousId", "properties", "traits",
                "context", "timestamp", "messageId")
LIBRARY = {"name": "webhook"}
# Stripe's own libraries refuse a signature whose timestamp is more than five minutes away.
STRIPE_TOLERANCE_SECONDS = 300
# Headers never kept with a body (credentials), whatever the sender puts in them.
_PRIVATE_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})
MAX_KEPT_HEADERS = 50
MAX_HEADER_VALUE = 1000


# --- signatures -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SignatureCheck:
    """What a source's signature settings ask for (scheme "none" checks nothing)."""

    scheme: str
    header: str
    encoding: str
    prefix: str
    secret: str


def signature_problem(check: SignatureCheck, headers: dict[str, str], raw: bytes,
                      now: float | None = None) -> str | None:
    """Why the request's signature is refused, or None when it is valid (or none is required).

    `headers` maps lower-cased names to values. hmac_sha256: the header holds HMAC-SHA256(secret, raw
    body), hex or base64, after an optional prefix such as "sha256=". stripe: the Stripe-Signature header
    (or the configured one) holds `t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, one or more v1,
    and t within five minutes."""
    if check.scheme in ("", "none"):
        return None
    if not check.secret:
        return "No shared secret is configured for this source's signature check."
    if check.scheme == "stripe":
        return _stripe_problem(check, headers, raw, time.time() if now is None else now)
    header = (check.header or "X-Signature").lower()
    value = headers.get(header, "").strip()
    if not value:
        return f"Missing signature header {check.header or 'X-Signature'}."
    if check.prefix:
        if not value.startswith(check.prefix):
            return f"The signature does not start with {check.prefix!r}."
        value = value[len(check.prefix):].strip()
    expected = hmac.new(check.secret.encode(), raw, hashlib.sha256).digest()
    try:
        given = bytes.fromhex(value) if check.encoding == "hex" else base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error):
        return f"The signature is not {check.encoding}."
    if not hmac.compare_digest(given, expected):
        return "The signature does not match the body."
    return None


def _stripe_problem(check: SignatureCheck, headers: dict[str, str], raw: bytes, now: float) -> str | None:
    header = (check.header or "Stripe-Signature").lower()
    if header == "x-signature":  # the generic default: Stripe's own header is meant
        header = "stripe-signature"
    value = headers.get(header, "")
    if not value:
        return "Missing Stripe-Signature header."
    parts = [p.split("=", 1) for p in value.split(",") if "=" in p]
    stamps = [v.strip() for k, v in parts if k.strip() == "t"]
    signatures = [v.strip() for k, v in parts if k.strip() == "v1"]
    if len(stamps) != 1 or not stamps[0].isdigit() or not signatures:
        return "The Stripe-Signature header needs t=<time> and at least one v1=<signature>."
    if abs(now - int(stamps[0])) > STRIPE_TOLERANCE_SECONDS:
        return "The Stripe-Signature timestamp is more than five minutes away from now."
    expected = hmac.new(check.secret.encode(), stamps[0].encode() + b"." + raw, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(s.lower(), expected) for s in signatures):
        return "The signature does not match the body."
    return None


def kept_headers(meta: dict[str, Any], signature_header: str = "") -> dict[str, str]:
    """The request's headers (from Django's META) worth keeping with the body for mappings such as
    Shopify's X-Shopify-Topic: lower-cased names, credentials and the signature left out, bounded."""
    skip = set(_PRIVATE_HEADERS)
    if signature_header:
        skip.add(signature_header.lower())
    skip.add("stripe-signature")
    out: dict[str, str] = {}
    for key, value in meta.items():
        if key.startswith("HTTP_"):
            name = key[5:].replace("_", "-").lower()
        elif key in ("CONTENT_TYPE",):
            name = "content-type"
        else:
            continue
        if name in skip or not isinstance(value, str):
            continue
        out[name] = value[:MAX_HEADER_VALUE]
        if len(out) >= MAX_KEPT_HEADERS:
            break
    return out


def request_headers(meta: dict[str, Any]) -> dict[str, str]:
    """All of the request's headers, lower-cased names (for the signature check only)."""
    out = {}
    for key, value in meta.items():
        if key.startswith("HTTP_") and isinstance(value, str):
            out[key[5:].replace("_", "-").lower()] = value
    return out


# --- parsing --------------------------------------------------------------------------------------------

class BodyError(ValueError):
    """The body cannot be read as JSON or a form."""


def parse_body(raw: bytes, content_type: str) -> Any:
    """The body as a value: a form (application/x-www-form-urlencoded) as an object whose repeated
    fields are arrays, anything else as JSON (any JSON value). Raises BodyError."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise BodyError("The form body is not UTF-8.") from None
        form: dict[str, Any] = {}
        for key, value in parse_qsl(text, keep_blank_values=True):
            if key in form:
                form[key] = [*form[key], value] if isinstance(form[key], list) else [form[key], value]
            else:
                form[key] = value
        return form
    if kind == "multipart/form-data":
        raise BodyError("multipart/form-data bodies are not supported: send JSON or a url-encoded form.")
    if not raw.strip():
        raise BodyError("The body is empty.")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BodyError(f"The body is not valid JSON: {exc}.") from None


# --- mapping --------------------------------------------------------------------------------------------

@dataclass
class MappingConfig:
    """A source's mapping: `events` is field → mapping; `array_path` optional."""

    mapping: dict[str, Any]
    array_path: str = ""


@dataclass
class Outcome:
    """What a body maps to: the normalized messages, or the reason it maps to none (then `messages` is
    empty: a body is turned into events whole or not at all, so re-processing it is simple)."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    reason: str = ""
    produced: list[dict[str, Any]] = field(default_factory=list)  # before normalization (the preview's)


def validate_config(mapping: Any, array_path: str) -> None:
    """Raise MappingError unless `mapping` (and `array_path`) can be saved as a source's mapping."""
    if not isinstance(mapping, dict):
        raise MappingError("The mapping must be a JSON object of event fields to mappings.")
    unknown = [k for k in mapping if k not in EVENT_FIELDS]
    if unknown:
        raise MappingError(f"The mapping does not know {', '.join(map(str, unknown))} "
                           f"(event fields: {', '.join(EVENT_FIELDS)}).")
    type_ = mapping.get("type")
    if isinstance(type_, str) and type_ not in TYPES:
        raise MappingError(f"type must be one of {', '.join(sorted(TYPES))}.", "type")
    validate_mapping(mapping)
    if array_path:
        from destinations.mapping import parse_path

        parse_path(array_path)


def roots(body: Any, headers: dict[str, str], array_path: str) -> list[dict[str, Any]]:
    """The objects the mapping is evaluated against: one, or one per element of the array path.
    Raises MappingError when the array path does not lead to a non-empty array."""
    root: dict[str, Any] = {"body": body, "headers": headers}
    if not array_path:
        return [root]
    items = read_path(root, array_path)
    if not isinstance(items, list):
        raise MappingError(f"The array path {array_path} does not lead to an array in this body.")
    if not items:
        raise MappingError(f"The array path {array_path} leads to an empty array: no event to make.")
    if len(items) > MAX_BATCH_EVENTS:
        raise MappingError(f"The array path {array_path} has {len(items)} elements; at most "
                           f"{MAX_BATCH_EVENTS} events are made from one body.")
    return [{**root, "item": item, "index": index} for index, item in enumerate(items)]


def message_id(raw: bytes, index: int) -> str:
    """The messageId of a body's `index`th event when the mapping gives none (stable across retries)."""
    return "wh-" + hashlib.sha256(raw + b"\x00" + str(index).encode()).hexdigest()[:40]


def map_body(config: MappingConfig, raw: bytes, content_type: str, headers: dict[str, str],
             received_at: datetime, ip: str) -> Outcome:
    """Turn a received body into normalized messages, or say why it cannot be. Never raises for a bad
    body or mapping: every problem becomes the Outcome's reason."""
    try:
        body = parse_body(raw, content_type)
    except BodyError as exc:
        return Outcome(reason=str(exc))
    if not config.mapping:
        return Outcome(reason="This source has no mapping yet: set one on the source's Webhook tab, "
                              "then re-process this body.")
    try:
        contexts = roots(body, headers, config.array_path)
    except MappingError as exc:
        return Outcome(reason=str(exc))
    envelope = Envelope(received_at, ip)
    produced: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    problems: list[str] = []
    for index, root in enumerate(contexts):
        label = f"event {index}" if len(contexts) > 1 else "the event"
        try:
            event = resolve(config.mapping, root)
        except MappingError as exc:
            return Outcome(reason=f"The mapping is invalid: {exc}")
        except RecursionError:
            return Outcome(reason="The body nests too deeply to be mapped.")
        if not isinstance(event, dict):
            event = {}
        event.setdefault("type", "track")
        stamp = event.get("timestamp")
        if isinstance(stamp, (int, float)) and not isinstance(stamp, bool):
            moment = timestamps.parse(stamp)  # unix seconds, or milliseconds by size
            if moment is None:
                problems.append(f"{label}: timestamp {stamp!r} is not a time.")
                continue
            event["timestamp"] = timestamps.format_utc(moment)
        if event.get("messageId") in (None, ""):
            event["messageId"] = message_id(raw, index)
        context = event.get("context")
        event["context"] = {**context, "library": dict(LIBRARY)} if isinstance(context, dict) else \
            ({"library": dict(LIBRARY)} if context is None else context)
        produced.append(event)
        errors = message_errors(event, None)
        if errors:
            problems.extend(f"{label}: {msg}" for _field, msg in errors)
            continue
        try:
            size = len(orjson.dumps(event))
        except (orjson.JSONEncodeError, TypeError):
            problems.append(f"{label}: the mapped event cannot be written as JSON.")
            continue
        if size > MAX_EVENT_BYTES:
            problems.append(f"{label}: the mapped event is larger than {MAX_EVENT_BYTES // 1024} KB.")
            continue
        messages.append(normalize(event, None, envelope))
    if problems:
        shown = problems[:10] + ([f"… and {len(problems) - 10} more"] if len(problems) > 10 else [])
        return Outcome(reason="; ".join(shown), produced=produced)
    return Outcome(messages=messages, produced=produced)
