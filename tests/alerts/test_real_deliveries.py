"""A failure-rate rule over counts the delivery engine itself wrote: events stored as ingest stores them,
delivered by a real Celery worker to a webhook destination (a local HTTP server) that refuses them, then
accepts them once fixed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.db.models import Sum
from django.utils import timezone
from pytest_httpserver import HTTPServer

from alerts import tasks
from connections import services
from destinations.models import DeliveryCount
from ingest.services import store_events
from pipelines.models import Workspace
from tests.helpers import api_client_for, wait_for

pytestmark = pytest.mark.usefixtures("celery_worker")


def _counted(destination: Any, status: str, n: int) -> None:
    def done() -> bool:
        total = DeliveryCount.objects.filter(destination=destination).aggregate(n=Sum(status))["n"] or 0
        return total >= n

    wait_for(done, what=f"{n} {status} deliveries counted")


def test_failures_the_engine_counted_fire_and_successes_recover(settings: Any, workspace: Workspace, owner: Any,
                                                                 httpserver: HTTPServer) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = True
    source, _ = services.create_source(workspace, name="Website", kind="javascript")
    destination = services.create_destination(workspace, name="Hook", kind="webhook", sources=[source],
                                              settings={"url": httpserver.url_for("/hook")})
    r = api_client_for(owner).post("/api/workspaces/acme/alerts/rules/", {
        "name": "Hook refusing", "kind": "failure_rate", "destination": destination.id, "window_minutes": 5,
        "threshold_percent": 40, "min_events": 3, "emails": ["ops@example.com"]}, format="json")
    assert r.status_code == 201, r.json()

    httpserver.expect_request("/hook").respond_with_data("bad request", status=400)  # permanent: failed
    start = timezone.now()
    store_events(source, [{"type": "track", "event": "Signed Up", "messageId": f"bad-{i}", "userId": "u1"}
                          for i in range(4)], start)
    _counted(destination, "failed", 4)
    settings.ALERTS_FROZEN_NOW = timezone.now()
    assert tasks.evaluate() == {"opened": 1, "recovered": 0}
    assert "100.0% of 4 attempts failed" in mail.outbox[0].body

    httpserver.clear()
    httpserver.expect_request("/hook").respond_with_data("ok")
    store_events(source, [{"type": "track", "event": "Signed Up", "messageId": f"good-{i}", "userId": "u1"}
                          for i in range(4)], timezone.now())
    _counted(destination, "delivered", 4)
    settings.ALERTS_FROZEN_NOW = timezone.now()
    assert tasks.evaluate() == {"opened": 0, "recovered": 0}  # 4 of 8 failed: still above 40%, still open
    settings.ALERTS_FROZEN_NOW = start + timedelta(minutes=6)  # the failures leave the window
    assert tasks.evaluate() == {"opened": 0, "recovered": 1}
    assert mail.outbox[1].subject.startswith("[Recovered] Hook refusing")
