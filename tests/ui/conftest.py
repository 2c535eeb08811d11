"""Fixtures for the Connections UI tests (the personas and their logged-in browsers are
tests/conftest.py's): a small workspace with sources and a Webhook destination."""

from __future__ import annotations

from typing import Any

import pytest

from connections import services
from connections.models import Destination, Source, SourceKind
from destinations.catalog import _registry, get_definition
from destinations.catalog.base import DestinationDefinition, SettingField
from pipelines.models import Workspace


@pytest.fixture
def js_source(workspace: Workspace) -> Source:
    return services.create_source(workspace, name="Production Javascript", kind=SourceKind.JAVASCRIPT)[0]


@pytest.fixture
def server_source(workspace: Workspace) -> Source:
    return services.create_source(workspace, name="Backend", kind=SourceKind.PYTHON)[0]


@pytest.fixture
def webhook(workspace: Workspace, js_source: Source, settings: Any) -> Destination:
    settings.OUTBOUND_ALLOW_PRIVATE = True
    return services.create_destination(
        workspace, name="My webhook", kind="webhook",
        settings={"url": "http://127.0.0.1:9/hook", "shared_secret": "s3cret-value-123456"},
        sources=[js_source],
    )


@pytest.fixture
def direct_type(monkeypatch: pytest.MonkeyPatch) -> DestinationDefinition:
    """A direct-mode catalog entry, registered for the test only (the shipped catalog may have none)."""
    webhook = get_definition("webhook")
    definition = DestinationDefinition(
        key="browserpixel", name="Browser Pixel", category="Advertising", mode="direct",
        description="Loads a pixel in the visitor's browser.",
        settings=(SettingField("pixel_id", "Pixel ID", required=True),), actions=webhook.actions,
    )
    monkeypatch.setitem(_registry(), definition.key, definition)
    return definition
