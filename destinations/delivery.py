"""Sending mapped payloads through an action definition, and classifying what happened.

This module knows nothing about Celery or rows: the tasks (destinations/tasks.py) and the preview
(destinations/preview.py) both call `send_chunk`, so a test request from the UI goes through exactly the
code a real delivery does.
"""

from __future__ import annotations

import logging
import random
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
import psycopg
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from .catalog.base import ActionDefinition, BatchResult, LocalBatch
from .counts import add_counts
from .errors import DeliveryError, PayloadError
from .http import Exchange
from .models import DeliveryStatus, DestinationCircuit

log = logging.getLogger(__name__)

# Exponential backoff with full jitter: attempt n waits uniformly in [0, min(CAP, BASE * 2**(n-1))],
# and never less than the destination's Retry-After.
BACKOFF_BASE_SECONDS = 5.0
BACKOFF_CAP_SECONDS = 600.0
# Even full jitter keeps a small floor so a retry storm cannot hammer a struggling destination.
BACKOFF_FLOOR_SECONDS = 1.0


def batch_size(action_def: ActionDefinition, settings: dict[str, Any]) -> int:
    """How many payloads one request carries (the catalog decides: ActionDefinition.batch_size_for)."""
    return action_def.batch_size_for(settings)


@dataclass
class ItemOutcome:
    """What happened to one payload of a chunk. `error` None means delivered."""

    error: Exception | None
    exchange: Exchange | None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def retryable(self) -> bool:
        return isinstance(self.error, DeliveryError) and self.error.retryable


def send_chunk(
    action_def: ActionDefinition, settings: dict[str, Any], payloads: list[dict[str, Any]], *, size: int
) -> list[ItemOutcome]:
    """Send `payloads` (at most `size` of them) in one request and return one outcome per payload.

    size 1 → perform(settings, payload); size > 1 → perform_batch(settings, payloads) so a batching
    destination always receives its batch shape. Per-item errors of a BatchResult apply to those items
    only. Any other exception from a catalog entry is turned into a retryable DeliveryError (a bug in an
    entry must not lose events), except PayloadError which is permanent."""
    try:
        if size > 1 and action_def.perform_batch is not None:
            result = action_def.perform_batch(settings, payloads)
            if not isinstance(result, BatchResult):  # tolerate entries returning a bare Exchange
                return [ItemOutcome(None, result) for _ in payloads]
            return [ItemOutcome(result.item_errors.get(i), result.exchange) for i in range(len(payloads))]
        outcomes = []
        for payload in payloads:
            try:
                outcomes.append(ItemOutcome(None, action_def.perform(settings, payload)))
            except (DeliveryError, PayloadError) as exc:
                outcomes.append(ItemOutcome(exc, getattr(exc, "exchange", None)))
        return outcomes
    except DeliveryError as exc:
        return [ItemOutcome(exc, exc.exchange) for _ in payloads]
    except PayloadError as exc:
        return [ItemOutcome(exc, None) for _ in payloads]
    except Exception as exc:
        log.exception("action %s raised unexpectedly", action_def.key)
        error = DeliveryError(f"Internal error in {action_def.key}: {exc.__class__.__name__}: {exc}", retryable=True)
        return [ItemOutcome(error, None) for _ in payloads]


def send_local(action_def: ActionDefinition, settings: dict[str, Any], batch: LocalBatch) -> list[ItemOutcome]:
    """Apply one chunk through an in-process action (`perform_local`, see ActionDefinition) and return
    one outcome per payload, with the same error contract as send_chunk (no exchange: nothing is sent)."""
    assert action_def.perform_local is not None
    try:
        result = action_def.perform_local(settings, batch)
    except (DeliveryError, PayloadError) as exc:
        return [ItemOutcome(exc, None) for _ in batch.payloads]
    except Exception as exc:
        log.exception("in-process action %s raised unexpectedly", action_def.key)
        error = DeliveryError(f"Internal error in {action_def.key}: {exc.__class__.__name__}: {exc}", retryable=True)
        return [ItemOutcome(error, None) for _ in batch.payloads]
    return [ItemOutcome(result.item_errors.get(i), None) for i in range(len(batch.payloads))]


