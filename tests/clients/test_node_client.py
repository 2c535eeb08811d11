"""@segment/analytics-node, unchanged, pointed at a live server: every call type is stored as sent."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connections.models import Source
from ingest.models import Event

SCRIPT = Path(__file__).resolve().parent / "send_all_node.js"
CALL_TYPES = {"identify", "track", "page", "screen", "group", "alias"}


def _iso(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _run_node(node_modules: Path, host: str, write_key: str, prefix: str) -> tuple[int, dict[str, Any]]:
    """Run send_all_node.js; return its exit status and the JSON report it printed."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: the JavaScript client tests need node >= 18 on PATH.")
    env = {**os.environ, "HOST": host, "WRITE_KEY": write_key, "PREFIX": prefix}
    result = subprocess.run([node, str(SCRIPT)], check=False, capture_output=True, text=True, timeout=30,
                            env=env, cwd=node_modules.parent)
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"send_all_node.js crashed (exit {result.returncode}).\nstdout: {result.stdout}\n"
                    f"stderr: {result.stderr}")
    return result.returncode, report


def test_analytics_node_delivers_every_call_type(node_modules: Path, live_server: Any, node_source: Source):
    started = datetime.now(UTC)
    status, report = _run_node(node_modules, live_server.url, node_source.write_key, "node")
    finished = datetime.now(UTC)

    # The library saw only successes: one or more POSTs to /v1/batch, each answered 200.
    assert (status, report["errors"]) == (0, [])
    assert report["responses"], "analytics-node sent no request"
    assert {r["url"] for r in report["responses"]} == {f"{live_server.url}/v1/batch"}
    assert {r["status"] for r in report["responses"]} == {200}
    assert set(report["messages"]) == CALL_TYPES

    events = {e.type: e for e in Event.objects.filter(source=node_source)}
    assert set(events) == CALL_TYPES
    assert Event.objects.filter(source=node_source).count() == 6
    for type_, event in events.items():
        payload = event.payload
        sent = report["messages"][type_]
        # Stored under the library's own messageId, in the stored row and its payload.
        assert event.message_id == sent["messageId"] == payload["messageId"]
        assert event.workspace_id == node_source.workspace_id
        assert payload["type"] == type_
        assert payload["context"]["library"]["name"] == "@segment/analytics-node"
        assert payload["context"]["ip"] == "127.0.0.1"
        assert "writeKey" not in payload
        # Timestamps: ours (receivedAt), the client's (originalTimestamp), skew-corrected (timestamp),
        # all UTC with milliseconds and Z.
        for field in ("receivedAt", "originalTimestamp", "timestamp", "sentAt"):
            assert payload[field].endswith("Z") and len(payload[field]) == 24, (field, payload[field])
        assert _iso(payload["originalTimestamp"]) == _iso(sent["timestamp"])
        received = _iso(payload["receivedAt"])
        assert started - timedelta(seconds=1) <= received <= finished + timedelta(seconds=1)
        assert abs(event.received_at - received) < timedelta(milliseconds=1)  # payload keeps ms
        # Same clock on both sides: the corrected time is the client's time give or take the network.
        assert abs(_iso(payload["timestamp"]) - _iso(payload["originalTimestamp"])) < timedelta(seconds=5)

    identify = events["identify"].payload
    assert identify["userId"] == "node-u1"
    assert identify["traits"] == {"email": "ada@example.com", "plan": "pro"}
    track = events["track"].payload
    assert (track["event"], track["properties"]) == ("Order Completed", {"total": 42.5, "currency": "EUR"})
    page = events["page"].payload
    assert (page["category"], page["name"]) == ("Docs", "Quickstart")
    assert page["properties"]["path"] == "/docs/quickstart"
    screen = events["screen"].payload
    assert (screen["name"], screen["properties"]["tab"]) == ("Settings", "billing")
    group = events["group"].payload
    assert (group["groupId"], group["traits"]) == ("acme", {"name": "Acme Inc", "employees": 12})
    alias = events["alias"].payload
    assert (alias["previousId"], alias["userId"]) == ("node-anon", "node-u1")


def test_analytics_node_with_unknown_write_key_reports_failure_and_stores_nothing(
    node_modules: Path, live_server: Any, node_source: Source
):
    status, report = _run_node(node_modules, live_server.url, "not-a-real-key", "bad")
    # 401 is not retried by the library: each event is reported as a delivery failure, once.
    assert status == 1
    assert {r["status"] for r in report["responses"]} == {401}
    assert len(report["errors"]) == 6
    assert all(e["code"] == "delivery_failure" and "401" in e["reason"] for e in report["errors"])
    assert not Event.objects.exists()
