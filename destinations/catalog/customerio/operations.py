"""Mapped payloads → Customer.io Track API operations (pure functions, no I/O).

Each `build_*` function takes an action's mapped payload (the keys its fields declare, see actions.py)
and the destination settings, and returns an `Operation`: the request path and JSON body. Operations for
`/api/v2/entity` can also travel inside `/api/v2/batch`. A payload that cannot become a valid request
raises PayloadError, which the engine records as "filtered" for that action (never retried).

Shapes follow Customer.io's OpenAPI file (shared/reference/openapi/customerio-track-api.json):
- a person is named by exactly one of `{id}`, `{email}`, `{cio_id}`; a value starting `cio_` is a cio_id,
  an email-shaped value is an email, anything else an id;
- v2 person operations always need such an identifier. Events of a person we only know by anonymous id
  (track / page / screen without userId or email) are therefore sent to the v1 anonymous event endpoint
  `POST /api/v1/events` `{name, anonymous_id, type?, id?, timestamp?, data}`, the one place the API
  accepts them; they cannot be part of a v2 batch;
- timestamps are integer unix seconds; event dedupe ids must be ULIDs (see `event_ulid`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from ...errors import PayloadError
from ...timestamps import convert_iso_values, to_unix_seconds
from .settings import read

ENTITY_PATH = "/api/v2/entity"
BATCH_PATH = "/api/v2/batch"
ANONYMOUS_EVENT_PATH = "/api/v1/events"

# Documented limits: one v2 operation ≤ 32 KB; a v2 batch ≤ 500 KB.
MAX_ITEM_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024

PLATFORMS = ("ios", "android")
DELIVERY_METRICS = ("delivered", "opened", "converted")

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ULID = re.compile(r"^[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}$")
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


@dataclass(frozen=True)
class Operation:
    """One request's worth of work. `batchable` operations are v2 entity bodies."""

    path: str
    body: dict[str, Any]

    @property
    def batchable(self) -> bool:
        return self.path == ENTITY_PATH

    def encoded(self) -> bytes:
        return orjson.dumps(self.body, option=orjson.OPT_NON_STR_KEYS)


# --- small pieces ---------------------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    """A non-empty identifier string from a mapped value (numbers are accepted and stringified)."""
    if value is None or isinstance(value, (bool, dict, list)):
        return None
    text = str(value).strip()
    return text or None


def is_email(value: str) -> bool:
    return _EMAIL.match(value) is not None


def identifier_for(value: Any) -> dict[str, str] | None:
    """`cio_abc` → {cio_id: abc}; `a@b.co` → {email}; anything else non-empty → {id}; empty → None."""
    text = _text(value)
    if text is None:
        return None
    if text.startswith("cio_") and len(text) > 4:
        return {"cio_id": text[4:]}
    if is_email(text):
        return {"email": text}
    return {"id": text}


def person_identifiers(payload: dict[str, Any]) -> dict[str, str] | None:
    """The person an operation is about: `person_id` (userId) first, else `email`; None when neither."""
    found = identifier_for(payload.get("person_id"))
    if found is None:
        email = _text(payload.get("email"))
        found = {"email": email} if email else None
    return found


def _require_person(payload: dict[str, Any]) -> dict[str, str]:
    found = person_identifiers(payload)
    if found is None:
        raise PayloadError("missing person identifier: the event has neither a userId nor an email")
    return found


