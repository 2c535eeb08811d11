"""The shared circuit breaker: a destination failing at request level stops receiving first attempts
from every worker (they wait in the retry queue, where retries keep probing it), and the first successful
retry closes the circuit. Other destinations are not affected."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from pytest_httpserver import HTTPServer

from destinations import delivery
from destinations.models import Delivery, DestinationCircuit
from tests.helpers import wait_for

pytestmark = pytest.mark.usefixtures("celery_worker")

TRACK = {"type": "track", "event": "Order Completed", "userId": "u-1"}


def _settled(event: Any, destinations: int = 2) -> list[Delivery]:
    """The event's delivery rows once every destination has one (each appears with its first attempt,
    written by its own task, so one can be there before the other)."""
    def ready() -> list[Delivery] | None:
        rows = list(Delivery.objects.filter(event=event).order_by("destination_id"))
        settled = all(r.status != "pending" and r.locked_until is None for r in rows)
        return rows if len(rows) == destinations and settled else None

    return wait_for(ready, what=f"settled deliveries for {event.message_id}")


def _hits(server: HTTPServer, path: str) -> int:
    return sum(1 for request, _ in server.log if request.path == path)


def test_a_failing_destination_gets_no_first_attempts_until_a_retry_succeeds(
    make_webhook: Callable[..., Any], store: Callable[..., Any], httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/down").respond_with_data("overloaded", status=503)
    httpserver.expect_request("/up").respond_with_data("ok")
    down, up = make_webhook("/down"), make_webhook("/up")

    [first] = store({**TRACK, "messageId": "c-1"})
    rows = {r.destination_id: r for r in _settled(first)}
    assert rows[down.id].status == "retrying" and rows[down.id].attempts == 1
    assert rows[up.id].status == "delivered"
    circuit = DestinationCircuit.objects.get(destination=down)
    assert circuit.open_until > timezone.now() and "503" in circuit.reason

    [second] = store({**TRACK, "messageId": "c-2"})
    rows = {r.destination_id: r for r in _settled(second)}
    assert _hits(httpserver, "/down") == 1  # the second event was not sent to the failing destination
    assert rows[down.id].status == "retrying" and rows[down.id].attempts == 0
    assert rows[down.id].last_error.startswith("Not attempted yet: the destination is failing")
    assert rows[up.id].status == "delivered"  # the healthy destination is unaffected
    assert _hits(httpserver, "/up") == 2

    # the destination recovers; a retry (from the retry queue) probes it and closes the circuit
    httpserver.clear_all_handlers()
    httpserver.expect_request("/down").respond_with_data("ok")
    httpserver.expect_request("/up").respond_with_data("ok")
    waiting = list(Delivery.objects.filter(destination=down, status="retrying"))
    Delivery.objects.filter(id__in=[r.id for r in waiting]).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert delivery.sweep() == 2
    wait_for(lambda: Delivery.objects.filter(destination=down, status="delivered").count() == 2,
             what="both events delivered after recovery")
    assert not DestinationCircuit.objects.filter(destination=down).exists()

    [third] = store({**TRACK, "messageId": "c-3"})
    assert all(r.status == "delivered" and r.attempts == 1 for r in _settled(third))
