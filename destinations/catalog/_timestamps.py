"""Timestamp conversions shared by catalog entries (vendors want epoch milliseconds or real datetimes).

Not a catalog entry: the registry skips modules whose name starts with an underscore.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

# ISO-8601 as analytics libraries send it: a date, optionally a time, optionally an offset or "Z".
_ISO_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|z|[+-]\d{2}(:?\d{2})?)?)?$"
)


def parse_timestamp(value: Any) -> datetime | None:
    """An aware datetime for an ISO-8601 string (naive means UTC), a datetime, or epoch seconds /
    milliseconds as a number; None for anything else (including strings that only look numeric)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        seconds = value / 1000 if abs(value) >= 1e11 else value  # 1e11 s is year 5138: it must be ms
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str) or not _ISO_RE.match(value.strip()):
        return None
    text = value.strip().replace("z", "Z")
    if "." in text:
        # Python < 3.11 rejects more than 6 fractional digits; trim to microseconds.
        head, _, rest = text.partition(".")
        digits = re.match(r"\d+", rest).group(0)  # type: ignore[union-attr]
        text = f"{head}.{digits[:6]}{rest[len(digits):]}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def epoch_ms(value: Any) -> int | None:
    """Milliseconds since the epoch for anything `parse_timestamp` reads, else None."""
    parsed = parse_timestamp(value)
    return None if parsed is None else round(parsed.timestamp() * 1000)
