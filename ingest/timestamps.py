"""ISO-8601 parsing and formatting for message timestamps.

Accepts what the official clients send: `Z` or `+00:00` offsets, millisecond or microsecond precision,
and (leniently) a naive time, read as UTC. Output is always UTC with milliseconds and `Z`, the form
Segment and Customer.io deliver downstream.
"""

from __future__ import annotations

from datetime import UTC, datetime


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