def backoff_seconds(attempts: int, retry_after: float | None = None) -> float:
    """Seconds to wait after the `attempts`-th failed attempt (1-based)."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempts - 1))
    wait = max(BACKOFF_FLOOR_SECONDS, random.uniform(0, ceiling))
    if retry_after is not None:
        wait = max(wait, retry_after)
    return wait


def next_attempt(now: datetime, attempts: int, retry_after: float | None) -> datetime:
    return now + timedelta(seconds=backoff_seconds(attempts, retry_after))


# --- running deliveries -------------------------------------------------------------------------------
#
# `deliver_chunks(ids)` (the task "destinations.deliver_chunks") sends first attempts: it holds the
# DeliveryChunks fan-out wrote, sends their payloads through the action definition, and in one statement
# inserts each event's Delivery row with its outcome and deletes the chunks. `deliver(ids)` (the task
# "destinations.deliver") does the same for existing rows (retries) and updates them. `sweep()` (the
# periodic task "destinations.sweep") re-enqueues due retries, chunks that waited for a slot, and work
# whose task was lost.


@dataclass
class _Row:
    id: int
    event_id: int
    destination_id: int
    action_id: int | None
    status: str
    attempts: int
    payload: Any
    # first attempts read from a DeliveryChunk: no Delivery row yet (ids are negative, unique per task)
    chunk_id: int | None = None
    message_id: str = ""
    workspace_id: int = 0


@dataclass
class _Update:
    id: int
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str
    request: Any
    response: Any
    next_attempt_at: datetime | None


# Not an outcome: the row was not attempted because its destination had no free slot (see below).
DEFERRED = "deferred"

# Circuit breaker, shared by all worker processes through the database (DestinationCircuit): while a
# destination is failing at request level, its first attempts go straight to the retry queue (whose own
# workers keep probing it), so it cannot occupy the first-attempt workers the other destinations need.
BREAKER_MAX_SECONDS = 30.0


def _circuits(destination_ids: set[int]) -> dict[int, tuple[datetime, str]]:
    """Destination id → (open until, reason) for the circuits of `destination_ids`, open or expired (an
    expired one no longer holds first attempts back, but is still closed by the next success)."""
    if connection.vendor == "postgresql":  # every task asks: skip the ORM's statement building
        with connection.cursor() as cursor:
            cursor.execute("SELECT destination_id, open_until, reason FROM destinations_destinationcircuit "
                           "WHERE destination_id = ANY(%s)", [sorted(destination_ids)])
            return {r[0]: (r[1], r[2]) for r in cursor.fetchall()}
    return {c.destination_id: (c.open_until, c.reason)
            for c in DestinationCircuit.objects.filter(destination_id__in=destination_ids)}


def _trip(destination_id: int, seconds: float, reason: str) -> None:
    DestinationCircuit.objects.update_or_create(
        destination_id=destination_id,
        defaults={"open_until": timezone.now() + timedelta(seconds=seconds), "reason": reason[:500]},
    )


def _close(destination_id: int) -> None:
    DestinationCircuit.objects.filter(destination_id=destination_id).delete()


# Per-destination concurrency: at most DELIVERY_DESTINATION_CONCURRENCY tasks send to one destination at
# a time, across every worker (PostgreSQL session advisory locks, one per slot: no rows written, and a
# dead worker's slots free themselves when its connection closes). A task that finds every slot taken
# sends nothing: its rows wait a moment and the sweep brings them back. So a destination that hangs can
# hold at most that many worker processes, and the others keep flowing.
_SLOT_NAMESPACE = 0x5107_0000
DEFER_SECONDS = 1.0


def _acquire_slot(destination_id: int) -> int | None:
    """A free slot number for the destination (held until `_release_slot`), or None when all are taken.
    A second group of the same task for the same destination gets the same slot again (session locks are
    re-entrant and counted; each acquisition is released once), which is right: a task sends its groups
    one after the other.
    Always a slot when the limit is off (0) or the database has no advisory locks (SQLite)."""
    limit = settings.DELIVERY_DESTINATION_CONCURRENCY
    if limit <= 0 or connection.vendor != "postgresql":
        return -1
    with connection.cursor() as cursor:
        # the rows are pulled one at a time, so the scan stops at the first lock it gets
        cursor.execute("SELECT s FROM generate_series(0, %s - 1) AS s "
                       "WHERE pg_try_advisory_lock(%s + s, %s) LIMIT 1",
                       [limit, _SLOT_NAMESPACE, destination_id % 2**31])
        row = cursor.fetchone()
    return None if row is None else int(row[0])


def _release_slot(destination_id: int, slot: int) -> None:
    if slot < 0:
        return
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_SLOT_NAMESPACE + slot, destination_id % 2**31])
    except Exception:  # a lost connection released its locks anyway
        log.warning("could not release delivery slot %s of destination %s", slot, destination_id, exc_info=True)


def _lease_seconds() -> float:
    return max(float(settings.DELIVERY_LEASE_SECONDS),
               3 * (settings.OUTBOUND_CONNECT_TIMEOUT + settings.OUTBOUND_READ_TIMEOUT) + 10)


def _claim(ids: list[int], now: datetime, lease_until: datetime) -> list[_Row]:
    """Lease the rows among `ids` that are pending/retrying, due and not leased; one UPDATE ... RETURNING.
    On PostgreSQL a row another worker is updating is re-checked after its lock is released, so two
    workers never both win it."""
    if not ids:
        return []
    marks = ",".join(["%s"] * len(ids))
    sql = (
        "UPDATE destinations_delivery SET locked_until = %s "
        f"WHERE id IN ({marks}) AND status IN ('pending', 'retrying') "
        "AND (next_attempt_at IS NULL OR next_attempt_at <= %s) "
        "AND (locked_until IS NULL OR locked_until < %s) "
        "RETURNING id, event_id, destination_id, action_id, status, attempts, payload"
    )
    # the same text form the ORM writes and compares with (SQLite keeps datetimes as text)
    lease, at = connection.ops.adapt_datetimefield_value(lease_until), connection.ops.adapt_datetimefield_value(now)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [lease, *ids, at, at])
        fetched = cursor.fetchall()
    rows = [_Row(r[0], r[1], r[2], r[3], r[4], r[5], json_value(r[6])) for r in fetched]
    rows.sort(key=lambda row: row.id)
    return rows


def json_value(value: Any) -> Any:
    """A json/jsonb column read through a raw cursor: Django's psycopg setup hands jsonb over as text."""
    return orjson.loads(value) if isinstance(value, (str, bytes)) else value


