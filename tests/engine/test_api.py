"""Management API of the delivery engine: the delivery log, stats, and testing an action."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from pytest_httpserver import HTTPServer
from rest_framework.test import APIClient
from werkzeug import Request, Response

from connections import services
from destinations import fanout
from destinations.models import DeliveryCount
from tests.helpers import send_queued

TRACK = {"type": "track", "event": "Order Completed", "userId": "u-1", "properties": {"total": 10}}


@pytest.fixture
def delivered(make_webhook: Callable[..., Any], store: Callable[..., Any], httpserver: HTTPServer) -> Any:
    """A webhook destination with one delivered and one failed event (sent inline, no worker)."""
    def answer(request: Request) -> Response:
        if json.loads(request.data)["messageId"] == "api-1":
            return Response("ok")
        return Response("bad", status=400)

    httpserver.expect_request("/hook").respond_with_handler(answer)
    destination = make_webhook()
    events = store({**TRACK, "messageId": "api-1"}, {**TRACK, "messageId": "api-2"})
    fanout.fan_out([e.id for e in events])
    assert send_queued().requests == 2
    return destination


def test_deliveries_are_listed_newest_first_with_request_and_response(owner_api: APIClient, delivered: Any) -> None:
    response = owner_api.get(f"/api/workspaces/acme/destinations/{delivered.id}/deliveries/")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    first, second = body["results"]
    assert (first["message_id"], first["status"]) == ("api-2", "failed")
    assert (second["message_id"], second["status"]) == ("api-1", "delivered")
    assert first["response"]["status"] == 400
    assert first["response"]["body"] == "bad"
    assert json.loads(second["request"]["body"])["messageId"] == "api-1"
    assert second["action_name"] == "Send"


def test_deliveries_filter_by_status_and_message_id(teammate_api: APIClient, delivered: Any) -> None:
    url = f"/api/workspaces/acme/destinations/{delivered.id}/deliveries/"
    assert [r["message_id"] for r in teammate_api.get(url, {"status": "delivered"}).json()["results"]] == ["api-1"]
    assert [r["status"] for r in teammate_api.get(url, {"message_id": "api-2"}).json()["results"]] == ["failed"]
    bad = teammate_api.get(url, {"status": "lost"})
    assert bad.status_code == 400
    assert bad.json()["code"] == "invalid_request"


def test_outsiders_get_404_everywhere(outsider_api: APIClient, delivered: Any) -> None:
    action = delivered.actions.get()
    base = f"/api/workspaces/acme/destinations/{delivered.id}"
    assert outsider_api.get(f"{base}/deliveries/").status_code == 404
    assert outsider_api.get(f"{base}/delivery-stats/").status_code == 404
    assert outsider_api.post(f"{base}/actions/{action.id}/test/", {"event": TRACK}, format="json").status_code == 404
    # their own workspace slug with our destination id is not found either
    other = f"/api/workspaces/globex/destinations/{delivered.id}"
    assert outsider_api.get(f"{other}/deliveries/").status_code == 404
    assert outsider_api.post(f"{other}/actions/{action.id}/test/", {"event": TRACK}, format="json").status_code == 404


def test_delivery_stats_has_every_minute(owner_api: APIClient, delivered: Any) -> None:
    minute = timezone.now().replace(second=0, microsecond=0)
    DeliveryCount.objects.create(destination=delivered, minute=minute - timedelta(minutes=2), delivered=7)
    response = owner_api.get(f"/api/workspaces/acme/destinations/{delivered.id}/delivery-stats/", {"minutes": 5})
    assert response.status_code == 200
    body = response.json()
    assert len(body["series"]) == 5
    # found by its minute, not its index: the clock may pass a minute boundary during the test
    [point] = [p for p in body["series"] if p["minute"] == (minute - timedelta(minutes=2)).isoformat()]
    assert point["delivered"] == 7
    assert body["totals"] == {"delivered": 8, "retrying": 0, "failed": 1, "filtered": 0}
    assert owner_api.get(f"/api/workspaces/acme/destinations/{delivered.id}/delivery-stats/",
                         {"minutes": "x"}).status_code == 400


def test_action_test_returns_the_request_without_sending(owner_api: APIClient, make_webhook: Callable[..., Any],
                                                         httpserver: HTTPServer) -> None:
    destination = make_webhook()
    action = destination.actions.get()
    response = owner_api.post(f"/api/workspaces/acme/destinations/{destination.id}/actions/{action.id}/test/",
                              {"event": TRACK}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["matched"] is True
    assert body["payload"] == {"data": TRACK}
    assert body["request"]["url"] == httpserver.url_for("/hook")
    assert json.loads(body["request"]["body"]) == TRACK
    assert body["response"] is None
    assert httpserver.log == []


def test_action_test_sends_the_latest_event_when_asked(owner_api: APIClient, make_webhook: Callable[..., Any],
                                                       store: Callable[..., Any], httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook").respond_with_json({"received": True})
    destination = make_webhook()
    action = destination.actions.get()
    url = f"/api/workspaces/acme/destinations/{destination.id}/actions/{action.id}/test/"
    empty = owner_api.post(url, {}, format="json")
    assert empty.status_code == 400
    assert "No event has arrived" in empty.json()["message"]

    store({**TRACK, "messageId": "old"}, received_at=timezone.now() - timedelta(minutes=5))
    store({**TRACK, "messageId": "latest"})
    body = owner_api.post(url, {"send": True}, format="json").json()
    assert body["event"]["messageId"] == "latest"
    assert body["response"]["status"] == 200
    assert json.loads(body["response"]["body"]) == {"received": True}
    assert json.loads(httpserver.log[0][0].data)["messageId"] == "latest"


def test_action_test_rejects_a_non_object_event(owner_api: APIClient, make_webhook: Callable[..., Any]) -> None:
    destination = make_webhook()
    action = destination.actions.get()
    response = owner_api.post(f"/api/workspaces/acme/destinations/{destination.id}/actions/{action.id}/test/",
                              {"event": [1, 2]}, format="json")
    assert response.status_code == 400
    assert response.json()["message"] == "event: The event must be a JSON object."


def test_saving_a_bad_mapping_is_refused(make_webhook: Callable[..., Any]) -> None:
    action = make_webhook().actions.get()
    with pytest.raises(ValidationError) as info:
        services.update_action(action, mapping={"data": {"@path": 5}})
    assert info.value.message_dict == {"mapping": ["data.@path: @path takes a string such as \"$.traits.email\""]}


def test_events_waiting_for_their_first_attempt_are_counted_as_queued(
        owner_api: APIClient, make_webhook: Callable[..., Any], store: Callable[..., Any], client: Any,
        owner: Any) -> None:
    destination = make_webhook("/later")
    events = store(*({**TRACK, "messageId": f"q-{i}"} for i in range(3)))
    fanout.fan_out([e.id for e in events])  # no worker: the chunk waits
    body = owner_api.get(f"/api/workspaces/acme/destinations/{destination.id}/delivery-stats/").json()
    assert body["queued"] == 3
    client.force_login(owner)
    page = client.get(f"/w/acme/destinations/{destination.id}/delivery/")
    assert page.status_code == 200
    assert "Queued <strong>3</strong>" in page.content.decode()


def test_delivery_stats_by_chart_range_sums_minutes_into_buckets(owner_api: APIClient, delivered: Any) -> None:
    now = timezone.now()
    DeliveryCount.objects.create(destination=delivered, minute=(now - timedelta(days=3)).replace(second=0, microsecond=0),
                                 delivered=5, failed=2)
    url = f"/api/workspaces/acme/destinations/{delivered.id}/delivery-stats/"
    week = owner_api.get(url, {"range": "7d"}).json()
    assert (week["range"], week["bucket_minutes"], len(week["buckets"])) == ("7d", 360, 28)
    assert week["totals"]["delivered"] == 6 and week["totals"]["failed"] == 3  # plus the fixture's own minute
    assert [b["delivered"] for b in week["buckets"] if b["delivered"]] == [5, 1]
    hour = owner_api.get(url, {"range": "1h"}).json()
    assert (hour["bucket_minutes"], len(hour["buckets"]), hour["totals"]["delivered"]) == (5, 12, 1)
    for bad in ({"range": "30d"}, {"range": ""}, {"range": "1h", "minutes": 5}):
        response = owner_api.get(url, bad)
        assert response.status_code == 400, bad
        assert response.json()["code"] == "invalid_request" and response.json()["message"].startswith("range: ")
