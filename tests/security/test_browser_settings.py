"""The public browser settings endpoint (`/v1/projects/<write key>/settings`, read by analytics.js on every
website visit) is built from non-secret settings only: a secret never appears in it, and serving it needs
no decryption at all."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from django.test import Client

from connections import services
from connections.models import Destination, Source
from destinations.catalog import _registry
from destinations.catalog.base import DestinationDefinition, SettingField
from pipelines.models import Workspace

SECRET = "pixel-token-5c2e9a7f1b3d"


@pytest.fixture
def leaky_pixel(monkeypatch: pytest.MonkeyPatch) -> DestinationDefinition:
    """A direct-mode type whose browser_settings echoes whatever it is given: the worst a catalog entry
    could do. Registered for the test only."""
    definition = DestinationDefinition(
        key="leaky_pixel", name="Leaky Pixel", category="Advertising", mode="direct", description="",
        settings=(SettingField("pixel_id", "Pixel ID", required=True),
                  SettingField("access_token", "Access token", secret=True)),
        actions=(),
        browser_settings=lambda s: dict(s),
        browser_integration="Leaky Pixel",
    )
    monkeypatch.setitem(_registry(), definition.key, definition)
    return definition


@pytest.fixture
def web_source(workspace: Workspace) -> Source:
    return services.create_source(workspace, name="Website", kind="javascript")[0]


def _settings(source: Source) -> Any:
    response = Client().get(f"/v1/projects/{source.write_key}/settings")
    assert response.status_code == 200, response.content
    return response


def test_browser_settings_never_contain_a_secret_setting(workspace, web_source, leaky_pixel) -> None:
    dest = services.create_destination(workspace, name="Pixel", kind="leaky_pixel", sources=[web_source],
                                       settings={"pixel_id": "px-77", "access_token": SECRET})
    assert dest.settings["access_token"] == SECRET  # stored, and readable where sending needs it

    response = _settings(web_source)
    assert SECRET.encode() not in response.content
    assert orjson.loads(response.content)["integrations"]["Leaky Pixel"] == {"pixel_id": "px-77"}


def test_browser_settings_are_served_without_decrypting(workspace, web_source, leaky_pixel) -> None:
    """The ciphertext is corrupt, so any decryption would raise: the endpoint still answers."""
    dest = services.create_destination(workspace, name="Pixel", kind="leaky_pixel", sources=[web_source],
                                       settings={"pixel_id": "px-78", "access_token": SECRET})
    Destination.objects.filter(id=dest.id).update(secrets_encrypted="not-a-fernet-token")
    with pytest.raises(ValueError):
        _ = Destination.objects.get(id=dest.id).settings  # what a decrypting code path would hit

    body = orjson.loads(_settings(web_source).content)
    assert body["integrations"]["Leaky Pixel"] == {"pixel_id": "px-78"}
