"""End to end: Track API calls from the official client → stored Pipelines events → a real Celery worker →
a Webhook destination connected to the Journeys API source (a real local HTTP server)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from customerio import CustomerIO
from pytest_httpserver import HTTPServer

from connections import services
from connections.models import Source
from destinations.models import Delivery
from ingest.models import Event, OutboxEntry
from tests.helpers import wait_for

from .conftest import stored


@pytest.fixture(autouse=True)
def _allow_loopback(settings: Any) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = True


@pytest.fixture(autouse=True)
def _fresh_engine_state() -> None:
    from destinations.fanout import clear_routing_cache

    clear_routing_cache()


def test_connected_webhook_receives_the_transformed_events(
    celery_worker: Any, live_server: Any, cio: CustomerIO, track_source: tuple[Source, str], httpserver: HTTPServer,
) -> None:
    source, api_key = track_source
    httpserver.expect_request("/hook", method="POST").respond_with_json({"ok": True})
    services.create_destination(source.workspace, name="Audit hook", kind="webhook",
                                settings={"url": httpserver.url_for("/hook")}, sources=[source])

    cio.identify("u1", email="ann@example.com", plan="pro")
    cio.track("u1", "purchased", data={"total": 10})
    cio.add_device("u1", "tok-1", "android")
    cio.merge_customers("id", "u1", "id", "u0")
    requests.post(live_server.url + "/api/v2/entity", auth=(source.site_id, api_key), timeout=10, json={
        "type": "object", "identifiers": {"object_type_id": "1", "object_id": "acme"}, "action": "identify",
        "attributes": {"name": "Acme"}, "cio_relationships": [{"identifiers": {"id": "u1"}}],
    }).raise_for_status()

    expected = stored(source)
    assert len(expected) == 5
    wait_for(lambda: len(httpserver.log) >= 5, what="five webhook requests")
    received = sorted((json.loads(request.data) for request, _ in httpserver.log), key=lambda p: p["messageId"])
    assert received == sorted(expected, key=lambda p: p["messageId"])
    by_type = {p["type"]: p for p in received}
    assert by_type["identify"]["traits"] == {"email": "ann@example.com", "plan": "pro"}
    assert by_type["alias"]["previousId"] == "u0"
    assert by_type["group"]["groupId"] == "acme"
    assert {p.get("event") for p in received if p["type"] == "track"} == {"purchased", "Device Created or Updated"}


def test_unconnected_track_source_sends_nothing(
    celery_worker: Any, cio: CustomerIO, track_source: tuple[Source, str], httpserver: HTTPServer,
) -> None:
    source, _ = track_source
    other, _ = services.create_source(source.workspace, name="Other", kind="journeys_track_api")
    httpserver.expect_request("/other").respond_with_data("ok")
    hook = services.create_destination(source.workspace, name="Other hook", kind="webhook",
                                       settings={"url": httpserver.url_for("/other")}, sources=[other])
    cio.track("u1", "purchased")
    event = Event.objects.get(source=source)
    wait_for(lambda: not OutboxEntry.objects.exists(), what="fan-out of the stored event")
    assert hook.connections.count() == 1
    assert not Delivery.objects.filter(event=event).exists()
    assert httpserver.log == []
