"""Validation of tracking messages, following the Segment HTTP Tracking API spec.

`message_errors` checks one message and returns a list of problems as `(field, message)` pairs; the view
turns them into the 400 body (`errors: [{"index", "field", "message"}]` for a batch). `null` is accepted
wherever an optional field may be absent, as the official clients send it.
"""

from __future__ import annotations

from typing import Any

TYPES = frozenset({"identify", "track", "page", "screen", "group", "alias"})

# Segment's limits.
MAX_EVENT_BYTES = 32 * 1024
MAX_REQUEST_BYTES = 500 * 1024
MAX_BATCH_EVENTS = 2500
# The stored message_id column is 200 characters.
MAX_MESSAGE_ID = 200

# Customer.io's reporting events identify a message delivery, not a person: no userId/anonymousId needed
# (and a track event may be attributed to a group, an "object", by groupId alone).
ANONYMOUS_TRACK_EVENTS = frozenset({"Report Delivery Event", "Report Content Event"})

_OBJECT_FIELDS = ("context", "integrations", "properties", "traits")
_STRING_FIELDS = ("name", "category")
_TIME_FIELDS = ("timestamp", "originalTimestamp", "sentAt")


def _is_id(value: Any) -> bool:
    # Identifiers are strings; numbers are accepted too (some clients send numeric user ids).
    return isinstance(value, str) or (isinstance(value, (int, float)) and not isinstance(value, bool))


def _present(value: Any) -> bool:
    return value is not None and value != ""


def message_errors(message: Any, type_: str | None) -> list[tuple[str, str]]:
    """Problems with one message whose type is `type_` (None: read it from the message, as in a batch)."""
    if not isinstance(message, dict):
        return [("", "Each message must be a JSON object.")]
    errors: list[tuple[str, str]] = []
    if type_ is None:
        type_ = message.get("type")
        if not isinstance(type_, str) or type_ not in TYPES:
            errors.append(("type", f"type must be one of {', '.join(sorted(TYPES))}."))
            return errors

    for field in ("userId", "anonymousId", "previousId", "groupId"):
        value = message.get(field)
        if value is not None and not _is_id(value):
            errors.append((field, f"{field} must be a string."))
    if type_ == "alias":
        for field in ("previousId", "userId"):
            if not _present(message.get(field)):
                errors.append((field, f"{field} is required for alias."))
    elif (
        not _present(message.get("userId"))
        and not _present(message.get("anonymousId"))
        # isinstance first: an event that is a list or object is not hashable (and not one of these).
        and not (type_ == "track" and ((isinstance(message.get("event"), str)
                                        and message.get("event") in ANONYMOUS_TRACK_EVENTS)
                                       or _present(message.get("groupId"))))
    ):
        errors.append(("userId", "userId or anonymousId is required."))
    if type_ == "track":
        event = message.get("event")
        if not isinstance(event, str) or not event:
            errors.append(("event", "event is required for track and must be a non-empty string."))
    elif type_ == "group" and not _present(message.get("groupId")):
        errors.append(("groupId", "groupId is required for group."))

    for field in _OBJECT_FIELDS:
        value = message.get(field)
        if value is not None and not isinstance(value, dict):
            errors.append((field, f"{field} must be an object."))
    for field in _STRING_FIELDS:
        value = message.get(field)
        if value is not None and not isinstance(value, str):
            errors.append((field, f"{field} must be a string."))
    message_id = message.get("messageId")
    if message_id is not None:
        if not _is_id(message_id):
            errors.append(("messageId", "messageId must be a string."))
        elif len(str(message_id)) > MAX_MESSAGE_ID:
            errors.append(("messageId", f"messageId must be at most {MAX_MESSAGE_ID} characters."))
    for field in _TIME_FIELDS:
        # A string that is not a date-time is ignored by normalization (as if absent), like Customer.io
        # does: even its own documentation sends "2015-02-23T22:28:55.111Z,". Other types are refused.
        value = message.get(field)
        if value is not None and not isinstance(value, str):
            errors.append((field, f"{field} must be an ISO-8601 date-time string."))
    return errors


def envelope_errors(body: dict[str, Any]) -> list[tuple[str, str]]:
    """Problems with a batch envelope's own fields (not its items)."""
    errors: list[tuple[str, str]] = []
    items = body.get("batch")
    if not isinstance(items, list):
        errors.append(("batch", "batch must be an array of messages."))
    elif len(items) > MAX_BATCH_EVENTS:
        errors.append(("batch", f"A batch holds at most {MAX_BATCH_EVENTS} messages; this one has {len(items)}."))
    for field in ("context", "integrations"):
        value = body.get(field)
        if value is not None and not isinstance(value, dict):
            errors.append((field, f"{field} must be an object."))
    sent_at = body.get("sentAt")
    if sent_at is not None and not isinstance(sent_at, str):
        errors.append(("sentAt", "sentAt must be an ISO-8601 date-time string."))
    return errors
