"""A destination's health badge (healthy / retrying / failing / circuit open) from the last minutes of real
delivery outcomes: on the Connections page, in the destination header and on the Event delivery tab."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from pytest_httpserver import HTTPServer

from connections import delivery_summary, services
from connections.models import Destination, Source
from destinations import fanout
from destinations.models import DeliveryCount, DestinationCircuit
from ingest.models import Event
from ingest.services import store_events
from tests.helpers import send_queued


def _hook(workspace: Any, source: Source, httpserver: HTTPServer, settings: Any, name: str = "Orders") -> Destination:
    settings.OUTBOUND_ALLOW_PRIVATE = True
    return services.create_destination(workspace, name=name, kind="webhook",
                                       settings={"url": httpserver.url_for(f"/{name}")}, sources=[source])


def _deliver(source: Source, *message_ids: str) -> None:
    """Store events as ingest does, fan them out and send the first attempts, as a worker would."""
    ids = store_events(source, [{"type": "track", "event": "Order Completed", "userId": "u-1", "messageId": m,
                                 "timestamp": "2024-05-01T12:00:00.000Z"} for m in message_ids], timezone.now())
    fanout.fan_out(ids)
    send_queued()


def _card(page: str, name: str) -> str:
    start = page.index(f">{name}</a>")
    return page[start:page.index("</li>", start)]


def test_a_destination_answering_401_is_failing_with_its_reason(
    owner_client: Client, workspace: Any, js_source: Source, httpserver: HTTPServer, settings: Any
) -> None:
    destination = _hook(workspace, js_source, httpserver, settings)
    httpserver.expect_request("/Orders").respond_with_data("Unauthorized: bad API key", status=401)
    _deliver(js_source, "m-1", "m-2")
    card = _card(owner_client.get("/w/acme/connections/").content.decode(), "Orders")
    assert 'data-health="failing"' in card and ">Failing<" in card and "Enabled" not in card
    assert "HTTP 401" in card
    assert 'class="rate rate-fail">100.0%' in card
    header = owner_client.get(f"/w/acme/destinations/{destination.id}/settings/").content.decode()
    assert 'data-health="failing"' in header and "<strong>Failing:</strong> HTTP 401 from localhost" in header
    tab = owner_client.get(f"/w/acme/destinations/{destination.id}/delivery/").content.decode()
    assert tab.count('data-delivery="fail"') == 2 and "No failed deliveries" not in tab


def test_retrying_counts_events_not_attempts_and_lists_them_with_their_last_error(
    owner_client: Client, workspace: Any, js_source: Source, httpserver: HTTPServer, settings: Any
) -> None:
    destination = _hook(workspace, js_source, httpserver, settings)
    httpserver.expect_request("/Orders").respond_with_data("busy", status=503)
    _deliver(js_source, "m-1", "m-2")
    DestinationCircuit.objects.all().delete()  # the breaker tripped; here we look at the retries alone
    # the same two events retried three more times: 8 retry attempts recorded, 2 events waiting
    minute = timezone.now().replace(second=0, microsecond=0)
    DeliveryCount.objects.filter(destination=destination, minute=minute).update(retrying=8)
    status = delivery_summary.statuses([destination])[destination.id]
    assert (status.health, status.retrying_events, status.retrying_24h) == ("retrying", 2, 8)
    card = _card(owner_client.get("/w/acme/connections/").content.decode(), "Orders")
    assert ">Retrying 2 events<" in card and "2 events</dd>" in card and "8" not in card.split("stats")[1]
    assert "HTTP 503" in card
    tab = owner_client.get(f"/w/acme/destinations/{destination.id}/delivery/").content.decode()
    assert tab.count('data-delivery="retrying"') == 2
    assert "Retrying now <strong>2 events</strong>" in tab and "Retry attempts <strong>8</strong>" in tab
    assert tab.count("HTTP 503 from localhost") >= 2


def test_an_open_circuit_is_shown_with_the_breakers_reason(
    owner_client: Client, workspace: Any, js_source: Source, httpserver: HTTPServer, settings: Any
) -> None:
    destination = _hook(workspace, js_source, httpserver, settings)
    httpserver.expect_request("/Orders").respond_with_data("down", status=502)
    _deliver(js_source, "m-1")
    circuit = DestinationCircuit.objects.get(destination=destination)  # tripped by the delivery engine
    assert circuit.open_until > timezone.now()
    card = _card(owner_client.get("/w/acme/connections/").content.decode(), "Orders")
    assert 'data-health="circuit_open"' in card and "Circuit open" in card and "HTTP 502" in card


def test_healthy_when_deliveries_succeed_and_old_failures_only_colour_the_error_rate(
    owner_client: Client, workspace: Any, js_source: Source, httpserver: HTTPServer, settings: Any
) -> None:
    destination = _hook(workspace, js_source, httpserver, settings)
    httpserver.expect_request("/Orders").respond_with_data("ok")
    _deliver(js_source, "m-1", "m-2")
    DeliveryCount.objects.create(destination=destination, minute=timezone.now() - timedelta(hours=2),
                                 delivered=1, failed=1)  # a failure two hours ago: not "the last minutes"
    card = _card(owner_client.get("/w/acme/connections/").content.decode(), "Orders")
    assert 'data-health="healthy"' in card and ">Healthy<" in card
    assert 'class="rate rate-fail">25.0%' in card and "data-health-reason" not in card


def test_a_failure_among_many_deliveries_is_not_failing(workspace: Any, js_source: Source, httpserver: HTTPServer,
                                                        settings: Any) -> None:
    destination = _hook(workspace, js_source, httpserver, settings)
    now = timezone.now()
    DeliveryCount.objects.create(destination=destination, minute=now.replace(second=0, microsecond=0),
                                 delivered=40, failed=1)
    status = delivery_summary.statuses([destination], now=now)[destination.id]
    assert status.health == "healthy" and status.error_level == "warn"
    DeliveryCount.objects.create(destination=destination, minute=(now - timedelta(minutes=3)).replace(
        second=0, microsecond=0), failed=45)
    assert delivery_summary.statuses([destination], now=now)[destination.id].health == "failing"


def test_healthy_destinations_cost_the_same_few_queries_however_many(
    workspace: Any, js_source: Source, httpserver: HTTPServer, settings: Any
) -> None:
    destinations = [_hook(workspace, js_source, httpserver, settings, name=f"D{i}") for i in range(6)]
    for d in destinations:
        DeliveryCount.objects.create(destination=d, minute=timezone.now().replace(second=0, microsecond=0),
                                     delivered=3)
    with CaptureQueriesContext(connection) as one:
        delivery_summary.statuses(destinations[:1])
    with CaptureQueriesContext(connection) as six:
        delivery_summary.statuses(destinations)
    assert len(one) == len(six) == 3
    assert not Event.objects.exists()
