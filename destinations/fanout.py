"""Fan-out: turn stored events into delivery work, for every event × matching action.

`fan_out(event_ids, entries)` is what the Celery task "destinations.fan_out" runs. In ONE transaction it
claims the events by deleting their outbox entries (ingest.OutboxEntry; one DELETE ... RETURNING joined
to the events on PostgreSQL, so two workers never fan out the same event, and event rows are never
rewritten), evaluates every enabled action of every enabled cloud-mode
destination connected to the event's source and maps the payloads. What is settled at once (no action
matched, a required field missing, a broken mapping) is recorded as Delivery rows; the first attempts
are written as DeliveryChunks, one per (destination, action) and task's worth of events, which the task
"destinations.deliver_chunks" sends. Only after that commit are the tasks enqueued. If the broker loses
them, the chunks stay and the sweep (destinations.sweep) re-enqueues them: nothing acknowledged is lost,
at worst delayed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from connections.models import Action, Connection, DestinationMode
from ingest.models import Event, OutboxEntry

from .catalog import get_definition
from .catalog.base import ActionDefinition
from .counts import add_counts
from .delivery import batch_size, bound_cursor, int_array, json_value, relax_commit
from .errors import PayloadError
from .mapping import MappingError, apply_fields
from .models import DeliveryStatus, DestinationFilters
from .routing_controls import CompiledFilters, FilterError, apply_filters, integrations_reason
from .triggers import Trigger, TriggerSyntaxError, parse

log = logging.getLogger(__name__)

NO_MATCH = "filtered: no matching action"


@dataclass(frozen=True)
class RouteAction:
    id: int
    name: str
    trigger: Trigger | None  # None: the stored trigger does not parse, so it never matches
    mapping: Any
    definition: ActionDefinition
    batch_size: int


@dataclass(frozen=True)
class Route:
    destination_id: int
    actions: tuple[RouteAction, ...]
    # what the event's `integrations` object may call it: own name, catalog name, catalog key
    names: tuple[str, ...] = ()
    builtin: bool = False
    filters: CompiledFilters | None = None


_routes: dict[int, tuple[float, list[Route]]] = {}
_routes_lock = threading.Lock()


def clear_routing_cache() -> None:
    with _routes_lock:
        _routes.clear()


def routes_for(source_id: int) -> list[Route]:
    """The enabled cloud-mode destinations connected to a source and their enabled actions, cached for
    DELIVERY_ROUTING_TTL seconds per process (a change to actions takes effect within that delay)."""
    now = time.monotonic()
    cached = _routes.get(source_id)
    if cached and cached[0] > now:
        return cached[1]
    routes: list[Route] = []
    connections = (
        Connection.objects.filter(
            source_id=source_id, enabled=True, destination__enabled=True, destination__mode=DestinationMode.CLOUD
        )
        .select_related("destination")
        .order_by("destination_id")
    )
    destinations = {c.destination_id: c.destination for c in connections}
    actions_by_dest: dict[int, list[Action]] = defaultdict(list)
    for action in Action.objects.filter(destination_id__in=destinations, enabled=True).order_by("position", "id"):
        actions_by_dest[action.destination_id].append(action)
    filters = {f.destination_id: f for f in DestinationFilters.objects.filter(destination_id__in=destinations)}
    for dest_id, destination in destinations.items():
        try:
            definition = get_definition(destination.kind)
        except KeyError:
            log.error("destination %s has unknown kind %r; skipped", dest_id, destination.kind)
            continue
        route_actions = []
        for action in actions_by_dest.get(dest_id, []):
            try:
                action_def = definition.action(action.kind)
            except KeyError:
                log.error("action %s has unknown kind %r; skipped", action.id, action.kind)
                continue
            try:
                trigger: Trigger | None = parse(action.trigger)
            except TriggerSyntaxError:
                trigger = None
            # the batch size only depends on non-secret settings (config): no need to decrypt here
            size = batch_size(action_def, destination.config)
            route_actions.append(RouteAction(action.id, action.name, trigger, action.mapping, action_def, size))
        routes.append(Route(dest_id, tuple(route_actions), (destination.name, definition.name, definition.key),
                            definition.category == "Built in", _compiled_filters(filters.get(dest_id))))
    with _routes_lock:
        _routes[source_id] = (now + settings.DELIVERY_ROUTING_TTL, routes)
    return routes


def _compiled_filters(row: DestinationFilters | None) -> CompiledFilters | None:
    if row is None:
        return None
    try:
        return row.compiled()
    except FilterError as exc:  # validated when saved; fail closed if that changed since
        log.error("filters of destination %s do not compile: %s", row.destination_id, exc)
        return CompiledFilters(broken=str(exc))


@dataclass
class _NewRow:
    workspace_id: int
    event_id: int
    destination_id: int
    action_id: int | None
    message_id: str
    status: str
    last_error: str
    payload: Any


_SETTLED_COLUMNS = ("workspace_id", "event_id", "destination_id", "action_id", "message_id", "status", "attempts",
                    "last_error", "created_at", "updated_at")
_INSERT_CHUNK = 1000


def _insert_settled(rows: list[_NewRow], now: datetime) -> None:
    """Record the rows settled at fan-out (no action matched, a required field missing, a broken mapping):
    final, never sent, so no payload. PostgreSQL: one statement from one JSON document; elsewhere
    multi-row VALUES, 1000 rows per statement."""
    if not rows:
        return
    columns = ", ".join(_SETTLED_COLUMNS)
    if connection.vendor == "postgresql":
        doc = orjson.dumps([{"w": r.workspace_id, "e": r.event_id, "d": r.destination_id, "a": r.action_id,
                             "m": r.message_id, "s": r.status, "x": r.last_error} for r in rows]).decode()
        with bound_cursor() as cursor:
            cursor.execute(
                f"INSERT INTO destinations_delivery ({columns}) SELECT v.w, v.e, v.d, v.a, v.m, v.s, 0, v.x, %s, %s "
                "FROM json_to_recordset(%s::json) AS v(w bigint, e bigint, d bigint, a bigint, m text, s text, x text)",
                [now, now, doc])
        return
    stamp = connection.ops.adapt_datetimefield_value(now)  # the text form the ORM writes and compares with
    placeholder = "(" + ",".join(["%s"] * len(_SETTLED_COLUMNS)) + ")"
    for start in range(0, len(rows), _INSERT_CHUNK):
        chunk = rows[start:start + _INSERT_CHUNK]
        params: list[Any] = []
        for r in chunk:
            params.extend((r.workspace_id, r.event_id, r.destination_id, r.action_id, r.message_id, r.status, 0,
                           r.last_error, stamp, stamp))
        with connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO destinations_delivery ({columns}) VALUES "
                           f"{', '.join([placeholder] * len(chunk))}", params)


@dataclass
class _Event:
    id: int
    workspace_id: int
    source_id: int
    message_id: str
    payload: Any


def _route_event(event: _Event, routes: list[Route], rows: list[_NewRow]) -> None:
    body = event.payload if isinstance(event.payload, dict) else {}
    for route in routes:
        reason = integrations_reason(body, route.names, builtin=route.builtin)
        routed, reason = (None, reason) if reason else apply_filters(body, event.message_id, route.filters)
        if routed is None:
            rows.append(_NewRow(event.workspace_id, event.id, route.destination_id, None, event.message_id,
                                DeliveryStatus.FILTERED, reason, None))
            continue
        matched = False
        for ra in route.actions:
            if ra.trigger is None or not ra.trigger.matches(routed):
                continue
            matched = True
            status, error, payload = DeliveryStatus.PENDING, "", None
            try:
                payload = apply_fields(ra.definition, ra.mapping, routed)
            except PayloadError as exc:
                status, error = DeliveryStatus.FILTERED, f"filtered: {exc}"
            except MappingError as exc:
                # a broken saved mapping is the user's to fix; show it as a failure, never retry it
                status, error = DeliveryStatus.FAILED, f"Mapping error in {ra.name!r}: {exc}"
            rows.append(_NewRow(event.workspace_id, event.id, route.destination_id, ra.id, event.message_id,
                                status, error, payload))
        if not matched:
            rows.append(_NewRow(event.workspace_id, event.id, route.destination_id, None, event.message_id,
                                DeliveryStatus.FILTERED, NO_MATCH, None))


@dataclass
class FanOutResult:
    events: int = 0
    pending: int = 0
    filtered: int = 0
    failed: int = 0
    tasks: int = 0


_CLAIM_BY_ENTRY = "id = ANY(%s::bigint[])"
# without entry ids (a direct call, a task from before outbox entries): the entries listing any of the ids
_CLAIM_BY_EVENT = ("EXISTS (SELECT 1 FROM json_array_elements_text(o.event_ids::json) AS x(v) "
                   "WHERE x.v::bigint = ANY(%s::bigint[]))")


def _claim_events(ids: list[int], entries: list[int] | None) -> list[_Event]:
    """Claim the events of the outbox entries `entries` (or, without them, of every entry listing one of
    `ids`) by deleting those entries in the caller's transaction, and return the events. A concurrent
    fan-out of the same entries waits for this transaction, then finds them gone: each stored event is
    fanned out once. Events listed by no entry were fanned out already."""
    if connection.vendor == "postgresql":
        where, key = (_CLAIM_BY_ENTRY, entries) if entries is not None else (_CLAIM_BY_EVENT, ids)
        with bound_cursor() as cursor:
            cursor.execute(
                f"WITH gone AS (DELETE FROM ingest_outboxentry AS o WHERE {where} RETURNING event_ids) "
                "SELECT e.id, e.workspace_id, e.source_id, e.message_id, e.payload FROM ingest_event AS e "
                "WHERE e.id IN (SELECT x.v::bigint FROM gone, json_array_elements_text(gone.event_ids::json) AS x(v)) "
                "ORDER BY e.id", [int_array(key)])
            return [_Event(r[0], r[1], r[2], r[3], json_value(r[4])) for r in cursor.fetchall()]
    wanted = set(ids)
    claimed: list[int] = []
    for entry in OutboxEntry.objects.order_by("id"):
        listed = entry.ids()
        if (entry.id in entries) if entries is not None else not wanted.isdisjoint(listed):
            # one entry at a time: a concurrent fan-out that deleted it first leaves nothing to delete
            if OutboxEntry.objects.filter(id=entry.id).delete()[0]:
                claimed.extend(listed)
    return [
        _Event(*values) for values in
        Event.objects.filter(id__in=claimed).order_by("id")
        .values_list("id", "workspace_id", "source_id", "message_id", "payload")
    ]


def fan_out(event_ids: list[int], entries: list[int] | None = None) -> FanOutResult:
    """Record the delivery work of the events of outbox entries `entries` (ingest's tasks name them), or,
    without them, of the entries listing any of `event_ids` (see module doc and _claim_events). Safe to
    run any number of times: events already fanned out are skipped."""
    result = FanOutResult()
    now = timezone.now()
    groups: dict[tuple[int, int], list[_NewRow]] = defaultdict(list)
    sizes: dict[tuple[int, int], int] = {}
    with transaction.atomic():
        relax_commit()  # bookkeeping, not the ingest promise: see its docstring
        events = _claim_events(list(event_ids), entries)
        if not events:
            return result
        rows: list[_NewRow] = []
        for event in events:
            routes = routes_for(event.source_id)
            for route in routes:
                for ra in route.actions:
                    sizes[(route.destination_id, ra.id)] = ra.batch_size
            _route_event(event, routes, rows)
        pending = [r for r in rows if r.status == DeliveryStatus.PENDING]
        settled = [r for r in rows if r.status != DeliveryStatus.PENDING]
        # filtered and failed-at-mapping rows are final: recorded now, without payload
        _insert_settled(settled, now)
        counts: dict[tuple[int, datetime], dict[str, int]] = defaultdict(lambda: defaultdict(int))
        minute = now.replace(second=0, microsecond=0)
        for r in settled:
            counts[(r.destination_id, minute)][r.status] += 1
        add_counts(counts)
        result.filtered = sum(r.status == DeliveryStatus.FILTERED for r in settled)
        result.failed = sum(r.status == DeliveryStatus.FAILED for r in settled)
        # the work itself: one chunk per task's worth of first attempts of one action
        for r in pending:
            groups[(r.destination_id, r.action_id)].append(r)  # type: ignore[arg-type]
        chunks = [items[i:i + step]
                  for key, items in groups.items()
                  for step in [_chunk_size(sizes.get(key, 1))]
                  for i in range(0, len(items), step)]
        chunk_ids = _insert_chunks(chunks, now)
        result.pending = len(pending)
        result.events = len(events)
        tasks = [(CHUNK_TASK, [chunk_id], "deliveries") for chunk_id in chunk_ids]
        result.tasks = len(tasks)
        transaction.on_commit(lambda: enqueue_deliveries(tasks))
    return result


def _chunk_size(batch: int) -> int:
    """Events per chunk (one task): DELIVERY_TASK_SIZE for one-event-per-request actions, up to
    DELIVERY_TASK_REQUESTS whole batches for batching ones."""
    if batch <= 1:
        return max(1, settings.DELIVERY_TASK_SIZE)
    return batch * max(1, settings.DELIVERY_TASK_REQUESTS)


def _insert_chunks(chunks: list[list[_NewRow]], now: datetime) -> list[int]:
    """Insert one DeliveryChunk per list of rows (all of one destination action) in one statement; return
    their ids in order. Raw SQL: the ORM's bulk_create cost more than the statement itself here."""
    if not chunks:
        return []
    stamp = connection.ops.adapt_datetimefield_value(now)  # the text form the ORM writes on SQLite
    params: list[Any] = []
    for rows in chunks:
        items = orjson.dumps([(r.event_id, r.message_id, r.payload) for r in rows], option=orjson.OPT_NON_STR_KEYS)
        first = rows[0]
        params.extend((first.workspace_id, first.destination_id, first.action_id, items.decode(), len(rows),
                       stamp, stamp))
    values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(chunks))
    with bound_cursor() as cursor:
        cursor.execute("INSERT INTO destinations_deliverychunk (workspace_id, destination_id, action_id, items, size, "
                       f"created_at, enqueued_at) VALUES {values} RETURNING id", params)
        return [row[0] for row in cursor.fetchall()]


# "destinations.deliver_chunks" sends first attempts (chunk ids); "destinations.deliver" sends retries
# (Delivery row ids).
CHUNK_TASK = "destinations.deliver_chunks"
ROW_TASK = "destinations.deliver"


def enqueue_deliveries(tasks: list[tuple[str, list[int], str]]) -> bool:
    """Send delivery tasks: (task name, ids, queue) each. Never raises: on broker trouble the chunks and
    rows stay where they are and the sweep re-enqueues them after DELIVERY_LOST_TASK_GRACE seconds."""
    from pipelines.celery import app

    try:
        for name, ids, queue in tasks:
            app.send_task(name, args=[ids], queue=queue, retry=False)
    except Exception:  # any broker failure: the rows are safe in the database
        log.warning("broker unavailable; %d delivery tasks left for the sweep", len(tasks), exc_info=True)
        return False
    return True