@contextmanager
def bound_cursor() -> Iterator[Any]:
    """A cursor for the hot path's large statements. On PostgreSQL it sends the parameters apart from
    the statement (server-side binding): Django's cursors bind on the client, quoting every parameter into
    the SQL text in Python, which for the JSON documents these statements carry cost more than running
    them. Errors are translated to django.db's classes as on Django's cursors. While queries are being
    captured (tests, DEBUG) Django's own cursor is used, so they are recorded; the SQL is the same."""
    if connection.vendor != "postgresql" or connection.queries_logged:
        with connection.cursor() as cursor:
            yield cursor
        return
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as raw:
        yield raw


def int_array(ids: list[int]) -> str:
    """A PostgreSQL array literal for `%s::bigint[]`: one string to quote instead of a list psycopg
    dumps element by element in Python."""
    return "{" + ",".join(str(int(i)) for i in ids) + "}"


def relax_commit() -> None:
    """PostgreSQL: let the current transaction commit without waiting for its WAL flush.

    Only for the engine's own bookkeeping (fan-out and delivery outcomes), never for ingest, whose commit
    is the promise behind every 200. If the database crashes, the last fraction of a second of these
    transactions is lost as a whole: events fall back to undispatched (the outbox sweep fans them out
    again) and rows to pending or to their previous outcome (sent again). That is a duplicate, never a
    loss, which at-least-once delivery already allows; in exchange the engine no longer waits a disk
    flush (~4 ms here) per task."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _lock(ids: list[int], now: datetime) -> list[_Row]:
    """PostgreSQL: lock the rows among `ids` that are pending/retrying and due, skipping rows another
    task holds; the caller's transaction keeps them until it records their outcomes."""
    if not ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, event_id, destination_id, action_id, status, attempts, payload FROM destinations_delivery "
            "WHERE id = ANY(%s::bigint[]) AND status IN ('pending', 'retrying') "
            "AND (next_attempt_at IS NULL OR next_attempt_at <= %s) "
            "AND (locked_until IS NULL OR locked_until < %s) ORDER BY id FOR UPDATE SKIP LOCKED",
            [int_array(ids), now, now])
        return [_Row(r[0], r[1], r[2], r[3], r[4], r[5], json_value(r[6])) for r in cursor.fetchall()]


def _record(exchange: Exchange | None) -> tuple[Any, Any]:
    if exchange is None:
        return None, None
    request = {"method": exchange.method, "url": exchange.url, "headers": exchange.request_headers,
               "body": exchange.request_body}
    response = None
    if exchange.status is not None:
        response = {"status": exchange.status, "headers": exchange.response_headers,
                    "body": exchange.response_body, "duration_ms": exchange.duration_ms}
    return request, response


def _destination_level(outcomes: list[ItemOutcome]) -> DeliveryError | None:
    """The request-level retryable error when a whole chunk failed that way (timeouts, refused
    connections, 5xx, 429): a sign the destination itself is struggling."""
    if outcomes and all(o.retryable for o in outcomes):
        error = outcomes[0].error
        assert isinstance(error, DeliveryError)
        return error
    return None


@dataclass
class DeliverResult:
    claimed: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    filtered: int = 0
    requests: int = 0
    deferred: int = 0


def deliver(delivery_ids: list[int]) -> DeliverResult:
    """Send the given Delivery rows that are still pending/retrying and due (others are skipped, so a
    duplicate task does nothing). Outcomes: delivered; retrying with next_attempt_at (exponential
    backoff, full jitter, at least Retry-After) while within DELIVERY_RETRY_WINDOW of the event's
    received_at; failed otherwise or when the error is not retryable; filtered on PayloadError."""
    return _deliver(list(delivery_ids), _lock, _claim)


def deliver_chunks(chunk_ids: list[int]) -> DeliverResult:
    """Send the first attempts of the given DeliveryChunks that are due and not held by another task
    (others are skipped, so a duplicate task does nothing). In one transaction with the sending: each
    event's Delivery row is written with its outcome and the chunk is deleted. A chunk whose destination
    had no free slot stays, due a moment later, for the sweep."""
    return _deliver(list(chunk_ids), _lock_chunks, _claim_chunks)


def _deliver(ids: list[int], lock: Callable[[list[int], datetime], list[_Row]],
             claim: Callable[[list[int], datetime, datetime], list[_Row]]) -> DeliverResult:
    """Take the work among `ids` (`lock` on PostgreSQL, `claim` with a lease elsewhere), send it and
    record the outcomes; give the destination slots back at the end."""
    result = DeliverResult()
    held: list[tuple[int, int]] = []  # destination slots taken by this task
    try:
        if connection.vendor == "postgresql":
            # One transaction claims the work (row locks), sends it and records the outcomes: nothing is
            # written to claim it, and a dead worker's locks go with its connection, freeing its work.
            with transaction.atomic():
                relax_commit()
                _run(lock(ids, timezone.now()), None, result, held)
        else:
            # SQLite would block every other writer while a transaction waits on the network: a lease.
            now = timezone.now()
            lease_until = now + timedelta(seconds=_lease_seconds())
            _run(claim(ids, now, lease_until), lease_until, result, held)
    finally:
        # after the transaction, so that even one that failed (and can run no statement) gives them back
        for destination_id, slot in held:
            _release_slot(destination_id, slot)
    return result


_CHUNK_COLUMNS = "id, workspace_id, destination_id, action_id, items"
_CHUNK_DUE = ("(next_attempt_at IS NULL OR next_attempt_at <= %s) "
              "AND (locked_until IS NULL OR locked_until < %s)")


