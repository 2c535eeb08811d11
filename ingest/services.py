"""Storing accepted messages and handing them to fan-out.

`store_events` is the one way events enter the database (the /v1 API and the Track API sources both
call it): one multi-row INSERT ... ON CONFLICT (source_id, message_id) DO NOTHING per request, inside the
caller's transaction, which also writes one OutboxEntry listing the new ids; after commit the ids are
enqueued for fan-out (`hand_off`). If the broker is down the entry stays and the outbox sweep
(ingest.outbox) dispatches it later; fan-out deletes it when it records the events' delivery work.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
import psycopg
from django.conf import settings
from django.db import connection, transaction

from connections.models import Source
from pipelines.transactions import atomic_retrying_conflicts
from privacy import suppression

log = logging.getLogger(__name__)

FAN_OUT_TASK = "destinations.fan_out"
# Largest id list one fan-out task carries (the outbox sweep uses the same size).
MAX_IDS_PER_TASK = 500


def store_events(source: Source, messages: Sequence[dict[str, Any]], received_at: datetime) -> list[int]:
    """Insert normalized messages (each has messageId and type); return the ids of rows that are new.

    Duplicates of (source, messageId) already stored are skipped silently: acknowledging them again is
    what makes client retries safe. Messages of a suppressed identity are dropped (counted, never stored:
    privacy.suppression). Enqueues fan-out for the new ids when the transaction commits. Run outside a
    transaction, a deadlock or serialization failure is retried (pipelines.transactions).
    """
    if not messages:
        return []
    messages = suppression.split(source, messages, received_at)
    if not messages:
        return []

    def write() -> list[int]:
        with connection.cursor() as cursor:
            rows, entry = insert_rows(cursor, [(source, messages, received_at)])
        ids = [row[0] for row in rows]
        if entry is not None:
            transaction.on_commit(lambda: hand_off(ids, entry))
        return ids

    # A concurrent request with some of the same messageIds can still deadlock with this one (or, under
    # a stricter isolation level, fail to serialize): run the transaction again rather than fail it.
    return atomic_retrying_conflicts(write)


def insert_rows(
    cursor: Any, requests: Sequence[tuple[Source, Sequence[dict[str, Any]], datetime]]
) -> tuple[list[tuple[int, int, str]], int | None]:
    """Run the one INSERT for the messages of one or more requests, with the OutboxEntry listing the new
    rows; return (id, source_id, message_id) of the rows that are new, in the order of the messages, and
    the entry's id (None when every message was a duplicate). The caller owns the transaction."""
    if connection.vendor == "postgresql":
        return _insert_postgres(requests)
    rows: list[Any] = []
    count = 0
    for source, messages, received_at in requests:
        stamp = connection.ops.adapt_datetimefield_value(received_at)  # the text form the ORM compares with
        for m in messages:
            rows.extend((source.workspace_id, source.id, m["messageId"], m["type"], orjson.dumps(m).decode(), stamp))
        count += len(messages)
    values = ",".join(["(%s,%s,%s,%s,%s,%s)"] * count)
    sql = (
        "INSERT INTO ingest_event (workspace_id, source_id, message_id, type, payload, received_at) "
        f"VALUES {values} ON CONFLICT (source_id, message_id) DO NOTHING RETURNING id, source_id, message_id"
    )
    cursor.execute(sql, rows)
    new = cursor.fetchall()
    if not new:
        return new, None
    cursor.execute("INSERT INTO ingest_outboxentry (event_ids, handed_at) VALUES (%s, %s) RETURNING id",
                   [orjson.dumps([r[0] for r in new]).decode(), stamp])
    return new, cursor.fetchone()[0]


# The events and their outbox entry in one statement (the entry only when some row is new).
# Rows go in sorted by (source_id, message_id), the unique key: a transaction inserting a messageId another
# one has inserted but not committed waits for it, and with every transaction taking its keys in the same
# order none can hold a key the one it waits for still needs, so concurrent duplicates wait and never
# deadlock (in request order, two group commits of the same ids in different orders did; see
# docs/reliability.md). Ids are still drawn in message order first (the CTE `x`, materialized before the
# sort), because fan-out delivers a request's events in id order: an identify must stay ahead of the
# track that follows it. A duplicate burns its id, which only leaves a gap. (The sequence's name is looked
# up once per statement: per row it cost 7 µs.)
_INSERT_POSTGRES = (
    "WITH x AS MATERIALIZED (SELECT nextval((SELECT pg_get_serial_sequence('ingest_event', 'id'))::regclass) "
    "AS id, x.* "
    "FROM json_to_recordset(%s::json) AS x(w bigint, s bigint, m text, t text, p jsonb, r timestamptz)), "
    "ins AS (INSERT INTO ingest_event (id, workspace_id, source_id, message_id, type, payload, received_at) "
    'SELECT x.id, x.w, x.s, x.m, x.t, x.p, x.r FROM x ORDER BY x.s, x.m COLLATE "C", x.id '
    "ON CONFLICT (source_id, message_id) DO NOTHING RETURNING id, source_id, message_id), "
    "box AS (INSERT INTO ingest_outboxentry (event_ids, handed_at) "
    "SELECT json_agg(id ORDER BY id)::text, now() FROM ins HAVING count(*) > 0 RETURNING id) "
    "SELECT ins.id, ins.source_id, ins.message_id, box.id FROM ins, box ORDER BY ins.id"
)


