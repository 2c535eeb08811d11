"""Deleting what is past its retention window, in bounded batches.

Every batch is one short transaction that selects at most `batch` rows through an index (never a scan of
a whole table) and deletes them by id, so ingest and delivery keep running while a large backlog goes:

- events: `ingest_event (workspace_id, received_at)` (index event_workspace_latest). An event stays while
  a pending or retrying delivery row points at it (`destinations_delivery (event_id)`: a retry reads its
  received_at for the retry window) or while a DeliveryChunk still carries it (a first attempt not sent
  yet). Its settled delivery rows go with it, so no record points at a missing event.
- delivery records: settled rows (delivered, failed, filtered) per destination and status, by last attempt
  (`destinations_delivery (destination_id, status, updated_at)`, index delivery_dest_status). Pending and
  retrying rows are never deleted, whatever their age.
- delivery exchanges: released as the rows pointing at them go (their `row_count`), deleted at zero.
- delivery counts: per-minute rows older than the rollup window are summed into the row of their hour
  (`destinations_deliverycount (destination_id, minute)`); rows older than the counts window are deleted.
- incoming webhook bodies: kept as long as events (`ingest_webhookbody (workspace_id, received_at)`).
- outbox leftovers: entries whose events are all gone (fan-out would find nothing to do).

`purge_expired()` (the beat task "retention.purge_expired") applies every workspace's RetentionPolicy;
`purge_workspace()` with one cutoff for everything is what `manage.py purge --before` runs.
"""

from __future__ import annotations

import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

import orjson
from django.db import connection, transaction
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.db.models.functions import ExtractMinute, Substr
from django.utils import timezone

from connections.models import Destination
from destinations.counts import add_counts
from destinations.models import Delivery, DeliveryChunk, DeliveryCount, DeliveryExchange, DeliveryStatus
from ingest.models import Event, OutboxEntry, WebhookBody
from pipelines.models import Workspace

from .models import DEDUPE_WINDOW_DAYS, RetentionPolicy

DEFAULT_BATCH = 1000
SETTLED = (DeliveryStatus.DELIVERED, DeliveryStatus.FAILED, DeliveryStatus.FILTERED)
UNSETTLED = (DeliveryStatus.PENDING, DeliveryStatus.RETRYING)
_COUNT_COLUMNS = ("delivered", "retrying", "failed", "filtered")
# A chunk's items start with its first (lowest) event id: '[[123,"message-id",{...}],...]'.
_CHUNK_HEAD = re.compile(r"\[\[(\d+),")


@dataclass
class Cutoffs:
    """Rows older than these go (None: that kind is kept)."""

    events: datetime | None = None
    deliveries: datetime | None = None
    counts: datetime | None = None
    rollup: datetime | None = None

    @classmethod
    def of(cls, policy: RetentionPolicy, now: datetime) -> Cutoffs:
        return cls(
            events=now - timedelta(days=max(policy.events_days, DEDUPE_WINDOW_DAYS)),
            deliveries=now - timedelta(days=policy.deliveries_days),
            counts=now - timedelta(days=policy.counts_days),
            rollup=now - timedelta(days=policy.counts_rollup_days),
        )


@dataclass
class PurgeResult:
    """Rows deleted per table (counts_rolled_up: per-minute rows summed into their hour's row)."""

    events: int = 0
    deliveries: int = 0
    exchanges: int = 0
    counts_rolled_up: int = 0
    counts: int = 0
    outbox_entries: int = 0
    webhook_bodies: int = 0
    complete: bool = True  # False: the time budget ran out first (the next run continues)

    def add(self, other: PurgeResult) -> None:
        for f in fields(self):
            if f.name != "complete":
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        self.complete = self.complete and other.complete

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "complete"}


@dataclass
class _Budget:
    deadline: float | None = None
    # after a batch that deleted something, sleep `pause` times as long as it took: the purge then uses
    # at most 1 / (1 + pause) of one database connection's time, leaving the rest to ingest and delivery
    pause: float = 0.0
    result: PurgeResult = field(default_factory=PurgeResult)

    def spent(self) -> bool:
        if self.deadline is not None and time.monotonic() >= self.deadline:
            self.result.complete = False
            return True
        return False

    def rest(self, seconds: float) -> None:
        wait = seconds * self.pause
        if self.deadline is not None:
            wait = min(wait, max(0.0, self.deadline - time.monotonic()))
        if wait > 0:
            time.sleep(wait)


