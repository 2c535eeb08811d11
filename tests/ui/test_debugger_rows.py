"""The live debugger's rows (the source page and its events.json): who each event is about, its delivery
state across destinations, and the source page's destinations with their health."""

from __future__ import annotations

from typing import Any

from django.test import Client
from django.utils import timezone
from pytest_httpserver import HTTPServer

from connections import services
from connections.models import Source
from destinations import fanout
from ingest.services import store_events
from tests.helpers import send_queued


def _rows(client: Client, source: Source) -> dict[str, dict[str, Any]]:
    events = client.get(f"/w/acme/sources/{source.id}/events.json").json()["events"]
    return {e["message_id"]: e for e in events}


def test_a_row_says_who_and_how_its_delivery_went_across_destinations(
    owner_client: Client, workspace: Any, js_source: Source, httpserver: HTTPServer, settings: Any
) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = True
    httpserver.expect_request("/ok").respond_with_data("ok")
    httpserver.expect_request("/denied").respond_with_data("no", status=401)
    for name, path in (("Good hook", "/ok"), ("Bad hook", "/denied")):
        services.create_destination(workspace, name=name, kind="webhook", settings={"url": httpserver.url_for(path)},
                                    sources=[js_source])
    ids = store_events(js_source, [
        {"type": "track", "event": "Order Completed", "userId": "u-1", "messageId": "m-1"},
        {"type": "identify", "anonymousId": "anon-0123456789", "traits": {"email": "ann@example.com", "plan": "pro"},
         "messageId": "m-2"},
        {"type": "page", "anonymousId": "anon-abcdef0123", "messageId": "m-3"},
    ], timezone.now())
    fanout.fan_out(ids)
    queued = _rows(owner_client, js_source)
    assert queued["m-1"]["delivery"] == {"status": "pending", "label": "Queued"}  # fanned out, not sent yet
    send_queued()
    rows = _rows(owner_client, js_source)
    assert rows["m-1"]["user"] == {"text": "u-1", "title": "userId: u-1"}
    assert rows["m-1"]["delivery"] == {"status": "failed", "label": "Failed: 1 of 2"}
    assert rows["m-2"]["user"]["text"] == "ann@example.com"
    assert rows["m-2"]["user"]["title"] == "email: ann@example.com · anonymousId: anon-0123456789"
    assert rows["m-2"]["summary"] == "Traits: email, plan"
    assert rows["m-3"]["user"]["text"] == "Anonymous anon-abc"
    page = owner_client.get(f"/w/acme/sources/{js_source.id}/").content.decode()
    assert 'data-event-delivery="failed">Failed: 1 of 2<' in page
    assert 'title="userId: u-1" data-event-user>u-1<' in page
    # the connected destinations carry their health, as on the Connections page
    assert 'data-health="failing"' in page and 'data-health="healthy"' in page


def test_an_event_no_action_matched_is_not_sent(owner_client: Client, js_source: Source) -> None:
    ids = store_events(js_source, [{"type": "track", "event": "X", "userId": "u-1", "messageId": "m-1"}],
                       timezone.now())
    fanout.fan_out(ids)  # no destination: nothing queued
    assert _rows(owner_client, js_source)["m-1"]["delivery"] == {"status": "none", "label": "Not sent"}


def test_relative_times_read_as_words_with_the_exact_time_on_hover() -> None:
    from datetime import UTC, datetime, timedelta

    from connections.templatetags.connections_ui import ago, relative_time

    now = datetime(2026, 12, 4, 12, 0, 0, tzinfo=UTC)
    words = [ago(now - delta, now) for delta in (
        timedelta(seconds=10), timedelta(seconds=70), timedelta(minutes=59), timedelta(hours=5),
        timedelta(days=3), timedelta(days=45))]
    assert words == ["just now", "1 min ago", "59 min ago", "5 h ago", "3 d ago", "20 Oct 2026"]
    html = str(relative_time("2026-12-04T11:57:00+00:00"))
    assert html.startswith('<time datetime="2026-12-04T11:57:00+00:00" title="2026-12-04 11:57:00 UTC" data-relative>')
    assert relative_time(None) == "—"
