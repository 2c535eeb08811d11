"""Fixtures for the Track API tests: a Journeys Track API source and the official client pointed at it."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from customerio import CustomerIO

from connections.models import Source
from connections.services import create_source
from ingest.models import Event
from pipelines.models import Workspace


@pytest.fixture
def track_source(workspace: Workspace) -> tuple[Source, str]:
    source, api_key = create_source(workspace, name="Production backend", kind="journeys_track_api")
    assert api_key
    return source, api_key


@pytest.fixture
def cio(live_server: Any, track_source: tuple[Source, str]) -> Iterator[CustomerIO]:
    source, api_key = track_source
    client = CustomerIO(source.site_id, api_key, retries=0)
    client.base_url = live_server.url + "/api/v1"
    yield client
    client.close()


def basic(site_id: str, api_key: str) -> str:
    return "Basic " + base64.b64encode(f"{site_id}:{api_key}".encode()).decode()


@pytest.fixture
def auth(track_source: tuple[Source, str]) -> dict[str, str]:
    """Django test client keyword arguments carrying the source's credentials."""
    source, api_key = track_source
    return {"HTTP_AUTHORIZATION": basic(source.site_id or "", api_key)}


def stored(source: Source) -> list[dict[str, Any]]:
    """Payloads of the events stored on `source`, oldest first."""
    return [e.payload for e in Event.objects.filter(source=source).order_by("id")]
