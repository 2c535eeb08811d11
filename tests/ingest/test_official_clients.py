"""The official Python clients, unchanged, pointed at a live server started by the test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from customerio import analytics as cio_analytics
from segment.analytics import Client as SegmentClient

from connections.models import Source
from connections.services import create_source
from ingest.models import Event
from pipelines.models import Workspace


@pytest.fixture
def live_source(transactional_db: Any, workspace: Workspace) -> Source:
    return create_source(workspace, name="Backend", kind="python")[0]


def _send_all_calls(client: Any, prefix: str) -> None:
    client.identify(user_id=f"{prefix}-u1", traits={"email": "a@example.com", "plan": "pro"})
    client.track(user_id=f"{prefix}-u1", event="Order Completed", properties={"total": 10.5})
    client.page(user_id=f"{prefix}-u1", category="Docs", name="Quickstart", properties={"path": "/docs"})
    client.screen(user_id=f"{prefix}-u1", name="Settings", properties={"tab": "billing"})
    client.group(user_id=f"{prefix}-u1", group_id="acme", traits={"name": "Acme Inc"})
    client.alias(previous_id=f"{prefix}-anon", user_id=f"{prefix}-u1")


def _assert_stored(source: Source, prefix: str) -> None:
    events = {e.type: e for e in Event.objects.filter(source=source)}
    assert set(events) == {"identify", "track", "page", "screen", "group", "alias"}
    identify = events["identify"].payload
    assert identify["userId"] == f"{prefix}-u1"
    assert identify["traits"] == {"email": "a@example.com", "plan": "pro"}
    assert identify["context"]["library"]["name"]
    assert identify["context"]["ip"] == "127.0.0.1"
    assert identify["receivedAt"].endswith("Z") and identify["originalTimestamp"].endswith("Z")
    track = events["track"].payload
    assert (track["event"], track["properties"]) == ("Order Completed", {"total": 10.5})
    assert events["track"].message_id == track["messageId"]
    page = events["page"].payload
    assert (page["name"], page["category"], page["properties"]) == ("Quickstart", "Docs", {"path": "/docs"})
    assert events["screen"].payload["name"] == "Settings"
    assert events["group"].payload["groupId"] == "acme"
    assert events["group"].payload["traits"] == {"name": "Acme Inc"}
    alias = events["alias"].payload
    assert (alias["previousId"], alias["userId"]) == (f"{prefix}-anon", f"{prefix}-u1")
    assert all("writeKey" not in e.payload for e in events.values())


@pytest.fixture
def cio_module(live_server: Any, live_source: Source) -> Iterator[Any]:
    """customerio.analytics configured the documented way (module globals), restored afterwards."""
    saved = (cio_analytics.write_key, cio_analytics.host, cio_analytics.on_error, cio_analytics.gzip)
    cio_analytics.default_client = None
    yield cio_analytics
    cio_analytics.shutdown()
    cio_analytics.default_client = None
    cio_analytics.write_key, cio_analytics.host, cio_analytics.on_error, cio_analytics.gzip = saved


@pytest.mark.parametrize("gzip", [False, True])
def test_segment_python_client_events_are_stored(live_server: Any, live_source: Source, gzip: bool):
    failures: list[Any] = []
    client = SegmentClient(write_key=live_source.write_key, host=live_server.url, gzip=gzip, max_retries=1,
                           on_error=lambda err, batch: failures.append(err))
    _send_all_calls(client, "seg")
    client.flush()
    client.shutdown()
    assert failures == []
    _assert_stored(live_source, "seg")


@pytest.mark.parametrize("gzip", [False, True])
def test_customerio_cdp_client_events_are_stored(cio_module: Any, live_server: Any, live_source: Source,
                                                 gzip: bool):
    failures: list[Any] = []
    cio_module.write_key = live_source.write_key
    cio_module.host = live_server.url
    cio_module.gzip = gzip
    cio_module.on_error = lambda err, batch: failures.append(err)
    cio_module.identify("cio-u1", {"email": "a@example.com", "plan": "pro"})
    cio_module.track("cio-u1", "Order Completed", {"total": 10.5})
    cio_module.page("cio-u1", "Docs", "Quickstart", {"path": "/docs"})
    cio_module.screen("cio-u1", name="Settings", properties={"tab": "billing"})
    cio_module.group("cio-u1", "acme", {"name": "Acme Inc"})
    cio_module.alias("cio-anon", "cio-u1")
    cio_module.flush()
    assert failures == []
    _assert_stored(live_source, "cio")


def test_unknown_key_is_reported_by_the_client_as_unauthorized(live_server: Any, transactional_db: Any):
    failures: list[Any] = []
    client = SegmentClient(write_key="not-a-key", host=live_server.url, max_retries=0,
                           on_error=lambda err, batch: failures.append(err))
    client.track(user_id="u1", event="E")
    client.flush()
    client.shutdown()
    assert len(failures) == 1
    assert (failures[0].status, failures[0].code) == (401, "unauthorized")
    assert not Event.objects.exists()


def test_rejected_event_reaches_the_client_as_a_400_with_our_code(live_server: Any, live_source: Source):
    failures: list[Any] = []
    client = SegmentClient(write_key=live_source.write_key, host=live_server.url, max_retries=3,
                           on_error=lambda err, batch: failures.append(err))
    client.track(user_id="u1", event="E", message_id="m" * 250)  # the library does not check this
    client.flush()
    client.shutdown()
    assert [(f.status, f.code) for f in failures] == [(400, "invalid_request")]
    assert not Event.objects.exists()
