"""rudder-sdk-python 2, unchanged, pointed at a live server: every call type is stored, identify traits
that the library puts only in `context.traits` reach Mixpanel (a local server), and a historical timestamp
survives."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from rudderstack.analytics import Client as RudderClient

from connections import services
from connections.models import Source
from connections.services import create_source
from destinations.models import Delivery
from ingest.models import Event
from pipelines.models import Workspace
from tests.helpers import wait_for

HISTORICAL = datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
TRAITS = {"email": "ada@example.com", "plan": "pro"}


@pytest.fixture
def python_source(transactional_db: Any, workspace: Workspace) -> Source:
    return create_source(workspace, name="Backend", kind="python")[0]


def _send_all_calls(client: RudderClient) -> None:
    client.identify(user_id="rp-u1", traits=TRAITS)
    client.track(user_id="rp-u1", event="Order Completed", properties={"total": 10.5})
    client.track(user_id="rp-u1", event="Historical Import", properties={"batch": 7}, timestamp=HISTORICAL)
    client.page(user_id="rp-u1", category="Docs", name="Quickstart", properties={"path": "/docs"})
    client.screen(user_id="rp-u1", name="Settings", properties={"tab": "billing"})
    client.group(user_id="rp-u1", group_id="acme", traits={"name": "Acme Inc"})
    client.alias(previous_id="rp-anon", user_id="rp-u1")


@pytest.mark.usefixtures("celery_worker")
@pytest.mark.parametrize("gzip", [True, False])
def test_rudder_python_events_are_stored_and_reach_mixpanel(
    settings: Any, workspace: Workspace, live_server: Any, python_source: Source, httpserver: HTTPServer,
    gzip: bool,
) -> None:
    settings.DESTINATION_ENDPOINTS = {"mixpanel": httpserver.url_for("/")}
    for path in ("/import", "/engage", "/track", "/groups"):
        httpserver.expect_request(path).respond_with_json({"status": 1, "error": None, "code": 200})
    services.create_destination(workspace, name="Mixpanel", kind="mixpanel", sources=[python_source],
                                settings={"project_token": "abc123token", "api_secret": "mp-secret-value"})
    failures: list[Any] = []
    started = datetime.now(UTC)
    client = RudderClient(write_key=python_source.write_key, host=live_server.url, gzip=gzip, max_retries=1,
                          on_error=lambda err, batch: failures.append(err))
    _send_all_calls(client)
    client.flush()
    client.shutdown()
    assert failures == []

    events = {("historical" if e.payload.get("event") == "Historical Import" else e.type): e.payload
              for e in Event.objects.filter(source=python_source)}
    assert set(events) == {"identify", "track", "historical", "page", "screen", "group", "alias"}
    for payload in events.values():
        assert payload["context"]["library"]["name"] == "analytics-python"  # what rudder-sdk-python calls itself
        assert payload["context"]["ip"] == "127.0.0.1"
        assert payload["originalTimestamp"].endswith("Z") and payload["sentAt"].endswith("Z")
    identify = events["identify"]
    assert identify["userId"] == "rp-u1"
    assert "traits" not in identify  # the library sends identify traits only in context.traits
    assert identify["context"]["traits"] == TRAITS
    # timestamp alone (the call time) is skew-corrected; the same clock here, so it stays near receivedAt.
    received = datetime.fromisoformat(identify["receivedAt"])
    assert abs(datetime.fromisoformat(identify["timestamp"]) - received) < timedelta(seconds=5)
    assert started - timedelta(seconds=1) <= received
    # A historical timestamp is corrected only by the client's clock offset (same clock: network time).
    historical = events["historical"]
    assert abs(datetime.fromisoformat(historical["timestamp"]) - HISTORICAL) < timedelta(seconds=5)
    assert datetime.fromisoformat(historical["originalTimestamp"]) == HISTORICAL
    assert (events["track"]["event"], events["track"]["properties"]) == ("Order Completed", {"total": 10.5})
    page = events["page"]
    assert (page["name"], page["category"], page["properties"]) == ("Quickstart", "Docs", {"path": "/docs"})
    assert (events["screen"]["name"], events["screen"]["properties"]) == ("Settings", {"tab": "billing"})
    assert (events["group"]["groupId"], events["group"]["traits"]) == ("acme", {"name": "Acme Inc"})
    assert (events["alias"]["previousId"], events["alias"]["userId"]) == ("rp-anon", "rp-u1")

    def settled() -> list[Delivery] | None:
        rows = list(Delivery.objects.all())
        statuses = sorted(r.status for r in rows)
        return rows if statuses == ["delivered"] * 6 + ["filtered"] else None  # Mixpanel's Alias is off

    wait_for(settled, what="6 delivered rows and 1 filtered")
    [engage] = [json.loads(r.get_data()) for r, _ in httpserver.log if r.path == "/engage"]
    assert engage[0]["$distinct_id"] == "rp-u1"
    assert engage[0]["$set"] == {"$email": "ada@example.com", "plan": "pro"}
    imported = {e["event"]: e["properties"] for r, _ in httpserver.log if r.path == "/import"
                for e in json.loads(r.get_data())}
    assert abs(imported["Historical Import"]["time"] - HISTORICAL.timestamp() * 1000) < 5000
    assert imported["Order Completed"]["total"] == 10.5


def test_rudder_python_unknown_key_is_reported_as_unauthorized(live_server: Any, transactional_db: Any) -> None:
    failures: list[Any] = []
    client = RudderClient(write_key="not-a-key", host=live_server.url, max_retries=0,
                          on_error=lambda err, batch: failures.append(err))
    client.track(user_id="u1", event="E")
    client.flush()
    client.shutdown()
    assert [(f.status, f.code) for f in failures] == [(401, "unauthorized")]
    assert not Event.objects.exists()
