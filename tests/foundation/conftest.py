"""Fixtures for the foundation tests: objects made through the services, as users make them."""

from __future__ import annotations

from typing import Any

import pytest

from connections import services
from connections.models import Destination, Source
from destinations.catalog import _registry
from destinations.catalog.base import DestinationDefinition, SettingField
from pipelines.models import Workspace

SECRET = "whsec-very-secret-value-0123456789"
HEADER_SECRET = "Bearer header-token-abcdef-987654"


@pytest.fixture
def http_source(workspace: Workspace) -> Source:
    return services.create_source(workspace, name="Backend", kind="http")[0]


@pytest.fixture
def js_source(workspace: Workspace) -> Source:
    return services.create_source(workspace, name="Website", kind="javascript")[0]


@pytest.fixture
def webhook(workspace: Workspace, http_source: Source) -> Destination:
    return services.create_destination(
        workspace, name="Hook", kind="webhook",
        settings={"url": "https://93.184.216.34/in", "shared_secret": SECRET,
                  "headers": {"Authorization": HEADER_SECRET}},
        sources=[http_source],
    )


@pytest.fixture
def direct_mode_type(monkeypatch: Any) -> DestinationDefinition:
    """A minimal direct-mode (device-mode) destination type, registered for this test only."""
    definition = DestinationDefinition(
        key="test_direct", name="Test Direct Analytics", category="Analytics", mode="direct",
        description="Loaded in the browser.",
        settings=(SettingField("measurement_id", "Measurement ID", required=True),),
        actions=(),
    )
    monkeypatch.setitem(_registry(), definition.key, definition)
    return definition
