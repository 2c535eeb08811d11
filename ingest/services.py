"""Storing accepted messages and handing them to fan-out.

`store_events` is the one way events enter the database (the /v1 API and the Track API sources both
call it): one multi-row INSERT ... ON CONFLICT (source_id, message_id) DO NOTHING per request, inside the
caller's transaction; after commit the new ids are enqueued for fan-out. If the broker is down the
events stay with dispatched_at empty and the outbox sweep dispatches them later.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Sequence

import orjson
from django.db import connection, transaction

from connections.models import Source

log = logging.getLogger(__name__)

FAN_OUT_TASK = "destinations.fan_out"


def store_events(source: Source, messages: Sequence[dict[str, Any]], received_at: datetime) -> list[int]:
    """Insert normalized messages (each has messageId and type); return the ids of rows that are new.

    Duplicates of (source, messageId) already stored are skipped silently: acknowledging them again is
    what makes client retries safe. Enqueues fan-out for the new ids when the transaction commits.
    """
    if not messages:
        return []
    rows: list[Any] = []
    for m in messages:
        rows.extend(
            (source.workspace_id, source.id, m["messageId"], m["type"], orjson.dumps(m).decode(), received_at)
        )
    cast = "::jsonb" if connection.vendor == "postgresql" else ""
    values = ",".join([f"(%s,%s,%s,%s,%s{cast},%s)"] * len(messages))
    sql = (
        "INSERT INTO ingest_event (workspace_id, source_id, message_id, type, payload, received_at) "
        f"VALUES {values} ON CONFLICT (source_id, message_id) DO NOTHING RETURNING id"
    )
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql, rows)
            ids = [r[0] for r in cursor.fetchall()]
        if ids:
            transaction.on_commit(lambda: dispatch(ids))
    return ids


def dispatch(event_ids: list[int]) -> bool:
    """Enqueue one fan-out task for these events. Never raises: on broker trouble the sweep catches up."""
    from pipelines.celery import app

    try:
        app.send_task(FAN_OUT_TASK, args=[event_ids], retry=False)
    except Exception:  # noqa: BLE001 - any broker failure; the events are safe in the database
        log.warning("broker unavailable; %d events left for the outbox sweep", len(event_ids), exc_info=True)
        return False
    return True
