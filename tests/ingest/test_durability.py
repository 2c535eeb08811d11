"""Nothing acknowledged is lost: broker outages leave events for the outbox sweep, database outages
answer 503 (clients retry) instead of a 200 for an event that was not stored."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from kombu import Connection

from connections.models import Source
from connections.services import create_source
from ingest.models import Event, OutboxEntry
from ingest.tasks import outbox_sweep
from pipelines.celery import app
from pipelines.models import Workspace
from tests.helpers import wait_for

from .conftest import TrackingClient

TRACK = {"userId": "user-1", "event": "Order Completed"}
CLOSED_PORT_BROKER = "redis://127.0.0.1:1/0"


@pytest.fixture
def live_source(transactional_db: Any, workspace: Workspace) -> Source:
    """A source in a database whose commits are real, so on-commit hand-offs run."""
    return create_source(workspace, name="Backend", kind="python")[0]


def _use_broker(url: str | None) -> None:
    """Publish to `url` (None: the configured broker). Celery builds its producer pools lazily from the
    write URL; dropping them makes the next publish connect afresh."""
    app.conf.broker_write_url = url
    app._pool = None
    if "amqp" in app.__dict__:
        app.amqp._producer_pool = None


@pytest.fixture
def fan_out_queue() -> Iterator[Any]:
    """The real "celery" queue on the test broker, emptied first; yields a function draining it."""
    with Connection(settings.CELERY_BROKER_URL) as conn:
        queue = conn.SimpleQueue("celery", no_ack=True)
        queue.clear()

        def drain() -> list[tuple[str, Any, Any]]:
            messages = []
            while True:
                try:
                    message = queue.get(timeout=0.5)
                except queue.Empty:
                    return messages
                body = orjson.loads(message.body) if isinstance(message.body, (bytes, str)) else message.body
                messages.append((message.headers["task"], body[0], body[1]))

        yield drain
        queue.close()


@pytest.fixture
def broker_down() -> Iterator[None]:
    _use_broker(CLOSED_PORT_BROKER)
    yield
    _use_broker(None)


def test_request_is_acknowledged_and_event_dispatched_when_the_broker_is_up(live_source: Source, fan_out_queue):
    api = TrackingClient(live_source.write_key)
    assert api.post("/v1/batch", {"batch": [{**TRACK, "type": "track"}] * 2}).status_code == 200
    ids = sorted(Event.objects.values_list("id", flat=True))
    [entry] = OutboxEntry.objects.all()  # written with the events, deleted by fan-out
    assert entry.ids() == ids
    assert fan_out_queue() == [("destinations.fan_out", [ids], {"entries": [entry.id]})]


def test_coalesced_dispatch_sends_every_id_after_the_responses(live_source: Source, fan_out_queue, settings):
    settings.INGEST_DISPATCH_WINDOW_MS = 30
    api = TrackingClient(live_source.write_key)
    for i in range(5):
        assert api.post("/v1/track", {**TRACK, "messageId": f"c{i}"}).status_code == 200
    ids = sorted(Event.objects.values_list("id", flat=True))
    received: list[tuple[str, Any]] = []

    def all_ids_published() -> bool:
        received.extend(fan_out_queue())
        return sorted(i for _, args, _ in received for i in args[0]) == ids

    wait_for(all_ids_published, timeout=10, what="coalesced fan-out tasks")
    assert {task for task, _, _ in received} == {"destinations.fan_out"}
    entries = set(OutboxEntry.objects.values_list("id", flat=True))
    assert len(entries) == 5 and {e for _, _, kwargs in received for e in kwargs["entries"]} == entries


def test_broker_down_still_stores_and_the_sweep_dispatches_later(live_source: Source, fan_out_queue, broker_down):
    api = TrackingClient(live_source.write_key)
    first = api.post("/v1/batch", {"batch": [{**TRACK, "type": "track", "messageId": f"m{i}"} for i in range(3)]})
    second = api.post("/v1/track", {**TRACK, "messageId": "m3"})
    assert (first.status_code, second.status_code) == (200, 200)
    assert orjson.loads(first.content) == {"success": True}
    events = list(Event.objects.order_by("id"))
    assert [e.message_id for e in events] == ["m0", "m1", "m2", "m3"]
    entries = list(OutboxEntry.objects.order_by("id"))
    assert [entry.ids() for entry in entries] == [[e.id for e in events[:3]], [events[3].id]]

    # Within the grace period the sweep leaves them alone (their own hand-off may still be under way).
    assert outbox_sweep() == 0

    # The broker comes back; once the events are older than the grace period the sweep sends them.
    _use_broker(None)
    OutboxEntry.objects.update(handed_at=datetime.now(UTC) - timedelta(seconds=settings.OUTBOX_GRACE_SECONDS + 1))
    assert outbox_sweep() == 4
    assert fan_out_queue() == [("destinations.fan_out", [[e.id for e in events]],
                                {"entries": [entry.id for entry in entries]})]
    # no worker took them yet: the next sweep leaves them to that task for another grace period
    assert outbox_sweep() == 0
    assert fan_out_queue() == []


def test_sweep_command_sends_undispatched_events_in_chunks(live_source: Source, fan_out_queue, broker_down):
    api = TrackingClient(live_source.write_key)
    for n in range(4):  # four requests of 200 events, one of 1,000: five outbox entries
        batch = [{**TRACK, "type": "track", "messageId": f"m{n}-{i}"} for i in range(200)]
        assert api.post("/v1/batch", {"batch": batch}).status_code == 200
    batch = [{**TRACK, "type": "track", "messageId": f"big-{i}"} for i in range(1000)]
    assert api.post("/v1/batch", {"batch": batch}).status_code == 200
    entries = list(OutboxEntry.objects.order_by("id"))
    entries[0].delete()  # fan-out already took the first request's events
    _use_broker(None)
    call_command("sweep_outbox", "--grace", "0")
    messages = fan_out_queue()
    assert [task for task, _, _ in messages] == ["destinations.fan_out"] * 3
    # whole entries, up to 500 events per task; an entry larger than that travels alone
    assert [kwargs["entries"] for _, _, kwargs in messages] == [[entries[1].id, entries[2].id], [entries[3].id],
                                                                [entries[4].id]]
    assert [len(args[0]) for _, args, _ in messages] == [400, 200, 1000]
    expected = [i for entry in entries[1:] for i in entry.ids()]
    assert [i for _, args, _ in messages for i in args[0]] == expected


def test_outbox_sweep_is_scheduled_by_beat():
    entry = settings.CELERY_BEAT_SCHEDULE["outbox-sweep"]
    assert entry["task"] == "ingest.outbox_sweep"
    assert entry["schedule"] == settings.OUTBOX_SWEEP_INTERVAL
    app.loader.import_default_modules()
    assert "ingest.outbox_sweep" in app.tasks


@pytest.fixture
def break_database() -> Iterator[Any]:
    """Returns a function pointing the default connection at a closed port, as in a real outage.
    The real settings are restored afterwards (before the test database is flushed)."""
    saved = connection.settings_dict["PORT"]

    def down() -> None:
        connection.close()
        connection.settings_dict["PORT"] = 1

    yield down
    connection.settings_dict["PORT"] = saved
    connection.close()


def test_database_outage_answers_503_never_200(live_source: Source, break_database):
    api = TrackingClient(live_source.write_key)
    assert api.post("/v1/track", {**TRACK, "messageId": "before"}).status_code == 200  # key now cached
    break_database()
    for response in (
        api.post("/v1/track", {**TRACK, "messageId": "during"}),
        api.post("/v1/batch", {"batch": [{**TRACK, "type": "track"}]}),
        TrackingClient("never-seen-key").post("/v1/track", TRACK),  # lookup fails: 503, not 401
    ):
        assert response.status_code == 503
        body = orjson.loads(response.content)
        assert body["code"] == "unavailable" and body["message"]
        assert response["Access-Control-Allow-Origin"] == "*"


def test_database_outage_on_browser_settings_is_503(live_source: Source, break_database):
    break_database()
    from django.test import Client

    response = Client().get(f"/v1/projects/{live_source.write_key}/settings")
    assert response.status_code == 503
    assert orjson.loads(response.content)["code"] == "unavailable"
