"""Fixtures for the delivery engine tests: a source, a webhook destination pointing at a local HTTP
server, and a helper to store events the way ingest does."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from django.utils import timezone
from pytest_httpserver import HTTPServer

from connections import services
from connections.models import Destination, Source
from ingest.models import Event
from pipelines.models import Workspace


@pytest.fixture(autouse=True)
def _allow_loopback(settings: Any) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = True


@pytest.fixture(autouse=True)
def _fresh_engine_state() -> None:
    """The routing cache is per process; start every test without it (circuits live in the test DB)."""
    from destinations.fanout import clear_routing_cache

    clear_routing_cache()


@pytest.fixture
def source(workspace: Workspace) -> Source:
    src, _ = services.create_source(workspace, name="Website", kind="javascript")
    return src


@pytest.fixture
def make_webhook(workspace: Workspace, source: Source, httpserver: HTTPServer) -> Callable[..., Destination]:
    def make(path: str = "/hook", **settings: Any) -> Destination:
        return services.create_destination(
            workspace, name=f"Hook {path}", kind="webhook",
            settings={"url": httpserver.url_for(path), **settings}, sources=[source],
        )

    return make


@pytest.fixture
def store(source: Source) -> Callable[..., list[Event]]:
    """Store events exactly as ingest does (one INSERT, fan-out enqueued on commit)."""
    from ingest.services import store_events

    def _store(*messages: dict[str, Any], received_at: datetime | None = None, src: Source | None = None) -> list[Event]:
        src = src or source
        normalized = []
        for i, m in enumerate(messages):
            normalized.append({"messageId": m.get("messageId", f"m-{timezone.now().timestamp()}-{i}"),
                               "timestamp": "2024-05-01T12:00:00.000Z", **m})
        ids = store_events(src, normalized, received_at or timezone.now())
        return list(Event.objects.filter(id__in=ids).order_by("id"))

    return _store