def _object(value: Any, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PayloadError(f"invalid {name}: expected an object, got {type(value).__name__}")
    return dict(value)


def _timestamp(value: Any, name: str = "timestamp") -> int | None:
    if value is None or value == "":
        return None
    seconds = to_unix_seconds(value)
    if seconds is None:
        raise PayloadError(f"invalid {name}: {value!r} is not a date-time or unix timestamp")
    return seconds


def _attributes(payload: dict[str, Any], settings: dict[str, Any], key: str = "attributes") -> dict[str, Any]:
    attributes = _object(payload.get(key), key)
    if read(settings).flag("convert_timestamps"):
        attributes = convert_iso_values(attributes)
    return attributes


def _anonymous_attribute(attributes: dict[str, Any], payload: dict[str, Any]) -> None:
    """anonymous_id, when the person is identified otherwise, links their earlier anonymous activity."""
    anonymous_id = _text(payload.get("anonymous_id"))
    if anonymous_id:
        attributes.setdefault("anonymous_id", anonymous_id)


def _object_type_id(value: Any) -> str:
    # Object type ids are string-formatted integers starting at "1" (the first object type).
    text = _text(value)
    return text if text is not None else "1"


def event_ulid(event_id: Any, timestamp: int | None) -> str | None:
    """The dedupe id Customer.io accepts (a ULID) for a mapped event id.

    A value that already is a ULID is sent as is. Any other id (Segment message ids are not ULIDs) is
    turned into a deterministic ULID: the event's time in the first 48 bits, a SHA-256 of the id in the
    other 80. The same event retried therefore always carries the same id, so Customer.io drops
    duplicates, while different events never collide in practice."""
    text = _text(event_id)
    if text is None:
        return None
    if _ULID.match(text):
        return text.upper()
    millis = max(0, timestamp or 0) * 1000 & ((1 << 48) - 1)
    entropy = int.from_bytes(hashlib.sha256(text.encode()).digest()[:10], "big")
    number = (millis << 80) | entropy
    return "".join(_CROCKFORD[(number >> shift) & 31] for shift in range(125, -1, -5))


def _device_attribute_value(value: Any) -> str | None:
    # Customer.io device attributes are strings (the OpenAPI types custom ones as string).
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return str(value)
    return orjson.dumps(value).decode()


def _device_token(payload: dict[str, Any]) -> str:
    token = _text(payload.get("device_id"))
    if token is None:
        raise PayloadError("missing device_id: no device token in properties.device_id or context.device.token")
    return token


# --- people ---------------------------------------------------------------------------------------------


def build_identify_person(payload: dict[str, Any], settings: dict[str, Any]) -> Operation:
    identifiers = _require_person(payload)
    attributes = _attributes(payload, settings)
    email = _text(payload.get("email"))
    if email and "email" not in identifiers:
        attributes.setdefault("email", email)
    created_at = payload.get("created_at")
    if created_at not in (None, ""):
        attributes["created_at"] = _timestamp(created_at, "created_at")
    _anonymous_attribute(attributes, payload)
    body: dict[str, Any] = {"type": "person", "identifiers": identifiers, "action": "identify",
                            "attributes": attributes}
    timestamp = _timestamp(payload.get("timestamp"))
    if timestamp is not None:
        body["timestamp"] = timestamp
    object_id = _text(payload.get("object_id"))
    if object_id:
        relationship: dict[str, Any] = {
            "identifiers": {"object_type_id": _object_type_id(payload.get("object_type_id")), "object_id": object_id}
        }
        relationship_attributes = _attributes(payload, settings, "relationship_attributes")
        if relationship_attributes:
            relationship["relationship_attributes"] = relationship_attributes
        body["cio_relationships"] = [relationship]
    return Operation(ENTITY_PATH, body)


def _build_person_event(payload: dict[str, Any], settings: dict[str, Any], kind: str) -> Operation:
    """kind: "event", "page" or "screen" (Track Event, Track Page View, Track Screen View)."""
    name = _text(payload.get("name"))
    if name is None:
        raise PayloadError("missing name")
    timestamp = _timestamp(payload.get("timestamp"))
    dedupe_id = event_ulid(payload.get("event_id"), timestamp)
    attributes = _attributes(payload, settings)
    identifiers = person_identifiers(payload)
    if identifiers is None:
        anonymous_id = _text(payload.get("anonymous_id"))
        if anonymous_id is None:
            raise PayloadError("missing person identifier: the event has no userId, email or anonymousId")
        anonymous: dict[str, Any] = {"name": name, "anonymous_id": anonymous_id}
        if kind != "event":
            anonymous["type"] = kind
        if dedupe_id:
            anonymous["id"] = dedupe_id
        if timestamp is not None:
            anonymous["timestamp"] = timestamp
        anonymous["data"] = attributes
        return Operation(ANONYMOUS_EVENT_PATH, anonymous)
    _anonymous_attribute(attributes, payload)
    body: dict[str, Any] = {"type": "person", "identifiers": identifiers, "action": kind, "name": name}
    if dedupe_id:
        body["id"] = dedupe_id
    if timestamp is not None:
        body["timestamp"] = timestamp
    body["attributes"] = attributes
    return Operation(ENTITY_PATH, body)


def build_event(payload: dict[str, Any], settings: dict[str, Any]) -> Operation:
    return _build_person_event(payload, settings, "event")


def build_page(payload: dict[str, Any], settings: dict[str, Any]) -> Operation:
    return _build_person_event(payload, settings, "page")


def build_screen(payload: dict[str, Any], settings: dict[str, Any]) -> Operation:
    return _build_person_event(payload, settings, "screen")


def _build_person_action(action: str) -> Callable[[dict[str, Any], dict[str, Any]], Operation]:
    def build(payload: dict[str, Any], settings: dict[str, Any]) -> Operation:
        return Operation(ENTITY_PATH, {"type": "person", "identifiers": _require_person(payload), "action": action})

    build.__name__ = f"build_{action}_person"
    build.__doc__ = f"`{action}` a person named by person_id or email."
    return build


build_delete_person = _build_person_action("delete")
build_suppress_person = _build_person_action("suppress")
build_unsuppress_person = _build_person_action("unsuppress")


def build_merge_people(payload: dict[str, Any], settings: dict[str, Any]) -> Operation:
    """Merge `secondary` into `primary`; a merge names people in primary/secondary, not identifiers."""
    primary = identifier_for(payload.get("primary"))
    secondary = identifier_for(payload.get("secondary"))
    if primary is None:
        raise PayloadError("missing primary: the alias has no userId")
    if secondary is None:
        raise PayloadError("missing secondary: the alias has no previousId")
    if primary == secondary:
        raise PayloadError("primary and secondary are the same person")
    return Operation(ENTITY_PATH, {"type": "person", "action": "merge", "primary": primary, "secondary": secondary})


# --- devices --------------------------------------------------------------------------------------------


def build_add_device(payload: dict[str, Any], settings: dict[str, Any]) -> Operation:
    identifiers = _require_person(payload)
    token = _device_token(payload)
    platform = _text(payload.get("platform"))
    if platform is None:
        raise PayloadError("missing platform: context.device.type must be ios or android")
    platform = platform.lower()
    if platform not in PLATFORMS:
        raise PayloadError(f"invalid platform: {platform!r} (Customer.io accepts ios or android)")
    device: dict[str, Any] = {"token": token, "platform": platform}
    last_used = _timestamp(payload.get("last_used"), "last_used")
    if last_used is not None:
        device["last_used"] = last_used
    attributes: dict[str, str] = {}
    for key, value in _attributes(payload, settings).items():
        text = _device_attribute_value(value)
        # The token is the device itself (properties.device_id by default); don't repeat it.
        if text is not None and text != token:
            attributes[str(key)] = text
    app_version = _text(payload.get("app_version"))
    if app_version:
        attributes["app_version"] = app_version
    if attributes:
        device["attributes"] = attributes
    return Operation(ENTITY_PATH, {"type": "person", "identifiers": identifiers, "action": "add_device",
                                   "device": device})


def build_delete_device(payload: dict[str, Any], settings: dict[str, Any]) -> Operation:
    return Operation(ENTITY_PATH, {"type": "person", "identifiers": _require_person(payload),
                                   "action": "delete_device", "device": {"token": _device_token(payload)}})


# --- objects --------------------------------------------------------------------------------------------


def _object_identifiers(payload: dict[str, Any]) -> dict[str, str]:
    object_id = _text(payload.get("object_id"))
    if object_id is None:
        raise PayloadError("missing object_id")
    return {"object_type_id": _object_type_id(payload.get("object_type_id")), "object_id": object_id}


def build_identify_object(payload: dict[str, Any], settings: dict[str, Any]) -> Operation:
    """identify with a relationship to the person when one is named; identify_anonymous relating an
    anonymous visitor when only anonymous_id is known; a bare identify otherwise."""
    identifiers = _object_identifiers(payload)
    body: dict[str, Any] = {"type": "object", "identifiers": identifiers, "action": "identify",
                            "attributes": _attributes(payload, settings)}
    person = person_identifiers(payload)
    anonymous_id = _text(payload.get("anonymous_id"))
    related: dict[str, Any] | None = None
    if person is not None:
        related = {"identifiers": person}
    elif anonymous_id is not None:
        body["action"] = "identify_anonymous"
        related = {"identifiers": {"anonymous_id": anonymous_id}}
    if related is not None:
        relationship_attributes = _attributes(payload, settings, "relationship_attributes")
        if relationship_attributes:
            related["relationship_attributes"] = relationship_attributes
        body["cio_relationships"] = [related]
    return Operation(ENTITY_PATH, body)


def build_delete_object(payload: dict[str, Any], settings: dict[str, Any]) -> Operation:
    return Operation(ENTITY_PATH, {"type": "object", "identifiers": _object_identifiers(payload), "action": "delete"})


def build_delete_relationship(payload: dict[str, Any], settings: dict[str, Any]) -> Operation:
    identifiers = _object_identifiers(payload)
    person = _require_person(payload)
    return Operation(ENTITY_PATH, {"type": "object", "identifiers": identifiers, "action": "delete_relationships",
                                   "cio_relationships": [{"identifiers": person}]})


# --- deliveries -----------------------------------------------------------------------------------------


def build_delivery_event(payload: dict[str, Any], settings: dict[str, Any]) -> Operation:
    """A push delivery metric (delivered / opened / converted) for a Customer.io delivery id."""
    delivery_id = _text(payload.get("delivery_id"))
    if delivery_id is None:
        raise PayloadError("missing delivery_id")
    metric = (_text(payload.get("metric")) or "").lower()
    if metric not in DELIVERY_METRICS:
        raise PayloadError(f"invalid metric: {payload.get('metric')!r} (one of {', '.join(DELIVERY_METRICS)})")
    device_token = _text(payload.get("device_token"))
    if device_token is None:
        raise PayloadError("missing device_token")
    return Operation(ENTITY_PATH, {"type": "delivery", "action": "event", "identifiers": {"id": delivery_id},
                                   "name": metric, "attributes": {"device_token": device_token}})


def check_size(operation: Operation) -> bytes:
    """The operation's JSON, or PayloadError when it is over Customer.io's 32 KB per-operation limit."""
    raw = operation.encoded()
    if len(raw) > MAX_ITEM_BYTES:
        raise PayloadError(
            f"too large: the request is {len(raw)} bytes; Customer.io accepts at most {MAX_ITEM_BYTES} bytes "
            "per operation (trim the attributes)"
        )
    return raw
