"""Normalization of validated messages into the form we store and fan out.

Contract of `normalize` (input already passed validation.message_errors):
- `type` set (from the route for single calls); `messageId` kept, or a new uuid4 when missing;
- `receivedAt` is ours. The timestamp rule (docs/timestamps.md; `timestamps.event_time`):
  - a client that sends `originalTimestamp` separated call time from event time: that text is kept
    exactly as sent, and a `timestamp` sent beside it is the caller's explicit event time (a historical
    import), kept with no skew correction;
  - otherwise the client's time is `originalTimestamp` if sent, else `timestamp` (older Segment libraries
    send only `timestamp`, equal to the call time), stored as `originalTimestamp`, and `timestamp` is
    that time corrected for the device clock's skew, `receivedAt − (sentAt − client time)`, when a
    `sentAt` is known (event or batch level), the client time as-is without one;
  - `receivedAt` when the client gave no time at all;
- a client time that does not parse is treated as absent (dropped);
- all times we write (`timestamp`, `receivedAt`, `sentAt`, a derived `originalTimestamp`) as ISO-8601 UTC
  with milliseconds and `Z`;
- batch-level `context` / `integrations` merged under each message's own (the message's keys win);
- `context.ip` filled with the request's client address unless the message has one;
- `writeKey` removed (it is a credential, and it is not part of the event).
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from destinations import timestamps


class Envelope:
    """What a request contributes to every message in it."""

    __slots__ = ("context", "integrations", "ip", "received_at", "received_iso", "sent_at")

    def __init__(
        self,
        received_at: datetime,
        ip: str,
        context: dict[str, Any] | None = None,
        integrations: dict[str, Any] | None = None,
        sent_at: str | None = None,
    ) -> None:
        self.received_at = received_at
        self.received_iso = timestamps.format_utc(received_at)
        self.ip = ip
        self.context = context or None
        self.integrations = integrations or None
        self.sent_at = timestamps.parse_iso(sent_at) if sent_at else None


def new_message_id() -> str:
    """A random (version 4) UUID string: the same values as str(uuid.uuid4()), in less than half the time
    (building a uuid.UUID object per event was ~7 % of a batch of events without messageIds)."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:32]}"


def normalize(message: dict[str, Any], type_: str | None, envelope: Envelope) -> dict[str, Any]:
    """Return the stored form of `message` (a new dict; the input is not modified)."""
    out = dict(message)
    out.pop("writeKey", None)
    if type_ is not None:
        out["type"] = type_
    message_id = out.get("messageId")
    if message_id is None or message_id == "":
        out["messageId"] = new_message_id()
    elif not isinstance(message_id, str):
        out["messageId"] = str(message_id)
    for field in ("userId", "anonymousId", "previousId", "groupId"):
        value = out.get(field)
        if value is not None and not isinstance(value, str):
            out[field] = str(value)

    context = out.get("context")
    if envelope.context:
        context = {**envelope.context, **context} if context else dict(envelope.context)
    else:
        context = dict(context) if context else {}
    if not context.get("ip") and envelope.ip:
        context["ip"] = envelope.ip
    out["context"] = context
    if envelope.integrations:
        integrations = out.get("integrations")
        out["integrations"] = {**envelope.integrations, **integrations} if integrations else dict(envelope.integrations)

    raw_sent = out.get("sentAt")
    sent_at = timestamps.parse_iso(raw_sent) if raw_sent else envelope.sent_at
    original, event_time = timestamps.event_time(
        out.get("timestamp"), out.get("originalTimestamp"), sent_at, envelope.received_at
    )
    out["timestamp"] = envelope.received_iso if event_time is None else timestamps.format_utc(event_time)
    if original is None:
        out.pop("originalTimestamp", None)
    else:
        out["originalTimestamp"] = original
    if sent_at is not None:
        out["sentAt"] = timestamps.format_utc(sent_at)
    else:
        out.pop("sentAt", None)
    out["receivedAt"] = envelope.received_iso
    return out
