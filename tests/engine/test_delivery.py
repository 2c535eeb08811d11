"""End to end: stored event → fan-out → delivery, through a real Celery worker on the real broker and a
real local HTTP server standing in for the destination."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from pytest_httpserver import HTTPServer
from werkzeug import Response

from connections import services
from destinations import delivery, fanout
from destinations.http import USER_AGENT
from destinations.models import Delivery, DeliveryCount
from ingest.models import Event, OutboxEntry
from tests.helpers import wait_for

pytestmark = pytest.mark.usefixtures("celery_worker")

TRACK = {"type": "track", "event": "Order Completed", "userId": "u-1", "properties": {"total": 42.5, "currency": "EUR"}}


def _settled(*ids: int) -> bool:
    return not Delivery.objects.filter(id__in=ids, status__in=["pending"]).exists() and \
        Delivery.objects.filter(id__in=ids).count() == len(ids)


def _deliveries_for(event: Event, n: int = 1) -> list[Delivery]:
    def ready() -> list[Delivery] | None:
        rows = list(Delivery.objects.filter(event=event).order_by("id"))
        return rows if len(rows) == n and all(r.status != "pending" and r.locked_until is None for r in rows) \
            else None

    return wait_for(ready, what=f"{n} settled deliveries for {event.message_id}")


def _retry_now(*rows: Delivery) -> None:
    """Make retries due now instead of waiting out the backoff, then run the sweep as beat would."""
    Delivery.objects.filter(id__in=[r.id for r in rows]).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert delivery.sweep() == len(rows)


def test_stored_event_reaches_the_webhook_as_sent(make_webhook: Callable[..., Any], store: Callable[..., Any],
                                                  httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_json({"ok": True})
    make_webhook(headers={"X-Team": "growth-token"}, shared_secret="s3cret-shared")
    [event] = store({**TRACK, "messageId": "msg-1"})

    [row] = _deliveries_for(event)
    assert len(httpserver.log) == 1
    request = httpserver.log[0][0]
    assert json.loads(request.data) == event.payload
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"] == USER_AGENT
    assert request.headers["X-Team"] == "growth-token"
    assert len(request.headers["X-Signature"]) == 40
    assert row.status == "delivered"
    assert row.attempts == 1
    assert row.last_status_code == 200
    assert row.message_id == "msg-1"
    assert row.payload is None  # delivered: what was sent is in its request
    assert json.loads(row.request["body"]) == event.payload
    assert row.request["headers"]["X-Team"] == "[redacted]"
    assert row.request["headers"]["X-Signature"] == "[redacted]"
    assert row.response["status"] == 200
    assert json.loads(row.response["body"]) == {"ok": True}
    assert not OutboxEntry.objects.exists()  # handed over: fan-out took its outbox entry
    assert DeliveryCount.objects.get(destination=row.destination).delivered == 1


def test_batch_size_sends_one_json_array(make_webhook: Callable[..., Any], store: Callable[..., Any],
                                         httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook").respond_with_data("ok")
    make_webhook(batch_size=10)
    events = store(*({**TRACK, "messageId": f"b-{i}"} for i in range(3)))

    rows = [r for e in events for r in _deliveries_for(e)]
    assert len(httpserver.log) == 1
    body = json.loads(httpserver.log[0][0].data)
    assert [m["messageId"] for m in body] == ["b-0", "b-1", "b-2"]
    assert {r.status for r in rows} == {"delivered"}
    assert all(json.loads(r.request["body"]) == body for r in rows)


@pytest.mark.parametrize("status", [500, 502, 408, 429])
def test_retryable_status_is_retried_then_delivered(status: int, make_webhook: Callable[..., Any],
                                                     store: Callable[..., Any], httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request("/hook").respond_with_response(Response("busy", status=status))
    httpserver.expect_request("/hook").respond_with_data("ok")
    make_webhook()
    before = timezone.now()
    [event] = store({**TRACK, "messageId": f"r-{status}"})

    [row] = _deliveries_for(event)
    assert row.status == "retrying"
    assert row.attempts == 1
    assert row.last_status_code == status
    assert row.last_error == f"HTTP {status} from localhost"
    assert row.response["body"] == "busy"
    assert row.next_attempt_at > before

    _retry_now(row)
    wait_for(lambda: Delivery.objects.filter(id=row.id, status="delivered").exists(), what="the retry")
    row.refresh_from_db()
    assert row.attempts == 2
    assert row.last_status_code == 200
    assert len(httpserver.log) == 2
    assert httpserver.log[0][0].data == httpserver.log[1][0].data


@pytest.mark.parametrize("status", [400, 404])
def test_client_error_fails_at_once_with_the_response_kept(status: int, make_webhook: Callable[..., Any],
                                                           store: Callable[..., Any], httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook").respond_with_json({"error": "bad event"}, status=status)
    make_webhook()
    [event] = store({**TRACK, "messageId": f"f-{status}"})

    [row] = _deliveries_for(event)
    assert row.status == "failed"
    assert row.attempts == 1
    assert row.last_status_code == status
    assert json.loads(row.response["body"]) == {"error": "bad event"}
    assert row.next_attempt_at is None
    assert delivery.sweep() == 0
    assert len(httpserver.log) == 1
    assert DeliveryCount.objects.get(destination=row.destination).failed == 1


def test_retry_after_is_honoured(make_webhook: Callable[..., Any], store: Callable[..., Any],
                                 httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook").respond_with_response(
        Response("slow down", status=429, headers={"Retry-After": "120"}))
    make_webhook()
    before = timezone.now()
    [event] = store({**TRACK, "messageId": "ra-1"})

    [row] = _deliveries_for(event)
    assert row.status == "retrying"
    assert row.next_attempt_at >= before + timedelta(seconds=120)
    assert delivery.sweep() == 0  # not due yet


def test_retries_stop_when_the_window_runs_out(make_webhook: Callable[..., Any], store: Callable[..., Any],
                                               httpserver: HTTPServer, settings: Any) -> None:
    settings.DELIVERY_RETRY_WINDOW = 3600
    httpserver.expect_request("/hook").respond_with_response(Response("down", status=503))
    make_webhook()
    [event] = store({**TRACK, "messageId": "w-1"}, received_at=timezone.now() - timedelta(minutes=59, seconds=59))

    [row] = _deliveries_for(event)
    assert row.status == "retrying"  # still inside the window: retried, but no later than its end
    assert row.next_attempt_at <= event.received_at + timedelta(hours=1)
    Event.objects.filter(id=event.id).update(received_at=timezone.now() - timedelta(hours=2))
    _retry_now(row)
    wait_for(lambda: Delivery.objects.filter(id=row.id, status="failed").exists(), what="failure")
    row.refresh_from_db()
    assert row.attempts == 2
    assert row.last_error.startswith("Gave up: the retry window (1 h) ran out. Last error: HTTP 503")
    assert row.next_attempt_at is None
    assert len(httpserver.log) == 2


def test_events_no_action_matches_are_recorded_as_filtered(make_webhook: Callable[..., Any],
                                                           store: Callable[..., Any], httpserver: HTTPServer) -> None:
    destination = make_webhook()
    services.update_action(destination.actions.get(), trigger='type = "identify"')
    [event] = store({**TRACK, "messageId": "nf-1"})

    [row] = _deliveries_for(event)
    assert row.status == "filtered"
    assert row.action is None
    assert row.last_error == "filtered: no matching action"
    assert httpserver.log == []
    assert DeliveryCount.objects.get(destination=destination).filtered == 1


def test_each_matching_action_sends_its_own_request(make_webhook: Callable[..., Any], store: Callable[..., Any],
                                                    httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook").respond_with_data("ok")
    destination = make_webhook()
    services.add_action(destination, kind="send", name="Only the total", trigger="properties.total > 10",
                        mapping={"data": {"total": {"@path": "$.properties.total"}, "who": {"@path": "$.userId"}}})
    [event] = store({**TRACK, "messageId": "two-1"})

    rows = _deliveries_for(event, 2)
    assert {r.status for r in rows} == {"delivered"}
    bodies = sorted((json.loads(entry[0].data) for entry in httpserver.log), key=len)
    assert bodies == [{"total": 42.5, "who": "u-1"}, event.payload]


def test_fan_out_and_deliver_twice_send_once(make_webhook: Callable[..., Any], store: Callable[..., Any],
                                             httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook").respond_with_data("ok")
    make_webhook()
    [event] = store({**TRACK, "messageId": "twice-1"})
    [row] = _deliveries_for(event)

    assert fanout.fan_out([event.id]).events == 0
    assert delivery.deliver([row.id]).claimed == 0
    from pipelines.celery import app

    app.send_task("destinations.fan_out", args=[[event.id]])
    app.send_task("destinations.deliver", args=[[row.id]], queue="deliveries")
    assert Delivery.objects.filter(event=event).count() == 1
    assert len(httpserver.log) == 1
