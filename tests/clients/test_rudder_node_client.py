"""@rudderstack/rudder-sdk-node 3, unchanged, pointed at a live server: every call type is stored as sent,
an explicit historical timestamp is kept, and Mixpanel (a local server) receives them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from connections import services
from connections.models import Source
from destinations.models import Delivery
from ingest.models import Event
from pipelines.models import Workspace
from tests.helpers import wait_for

SCRIPT = Path(__file__).resolve().parent / "send_all_rudder_node.js"
CALL_TYPES = {"identify", "track", "page", "screen", "group", "alias"}
HISTORICAL = "2024-01-02T03:04:05.678Z"


def run_rudder_node(node_modules: Path, host: str, write_key: str, prefix: str) -> tuple[int, dict[str, Any]]:
    """Run send_all_rudder_node.js; return its exit status and the JSON report it printed."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: the JavaScript client tests need node >= 18 on PATH.")
    env = {**os.environ, "HOST": host, "WRITE_KEY": write_key, "PREFIX": prefix}
    result = subprocess.run([node, str(SCRIPT)], check=False, capture_output=True, text=True, timeout=60,
                            env=env, cwd=node_modules.parent)
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"send_all_rudder_node.js crashed (exit {result.returncode}).\nstdout: {result.stdout}\n"
                    f"stderr: {result.stderr}")
    return result.returncode, report


@pytest.fixture
def mixpanel(settings: Any, workspace: Workspace, node_source: Source, httpserver: HTTPServer) -> HTTPServer:
    settings.DESTINATION_ENDPOINTS = {"mixpanel": httpserver.url_for("/")}
    for path in ("/import", "/engage", "/track", "/groups"):
        httpserver.expect_request(path).respond_with_json({"status": 1, "error": None, "code": 200,
                                                           "num_records_imported": 1})
    services.create_destination(workspace, name="Mixpanel", kind="mixpanel", sources=[node_source],
                                settings={"project_token": "abc123token", "api_secret": "mp-secret-value"})
    return httpserver


def _settled() -> list[Delivery]:
    def ready() -> list[Delivery] | None:
        rows = list(Delivery.objects.all())
        # identify, 2 tracks, page, screen, group delivered; alias filtered (Mixpanel's Alias is off by default)
        statuses = sorted(r.status for r in rows)
        return rows if statuses == ["delivered"] * 6 + ["filtered"] else None

    return wait_for(ready, what="6 delivered rows and 1 filtered")


@pytest.mark.usefixtures("celery_worker")
def test_rudder_node_delivers_every_call_type(node_modules: Path, live_server: Any, node_source: Source,
                                              mixpanel: HTTPServer) -> None:
    started = datetime.now(UTC)
    status, report = run_rudder_node(node_modules, live_server.url, node_source.write_key, "rn")
    finished = datetime.now(UTC)
    assert (status, report["errors"]) == (0, [])
    assert {r["url"] for r in report["responses"]} == {f"{live_server.url}/v1/batch"}
    assert {r["status"] for r in report["responses"]} == {200}

    events = {("historical" if e.payload.get("event") == "Historical Import" else e.type): e
              for e in Event.objects.filter(source=node_source)}
    assert set(events) == CALL_TYPES | {"historical"}
    assert Event.objects.filter(source=node_source).count() == 7
    for key, event in events.items():
        payload, sent = event.payload, report["messages"][key]
        assert event.message_id == sent["messageId"] == payload["messageId"]
        assert payload["context"]["library"]["name"] == "analytics-node"  # what rudder-sdk-node calls itself
        assert payload["context"]["ip"] == "127.0.0.1"
        assert payload["channel"] == "server"
        # The library always sends originalTimestamp (the call time): kept as sent.
        assert payload["originalTimestamp"] == sent["originalTimestamp"]
        received = datetime.fromisoformat(payload["receivedAt"])
        assert started - timedelta(seconds=1) <= received <= finished + timedelta(seconds=1)
        if key != "historical":
            # No caller timestamp: the call time, skew-corrected (same clock here: within the network time).
            assert "timestamp" not in sent
            assert abs(datetime.fromisoformat(payload["timestamp"]) - received) < timedelta(seconds=5)

    historical = events["historical"].payload
    assert report["messages"]["historical"]["timestamp"] == HISTORICAL
    assert historical["timestamp"] == HISTORICAL  # the caller's time, not the call time
    assert historical["originalTimestamp"] != HISTORICAL
    identify = events["identify"].payload
    assert identify["userId"] == "rn-u1"
    assert identify["traits"] == identify["context"]["traits"] == {"email": "ada@example.com", "plan": "pro"}
    track = events["track"].payload
    assert (track["event"], track["properties"]) == ("Order Completed", {"total": 42.5, "currency": "EUR"})
    page = events["page"].payload
    assert (page["category"], page["name"], page["properties"]["path"]) == ("Docs", "Quickstart", "/docs/quickstart")
    assert (events["screen"].payload["name"], events["screen"].payload["properties"]) == ("Settings", {"tab": "billing"})
    group = events["group"].payload
    assert (group["groupId"], group["traits"]) == ("acme", {"name": "Acme Inc", "employees": 12})
    alias = events["alias"].payload
    assert (alias["previousId"], alias["userId"]) == ("rn-anon", "rn-u1")

    # What Mixpanel received: the historical event at its own time, the profile with its traits.
    _settled()
    imported = [e for r, _ in mixpanel.log if r.path == "/import" for e in json.loads(r.get_data())]
    by_name = {e["event"]: e["properties"] for e in imported}
    assert by_name["Historical Import"]["time"] == int(datetime.fromisoformat(HISTORICAL).timestamp() * 1000)
    assert by_name["Historical Import"]["distinct_id"] == "rn-u1"
    assert by_name["Order Completed"]["total"] == 42.5
    assert len(imported) == 4  # 2 tracks, the page and the screen
    [engage] = [json.loads(r.get_data()) for r, _ in mixpanel.log if r.path == "/engage"]
    assert engage[0]["$distinct_id"] == "rn-u1"
    assert engage[0]["$set"] == {"$email": "ada@example.com", "plan": "pro"}
    [groups] = [json.loads(r.get_data()) for r, _ in mixpanel.log if r.path == "/groups"]
    assert (groups[0]["$group_id"], groups[0]["$set"]) == ("acme", {"name": "Acme Inc", "employees": 12})


def test_rudder_node_with_unknown_write_key_reports_failure_and_stores_nothing(
    node_modules: Path, live_server: Any, node_source: Source
) -> None:
    status, report = run_rudder_node(node_modules, live_server.url, "not-a-real-key", "bad")
    assert status == 1
    assert report["responses"] and {r["status"] for r in report["responses"]} == {401}
    assert report["errors"] and {e["status"] for e in report["errors"]} == {401}
    assert not Event.objects.exists()
