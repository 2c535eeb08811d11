"""Routing controls at fan-out: the event's `integrations` object (Segment's rules, cloud mode), first as
the pure decision, then end to end with a real local HTTP server as the destination."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from pytest_httpserver import HTTPServer

from connections.models import Destination
from destinations.models import Delivery, DeliveryCount
from destinations.routing_controls import integrations_reason
from ingest.models import Event
from tests.helpers import wait_for

TRACK = {"type": "track", "event": "Order Completed", "userId": "u-1", "properties": {"total": 42.5}}
NAMES = ("Growth hook", "Webhook", "webhook")
ALL_OFF = "filtered: the event's integrations set All to false and do not turn this destination on"


@pytest.mark.parametrize("integrations", [
    None, {}, {"All": True}, {"Mixpanel": False}, {"All": False, "Webhook": True}, {"all": False, "WEBHOOK": True},
    {"All": False, "growth HOOK": {"option": 1}}, {"All": False, "webhook": True}, {"Webhook": None},
    "not an object", ["Webhook"],
])
def test_integrations_that_let_the_event_through(integrations: Any) -> None:
    payload: dict[str, Any] = {**TRACK}
    if integrations is not None:
        payload["integrations"] = integrations
    assert integrations_reason(payload, NAMES) is None


@pytest.mark.parametrize(("integrations", "reason"), [
    ({"Webhook": False}, 'filtered: the event\'s integrations turn off "Webhook"'),
    ({"growth hook": False, "All": True}, 'filtered: the event\'s integrations turn off "growth hook"'),
    ({"All": False}, "filtered: the event's integrations set All to false and do not turn this destination on"),
    ({"All": False, "Mixpanel": True}, ALL_OFF),
    ({"All": False, "Webhook": "yes"}, ALL_OFF),
])
def test_integrations_that_filter_the_event(integrations: Any, reason: str) -> None:
    assert integrations_reason({**TRACK, "integrations": integrations}, NAMES) == reason


def test_all_false_leaves_built_in_destinations_on_unless_named() -> None:
    names = ("Profiles", "Profiles", "profiles")
    assert integrations_reason({"integrations": {"All": False}}, names, builtin=True) is None
    assert integrations_reason({"integrations": {"All": False, "Profiles": False}}, names, builtin=True) == \
        'filtered: the event\'s integrations turn off "Profiles"'


# end to end: ingest's store → fan-out (real worker, real broker) → the local HTTP server


def _settled(event: Event) -> Delivery:
    def ready() -> Delivery | None:
        row = Delivery.objects.filter(event=event).first()
        return row if row and row.status != "pending" and row.locked_until is None else None

    return wait_for(ready, what=f"the delivery of {event.message_id}")


@pytest.mark.usefixtures("celery_worker")
def test_all_false_never_reaches_the_destination(make_webhook: Callable[..., Destination],
                                                 store: Callable[..., list[Event]], httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook").respond_with_data("ok")
    destination = make_webhook()
    [event] = store({**TRACK, "messageId": "all-off", "integrations": {"All": False}})

    row = _settled(event)
    assert row.status == "filtered"
    assert row.action is None
    assert row.last_error == "filtered: the event's integrations set All to false and do not turn this destination on"
    assert httpserver.log == []
    assert DeliveryCount.objects.get(destination=destination).filtered == 1


@pytest.mark.usefixtures("celery_worker")
@pytest.mark.parametrize("integrations", [{"All": False, "Webhook": True}, {"All": False, "hook /HOOK": {}}])
def test_all_false_with_the_destination_named_reaches_it(integrations: dict[str, Any],
                                                         make_webhook: Callable[..., Destination],
                                                         store: Callable[..., list[Event]],
                                                         httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook").respond_with_data("ok")
    make_webhook()
    [event] = store({**TRACK, "messageId": "named-on", "integrations": integrations})

    row = _settled(event)
    assert row.status == "delivered"
    assert len(httpserver.log) == 1
    assert json.loads(httpserver.log[0][0].data)["messageId"] == "named-on"


@pytest.mark.usefixtures("celery_worker")
def test_turning_one_destination_off_leaves_the_others(make_webhook: Callable[..., Destination],
                                                       store: Callable[..., list[Event]],
                                                       httpserver: HTTPServer) -> None:
    httpserver.expect_request("/a").respond_with_data("ok")
    httpserver.expect_request("/b").respond_with_data("ok")
    make_webhook("/a")
    make_webhook("/b")
    [event] = store({**TRACK, "messageId": "one-off", "integrations": {"Hook /a": False}})

    def both() -> list[Delivery] | None:
        rs = list(Delivery.objects.filter(event=event).select_related("destination").order_by("destination__name"))
        return rs if len(rs) == 2 and all(r.status != "pending" and r.locked_until is None for r in rs) else None

    rows = wait_for(both, what="both deliveries")
    assert [(r.destination.name, r.status) for r in rows] == [("Hook /a", "filtered"), ("Hook /b", "delivered")]
    assert rows[0].last_error == 'filtered: the event\'s integrations turn off "Hook /a"'
    assert [entry[0].path for entry in httpserver.log] == ["/b"]


@pytest.mark.usefixtures("celery_worker")
def test_the_reason_shows_in_the_debugger_and_the_delivery_tab(make_webhook: Callable[..., Destination],
                                                               store: Callable[..., list[Event]],
                                                               httpserver: HTTPServer, owner_client: Client) -> None:
    destination = make_webhook()
    [event] = store({**TRACK, "messageId": "shown-off", "integrations": {"webhook": False}})
    _settled(event)
    reason = "filtered: the event&#x27;s integrations turn off &quot;webhook&quot;"
    slug = destination.workspace.slug

    debugger = owner_client.get(f"/w/{slug}/sources/{event.source_id}/events.json")
    assert debugger.status_code == 200
    [shown] = [e for e in debugger.json()["events"] if e["message_id"] == "shown-off"]
    assert shown["deliveries"][0]["status"] == "filtered"
    assert shown["deliveries"][0]["error"] == "filtered: the event's integrations turn off \"webhook\""
    page = owner_client.get(f"/w/{slug}/destinations/{destination.id}/delivery/")
    assert page.status_code == 200
    assert reason in page.content.decode()
