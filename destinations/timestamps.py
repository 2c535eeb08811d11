"""Timestamps as vendors want them: unix seconds from whatever an event carries.

Events carry ISO-8601 strings (`"2022-11-24T22:56:14.144Z"`), numbers, or strings of digits
(`"1679407797"`). Vendor APIs such as Customer.io's want integer unix seconds. These helpers convert
without guessing: a value that is neither a number, a string of digits nor an ISO-8601 date-time is left
alone (callers decide whether that is an error).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

# An ISO-8601 date-time with a time part: "2024-01-05T10:20:30Z", "2024-01-05 10:20:30.5+02:00",
# "2024-01-05T10:20". Date-only strings ("1990-04-01") are deliberately not matched: they are usually
# birthdays or plain dates a person wants to keep as text.
_ISO_DATETIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?(?:Z|z|[+-]\d{2}(?::?\d{2})?)?$"
)
_DIGITS = re.compile(r"^\d{1,12}$")
# Numbers at or above this are taken as milliseconds (1e11 seconds is the year 5138).
_MILLISECONDS_FROM = 100_000_000_000


def is_iso_datetime(value: Any) -> bool:
    """True when `value` is a string that looks like an ISO-8601 date-time and parses as one."""
    return isinstance(value, str) and _ISO_DATETIME.match(value) is not None and _parse_iso(value) is not None


def _parse_iso(text: str) -> datetime | None:
    normalized = text.replace(",", ".")
    if normalized[-1] in "Zz":
        normalized = normalized[:-1] + "+00:00"
    # Python < 3.11 accepted only up to 6 fractional digits; trim nanoseconds either way.
    normalized = re.sub(r"(\.\d{6})\d+", r"\1", normalized)
    try:
        parsed = datetime.fromisoformat(normalized)
    except ValueError:
        return None
    if parsed.tzinfo is None:  # a date-time without an offset is UTC, as Segment's libraries send it
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def to_unix_seconds(value: Any) -> int | None:
    """Integer unix seconds for `value`, or None when it is not a timestamp.

    Accepts ints and floats (milliseconds are recognised by size), strings of digits, ISO-8601
    date-time strings and `datetime` objects. Booleans are not timestamps."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, datetime):
        return int((value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp())
    if isinstance(value, (int, float)):
        number = int(value)
        return number // 1000 if abs(number) >= _MILLISECONDS_FROM else number
    if isinstance(value, str):
        text = value.strip()
        if _DIGITS.match(text):
            return to_unix_seconds(int(text))
        if _ISO_DATETIME.match(text):
            parsed = _parse_iso(text)
            return int(parsed.timestamp()) if parsed else None
    return None


def convert_iso_values(value: Any) -> Any:
    """A copy of `value` in which every ISO-8601 date-time string (at any depth, in objects and
    arrays) is replaced by its unix seconds. Other values are kept as they are."""
    if isinstance(value, dict):
        return {k: convert_iso_values(v) for k, v in value.items()}
    if isinstance(value, list):
        return [convert_iso_values(v) for v in value]
    if isinstance(value, str) and is_iso_datetime(value):
        return to_unix_seconds(value)
    return value
