"""Per-minute delivery counts per destination (the Event delivery chart), written as upserts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import connection

from pipelines.timeranges import TimeRange

from .models import DeliveryCount

_STATUSES = ("delivered", "retrying", "failed", "filtered")


def add_counts(counts: dict[tuple[int, datetime], dict[str, int]]) -> None:
    """Add `counts[(destination_id, minute)][status]` to DeliveryCount in one statement.

    Rows are upserted in key order so concurrent workers never deadlock on them."""
    if not counts:
        return
    params: list[Any] = []
    keys = sorted(counts)
    for dest_id, minute in keys:
        c = counts[(dest_id, minute)]
        params.extend((dest_id, minute, *(int(c.get(s, 0)) for s in _STATUSES)))
    values = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(keys))
    updates = ", ".join(f"{s} = destinations_deliverycount.{s} + excluded.{s}" for s in _STATUSES)
    sql = (
        f"INSERT INTO destinations_deliverycount (destination_id, minute, {', '.join(_STATUSES)}) "
        f"VALUES {values} ON CONFLICT (destination_id, minute) DO UPDATE SET {updates}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def bucketed_counts(destination_id: int, time_range: TimeRange, now: datetime) -> list[dict[str, Any]]:
    """Outcome counts of one destination per bucket of `time_range` (pipelines.timeranges), every bucket
    present (zeros included), oldest first: `[{"start": datetime, "delivered": n, ...}]`.
    One index range over (destination, minute); the minutes are summed here so every database agrees."""
    starts = time_range.buckets(now)
    buckets = {start: dict.fromkeys(_STATUSES, 0) for start in starts}
    rows = DeliveryCount.objects.filter(destination_id=destination_id, minute__gte=starts[0],
                                        minute__lt=starts[-1] + time_range.bucket)
    for row in rows.values_list("minute", *_STATUSES).iterator():
        bucket = buckets[time_range.bucket_of(row[0])]
        for status, value in zip(_STATUSES, row[1:], strict=True):
            bucket[status] += value
    return [{"start": start, **buckets[start]} for start in starts]