def _insert_postgres(
    requests: Sequence[tuple[Source, Sequence[dict[str, Any]], datetime]],
) -> tuple[list[tuple[int, int, str]], int | None]:
    """All rows travel as ONE JSON document, serialized by orjson in C and unpacked by PostgreSQL
    (json_to_recordset): a constant, short statement whatever the row count. A multi-row VALUES list made
    psycopg parse a statement of 600 placeholders in Python for every 100-event batch (over a third of
    a batch request's CPU) and quote or dump each value. A messageId repeated within the document is
    stored once, the first occurrence (ON CONFLICT DO NOTHING applies between the rows of one statement
    too). Rows are inserted in (source_id, message_id) order, so concurrent transactions lock their keys
    in one global order; their ids, and the rows returned, follow the order of the messages.
    Errors are translated to django.db's classes as on Django's own cursors (the view answers DataError,
    e.g. a \\u0000 jsonb refuses, with 400 and OperationalError with 503)."""
    doc = orjson.dumps([
        {"w": source.workspace_id, "s": source.id, "m": m["messageId"], "t": m["type"], "p": m, "r": received_at}
        for source, messages, received_at in requests for m in messages
    ])
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as raw:
        raw.execute(_INSERT_POSTGRES, [doc.decode()])
        rows = raw.fetchall()
    return [row[:3] for row in rows], (rows[0][3] if rows else None)


def hand_off(event_ids: list[int], entry: int) -> None:
    """Pass newly committed events (and their outbox entry) to fan-out: publish now (one task per
    request), or, when INGEST_DISPATCH_WINDOW_MS > 0, queue them for this process's dispatcher thread,
    which publishes every entry gathered during that window in as few tasks as it can (a publish costs
    ~0.3-0.8 ms of CPU; this amortizes it). Either way, an entry whose publish never happens is found by
    the outbox sweep."""
    window = float(getattr(settings, "INGEST_DISPATCH_WINDOW_MS", 0) or 0)
    if window <= 0:
        dispatch(event_ids, [entry])
    else:
        _coalescer.add(event_ids, entry, window / 1000)


def dispatch_entries(entries: Sequence[tuple[list[int], int]], *, force: bool = False) -> int:
    """Publish (event ids, entry id) pairs, whole entries together up to MAX_IDS_PER_TASK ids per task
    (an entry is never split: fan-out claims an entry with all its events). Returns how many entries the
    broker took; stops at the first failed publish."""
    sent = 0
    ids: list[int] = []
    batch: list[int] = []
    for event_ids, entry in entries:
        if batch and len(ids) + len(event_ids) > MAX_IDS_PER_TASK:
            if not dispatch(ids, batch, force=force):
                return sent
            sent += len(batch)
            ids, batch = [], []
        ids.extend(event_ids)
        batch.append(entry)
    if batch and dispatch(ids, batch, force=force):
        sent += len(batch)
    return sent


class _Coalescer:
    """Gathers entries from many requests and publishes them together from one background thread."""

    def __init__(self) -> None:
        self._pending: list[tuple[list[int], int]] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def add(self, event_ids: list[int], entry: int, window: float) -> None:
        with self._lock:
            self._pending.append((event_ids, entry))
            # (Re)start the thread lazily, and in a forked child, where the parent's thread does not exist.
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, args=(window,), daemon=True,
                                                name="ingest-dispatch")
                self._thread.start()
        self._wake.set()

    def _run(self, window: float) -> None:
        while True:
            self._wake.wait()
            time.sleep(window)
            self._wake.clear()
            with self._lock:
                entries, self._pending = self._pending, []
            dispatch_entries(entries)


_coalescer = _Coalescer()


class _BrokerBreaker:
    """Remembers a failed publish so the next requests skip the broker for a while.

    Without it every request would wait for the broker's connect timeouts (redis-py retries a refused
    connection for about two seconds) while it is down. Skipped events are safe: the sweep sends them.
    """

    def __init__(self) -> None:
        self._open_until = 0.0
        self._lock = threading.Lock()

    def is_open(self) -> bool:
        return time.monotonic() < self._open_until

    def trip(self) -> None:
        with self._lock:
            self._open_until = time.monotonic() + float(getattr(settings, "INGEST_BROKER_BACKOFF_SECONDS", 5.0))

    def reset(self) -> None:
        self._open_until = 0.0


broker_breaker = _BrokerBreaker()


def dispatch(event_ids: list[int], entries: list[int], *, force: bool = False) -> bool:
    """Enqueue one fan-out task for these events and their outbox entries; True when the broker took
    it. Never raises.

    After a broker failure, publishing is skipped for INGEST_BROKER_BACKOFF_SECONDS (the events stay
    undispatched for the outbox sweep) unless `force` is given, as the sweep itself does.
    """
    from pipelines.celery import app

    if not force and broker_breaker.is_open():
        return False
    try:
        app.send_task(FAN_OUT_TASK, args=[event_ids], kwargs={"entries": entries}, retry=False)
    except Exception:
        broker_breaker.trip()
        log.warning("broker unavailable; %d events left for the outbox sweep", len(event_ids), exc_info=True)
        return False
    broker_breaker.reset()
    return True
