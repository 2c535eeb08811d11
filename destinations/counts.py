"""Per-minute delivery counts per destination (the Event delivery chart), written as upserts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import connection

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