def purge_expired(*, now: datetime | None = None, batch: int = DEFAULT_BATCH,
                  max_seconds: float | None = None, pause: float = 0.0) -> PurgeResult:
    """Apply every workspace's retention policy (the defaults where it has none). Stops after
    `max_seconds` (between batches; `complete` is then False) so a beat run never piles onto the next.
    `pause`: see _Budget."""
    now = now or timezone.now()
    budget = _Budget(time.monotonic() + max_seconds if max_seconds else None, pause)
    policies = {p.workspace_id: p for p in RetentionPolicy.objects.all()}
    for workspace in Workspace.objects.order_by("id"):
        policy = policies.get(workspace.id) or RetentionPolicy(workspace=workspace)
        _purge(workspace.id, Cutoffs.of(policy, now), batch, budget)
        if budget.spent():
            return budget.result
    _purge_outbox(batch, budget)
    return budget.result


def purge_workspace(workspace_id: int, cutoffs: Cutoffs, *, batch: int = DEFAULT_BATCH,
                    pause: float = 0.0, max_seconds: float | None = None) -> PurgeResult:
    """Delete one workspace's rows older than `cutoffs` (`pause`: see _Budget). With `max_seconds` it
    stops between batches once that time has passed (`complete` is then False; run it again to go on)."""
    budget = _Budget(time.monotonic() + max_seconds if max_seconds is not None else None, pause)
    _purge(workspace_id, cutoffs, batch, budget)
    return budget.result


def purge_outbox_leftovers(*, batch: int = DEFAULT_BATCH) -> int:
    """Delete every outbox entry whose events are all gone, `batch` entries at a time."""
    deleted, last = 0, 0
    while True:
        budget = _Budget()
        last = _purge_outbox(batch, budget, after=last)
        deleted += budget.result.outbox_entries
        if last is None:
            return deleted


def _purge(workspace_id: int, cutoffs: Cutoffs, batch: int, budget: _Budget) -> None:
    destinations = list(Destination.objects.filter(workspace_id=workspace_id).order_by("id")
                        .values_list("id", flat=True))
    steps: list[Any] = []
    if cutoffs.deliveries is not None:
        steps += [lambda d=d, s=s: _deliveries_batch(d, s, cutoffs.deliveries, batch, budget.result)
                  for d in destinations for s in SETTLED]
    if cutoffs.events is not None:
        floor = _chunk_floor(workspace_id)
        steps.append(lambda: _events_batch(workspace_id, cutoffs.events, floor, batch, budget.result))
        steps.append(lambda: _webhook_bodies_batch(workspace_id, cutoffs.events, batch, budget.result))
    if cutoffs.counts is not None:  # before the rollup: no summing rows that go anyway
        steps += [lambda d=d: _counts_batch(d, cutoffs.counts, batch, budget.result) for d in destinations]
    if cutoffs.rollup is not None:
        steps += [lambda d=d: _rollup_batch(d, cutoffs.rollup, batch, budget.result) for d in destinations]
    for step in steps:
        while not budget.spent():
            started = time.monotonic()
            done = step()
            if done:
                budget.rest(time.monotonic() - started)
            if done < batch:
                break


# --- one batch each: a short transaction, at most `batch` rows ----------------------------------------


def _delete_ids(table: str, ids: list[int]) -> int:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"DELETE FROM {table} WHERE id = ANY(%s::bigint[])", [ids])
        else:
            cursor.execute(f"DELETE FROM {table} WHERE id IN ({','.join(['%s'] * len(ids))})", ids)
        return cursor.rowcount


def _release_exchanges(exchange_ids: list[int | None]) -> int:
    """The delivery rows pointing at `exchange_ids` (one entry per row) are gone: subtract them from
    each exchange's row_count and delete the exchanges no row points at any more. Returns how many
    were deleted."""
    by_count: dict[int, list[int]] = defaultdict(list)
    for exchange_id, n in Counter(x for x in exchange_ids if x is not None).items():
        by_count[n].append(exchange_id)
    deleted = 0
    for n, ids in by_count.items():
        deleted += DeliveryExchange.objects.filter(id__in=ids, row_count__lte=n).delete()[0]
        DeliveryExchange.objects.filter(id__in=ids, row_count__gt=n).update(row_count=F("row_count") - n)
    return deleted


