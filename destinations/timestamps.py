"""Timestamps: the one parser every part of the pipeline uses, and the forms vendors want.

The rules (docs/timestamps.md, "How a time is read"):

- **An ISO-8601 date-time** is `YYYY-MM-DD`, `T` or a space, `HH:MM`, optional `:SS`, optional fraction
  (`.` or `,`, up to 9 digits; past microseconds it is cut, not rounded), optional offset (`Z`, `z`,
  `±HH`, `±HHMM`, `±HH:MM`). Without an offset it is UTC, as Segment's libraries mean it. Surrounding
  spaces are ignored; more than 64 characters is not a time. `parse_iso` reads exactly these.
- **A date alone** (`1990-04-01`) is a calendar date, not an instant: it is not a timestamp anywhere (a
  birthday stays text, a message time of `"2024-05-01"` counts as absent). `is_iso_date` and `parse_date`
  read it where a date is wanted (a warehouse `date` column).
- **A number** is unix time: seconds, or milliseconds when its size is 1e11 or more (1e11 seconds is the
  year 5138). A string of 1 to 16 digits is that number. Booleans are not numbers. `parse` reads numbers,
  digit strings, ISO-8601 date-times and `datetime` objects (naive means UTC).

Where each reader is used: message times in the tracking API (`timestamp`, `originalTimestamp`, `sentAt`)
are ISO-8601 text only (`parse_iso`, `event_time`): Segment's spec defines them as ISO-8601 strings.
Values in mapped payloads that a vendor wants as a time (Customer.io's unix seconds, Mixpanel's and
Amplitude's epoch milliseconds, warehouse timestamp columns) go through `parse`.

Output is always UTC: `format_utc` writes `2024-05-01T12:00:00.123Z`, the form Segment and Customer.io
deliver downstream. Nothing here raises for bad input: what is not a time gives None.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

__all__ = ["convert_iso_values", "epoch_ms", "event_time", "format_utc", "is_iso_date", "is_iso_datetime", "parse",
           "parse_date", "parse_iso", "to_unix_seconds"]

MAX_TEXT_LENGTH = 64
_ISO_DATETIME = re.compile(
    r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)(?:[.,](\d{1,9}))?(Z|z|[+-]\d{2}(?::?\d{2})?)?"
)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DIGITS = re.compile(r"\d{1,16}")
# Numbers at or above this are taken as milliseconds (1e11 seconds is the year 5138).
MILLISECONDS_FROM = 100_000_000_000


def parse_iso(text: Any) -> datetime | None:
    """The aware datetime an ISO-8601 date-time string denotes (see the module's rules), else None."""
    if not isinstance(text, str) or len(text) > MAX_TEXT_LENGTH:
        return None
    match = _ISO_DATETIME.fullmatch(text.strip())
    if match is None:
        return None
    day, clock, fraction, offset = match.groups()
    normalized = f"{day}T{clock}"
    if fraction:
        normalized += "." + fraction[:6].ljust(6, "0")
    if offset:
        normalized += "+00:00" if offset in ("Z", "z") else offset
    try:
        parsed = datetime.fromisoformat(normalized)
    except ValueError:  # month 13, hour 25, ...
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def is_iso_datetime(value: Any) -> bool:
    """True when `value` is a string `parse_iso` reads."""
    return parse_iso(value) is not None


def parse(value: Any) -> datetime | None:
    """The instant `value` denotes: a `datetime` (naive means UTC), unix seconds or milliseconds as a
    number or a string of digits, or an ISO-8601 date-time string; None for anything else."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if _DIGITS.fullmatch(text):
            return _from_number(int(text))
        return parse_iso(value)
    if isinstance(value, (int, float)):
        return _from_number(value)
    return None


def _from_number(number: float) -> datetime | None:
    seconds = number / 1000 if abs(number) >= MILLISECONDS_FROM else number
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def is_iso_date(value: Any) -> bool:
    """True when `value` is a date alone, `YYYY-MM-DD` (a real calendar day)."""
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value.strip()):
        return False
    try:
        date.fromisoformat(value.strip())
    except ValueError:
        return False
    return True


def parse_date(value: Any) -> date | None:
    """A calendar date: `YYYY-MM-DD`, a `date`, or the UTC date of anything `parse` reads; else None."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
        return date.fromisoformat(value.strip()) if is_iso_date(value) else None
    moment = parse(value)
    return None if moment is None else moment.astimezone(UTC).date()


def to_unix_seconds(value: Any) -> int | None:
    """Integer unix seconds for anything `parse` reads, else None."""
    moment = parse(value)
    return None if moment is None else int(moment.timestamp())


def epoch_ms(value: Any) -> int | None:
    """Milliseconds since the epoch for anything `parse` reads, else None."""
    moment = parse(value)
    return None if moment is None else round(moment.timestamp() * 1000)


def convert_iso_values(value: Any) -> Any:
    """A copy of `value` in which every ISO-8601 date-time string (at any depth, in objects and arrays) is
    replaced by its unix seconds. Other values (numbers, dates alone, text) are kept as they are."""
    if isinstance(value, dict):
        return {k: convert_iso_values(v) for k, v in value.items()}
    if isinstance(value, list):
        return [convert_iso_values(v) for v in value]
    if isinstance(value, str):
        moment = parse_iso(value)
        return value if moment is None else int(moment.timestamp())
    return value


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
    Values that are not ISO-8601 date-time strings (`parse_iso`) count as absent. Never raises.
    """
    original = parse_iso(original_timestamp)
    explicit = parse_iso(timestamp)
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
