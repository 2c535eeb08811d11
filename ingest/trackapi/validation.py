"""Field rules and size limits of the Track API (Customer.io's OpenAPI schemas and published limits).

Every checker either returns the cleaned value or raises TrackError naming the field, so the v1 views
can answer `{"meta": {"errors": [...]}}` and the v2 views `{"errors": [{reason, field, message}]}`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import orjson

from .errors import TrackError

MAX_ID_BYTES = 150
MAX_ATTRIBUTE_NAME_BYTES = 150
MAX_ATTRIBUTE_VALUE_BYTES = 1000
MAX_ATTRIBUTES = 300
MAX_EVENT_NAME_BYTES = 100
MAX_EVENT_DATA_BYTES = 100_000
MAX_ENTITY_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
# v1 has no published request limit; 300 attributes of 150 + 1000 bytes fit comfortably in this.
MAX_V1_BODY_BYTES = 512 * 1024

DEVICE_PLATFORMS = ("ios", "android")
# /api/v1/metrics: the union of the metrics the OpenAPI file lists for each channel (email, in-app, push,
# Slack, SMS, webhook); /api/v1/push/events: the push metrics.
DELIVERY_METRICS = ("bounced", "clicked", "converted", "deferred", "delivered", "dropped", "opened", "spammed")
PUSH_METRICS = ("opened", "converted", "delivered")
SEGMENT_ID_TYPES = ("id", "email", "cio_id")
MAX_SEGMENT_IDS = 1000
MAX_SEGMENT_ID = 2**31 - 1  # the file's segment_id is an int32

# Customer.io decides "email or id" from the shape of the value; this is the shape we use.
_EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# A ULID: 26 Crockford base-32 characters (no I, L, O, U), the first one 0-7 (48-bit time prefix).
_ULID = re.compile(r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$", re.IGNORECASE)
# An escaped NUL in serialized JSON (not preceded by an escaping backslash): PostgreSQL's jsonb refuses it.
_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
# Unix seconds accepted for timestamps: 1970 .. 9999 (what a datetime can hold).
_MAX_UNIX_SECONDS = 253402300799


def nbytes(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def json_size(value: Any) -> int:
    """Size of `value` as compact JSON; strings count as their UTF-8 bytes without quotes."""
    if isinstance(value, str):
        return nbytes(value)
    return len(orjson.dumps(value))


def is_email_shaped(value: str) -> bool:
    return bool(_EMAIL_SHAPE.match(value))


def require_object(value: Any, field: str, *, required: bool = True) -> dict[str, Any]:
    """A JSON object (missing → {} unless required)."""
    if value is None and not required:
        return {}
    if value is None:
        raise TrackError(f"{field} is required", field=field, reason="required")
    if not isinstance(value, dict):
        raise TrackError(f"{field} must be an object", field=field)
    return value


def identifier(value: Any, field: str) -> str:
    """A person or object identifier: a non-empty string (numbers are accepted as text), ≤ 150 bytes."""
    if value is None or value == "":
        raise TrackError(f"{field} is required", field=field, reason="required")
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise TrackError(f"{field} must be a string", field=field)
    text = str(value)
    if not text.strip():
        raise TrackError(f"{field} must not be blank", field=field)
    if nbytes(text) > MAX_ID_BYTES:
        raise TrackError(f"{field} is longer than {MAX_ID_BYTES} bytes", field=field, reason="too_large")
    return text


def email(value: Any, field: str) -> str:
    text = identifier(value, field)
    if "@" not in text:
        raise TrackError(f"{field} must be an email address", field=field)
    return text


def event_name(value: Any, field: str = "name") -> str:
    if value is None or value == "":
        raise TrackError(f"{field} is required", field=field, reason="required")
    if not isinstance(value, str):
        raise TrackError(f"{field} must be a string", field=field)
    name = value.strip()
    if not name:
        raise TrackError(f"{field} must not be blank", field=field)
    if nbytes(name) > MAX_EVENT_NAME_BYTES:
        raise TrackError(f"{field} is longer than {MAX_EVENT_NAME_BYTES} bytes", field=field, reason="too_large")
    return name


def event_data(value: Any, field: str = "data") -> dict[str, Any]:
    data = require_object(value, field, required=False)
    if json_size(data) > MAX_EVENT_DATA_BYTES:
        raise TrackError(f"{field} is larger than {MAX_EVENT_DATA_BYTES} bytes", field=field, reason="too_large")
    return data


def attributes(value: Any, field: str) -> dict[str, Any]:
    """Person or object attributes: ≤ 300 of them, names ≤ 150 bytes, values ≤ 1000 bytes."""
    attrs = require_object(value, field, required=False)
    if len(attrs) > MAX_ATTRIBUTES:
        raise TrackError(f"{field} has more than {MAX_ATTRIBUTES} attributes", field=field, reason="too_large")
    for name, attr in attrs.items():
        if not name:
            raise TrackError(f"{field} has an attribute with an empty name", field=field)
        if nbytes(name) > MAX_ATTRIBUTE_NAME_BYTES:
            raise TrackError(
                f"attribute name {name[:40]!r}… is longer than {MAX_ATTRIBUTE_NAME_BYTES} bytes",
                field=f"{field}.{name[:40]}", reason="too_large",
            )
        if json_size(attr) > MAX_ATTRIBUTE_VALUE_BYTES:
            raise TrackError(
                f"value of attribute {name!r} is longer than {MAX_ATTRIBUTE_VALUE_BYTES} bytes",
                field=f"{field}.{name}", reason="too_large",
            )
    return attrs


def unix_timestamp(value: Any, field: str) -> datetime | None:
    """Unix seconds (an integer; a string of digits is tolerated) → aware datetime; None when absent."""
    if value is None:
        return None
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TrackError(f"{field} must be a unix timestamp in seconds", field=field)
    if not 0 <= value <= _MAX_UNIX_SECONDS:
        raise TrackError(f"{field} is out of range", field=field)
    return datetime.fromtimestamp(value, tz=UTC)


def ulid(value: Any, field: str = "id") -> str | None:
    """The dedupe id of an event: a ULID, returned upper-cased (ULIDs are case-insensitive)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _ULID.match(value):
        raise TrackError(f"{field} must be a valid ULID", field=field)
    return value.upper()


