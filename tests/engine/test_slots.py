"""Per-destination concurrency: at most DELIVERY_DESTINATION_CONCURRENCY tasks send to one destination at
once, across every worker. A task that finds every slot busy (a destination that hangs) sends nothing and
gives its worker back; its rows (or its chunk of first attempts) wait a moment and the sweep brings them
back. Other destinations are not
affected, and a dead worker's slots free themselves."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from django.db import connection
from django.utils import timezone
from pytest_httpserver import HTTPServer

from destinations import delivery
from destinations.models import Delivery, DeliveryChunk
from tests.helpers import wait_for

pytestmark = pytest.mark.usefixtures("celery_worker")

TRACK = {"type": "track", "event": "Order Completed", "userId": "u-1"}


@pytest.fixture
def other_worker() -> Iterator[psycopg.Connection]:
    """A second database session standing in for another worker process."""
    params = connection.get_connection_params()
    conn = psycopg.connect(**{k: v for k, v in params.items() if k in ("dbname", "user", "host", "port")},
                           autocommit=True)
    yield conn
    if not conn.closed:
        conn.close()


def _hold_every_slot(conn: psycopg.Connection, destination_id: int, limit: int) -> None:
    for slot in range(limit):
        row = conn.execute("SELECT pg_try_advisory_lock(%s, %s)",
                           [delivery._SLOT_NAMESPACE + slot, destination_id]).fetchone()
        assert row == (True,)


def _settled(event: Any) -> dict[int, Delivery]:
    def ready() -> dict[int, Delivery] | None:
        rows = list(Delivery.objects.filter(event=event))
        done = rows and all(r.locked_until is None and (r.status != "pending" or r.next_attempt_at) for r in rows)
        return {r.destination_id: r for r in rows} if done else None

    return wait_for(ready, what=f"settled deliveries for {event.message_id}")


def _hits(server: HTTPServer, path: str) -> int:
    return sum(1 for request, _ in server.log if request.path == path)


def test_a_destination_with_every_slot_busy_waits_and_the_others_flow(
    make_webhook: Callable[..., Any], store: Callable[..., Any], httpserver: HTTPServer, settings: Any,
    other_worker: psycopg.Connection,
) -> None:
    settings.DELIVERY_DESTINATION_CONCURRENCY = 2
    httpserver.expect_request("/busy").respond_with_data("ok")
    httpserver.expect_request("/free").respond_with_data("ok")
    busy, free = make_webhook("/busy"), make_webhook("/free")
    _hold_every_slot(other_worker, busy.id, 2)

    [event] = store({**TRACK, "messageId": "s-1"})
    rows = _settled(event)
    assert rows[free.id].status == "delivered"
    assert busy.id not in rows
    # not attempted: still a queued first attempt, with nothing queued, due again shortly
    waiting = wait_for(lambda: DeliveryChunk.objects.filter(destination=busy, next_attempt_at__isnull=False).first(),
                       what="the chunk waiting for a slot")
    assert waiting.enqueued_at is None and waiting.locked_until is None
    assert timezone.now() < waiting.next_attempt_at < timezone.now() + timedelta(seconds=3)
    assert _hits(httpserver, "/busy") == 0 and _hits(httpserver, "/free") == 1

    # the other worker's connection dies without unlocking: its slots are free again
    other_worker.close()
    DeliveryChunk.objects.filter(id=waiting.id).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert delivery.sweep() == 1
    row = wait_for(lambda: Delivery.objects.filter(event=event, destination=busy, status="delivered").first(),
                   what="the waiting event delivered")
    assert row.attempts == 1
    assert not DeliveryChunk.objects.exists()
    assert _hits(httpserver, "/busy") == 1


def test_a_retry_that_waits_for_a_slot_keeps_its_last_outcome(
    make_webhook: Callable[..., Any], store: Callable[..., Any], httpserver: HTTPServer, settings: Any,
    other_worker: psycopg.Connection,
) -> None:
    settings.DELIVERY_DESTINATION_CONCURRENCY = 1
    httpserver.expect_request("/flaky").respond_with_data("try later", status=503)
    flaky = make_webhook("/flaky")
    [event] = store({**TRACK, "messageId": "s-2"})
    row = _settled(event)[flaky.id]
    assert row.status == "retrying" and row.attempts == 1 and row.last_status_code == 503

    _hold_every_slot(other_worker, flaky.id, 1)
    Delivery.objects.filter(id=row.id).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    result = delivery.deliver([row.id])
    assert result.deferred == 1 and result.requests == 0
    row.refresh_from_db()
    assert row.status == "retrying" and row.attempts == 1 and row.last_status_code == 503
    assert row.response["status"] == 503 and row.locked_until is None
    assert row.next_attempt_at > timezone.now()
    assert _hits(httpserver, "/flaky") == 1


def test_slots_are_given_back_after_each_task(
    make_webhook: Callable[..., Any], store: Callable[..., Any], httpserver: HTTPServer, settings: Any,
) -> None:
    settings.DELIVERY_DESTINATION_CONCURRENCY = 1
    httpserver.expect_request("/one").respond_with_data("ok")
    hook = make_webhook("/one")
    for n in range(3):  # one slot, three tasks in a row: each must find it free
        [event] = store({**TRACK, "messageId": f"s-3-{n}"})
        assert _settled(event)[hook.id].status == "delivered"
    assert _hits(httpserver, "/one") == 3


def test_a_task_whose_transaction_failed_still_gives_its_slot_back(
    make_webhook: Callable[..., Any], store: Callable[..., Any], httpserver: HTTPServer, settings: Any,
    monkeypatch: Any, other_worker: psycopg.Connection,
) -> None:
    """The slot is released after the task's transaction, so a database error that aborts it while it is
    sending (here: tripping the circuit fails) cannot leave the destination one slot short for as long
    as the worker's connection lives."""
    settings.DELIVERY_DESTINATION_CONCURRENCY = 1
    httpserver.expect_request("/down").respond_with_data("overloaded", status=503)
    hook = make_webhook("/down")
    [event] = store({**TRACK, "messageId": "s-4"})
    row = _settled(event)[hook.id]
    Delivery.objects.filter(id=row.id).update(next_attempt_at=timezone.now() - timedelta(seconds=1))

    def broken(*args: Any, **kwargs: Any) -> None:
        from django.db import connection as conn

        with conn.cursor() as cursor:
            cursor.execute("SELECT 1/0")  # aborts the task's transaction mid-send

    monkeypatch.setattr(delivery, "_trip", broken)
    with pytest.raises(Exception, match="division by zero"):
        delivery.deliver([row.id])
    monkeypatch.undo()
    # the one slot is free for every other worker (this session could re-take its own lock anyway)
    taken = other_worker.execute("SELECT pg_try_advisory_lock(%s, %s)", [delivery._SLOT_NAMESPACE, hook.id])
    assert taken.fetchone() == (True,)
