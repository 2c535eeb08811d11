"""Stored events → fan-out on a real Celery worker → what Mixpanel (a local server) and the warehouse
(a throwaway database) receive, with each action's default trigger and mapping as created by default."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from django.utils import timezone
from pytest_httpserver import HTTPServer

from connections import services
from connections.models import Source
from destinations.models import Delivery
from ingest.models import Event
from ingest.services import store_events
from pipelines.models import Workspace
from tests.helpers import wait_for

from .conftest import EVENTS, basic, body, query, received

pytestmark = pytest.mark.usefixtures("celery_worker")


@pytest.fixture
def source(workspace: Workspace) -> Source:
    src, _ = services.create_source(workspace, name="Website", kind="javascript")
    return src


def _store(source: Source, *kinds: str, **overrides: Any) -> list[Event]:
    messages = [{**copy.deepcopy(EVENTS[k]), **overrides.get(k, {})} for k in kinds]
    ids = store_events(source, messages, timezone.now())
    return list(Event.objects.filter(id__in=ids).order_by("id"))


def _settled(events: list[Event], n: int) -> list[Delivery]:
    def ready() -> list[Delivery] | None:
        rows = list(Delivery.objects.filter(event__in=events).order_by("id"))
        done = len(rows) == n and all(r.status != "pending" and r.locked_until is None for r in rows)
        return rows if done else None

    return wait_for(ready, what=f"{n} settled deliveries")


def test_mixpanel_receives_events_profiles_and_per_event_failures(
    settings: Any, workspace: Workspace, source: Source, httpserver: HTTPServer
) -> None:
    settings.DESTINATION_ENDPOINTS = {"mixpanel": httpserver.url_for("/")}
    httpserver.expect_request("/import").respond_with_json({
        "code": 400, "error": "some data points in the request failed validation", "status": "Bad Request",
        "num_records_imported": 1,
        "failed_records": [{"index": 1, "field": "properties.time", "message": "too old"}],
    }, status=400)
    httpserver.expect_request("/track").respond_with_json({"status": 1, "error": None})
    httpserver.expect_request("/engage").respond_with_json({"status": 1, "error": None})
    services.create_destination(workspace, name="Mixpanel", kind="mixpanel", sources=[source],
                                settings={"project_token": "abc123token", "api_secret": "mp-secret-value"})
    old = {**EVENTS["track"], "messageId": "msg-track-old", "timestamp": "2024-04-01T00:00:00Z"}
    ids = store_events(source, [EVENTS["track"], EVENTS["identify"], old], timezone.now())
    events = list(Event.objects.filter(id__in=ids))

    rows = _settled(events, 3)
    by_message = {r.message_id: r for r in rows}
    assert by_message["msg-track-1"].status == "delivered"
    assert by_message["msg-identify-1"].status == "delivered"
    assert by_message["msg-track-old"].status == "failed"
    assert "properties.time" in by_message["msg-track-old"].last_error

    paths = [r.path for r in received(httpserver)]
    assert sorted(paths) == ["/engage", "/import", "/track"]
    imports = [r for r in received(httpserver) if r.path == "/import"]
    assert imports[0].headers["Authorization"] == basic("mp-secret-value")
    assert [e["properties"]["$insert_id"] for e in body(imports[0])] == ["msg-track-1", "msg-track-old"]


def test_warehouse_receives_every_event(settings: Any, workspace: Workspace, source: Source,
                                        warehouse: str) -> None:
    services.create_destination(workspace, name="Warehouse", kind="postgres", sources=[source],
                                settings={"connection_url": warehouse, "schema": "website"})
    events = _store(source, *EVENTS)
    rows = _settled(events, len(EVENTS))
    assert {r.status for r in rows} == {"delivered"}
    assert query(warehouse, "SELECT event_text FROM website.tracks") == [("Order Completed",)]
    assert query(warehouse, "SELECT id, email FROM website.users") == [("user-42", "ada@example.com")]
    assert query(warehouse, "SELECT count(*) FROM website.order_completed") == [(1,)]
