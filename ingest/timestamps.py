"""ISO-8601 parsing and formatting for message timestamps.

Accepts what the official clients send: `Z` or `+00:00` offsets, millisecond or microsecond precision,
and (leniently) a naive time, read as UTC. Output is always UTC with milliseconds and `Z`, the form
Segment and Customer.io deliver downstream.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def parse(value: str) -> datetime | None:
    """The aware datetime `value` denotes, or None when it is not an ISO-8601 date-time."""
    if not value or len(value) > 64:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed


def format_utc(moment: datetime) -> str:
    """`2024-05-01T12:00:00.123Z`."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def event_time(
    timestamp: Any, original_timestamp: Any, sent_at: datetime | None, received_at: datetime
) -> tuple[str | None, datetime | None]:
    """(the `originalTimestamp` to store, the event time) for a message's client times.

    - `originalTimestamp` sent (and parsable): it is kept as the client's exact text. A parsable `timestamp`
      beside it is the caller's own event time (rudder-sdk-node and other clients that separate call time
      from event time send `timestamp` only when the caller set one) and is the event time as given;
    - otherwise the client time is `originalTimestamp`, else `timestamp` (Segment's libraries send only
      `timestamp`, equal to the call time); the stored `originalTimestamp` is that time (our format when it
      came from `timestamp`), and the event time is it corrected for the device clock's skew,
      `received_at − (sent_at − client time)`, when `sent_at` is known;
    - (None, None) when the client sent no parsable time (the caller uses `received_at`).
    Values that are not strings or do not parse count as absent. Never raises.
    """
    original = parse(original_timestamp) if isinstance(original_timestamp, str) else None
    explicit = parse(timestamp) if isinstance(timestamp, str) else None
    if original is not None and explicit is not None:
        return original_timestamp, explicit
    client = original if original is not None else explicit
    if client is None:
        return None, None
    stored = original_timestamp if original is not None else format_utc(client)
    if sent_at is None:
        return stored, client
    try:
        return stored, received_at - (sent_at - client)
    except OverflowError:  # absurd client clocks: keep their time rather than fail
        return stored, client