def _deliveries_batch(destination_id: int, status: str, before: datetime, batch: int, result: PurgeResult) -> int:
    with transaction.atomic():
        rows = list(Delivery.objects.filter(destination_id=destination_id, status=status, updated_at__lt=before)
                    .order_by("updated_at").select_for_update(skip_locked=True)
                    .values_list("id", "exchange_id")[:batch])
        if rows:
            result.deliveries += _delete_ids("destinations_delivery", [r[0] for r in rows])
            result.exchanges += _release_exchanges([r[1] for r in rows])
    return len(rows)


def _chunk_floor(workspace_id: int) -> int | None:
    """The lowest event id a DeliveryChunk of the workspace still carries (events from it on are kept:
    their first attempt has not been sent), or None when there is no chunk. Reads only the head of
    each chunk's text."""
    heads = (DeliveryChunk.objects.filter(workspace_id=workspace_id)
             .annotate(head=Substr("items", 1, 32)).values_list("head", flat=True))
    ids = [int(m.group(1)) for head in heads if (m := _CHUNK_HEAD.match(head or ""))]
    return min(ids) if ids else None


def _expired_events(workspace_id: int, before: datetime, floor: int | None) -> QuerySet[Event]:
    qs = Event.objects.filter(workspace_id=workspace_id, received_at__lt=before)
    if floor is not None:
        qs = qs.filter(id__lt=floor)
    return qs.exclude(Exists(Delivery.objects.filter(event_id=OuterRef("id"), status__in=UNSETTLED)))


def _events_batch(workspace_id: int, before: datetime, floor: int | None, batch: int, result: PurgeResult) -> int:
    with transaction.atomic():
        ids = list(_expired_events(workspace_id, before, floor).order_by("received_at")
                   .select_for_update(skip_locked=True).values_list("id", flat=True)[:batch])
        if not ids:
            return 0
        rows = list(Delivery.objects.filter(event_id__in=ids).select_for_update()
                    .values_list("id", "exchange_id", "event_id", "status"))
        # a retry created since the selection above keeps its event
        keep = {r[2] for r in rows if r[3] in UNSETTLED}
        rows = [r for r in rows if r[2] not in keep]
        if rows:
            result.deliveries += _delete_ids("destinations_delivery", [r[0] for r in rows])
            result.exchanges += _release_exchanges([r[1] for r in rows])
        doomed = [i for i in ids if i not in keep]
        if doomed:
            result.events += _delete_ids("ingest_event", doomed)
    return len(ids)


def _webhook_bodies_batch(workspace_id: int, before: datetime, batch: int, result: PurgeResult) -> int:
    """Bodies received by webhook sources go with the events of their time (their events, if any, are
    rows of ingest_event of their own)."""
    ids = list(WebhookBody.objects.filter(workspace_id=workspace_id, received_at__lt=before)
               .order_by("received_at").values_list("id", flat=True)[:batch])
    if ids:
        result.webhook_bodies += _delete_ids("ingest_webhookbody", ids)
    return len(ids)


