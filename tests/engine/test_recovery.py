"""Recovery: a delivery task the broker lost (Redis restarted empty, a worker killed) only delays the
delivery; the sweep finds its chunk (or, for a retry, its row) and enqueues it again."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from pytest_httpserver import HTTPServer

from destinations import delivery, fanout
from destinations.models import Delivery, DeliveryChunk
from ingest.models import Event, OutboxEntry
from tests.helpers import wait_for

TRACK = {"type": "track", "event": "Signed Up", "userId": "u-9", "messageId": "lost-1"}


@pytest.mark.django_db(transaction=True)
def test_a_wiped_broker_only_delays_delivery(request: pytest.FixtureRequest, make_webhook: Callable[..., Any],
                                             httpserver: HTTPServer, source: Any) -> None:
    httpserver.expect_request("/hook").respond_with_data("ok")
    make_webhook()
    event = Event.objects.create(workspace=source.workspace, source=source, message_id="lost-1", type="track",
                                 payload=TRACK, received_at=timezone.now())
    OutboxEntry.objects.create(event_ids=f"[{event.id}]", handed_at=timezone.now())  # as ingest writes it
    fanout.fan_out([event.id])  # commits the chunk and enqueues its task; no worker is running yet
    [chunk] = DeliveryChunk.objects.all()
    assert chunk.parsed_items()[0][:2] == (event.id, "lost-1")

    request.getfixturevalue("celery_worker")  # purges the queues first: the broker lost the task
    assert delivery.sweep() == 0  # within the grace period its task may still be on its way
    assert DeliveryChunk.objects.filter(id=chunk.id).exists()

    DeliveryChunk.objects.filter(id=chunk.id).update(enqueued_at=timezone.now() - timedelta(seconds=61))
    assert delivery.sweep() == 1
    wait_for(lambda: Delivery.objects.filter(event=event, status="delivered").exists(), what="the recovered delivery")
    assert not DeliveryChunk.objects.exists()
    assert len(httpserver.log) == 1


def _one_queued_chunk(make_webhook: Callable[..., Any], httpserver: HTTPServer, source: Any,
                      message_id: str) -> DeliveryChunk:
    """A webhook answering 200, one stored event for it, fanned out: its chunk of one first attempt."""
    httpserver.expect_request("/hook").respond_with_data("ok")
    make_webhook()
    event = Event.objects.create(workspace=source.workspace, source=source, message_id=message_id, type="track",
                                 payload={**TRACK, "messageId": message_id}, received_at=timezone.now())
    OutboxEntry.objects.create(event_ids=f"[{event.id}]", handed_at=timezone.now())  # as ingest writes it
    fanout.fan_out([event.id])
    [chunk] = DeliveryChunk.objects.all()
    return chunk


@pytest.mark.django_db(transaction=True)
def test_an_expired_lease_lets_another_worker_take_the_chunk(request: pytest.FixtureRequest,
                                                             make_webhook: Callable[..., Any],
                                                             httpserver: HTTPServer, source: Any) -> None:
    """A worker that claimed work and died (SIGKILL) leaves a lease; until it runs out nobody else sends
    it, after it the sweep enqueues it again and it is delivered."""
    chunk = _one_queued_chunk(make_webhook, httpserver, source, "lease-1")
    now = timezone.now()
    DeliveryChunk.objects.filter(id=chunk.id).update(locked_until=now + timedelta(minutes=2),
                                                     enqueued_at=now - timedelta(minutes=5))
    assert delivery.deliver_chunks([chunk.id]).claimed == 0  # leased by the "dead" worker
    assert delivery.sweep() == 0

    request.getfixturevalue("celery_worker")
    DeliveryChunk.objects.filter(id=chunk.id).update(locked_until=now - timedelta(seconds=1))
    assert delivery.sweep() == 1
    wait_for(lambda: Delivery.objects.filter(message_id="lease-1", status="delivered").exists(), what="the delivery")
    assert len(httpserver.log) == 1


def _die(conn: Any) -> None:
    """Close `conn` as a dying worker would, and wait until PostgreSQL has ended its backend: the server
    notices a closed connection on its own time, and its locks go only then (a loaded machine shows it)."""
    from django.db import connection

    pid = conn.info.backend_pid
    conn.close()
    with connection.cursor() as cursor:
        def gone() -> bool:
            cursor.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid])
            return cursor.fetchone() is None
        wait_for(gone, what=f"PostgreSQL to end backend {pid}")


@pytest.mark.django_db(transaction=True)
def test_work_a_live_task_holds_is_skipped_and_freed_when_its_worker_dies(
        make_webhook: Callable[..., Any], httpserver: HTTPServer, source: Any) -> None:
    """On PostgreSQL a task holds its chunk (and a retry its rows) with row locks for as long as it runs:
    a second task for the same work, and the sweep, skip it; if the worker dies its connection takes
    the locks with it."""
    import psycopg
    from django.db import connection

    chunk = _one_queued_chunk(make_webhook, httpserver, source, "held-1")
    DeliveryChunk.objects.filter(id=chunk.id).update(enqueued_at=timezone.now() - timedelta(minutes=5))
    params = connection.get_connection_params()
    other = psycopg.connect(**{k: v for k, v in params.items() if k in ("dbname", "user", "host", "port")})
    other.execute("SELECT id FROM destinations_deliverychunk WHERE id = %s FOR UPDATE", [chunk.id])  # in flight

    assert delivery.deliver_chunks([chunk.id]).claimed == 0
    assert delivery.sweep() == 0
    assert len(httpserver.log) == 0

    _die(other)  # the worker dies mid-send: its transaction is rolled back, nothing was recorded
    result = delivery.deliver_chunks([chunk.id])
    assert result.claimed == 1 and result.delivered == 1
    [row] = Delivery.objects.filter(message_id="held-1")
    assert row.status == "delivered"
    assert len(httpserver.log) == 1

    # a retry row is held the same way
    Delivery.objects.filter(id=row.id).update(status="retrying", enqueued_at=timezone.now() - timedelta(minutes=5))
    other = psycopg.connect(**{k: v for k, v in params.items() if k in ("dbname", "user", "host", "port")})
    other.execute("SELECT id FROM destinations_delivery WHERE id = %s FOR UPDATE", [row.id])
    assert delivery.deliver([row.id]).claimed == 0
    assert delivery.sweep() == 0
    _die(other)
    assert delivery.deliver([row.id]).delivered == 1
    assert len(httpserver.log) == 2