def _lock_chunks(ids: list[int], now: datetime) -> list[_Row]:
    """PostgreSQL: lock the chunks among `ids` that are due, skipping chunks another task holds; their rows."""
    if not ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {_CHUNK_COLUMNS} FROM destinations_deliverychunk WHERE id = ANY(%s::bigint[]) "
                       f"AND {_CHUNK_DUE} ORDER BY id FOR UPDATE SKIP LOCKED", [int_array(ids), now, now])
        return _chunk_rows(cursor.fetchall())


def _claim_chunks(ids: list[int], now: datetime, lease_until: datetime) -> list[_Row]:
    """SQLite: lease the chunks among `ids` that are due and not leased; their rows."""
    if not ids:
        return []
    lease, at = connection.ops.adapt_datetimefield_value(lease_until), connection.ops.adapt_datetimefield_value(now)
    marks = ",".join(["%s"] * len(ids))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE destinations_deliverychunk SET locked_until = %s WHERE id IN ({marks}) AND {_CHUNK_DUE} "
                       f"RETURNING {_CHUNK_COLUMNS}", [lease, *ids, at, at])
        return _chunk_rows(sorted(cursor.fetchall()))


def _chunk_rows(chunks: list[tuple[Any, ...]]) -> list[_Row]:
    rows: list[_Row] = []
    for chunk_id, workspace_id, destination_id, action_id, items in chunks:
        for event_id, message_id, payload in orjson.loads(items):
            rows.append(_Row(-len(rows) - 1, event_id, destination_id, action_id, DeliveryStatus.PENDING, 0, payload,
                             chunk_id, message_id, workspace_id))
    return rows


@dataclass
class _Target:
    """What a task needs of a destination and of the actions it sends through, read in one query."""

    id: int
    enabled: bool
    kind: str
    settings: dict[str, Any]
    actions: dict[int, tuple[bool, str]]  # action id → (enabled, kind)
    workspace_id: int = 0

    @property
    def definition(self) -> Any:
        from .catalog import get_definition

        return get_definition(self.kind)


# Decrypted settings per destination, keyed by its stored config and ciphertext (so a change is seen at
# once): decrypting on every task was a measurable share of a worker's time.
_settings_cache: dict[tuple[int, str, str], dict[str, Any]] = {}


def _settings_of(destination_id: int, config: Any, secrets_encrypted: str) -> dict[str, Any]:
    from connections.models import Destination

    key = (destination_id, config if isinstance(config, str) else orjson.dumps(config).decode(), secrets_encrypted)
    cached = _settings_cache.get(key)
    if cached is None:
        cached = Destination(id=destination_id, config=json_value(config), secrets_encrypted=secrets_encrypted).settings
        if len(_settings_cache) > 1000:
            _settings_cache.clear()
        _settings_cache[key] = cached
    return {**cached}  # a task's own copy


def _targets(rows: list[_Row]) -> dict[int, _Target]:
    dest_ids = sorted({r.destination_id for r in rows})
    action_ids = sorted({r.action_id for r in rows if r.action_id}) or [0]
    sql = ("SELECT d.id, d.enabled, d.kind, d.config, d.secrets_encrypted, a.id, a.enabled, a.kind, d.workspace_id "
           "FROM connections_destination d LEFT JOIN connections_action a ON a.destination_id = d.id "
           f"AND a.id IN ({','.join(['%s'] * len(action_ids))}) WHERE d.id IN ({','.join(['%s'] * len(dest_ids))})")
    targets: dict[int, _Target] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, [*action_ids, *dest_ids])
        for dest_id, enabled, kind, config, secrets, action_id, action_enabled, action_kind, workspace_id \
                in cursor.fetchall():
            target = targets.get(dest_id)
            if target is None:
                target = targets[dest_id] = _Target(dest_id, bool(enabled), kind,
                                                    _settings_of(dest_id, config, secrets), {}, workspace_id)
            if action_id is not None:
                target.actions[action_id] = (bool(action_enabled), action_kind)
    return targets


def _run(rows: list[_Row], lease_until: datetime | None, result: DeliverResult,
         held: list[tuple[int, int]]) -> None:
    result.claimed = len(rows)
    if not rows:
        return
    groups: dict[tuple[int, int | None], list[_Row]] = defaultdict(list)
    for row in rows:
        groups[(row.destination_id, row.action_id)].append(row)
    destinations = _targets(rows)
    circuits = _circuits(set(destinations))

    updates: list[_Update] = []
    for (dest_id, action_id), group in groups.items():
        destination = destinations.get(dest_id)
        action = destination.actions.get(action_id) if destination is not None and action_id else None
        reason = ""
        if destination is None or action is None:
            reason = "filtered: the action was deleted"
        elif not destination.enabled:
            reason = "filtered: the destination is disabled"
        elif not action[0]:
            reason = "filtered: the action is disabled"
        if reason:
            updates.extend(_Update(r.id, DeliveryStatus.FILTERED, r.attempts, None, reason, None, None, None)
                           for r in group)
            continue
        assert destination is not None and action is not None
        try:
            action_def = destination.definition.action(action[1])
        except KeyError:
            updates.extend(_Update(r.id, DeliveryStatus.FAILED, r.attempts, None,
                                   f"Unknown action {action[1]!r} for {destination.kind}", None, None, None)
                           for r in group)
            continue
        updates.extend(_send_group(destination, action_def, group, result, held, circuits.get(dest_id)))

    _finish(rows, updates, lease_until, result)


_pools = threading.local()