def _rollup_batch(destination_id: int, before: datetime, batch: int, result: PurgeResult) -> int:
    """Sum per-minute rows older than `before` into the row of their hour (minute :00), deleting them."""
    with transaction.atomic():
        rows = list(DeliveryCount.objects.filter(destination_id=destination_id, minute__lt=before)
                    .annotate(m=ExtractMinute("minute")).exclude(m=0).order_by("minute")
                    .select_for_update().values_list("id", "minute", *_COUNT_COLUMNS)[:batch])
        if not rows:
            return 0
        hours: dict[tuple[int, datetime], dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for _id, minute, *values in rows:
            hour = hours[(destination_id, minute.replace(minute=0, second=0, microsecond=0))]
            for name, value in zip(_COUNT_COLUMNS, values, strict=True):
                hour[name] += value
        _delete_ids("destinations_deliverycount", [r[0] for r in rows])
        add_counts(hours)
        result.counts_rolled_up += len(rows)
    return len(rows)


def _counts_batch(destination_id: int, before: datetime, batch: int, result: PurgeResult) -> int:
    with transaction.atomic():
        ids = list(DeliveryCount.objects.filter(destination_id=destination_id, minute__lt=before)
                   .order_by("minute").values_list("id", flat=True)[:batch])
        if ids:
            result.counts += _delete_ids("destinations_deliverycount", ids)
    return len(ids)


def _purge_outbox(batch: int, budget: _Budget, after: int = 0) -> int | None:
    """Delete outbox entries none of whose events exist any more, among the `batch` oldest entries
    after id `after` (the beat looks at the oldest only: leftovers are old, live entries last seconds).
    Returns the last id looked at, None when there were no more."""
    if budget.spent():
        return None
    with transaction.atomic():
        entries = [(entry_id, [int(i) for i in orjson.loads(ids)]) for entry_id, ids in
                   OutboxEntry.objects.filter(id__gt=after).order_by("id").select_for_update(skip_locked=True)
                   .values_list("id", "event_ids")[:batch]]
        if not entries:
            return None
        wanted = {i for _, ids in entries for i in ids}
        found = set(Event.objects.filter(id__in=wanted).values_list("id", flat=True)) if wanted else set()
        gone = [entry_id for entry_id, ids in entries if found.isdisjoint(ids)]
        if gone:
            budget.result.outbox_entries += _delete_ids("ingest_outboxentry", gone)
    return entries[-1][0]


# --- dry run ------------------------------------------------------------------------------------------


def count_expired(workspace_id: int, cutoffs: Cutoffs) -> dict[str, int]:
    """What `purge_workspace(workspace_id, cutoffs)` would delete, per table (counts_rolled_up: minute
    rows that would be summed into their hour). Counts, so it reads every expired row once."""
    events = Event.objects.none()
    if cutoffs.events is not None:
        events = _expired_events(workspace_id, cutoffs.events, _chunk_floor(workspace_id))
    doomed = Q(event_id__in=events.values("id"))
    if cutoffs.deliveries is not None:
        doomed |= Q(status__in=SETTLED, updated_at__lt=cutoffs.deliveries)
    deliveries = Delivery.objects.filter(workspace_id=workspace_id).filter(doomed)
    per_exchange = (deliveries.filter(exchange_id__isnull=False).order_by().values("exchange_id")
                    .annotate(n=Count("id")))
    row_counts = dict(DeliveryExchange.objects.filter(id__in=deliveries.values("exchange_id"), row_count__isnull=False)
                      .values_list("id", "row_count"))
    counts = DeliveryCount.objects.filter(destination__workspace_id=workspace_id)
    rolled = counts.filter(minute__lt=cutoffs.rollup) if cutoffs.rollup is not None else counts.none()
    if cutoffs.counts is not None:
        rolled = rolled.filter(minute__gte=cutoffs.counts)  # those go instead
    return {
        "events": events.count(),
        "deliveries": deliveries.count(),
        "exchanges": sum(1 for x in per_exchange
                         if x["exchange_id"] in row_counts and row_counts[x["exchange_id"]] <= x["n"]),
        "counts_rolled_up": (rolled.annotate(m=ExtractMinute("minute")).exclude(m=0).count()
                             if cutoffs.rollup is not None else 0),
        "counts": counts.filter(minute__lt=cutoffs.counts).count() if cutoffs.counts is not None else 0,
    }


def count_outbox_leftovers(*, batch: int = DEFAULT_BATCH) -> int:
    """How many outbox entries have none of their events any more (reads the whole outbox, in batches)."""
    leftovers, last = 0, 0
    while True:
        entries = [(entry_id, [int(i) for i in orjson.loads(ids)]) for entry_id, ids in
                   OutboxEntry.objects.filter(id__gt=last).order_by("id").values_list("id", "event_ids")[:batch]]
        if not entries:
            return leftovers
        wanted = {i for _, ids in entries for i in ids}
        found = set(Event.objects.filter(id__in=wanted).values_list("id", flat=True)) if wanted else set()
        leftovers += sum(1 for _, ids in entries if found.isdisjoint(ids))
        last = entries[-1][0]
