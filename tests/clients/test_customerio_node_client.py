"""customerio-node 5, unchanged, pointed at a live server: every TrackClient method (Track API source) and
every PipelinesClient method (/v1 source), what each stores, how errors reach the client, and what a
webhook destination (a local server) receives."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
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

SCRIPT = Path(__file__).resolve().parent / "send_all_customerio_node.js"
DELIVERY = "RPILAgUBcRhIBqSfeiIwdIYJKxTY"
ULID = "01HZY3N4M5P6Q7R8S9T0V1W2X3"


@pytest.fixture
def track_source(transactional_db: Any, workspace: Workspace) -> tuple[Source, str]:
    source, api_key = services.create_source(workspace, name="Production backend", kind="journeys_track_api")
    assert api_key
    return source, api_key


@pytest.fixture
def webhook(settings: Any, workspace: Workspace, node_source: Source, track_source: tuple[Source, str],
            httpserver: HTTPServer) -> HTTPServer:
    settings.OUTBOUND_ALLOW_PRIVATE = True
    httpserver.expect_request("/hook").respond_with_data("ok")
    services.create_destination(workspace, name="Hook", kind="webhook", sources=[node_source, track_source[0]],
                                settings={"url": httpserver.url_for("/hook")})
    return httpserver


def _run(node_modules: Path, host: str, site_id: str, api_key: str, write_key: str) -> dict[str, dict[str, Any]]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: the JavaScript client tests need node >= 18 on PATH.")
    env = {**os.environ, "HOST": host, "SITE_ID": site_id, "API_KEY": api_key, "WRITE_KEY": write_key}
    result = subprocess.run([node, str(SCRIPT)], check=False, capture_output=True, text=True, timeout=60,
                            env=env, cwd=node_modules.parent)
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"send_all_customerio_node.js crashed (exit {result.returncode}).\nstdout: {result.stdout}\n"
                    f"stderr: {result.stderr}")
    return {call["name"]: call for call in report}


def _events(source: Source) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for e in Event.objects.filter(source=source).order_by("id"):
        out.setdefault(e.payload.get("event") or e.type, []).append(e.payload)
    return out


@pytest.mark.usefixtures("celery_worker")
def test_customerio_node_every_call_is_stored_and_delivered(
    node_modules: Path, live_server: Any, node_source: Source, track_source: tuple[Source, str],
    webhook: HTTPServer,
) -> None:
    source, api_key = track_source
    calls = _run(node_modules, live_server.url, source.site_id or "", api_key, node_source.write_key)

    # Every call the client makes succeeds, except the route we do not serve and the two bad requests.
    failed = {name: (c["status"], c["message"]) for name, c in calls.items() if not c["ok"]}
    assert set(failed) == {"track.unsubscribe", "track.badMetric", "track.badSegment"}
    # Errors reach the client as readable messages (our {"meta": {"errors": [...]}}), never "Unknown error".
    assert failed["track.unsubscribe"][0] == 404
    assert "no such Track API route: POST /unsubscribe/" in failed["track.unsubscribe"][1]
    assert failed["track.badMetric"][0] == 400 and "metric must be one of" in failed["track.badMetric"][1]
    assert failed["track.badSegment"][0] == 400 and "segment_id" in failed["track.badSegment"][1]
    assert calls["track.getAccountRegion"]["body"]["region"] == "us"
    assert calls["track.submitForm"]["body"] == {}  # 204: no body, which the client reads as {}
    assert calls["track.reportMetric"]["body"] == {}

    track = _events(source)
    assert {name: len(v) for name, v in track.items()} == {
        "identify": 2, "purchased": 1, "viewed": 1, "page": 1, "Device Created or Updated": 1, "Device Deleted": 1,
        "Report Delivery Event": 2, "Added to Manual Segment": 2, "Removed from Manual Segment": 1,
        "Form Submitted": 1, "alias": 1, "User Suppressed": 1, "User Unsuppressed": 1, "User Deleted": 1,
        "signed_up": 1, "group": 1,
    }  # two identifies: TrackClient.identify and entity(identify)
    assert track["identify"][0]["traits"] == {"email": "ann@example.com", "plan": "pro", "created_at": 1700000000}
    assert track["identify"][0]["context"]["userAgent"].startswith("Customer.io Node Client/")
    assert track["identify"][1]["traits"] == {"plan": "team"}
    purchased = track["purchased"][0]
    assert (purchased["userId"], purchased["messageId"], purchased["properties"]) == ("cn-u1", ULID, {"total": 12})
    assert purchased["timestamp"] == "2023-11-14T22:13:20.000Z"
    assert track["viewed"][0]["anonymousId"] == "anon-1"
    assert track["page"][0]["properties"]["url"] == "https://example.com/docs"
    assert track["Device Created or Updated"][0]["properties"] == {
        "device_id": "device-token-1", "platform": "ios", "last_used": 1700000000, "app_version": "2.1"}
    push, metric = track["Report Delivery Event"]
    assert push["properties"] == {"deliveryId": DELIVERY, "metric": "opened", "recipient": "device-token-1"}
    assert push["context"]["device"]["token"] == "device-token-1"
    assert metric["properties"] == {"deliveryId": DELIVERY, "metric": "clicked", "recipient": "ann@example.com",
                                    "href": "https://example.com/x"}
    assert [(e["userId"], e["properties"]) for e in track["Added to Manual Segment"]] == [
        ("cn-u1", {"segment_id": 12, "id_type": "id"}), ("cn-u2", {"segment_id": 12, "id_type": "id"})]
    [removed] = track["Removed from Manual Segment"]
    assert (removed["userId"], removed["properties"]["id_type"]) == ("ann@example.com", "email")
    [form] = track["Form Submitted"]
    assert (form["userId"], form["properties"]) == (
        "form@example.com", {"form_id": "newsletter", "data": {"email": "form@example.com", "first_name": "Fo"}})
    assert (track["alias"][0]["userId"], track["alias"][0]["previousId"]) == ("cn-u1", "old@example.com")
    assert track["group"][0]["groupId"] == "acme"

    pipelines = _events(node_source)
    assert {name: len(v) for name, v in pipelines.items()} == {
        "identify": 2, "Order Completed": 1, "Historical Import": 1, "page": 1, "screen": 1, "group": 1, "alias": 1,
        "Batched": 1}
    assert pipelines["identify"][0]["traits"] == {"email": "cp@example.com"}
    assert pipelines["identify"][0]["context"]["library"]["name"] == "customerio-node"
    # The client sends timestamp (= the call time unless given) and no sentAt: kept as sent.
    assert pipelines["Historical Import"][0]["timestamp"] == "2024-01-02T03:04:05.678Z"
    assert pipelines["page"][0]["properties"] == {"path": "/"}

    # The webhook destination receives every stored event, as stored.
    stored = {e.message_id: e.payload for e in Event.objects.all()}
    assert len(stored) == 19 + 9

    def delivered() -> list[Delivery] | None:
        rows = list(Delivery.objects.all())
        return rows if len(rows) == len(stored) and all(r.status == "delivered" for r in rows) else None

    wait_for(delivered, what=f"{len(stored)} delivered rows")
    bodies = {b["messageId"]: b for b in (json.loads(r.get_data()) for r, _ in webhook.log)}
    assert bodies == stored