def _send_pool() -> ThreadPoolExecutor:
    """The send threads of the calling thread, kept for its lifetime (a fresh pool per task paid for new
    threads and, with them, cold connections). One pool per calling thread, not per process: in a
    threads-pool worker two tasks never wait on each other's sends."""
    pool: ThreadPoolExecutor | None = getattr(_pools, "pool", None)
    if pool is None:
        pool = _pools.pool = ThreadPoolExecutor(max_workers=settings.DELIVERY_SEND_THREADS,
                                                thread_name_prefix="deliver-send")
    return pool


def _send_group(destination: _Target, action_def: ActionDefinition, group: list[_Row],
                result: DeliverResult, held: list[tuple[int, int]], circuit: tuple[datetime, str] | None = None) -> list[_Update]:
    settings_ = destination.settings
    size = batch_size(action_def, settings_)
    out: list[_Update] = []
    to_send = []
    started = timezone.now()
    holding = circuit is not None and circuit[0] > started
    for row in group:
        if holding and row.status == DeliveryStatus.PENDING:
            # first attempts wait in the retry queue while the destination is failing
            held_until, reason = circuit  # type: ignore[misc]
            wait = (held_until - started).total_seconds() + random.uniform(0, BACKOFF_BASE_SECONDS)
            out.append(_Update(row.id, DeliveryStatus.RETRYING, row.attempts, None,
                               f"Not attempted yet: the destination is failing ({reason})",
                               None, None, started + timedelta(seconds=wait)))
        else:
            to_send.append(row)
    slot = _acquire_slot(destination.id) if to_send else -1
    if slot is None:
        # every slot of this destination is busy (slow or hanging): don't take a worker from the others
        wait_until = started + timedelta(seconds=DEFER_SECONDS + random.uniform(0, DEFER_SECONDS))
        out.extend(_Update(row.id, DEFERRED, row.attempts, None, "", None, None, wait_until) for row in to_send)
        return out
    held.append((destination.id, slot))  # given back by deliver() once its transaction is over
    return out + _send_chunks(destination.id, settings_, action_def, to_send, size, result, circuit,
                              destination.workspace_id)


def _send_chunks(destination_id: int, settings_: dict[str, Any], action_def: ActionDefinition, to_send: list[_Row],
                 size: int, result: DeliverResult, circuit: tuple[datetime, str] | None,
                 workspace_id: int = 0) -> list[_Update]:
    out: list[_Update] = []
    chunks = [to_send[i:i + size] for i in range(0, len(to_send), size)]
    tripped = threading.Event()

    def run(chunk: list[_Row]) -> list[ItemOutcome] | None:
        if tripped.is_set():
            return None  # the destination just failed at request level: don't pile on
        payloads = [r.payload or {} for r in chunk]
        if action_def.perform_local is not None:
            batch = LocalBatch(workspace_id, destination_id, [r.event_id for r in chunk], payloads)
            outcomes = send_local(action_def, settings_, batch)
        else:
            outcomes = send_chunk(action_def, settings_, payloads, size=size)
        if _destination_level(outcomes) is not None:
            tripped.set()
        return outcomes

    # An in-process action writes through this thread's connection, inside its transaction: never from
    # the send threads.
    if len(chunks) > 1 and action_def.perform_local is None:
        results = list(_send_pool().map(run, chunks))
    else:
        results = [run(c) for c in chunks]

    now = timezone.now()
    for chunk, outcomes in zip(chunks, results, strict=True):
        if outcomes is None:
            for row in chunk:
                out.append(_Update(row.id, DeliveryStatus.RETRYING, row.attempts, None,
                                   "Not attempted: another request to this destination just failed",
                                   None, None, next_attempt(now, row.attempts + 1, None)))
            continue
        result.requests += 1 if size > 1 else len(chunk)
        level = _destination_level(outcomes)
        if level is not None:
            hold = min(BREAKER_MAX_SECONDS, max(BACKOFF_BASE_SECONDS, level.retry_after or 0))
            _trip(destination_id, hold, level.message)
            circuit = (timezone.now(), level.message)
        elif circuit is not None and any(o.ok for o in outcomes):
            _close(destination_id)
            circuit = None
        records: dict[int, tuple[Any, Any]] = {}
        for row, outcome in zip(chunk, outcomes, strict=True):
            key = id(outcome.exchange)
            if key not in records:
                records[key] = _record(outcome.exchange)
            request, response = records[key]
            status_code = outcome.exchange.status if outcome.exchange is not None else None
            attempts = row.attempts + 1
            error = outcome.error
            if error is None:
                out.append(_Update(row.id, DeliveryStatus.DELIVERED, attempts, status_code, "", request, response,
                                   None))
            elif isinstance(error, PayloadError):
                out.append(_Update(row.id, DeliveryStatus.FILTERED, attempts, status_code, f"filtered: {error}",
                                   request, response, None))
            elif isinstance(error, DeliveryError) and error.retryable:
                out.append(_Update(row.id, DeliveryStatus.RETRYING, attempts, error.status or status_code,
                                   error.message, request, response,
                                   next_attempt(now, attempts, error.retry_after)))
            else:
                message = error.message if isinstance(error, DeliveryError) else str(error)
                code = error.status if isinstance(error, DeliveryError) else None
                out.append(_Update(row.id, DeliveryStatus.FAILED, attempts, code or status_code, message,
                                   request, response, None))
    return out


