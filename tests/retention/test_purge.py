"""The retention purge: what is past its window goes, what is younger or still needed by a delivery stays."""

from __future__ import annotations

from datetime import timedelta

import orjson
import pytest
from django.utils import timezone

from connections import services
from destinations.counts import add_counts
from destinations.models import DeliveryChunk, DeliveryCount, DeliveryExchange
from ingest.models import Event, OutboxEntry
from pipelines.models import Workspace
from retention import purge
from retention.models import RetentionPolicy

from .conftest import days_ago, exists

pytestmark = pytest.mark.django_db


def test_events_older_than_the_window_go_and_younger_ones_stay(make_event):
    old, young = make_event(31), make_event(29)
    result = purge.purge_expired()
    assert not exists(old) and exists(young)
    assert result.events == 1


def test_a_workspace_policy_replaces_the_defaults(workspace, make_event):
    RetentionPolicy.objects.create(workspace=workspace, events_days=5, deliveries_days=2)
    six, four = make_event(6), make_event(4)
    purge.purge_expired()
    assert not exists(six) and exists(four)


def test_settled_deliveries_go_after_their_window_and_release_their_exchange(
        make_event, make_delivery, make_exchange):
    event = make_event(20)  # within the events window: only the delivery records are old
    shared = make_exchange(row_count=2)  # one request that carried two rows
    alone = make_exchange(row_count=1)
    delivered = make_delivery(event, "delivered", 15, shared)
    still_retrying = make_delivery(event, "retrying", 15, shared)
    failed = make_delivery(event, "failed", 15, alone)
    filtered = make_delivery(event, "filtered", 15)
    recent = make_delivery(event, "delivered", 13)

    result = purge.purge_expired()

    assert not exists(delivered) and not exists(failed) and not exists(filtered)
    assert exists(recent) and exists(still_retrying) and exists(event)
    shared.refresh_from_db()
    assert shared.row_count == 1  # the retrying row still shows its last request
    assert not exists(alone)
    assert (result.deliveries, result.exchanges) == (3, 1)


def test_an_event_a_retry_still_needs_stays_with_its_retry(make_event, make_delivery, make_exchange):
    event = make_event(40)
    exchange = make_exchange(row_count=1)
    retrying = make_delivery(event, "retrying", 40, exchange)
    pending = make_delivery(make_event(40), "pending", 40)

    purge.purge_expired()

    assert exists(event) and exists(retrying) and exists(exchange)
    assert exists(pending) and Event.objects.filter(id=pending.event_id).exists()


def test_an_expired_event_takes_its_settled_delivery_records_along(make_event, make_delivery, make_exchange):
    event = make_event(31)
    exchange = make_exchange(row_count=1)
    delivered_late = make_delivery(event, "delivered", 1, exchange)  # settled yesterday, event a month old

    purge.purge_expired()

    assert not exists(event) and not exists(delivered_late) and not exists(exchange)


def test_events_a_queued_first_attempt_carries_stay(workspace, destination, make_event):
    old, queued = make_event(40), make_event(40)
    DeliveryChunk.objects.create(workspace=workspace, destination=destination, size=1, created_at=timezone.now(),
                                 items=orjson.dumps([[queued.id, queued.message_id, {"p": 1}]]).decode())
    purge.purge_expired()
    assert not exists(old) and exists(queued)


def test_per_minute_counts_are_rolled_up_to_hourly_and_then_deleted(destination):
    hour = (timezone.now() - timedelta(days=8)).replace(minute=0, second=0, microsecond=0)
    recent = (timezone.now() - timedelta(days=6)).replace(second=0, microsecond=0)
    ancient = (timezone.now() - timedelta(days=91)).replace(second=0, microsecond=0)
    for minute, delivered, failed in [(hour, 1, 0), (hour + timedelta(minutes=5), 2, 1),
                                      (hour + timedelta(minutes=59), 4, 0), (hour + timedelta(hours=1, minutes=3), 8, 0),
                                      (recent, 16, 0), (ancient, 32, 0)]:
        # written the way delivery writes them
        add_counts({(destination.id, minute): {"delivered": delivered, "failed": failed}})

    result = purge.purge_expired()

    rows = {r.minute: (r.delivered, r.failed) for r in DeliveryCount.objects.filter(destination=destination)}
    assert rows == {hour: (7, 1), hour + timedelta(hours=1): (8, 0), recent: (16, 0)}
    assert (result.counts_rolled_up, result.counts) == (3, 1)
    purge.purge_expired()  # a second run changes nothing
    assert {r.minute: (r.delivered, r.failed) for r in DeliveryCount.objects.filter(destination=destination)} == rows


def test_another_workspace_keeps_its_rows_under_its_own_policy(workspace, make_event, make_delivery):
    other = Workspace.objects.create(name="Globex", slug="globex")
    RetentionPolicy.objects.create(workspace=other, events_days=60, deliveries_days=60)
    other_source, _ = services.create_source(other, name="App", kind="javascript")
    other_dest = services.create_destination(other, name="Hook", kind="webhook",
                                             settings={"url": "http://127.0.0.1:9/b"}, sources=[other_source])
    mine = make_event(31)
    theirs = make_event(31, src=other_source)
    their_delivery = make_delivery(theirs, "delivered", 20, dest=other_dest)

    purge.purge_expired()

    assert not exists(mine)
    assert exists(theirs) and exists(their_delivery)


def test_large_backlogs_go_in_batches(make_event):
    events = [make_event(31) for _ in range(7)]
    result = purge.purge_expired(batch=2)
    assert result.events == 7 and not Event.objects.filter(id__in=[e.id for e in events]).exists()


def test_a_time_budget_stops_between_batches(make_event):
    for _ in range(3):
        make_event(31)
    result = purge.purge_expired(batch=1, max_seconds=1e-9)
    assert not result.complete and Event.objects.count() == 3


def test_outbox_entries_whose_events_are_gone_are_deleted(make_event):
    live = make_event(0)
    leftover = OutboxEntry.objects.create(event_ids=orjson.dumps([10**12, 10**12 + 1]).decode(),
                                          handed_at=days_ago(40))
    waiting = OutboxEntry.objects.create(event_ids=orjson.dumps([live.id]).decode(), handed_at=days_ago(0))
    result = purge.purge_expired()
    assert not exists(leftover) and exists(waiting) and result.outbox_entries == 1


def test_delivery_exchanges_of_other_rows_are_not_touched(make_event, make_delivery, make_exchange):
    exchange = make_exchange(row_count=1)
    make_delivery(make_event(1), "delivered", 1, exchange)
    purge.purge_expired()
    assert DeliveryExchange.objects.get(id=exchange.id).row_count == 1


def test_with_a_pause_every_batch_still_goes(make_event):
    for _ in range(3):
        make_event(31)
    result = purge.purge_expired(batch=1, pause=0.01)
    assert result.events == 3 and result.complete


def test_dedupe_holds_inside_the_window_and_ends_with_it(workspace, source):
    from ingest.services import store_events

    def send(message_id: str, age_days: float) -> list[int]:
        message = {"type": "track", "event": "Signed Up", "userId": "u1", "messageId": message_id,
                   "timestamp": "2024-05-01T12:00:00.000Z"}
        return store_events(source, [message], days_ago(age_days))

    assert send("kept", 29) and send("expired", 31)
    purge.purge_expired()
    assert send("kept", 0) == []  # still a duplicate: its first copy is inside the 30-day window
    assert len(send("expired", 0)) == 1  # its first copy is gone: accepted as new
