"""Fixtures for the profile store: a source connected to a Profiles destination, and `feed`, which
stores events as ingest does and delivers them inline through fan-out and the delivery engine (the
code a worker runs)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from connections import services
from connections.models import Destination, Source
from pipelines.models import Workspace


@pytest.fixture(autouse=True)
def _fresh_engine_state() -> None:
    from destinations.fanout import clear_routing_cache

    clear_routing_cache()


@pytest.fixture
def source(workspace: Workspace) -> Source:
    src, _ = services.create_source(workspace, name="Website", kind="javascript")
    return src


@pytest.fixture
def profiles_destination(workspace: Workspace, source: Source) -> Destination:
    return services.create_destination(workspace, name="Profiles", kind="profiles", settings={}, sources=[source])


_counter = [0]


def message(**fields: Any) -> dict[str, Any]:
    _counter[0] += 1
    return {"messageId": f"msg-{_counter[0]}", "timestamp": "2026-12-01T12:00:00.000Z", **fields}


@pytest.fixture
def feed(source: Source, profiles_destination: Destination) -> Callable[..., Any]:
    """feed(*messages): store them (one request), fan out, deliver; returns the DeliverResult."""
    from destinations import fanout
    from ingest.services import store_events
    from tests.helpers import send_queued

    def _feed(*messages: dict[str, Any], src: Source | None = None) -> Any:
        ids = store_events(src or source, [message(**m) for m in messages], timezone.now())
        fanout.fan_out(ids)
        return send_queued()

    return _feed