def _apply_window(rows: list[_Row], updates: list[_Update], now: datetime) -> None:
    """Turn retries whose event is older than DELIVERY_RETRY_WINDOW into failures; clamp the others so
    the last attempt happens when the window closes."""
    from ingest.models import Event

    retrying = [u for u in updates if u.status == DeliveryStatus.RETRYING]
    if not retrying:
        return
    event_of = {r.id: r.event_id for r in rows}
    received = dict(Event.objects.filter(id__in={event_of[u.id] for u in retrying})
                    .values_list("id", "received_at"))
    window = timedelta(seconds=settings.DELIVERY_RETRY_WINDOW)
    for u in retrying:
        received_at = received.get(event_of[u.id])
        if received_at is None:
            continue
        deadline = received_at + window
        if now >= deadline:
            u.status = DeliveryStatus.FAILED
            hours = settings.DELIVERY_RETRY_WINDOW / 3600
            u.last_error = f"Gave up: the retry window ({hours:g} h) ran out. Last error: {u.last_error}"
            u.next_attempt_at = None
        elif u.next_attempt_at is not None and u.next_attempt_at > deadline:
            u.next_attempt_at = deadline


def _finish(rows: list[_Row], updates: list[_Update], lease_until: datetime | None, result: DeliverResult) -> None:
    """Write every outcome of this task in one statement (plus the per-minute counts): existing rows
    (retries) are updated, first attempts from chunks get their Delivery rows and their chunks go. With a
    lease (SQLite), guarded by it: if it ran out and another worker took a row or chunk over, that
    worker's outcome wins. Without (PostgreSQL), rows and chunks are still locked by this transaction."""
    now = timezone.now()
    deferred = [u for u in updates if u.status == DEFERRED]
    if deferred:
        updates = [u for u in updates if u.status != DEFERRED]
    _apply_window(rows, updates, now)
    by_id = {r.id: r for r in rows}
    minute = now.replace(second=0, microsecond=0)
    counts: dict[tuple[int, datetime], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for u in updates:
        counts[(by_id[u.id].destination_id, minute)][u.status] += 1
        setattr(result, u.status, getattr(result, u.status) + 1)
    result.deferred = len(deferred)
    # A chunk is deferred whole (its rows share one destination slot); the others are done.
    waiting = {by_id[u.id].chunk_id for u in deferred if u.id < 0}
    done = sorted({r.chunk_id for r in rows if r.chunk_id is not None} - waiting)  # type: ignore[type-var]
    new = [u for u in updates if u.id < 0]
    existing = [u for u in updates if u.id > 0]
    with transaction.atomic(savepoint=False):
        if connection.vendor == "postgresql":
            _write_postgres(existing, by_id, now)
            _insert_postgres(new, by_id, done, now)
        else:
            assert lease_until is not None
            _write_portable(existing, by_id, lease_until, now)
            _insert_portable(new, by_id, done, lease_until, now)
        if deferred:
            _write_deferred(deferred, by_id, lease_until, now)
        add_counts(counts)


def _write_deferred(deferred: list[_Update], by_id: dict[int, _Row], lease_until: datetime | None,
                    now: datetime) -> None:
    """Rows and chunks not attempted keep their status, attempts and last outcome; they become due again
    a moment later and, with no task queued (enqueued_at empty), the sweep sends them."""
    from .models import Delivery, DeliveryChunk

    until = max(u.next_attempt_at for u in deferred if u.next_attempt_at is not None)
    rows = Delivery.objects.filter(id__in=[u.id for u in deferred if u.id > 0])
    chunks = DeliveryChunk.objects.filter(id__in={by_id[u.id].chunk_id for u in deferred if u.id < 0})
    if lease_until is not None:
        rows = rows.filter(locked_until=lease_until)
        chunks = chunks.filter(locked_until=lease_until)
    rows.update(next_attempt_at=until, locked_until=None, enqueued_at=None, updated_at=now)
    chunks.update(next_attempt_at=until, locked_until=None, enqueued_at=None)


def _dump(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _exchange_key(u: _Update) -> tuple[int, int] | None:
    """Rows sent in one request share its request/response objects: one exchange record for all of them."""
    if u.request is None and u.response is None:
        return None
    return (id(u.request), id(u.response))


@dataclass
class _Exchanges:
    """The distinct exchanges of a task's updates: JSON texts of requests and responses, destination and
    number of rows of each, and for each update the index of its exchange (-1: none)."""

    requests: list[str]
    responses: list[str]
    dests: list[int]
    counts: list[int]
    keys: list[int]

    def params(self, now: datetime) -> list[Any]:
        """The parameters of _EXCHANGES_CTE."""
        return ["[" + ",".join(self.requests) + "]", "[" + ",".join(self.responses) + "]", int_array(self.dests),
                int_array(self.counts), len(self.requests), now]


def _exchanges(updates: list[_Update], by_id: dict[int, _Row]) -> _Exchanges:
    found = _Exchanges([], [], [], [], [])
    index: dict[tuple[int, int], int] = {}
    for u in updates:
        pair = _exchange_key(u)
        if pair is None:
            found.keys.append(-1)
            continue
        if pair not in index:
            found.requests.append(_dump(u.request) or "null")
            found.responses.append(_dump(u.response) or "null")
            found.dests.append(by_id[u.id].destination_id)
            found.counts.append(0)
            index[pair] = len(found.requests) - 1
        found.counts[index[pair]] += 1
        found.keys.append(index[pair])
    return found


# The exchanges of one task, inserted with ids taken up front so the rows can point at them in the same
# statement. Parameters: see _Exchanges.params.
_EXCHANGES_CTE = (
    "r AS (SELECT %s::jsonb AS req, %s::jsonb AS res, %s::bigint[] AS dest, %s::bigint[] AS cnt), "
    "e AS (SELECT n - 1 AS k, nextval(pg_get_serial_sequence('destinations_deliveryexchange', 'id')) AS id "
    "FROM generate_series(1, %s) AS n), "
    "ins AS (INSERT INTO destinations_deliveryexchange (id, destination_id, request, response, created_at, row_count) "
    "SELECT e.id, r.dest[e.k + 1], NULLIF(r.req -> e.k, 'null'::jsonb), NULLIF(r.res -> e.k, 'null'::jsonb), %s, "
    "r.cnt[e.k + 1] FROM e, r)"
)


def _write_postgres(updates: list[_Update], by_id: dict[int, _Row], now: datetime) -> None:
    """One statement: insert one DeliveryExchange per request sent (a batch's rows share it), update every
    row from one JSON document (the text is constant whatever the row count), and release the exchanges
    the rows pointed at before: one that no row points at any more is deleted."""
    if not updates:
        return
    found = _exchanges(updates, by_id)
    doc = orjson.dumps([{"i": u.id, "s": u.status, "n": u.attempts, "c": u.last_status_code, "x": u.last_error,
                         "k": k, "t": u.next_attempt_at} for u, k in zip(updates, found.keys, strict=True)]).decode()
    sql = (
        "WITH v AS (SELECT * FROM json_to_recordset(%s::json) AS v(i bigint, s text, n integer, c integer, x text, "
        "k integer, t timestamptz)), "
        "old AS (SELECT d.exchange_id AS x, count(*) AS n FROM destinations_delivery AS d JOIN v ON d.id = v.i "
        "WHERE d.exchange_id IS NOT NULL GROUP BY d.exchange_id), "
        "kept AS (UPDATE destinations_deliveryexchange AS x SET row_count = x.row_count - old.n FROM old "
        "WHERE x.id = old.x AND x.row_count > old.n), "
        "dropped AS (DELETE FROM destinations_deliveryexchange AS x USING old "
        "WHERE x.id = old.x AND x.row_count <= old.n), " + _EXCHANGES_CTE + " "
        "UPDATE destinations_delivery AS d SET status = v.s, attempts = v.n, "
        "last_status_code = v.c, last_error = v.x, exchange_id = e.id, "
        "next_attempt_at = v.t, locked_until = NULL, enqueued_at = NULL, updated_at = %s "
        "FROM v LEFT JOIN e ON e.k = v.k WHERE d.id = v.i"
    )
    with bound_cursor() as cursor:
        cursor.execute(sql, [doc, *found.params(now), now])


def _keeps_payload(status: str) -> bool:
    """A first attempt's row keeps its payload when it may be sent again (retrying) or looked at as the
    thing that failed; a delivered or filtered row needs it no more (its request is in its exchange)."""
    return status in (DeliveryStatus.RETRYING, DeliveryStatus.FAILED)


def _insert_postgres(updates: list[_Update], by_id: dict[int, _Row], done_chunks: list[int], now: datetime) -> None:
    """One statement: delete the finished chunks, insert their exchanges and one Delivery row per event
    with its outcome (from one JSON document)."""
    if not updates and not done_chunks:
        return
    found = _exchanges(updates, by_id)
    doc = orjson.dumps([
        {"w": r.workspace_id, "e": r.event_id, "d": r.destination_id, "a": r.action_id, "m": r.message_id,
         "s": u.status, "n": u.attempts, "c": u.last_status_code, "x": u.last_error, "k": k, "t": u.next_attempt_at,
         "p": r.payload if _keeps_payload(u.status) else None}
        for u, k in zip(updates, found.keys, strict=True) for r in [by_id[u.id]]
    ], option=orjson.OPT_NON_STR_KEYS).decode()
    sql = (
        "WITH gone AS (DELETE FROM destinations_deliverychunk WHERE id = ANY(%s::bigint[])), " + _EXCHANGES_CTE + " "
        "INSERT INTO destinations_delivery (workspace_id, event_id, destination_id, action_id, message_id, status, "
        "attempts, last_status_code, last_error, exchange_id, next_attempt_at, payload, created_at, updated_at) "
        "SELECT v.w, v.e, v.d, v.a, v.m, v.s, v.n, v.c, v.x, e.id, v.t, v.p, %s, %s "
        "FROM json_to_recordset(%s::json) AS v(w bigint, e bigint, d bigint, a bigint, m text, s text, n integer, "
        "c integer, x text, k integer, t timestamptz, p jsonb) LEFT JOIN e ON e.k = v.k"
    )
    with bound_cursor() as cursor:
        cursor.execute(sql, [int_array(done_chunks), *found.params(now), now, now, doc])


def _insert_portable(updates: list[_Update], by_id: dict[int, _Row], done_chunks: list[int],
                     lease_until: datetime, now: datetime) -> None:
    """SQLite: delete the finished chunks this worker still holds, then insert their exchanges and rows
    (a chunk whose lease ran out belongs to the worker that took it over: its rows are that one's)."""
    from .models import Delivery, DeliveryChunk

    owned = set(DeliveryChunk.objects.filter(id__in=done_chunks, locked_until=lease_until)
                .values_list("id", flat=True))
    DeliveryChunk.objects.filter(id__in=owned).delete()
    updates = [u for u in updates if by_id[u.id].chunk_id in owned]
    exchanges = _create_exchanges_portable(updates, by_id, now)
    new_rows = []
    for u in updates:
        r = by_id[u.id]
        pair = _exchange_key(u)
        new_rows.append(Delivery(
            workspace_id=r.workspace_id, event_id=r.event_id, destination_id=r.destination_id, action_id=r.action_id,
            message_id=r.message_id, status=u.status, attempts=u.attempts, last_status_code=u.last_status_code,
            last_error=u.last_error, exchange_id=exchanges[pair].id if pair is not None else None,
            next_attempt_at=u.next_attempt_at, payload=r.payload if _keeps_payload(u.status) else None))
    Delivery.objects.bulk_create(new_rows)


def _create_exchanges_portable(updates: list[_Update], by_id: dict[int, _Row],
                               now: datetime) -> dict[tuple[int, int], Any]:
    """SQLite: one DeliveryExchange per request the updates share (with its row count), in one bulk
    insert; keyed by _exchange_key."""
    from .models import DeliveryExchange

    exchanges: dict[tuple[int, int], DeliveryExchange] = {}
    for u in updates:
        pair = _exchange_key(u)
        if pair is None:
            continue
        if pair not in exchanges:
            exchanges[pair] = DeliveryExchange(destination_id=by_id[u.id].destination_id, request=u.request,
                                               response=u.response, created_at=now, row_count=0)
        exchanges[pair].row_count += 1
    DeliveryExchange.objects.bulk_create(exchanges.values())
    return exchanges


def _write_portable(updates: list[_Update], by_id: dict[int, _Row], lease_until: datetime, now: datetime) -> None:
    """SQLite (embedded mode): the exchanges in one bulk insert, then one UPDATE per distinct outcome;
    the exchanges the rows pointed at before are released (deleted when no row points at them)."""
    from .models import Delivery, DeliveryExchange

    if not updates:
        return
    # the rows this worker still holds, and the exchanges they point at now (released below)
    held = dict(Delivery.objects.filter(id__in=[u.id for u in updates], locked_until=lease_until)
                .values_list("id", "exchange_id"))
    updates = [u for u in updates if u.id in held]
    exchanges = _create_exchanges_portable(updates, by_id, now)
    released: dict[int, int] = defaultdict(int)
    for exchange_id in held.values():
        if exchange_id is not None:
            released[exchange_id] += 1
    for exchange_id, n in released.items():  # delete first: the update would bring others to n or below
        DeliveryExchange.objects.filter(id=exchange_id, row_count__lte=n).delete()
        DeliveryExchange.objects.filter(id=exchange_id, row_count__gt=n).update(row_count=F("row_count") - n)
    grouped: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    values: dict[tuple[Any, ...], tuple[_Update, int | None]] = {}
    for u in updates:
        pair = _exchange_key(u)
        exchange_id = exchanges[pair].id if pair is not None else None
        key = (u.status, u.attempts, u.last_status_code, u.last_error, exchange_id, u.next_attempt_at)
        grouped[key].append(u.id)
        values[key] = (u, exchange_id)
    for key, ids in grouped.items():
        u, exchange_id = values[key]
        Delivery.objects.filter(id__in=ids, locked_until=lease_until).update(
            status=u.status, attempts=u.attempts, last_status_code=u.last_status_code, last_error=u.last_error,
            exchange_id=exchange_id, next_attempt_at=u.next_attempt_at, locked_until=None,
            enqueued_at=None, updated_at=now,
        )


def sweep(*, limit: int = 5000) -> int:
    """Enqueue (on the "retries" queue) the work that is due and has no live task: retries whose
    next_attempt_at has come, chunks of first attempts that waited for a slot, and rows and chunks whose
    task never ran within DELIVERY_LOST_TASK_GRACE seconds (a killed worker, a wiped broker) or whose
    lease ran out. Returns the number of events (rows, and the events of the chunks) enqueued."""
    from django.db.models import Q

    from .fanout import CHUNK_TASK, ROW_TASK, enqueue_deliveries
    from .models import Delivery, DeliveryChunk

    now = timezone.now()
    lost_before = now - timedelta(seconds=settings.DELIVERY_LOST_TASK_GRACE)
    due_now = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    free = Q(locked_until__isnull=True) | Q(locked_until__lt=now)
    unqueued = Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=lost_before)
    with transaction.atomic():
        due = list(
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING])
            .filter(due_now).filter(free).filter(unqueued)
            .order_by("next_attempt_at", "id")
            .values_list("id", "destination_id", "action_id")[:limit]
        )
        chunks = list(
            DeliveryChunk.objects.select_for_update(skip_locked=True)
            .filter(due_now).filter(free).filter(unqueued)
            .order_by("id").values_list("id", "size")[:limit]
        )
        if not due and not chunks:
            return 0
        Delivery.objects.filter(id__in=[d[0] for d in due]).update(enqueued_at=now)
        DeliveryChunk.objects.filter(id__in=[c[0] for c in chunks]).update(enqueued_at=now)
        groups: dict[tuple[int, int | None], list[int]] = defaultdict(list)
        for row_id, dest_id, action_id in due:
            groups[(dest_id, action_id)].append(row_id)
        step = settings.DELIVERY_TASK_SIZE
        tasks = [(ROW_TASK, ids[i:i + step], "retries") for ids in groups.values() for i in range(0, len(ids), step)]
        tasks += [(CHUNK_TASK, [chunk_id], "retries") for chunk_id, _size in chunks]  # a chunk is a task's worth
        transaction.on_commit(lambda: enqueue_deliveries(tasks))
    return len(due) + sum(size for _id, size in chunks)