def choice(value: Any, field: str, choices: tuple[str, ...], *, default: str | None = None) -> str:
    if value is None and default is not None:
        return default
    if value not in choices:
        raise TrackError(f"{field} must be one of: {', '.join(choices)}", field=field)
    return str(value)


def boolean(value: Any, field: str) -> bool | None:
    if value is None:
        return None
    if not isinstance(value, bool):
        raise TrackError(f"{field} must be true or false", field=field)
    return value


def storable(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages, if the database can hold them: text may not contain NUL characters."""
    if _NUL.search(orjson.dumps(messages)):
        raise TrackError("text must not contain NUL (\\u0000) characters")
    return messages


def string(value: Any, field: str, *, required: bool = False) -> str | None:
    """A JSON string (None when absent and not required); no other type is converted."""
    if value is None:
        if required:
            raise TrackError(f"{field} is required", field=field, reason="required")
        return None
    if not isinstance(value, str):
        raise TrackError(f"{field} must be a string", field=field)
    return value


def unix_seconds(value: Any, field: str) -> datetime | None:
    """Unix seconds as a JSON integer (the new routes follow the OpenAPI file: no digit strings)."""
    if isinstance(value, str):
        raise TrackError(f"{field} must be a unix timestamp in seconds (an integer)", field=field)
    return unix_timestamp(value, field)


def segment_id(value: str) -> int:
    """The {segment_id} of /api/v1/segments/…: an int32 ≥ 0, as the OpenAPI file declares it."""
    if not value.isascii() or not value.isdigit() or int(value) > MAX_SEGMENT_ID:
        raise TrackError("segment_id must be a segment's numeric id", field="segment_id")
    return int(value)
