"""Fixtures for the privacy tests (the personas, viewer and admin included, are tests/conftest.py's): a
source, a webhook destination on a local server, and helpers that store events and deliver them the way
the engine does."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.utils import timezone
from pytest_httpserver import HTTPServer

from connections import services
from connections.models import Destination, Source
from ingest import auth
from ingest.models import Event
from pipelines.models import Workspace
from privacy import suppression


@pytest.fixture(autouse=True)
def _fresh_process_state(settings: Any) -> Iterator[None]:
    """Loopback destinations allowed; no cached write keys, suppressions or routes from another test."""
    from destinations.fanout import clear_routing_cache

    settings.OUTBOUND_ALLOW_PRIVATE = True
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    auth.forget()
    suppression.forget()
    clear_routing_cache()
    yield
    auth.forget()
    suppression.forget()


@pytest.fixture
def source(workspace: Workspace) -> Source:
    return services.create_source(workspace, name="Backend", kind="python")[0]


@pytest.fixture
def webhook(workspace: Workspace, source: Source, httpserver: HTTPServer) -> Destination:
    httpserver.expect_request("/hook").respond_with_json({"ok": True})
    return services.create_destination(workspace, name="Hook", kind="webhook",
                                       settings={"url": httpserver.url_for("/hook")}, sources=[source])


@pytest.fixture
def store(source: Source) -> Callable[..., list[Event]]:
    """Store messages exactly as ingest does; returns their Event rows."""
    from ingest.services import store_events

    def _store(*messages: dict[str, Any], src: Source | None = None) -> list[Event]:
        normalized = [{"type": "track", "event": "Viewed", "messageId": f"m-{timezone.now().timestamp()}-{i}",
                       "timestamp": "2024-05-01T12:00:00.000Z", **m} for i, m in enumerate(messages)]
        ids = store_events(src or source, normalized, timezone.now())
        return list(Event.objects.filter(id__in=ids).order_by("id"))

    return _store


def fan_out(events: list[Event]) -> None:
    """Record the events' delivery work (chunks), inline, as the fan-out task does."""
    from destinations.fanout import fan_out as run

    run([e.id for e in events])


def deliver(events: list[Event]) -> None:
    """Fan the events out and send their first attempts, inline: Delivery rows and exchanges exist after."""
    from tests.helpers import send_queued

    fan_out(events)
    send_queued()
