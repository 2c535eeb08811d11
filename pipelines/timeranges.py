"""The time ranges a chart can show (the 1 h / 24 h / 7 d picker) and how each is cut into buckets.

One table for every chart and the API routes that feed them (delivery stats, audience history): a page
reads `?range=` with `parse_range`, an API route the same, so both always agree on what "7d" means.
Buckets are aligned to UTC multiples of their length and the last one holds "now"; the browser labels
them in its own time zone (static/js/app.js, `data-time`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class TimeRange:
    key: str  # "1h", as in the URL and the API
    label: str  # "1 hour", as in the picker's accessible name and the chart's caption
    span: timedelta
    bucket: timedelta
    label_every: int  # an axis label on every n-th bucket

    @property
    def bucket_minutes(self) -> int:
        return int(self.bucket.total_seconds() // 60)

    def buckets(self, now: datetime) -> list[datetime]:
        """The start of every bucket, oldest first; the last one contains `now`."""
        step = int(self.bucket.total_seconds())
        last = datetime.fromtimestamp(int(now.timestamp()) // step * step, tz=UTC)
        count = int(self.span / self.bucket)
        return [last - self.bucket * (count - 1 - i) for i in range(count)]

    @property
    def label_format(self) -> str:
        """"day" (weekday and time) for ranges over a day, else "time": how static/js/app.js labels it."""
        return "day" if self.span > timedelta(days=1) else "time"

    def axis_text(self, moment: datetime) -> str:
        """An axis label in UTC, as shown when the browser does not relabel it (no JavaScript)."""
        return f"{moment:%a %H:%M}" if self.label_format == "day" else f"{moment:%H:%M}"

    def bucket_of(self, moment: datetime) -> datetime:
        step = int(self.bucket.total_seconds())
        return datetime.fromtimestamp(int(moment.timestamp()) // step * step, tz=UTC)


RANGES: dict[str, TimeRange] = {
    r.key: r for r in (
        TimeRange("1h", "1 hour", timedelta(hours=1), timedelta(minutes=5), label_every=2),
        TimeRange("24h", "24 hours", timedelta(hours=24), timedelta(hours=1), label_every=4),
        TimeRange("7d", "7 days", timedelta(days=7), timedelta(hours=6), label_every=4),
    )
}
DEFAULT_RANGE = "24h"


def parse_range(value: str | None, default: str = DEFAULT_RANGE) -> TimeRange:
    """The range named by `value` (`None` or "" gives the default). Raises ValueError with a message a
    user can act on (it lists the accepted values) for anything else."""
    if not value:
        return RANGES[default]
    try:
        return RANGES[value]
    except KeyError:
        raise ValueError(f"Unknown time range {value!r}: use one of {', '.join(RANGES)}.") from None


def picker(query: Mapping[str, str], default: str = DEFAULT_RANGE) -> dict[str, Any]:
    """What a page needs to show a chart's range picker (templates/charts/_range_picker.html) for
    `?range=` in `query`: the range (the default when the value is bad) and the error to show for it."""
    try:
        chosen, error = parse_range(query.get("range"), default), ""
    except ValueError as exc:
        chosen, error = RANGES[default], str(exc)
    return {"range": chosen, "error": error, "choices": list(RANGES.values())}
