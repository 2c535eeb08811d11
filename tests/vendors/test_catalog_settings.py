"""Settings as catalog modules read them (declared defaults, typed getters), and which setting may change
an action's batch size."""

from __future__ import annotations

from typing import Any

import pytest

from destinations.catalog import get_definition
from destinations.catalog.base import ActionDefinition, BatchResult, DestinationDefinition, SettingField


def test_settings_read_as_declared_defaults_when_absent_or_empty() -> None:
    mixpanel = get_definition("mixpanel")
    settings = mixpanel.read({"project_token": "tok", "region": ""})
    assert settings["region"] == "us" and settings.choice("region") == "us"
    assert settings.flag("strict_mode") is True
    assert settings.text("api_secret") == "" and settings.secrets("api_secret") == ()
    assert mixpanel.read({"project_token": "tok", "region": "eu", "strict_mode": False}).flag("strict_mode") is False


def test_a_stored_choice_that_is_not_declared_reads_as_the_default() -> None:
    assert get_definition("customerio").read({"region": "mars"}).choice("region") == "us"


def test_reading_an_undeclared_setting_is_an_error() -> None:
    with pytest.raises(KeyError):
        get_definition("mixpanel").read({"project_token": "tok"})["projet_token"]


def test_typed_getters() -> None:
    webhook = get_definition("webhook").read({"url": "https://example.com/", "batch_size": "25",
                                             "headers": {"X-Token": "t"}})
    assert webhook.integer("batch_size") == 25
    assert webhook.headers("headers") == {"X-Token": "t"}
    assert webhook.choice("method") == "POST"


def _batch(settings: dict[str, Any], payloads: list[dict[str, Any]]) -> BatchResult:
    raise AssertionError("not sent")


def test_a_setting_named_batch_size_changes_only_actions_that_name_it() -> None:
    # The bug: the engine read any setting called batch_size as the batch size of every action.
    warehouse = DestinationDefinition(
        key="rows", name="Rows", category="Test", mode="cloud", description="d",
        settings=(SettingField("batch_size", "Rows per INSERT", "integer", default=5),),
        actions=(ActionDefinition(key="write", title="Write", description="d", default_trigger='type = "track"',
                                  fields=(), perform=lambda s, p: None,  # type: ignore[arg-type,return-value]
                                  perform_batch=_batch, batch_size=200),),
    )
    assert warehouse.action("write").batch_size_for({"batch_size": 5}) == 200


def test_the_batch_size_setting_of_customerio_and_the_webhook_applies() -> None:
    cio = get_definition("customerio")
    assert cio.action("track_event").batch_size_for({"batch_size": 7}) == 7
    assert cio.action("track_event").batch_size_for({}) == cio.action("track_event").batch_size
    webhook = get_definition("webhook")
    assert webhook.action("send").batch_size_for({"batch_size": 3}) == 3
    assert webhook.action("send").batch_size_for({"batch_size": True}) == 1  # not a number


def test_a_stray_batch_size_in_stored_settings_leaves_mixpanel_alone() -> None:
    track = get_definition("mixpanel").action("track_event")
    assert track.batch_size_for({"project_token": "tok", "batch_size": 1}) == track.batch_size > 1
