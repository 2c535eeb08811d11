"""Every catalog entry is complete, and every default mapping turns a sample event into the payload
its perform expects."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from destinations.catalog import all_definitions, get_definition
from destinations.catalog.base import ACTION_FIELD_TYPES, SETTING_TYPES
from destinations.mapping import apply_fields, validate_mapping
from destinations.triggers import parse

DIRECTIVES = {"@path", "@if", "@template", "@literal", "@arrayPath", "@case", "@replace", "@json", "@merge",
              "@flatten", "@excludeWhenNull"}
REPO = Path(__file__).resolve().parents[2]
OURS = {"webhook", "mixpanel", "amplitude", "slack", "postgres", "ga4", "customerio_in_app", "profiles"}


def _directives(mapping: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(mapping, dict):
        for key, value in mapping.items():
            if key.startswith("@"):
                found.add(key)
                if key == "@literal":
                    continue
            found |= _directives(value)
    elif isinstance(mapping, list):
        for item in mapping:
            found |= _directives(item)
    return found


def test_our_entries_are_registered() -> None:
    assert OURS <= {d.key for d in all_definitions()}


@pytest.mark.parametrize("definition", all_definitions(), ids=lambda d: d.key)
def test_entry_is_complete(definition: Any) -> None:
    assert definition.key and definition.name and definition.category and definition.description
    assert definition.mode in ("cloud", "direct")
    keys = [f.key for f in definition.settings]
    assert len(keys) == len(set(keys))
    for f in definition.settings:
        assert f.label, f.key
        assert f.type in SETTING_TYPES, f.key
        if f.type == "choice":
            assert f.choices and (f.default is None or f.default in [v for v, _ in f.choices])
    if definition.mode == "direct":
        assert definition.browser_integration and callable(definition.browser_settings)
        # its plugin is a file of ours, defining the global the settings name
        plugin = REPO / "static" / "js" / "plugins" / f"{definition.browser_plugin}.js"
        assert definition.browser_plugin and plugin.is_file(), plugin
        assert f"window.{definition.browser_library} = function" in plugin.read_text()
        assert definition.vendor_script_url.startswith("https://")
    else:
        assert callable(definition.check_credentials)
    assert definition.actions, "a destination needs at least one action"
    assert any(a.default_enabled for a in definition.actions)
    for action in definition.actions:
        assert action.key and action.title and action.description
        parse(action.default_trigger)  # raises on a bad trigger
        assert callable(action.perform)
        assert 1 <= action.batch_size <= 2000
        batching = action.perform_batch is not None or action.perform_local is not None
        assert batching == (action.batch_size > 1) or definition.key == "webhook"
        if action.batch_size_setting:  # a declared integer setting of this type
            assert {f.key: f.type for f in definition.settings}.get(action.batch_size_setting) == "integer"
        field_keys = [f.key for f in action.fields]
        assert len(field_keys) == len(set(field_keys))
        for f in action.fields:
            assert f.label and f.type in ACTION_FIELD_TYPES, (action.key, f.key)
        mapping = action.default_mapping()
        # a new action must pass the services' check (connections.services.validate_action) as it comes
        assert all(mapping.get(f.key) not in (None, "") for f in action.fields if f.required), action.key
        assert _directives(mapping) <= DIRECTIVES, (action.key, _directives(mapping) - DIRECTIVES)
        validate_mapping(mapping)
    definition.to_dict()  # what the API and UI render


def test_catalog_modules_read_settings_through_the_accessor() -> None:
    # Defaults live in the declared fields only: a module reads DEFINITION.read(settings)[...], never
    # settings.get(key, default) or settings[key] (base.py, which implements the accessor, aside).
    reads = re.compile(r'settings\.get\(|settings\[\"\w+\"\](?!\s*=[^=])')
    catalog = REPO / "destinations" / "catalog"
    offenders = [f"{path.relative_to(REPO)}:{number}" for path in sorted(catalog.rglob("*.py"))
                 if path.name not in ("base.py", "__init__.py") or path.parent != catalog
                 for number, line in enumerate(path.read_text().splitlines(), start=1) if reads.search(line)]
    assert offenders == []


def test_slack_default_trigger_does_not_fire_on_everything(events: dict[str, Any]) -> None:
    trigger = parse(get_definition("slack").action("post_message").default_trigger)
    assert trigger.matches(events["track"])
    assert not trigger.matches(events["identify"]) and not trigger.matches(events["page"])


def test_webhook_and_warehouse_default_triggers_take_every_type(events: dict[str, Any]) -> None:
    for key, action in (("webhook", "send"), ("postgres", "write_events")):
        trigger = parse(get_definition(key).action(action).default_trigger)
        assert all(trigger.matches(e) for e in events.values()), key


def _payload(key: str, action: str, event: dict[str, Any]) -> dict[str, Any]:
    action_def = get_definition(key).action(action)
    return apply_fields(action_def, action_def.default_mapping(), event)


def test_webhook_default_mapping_is_the_whole_event(events: dict[str, Any]) -> None:
    assert _payload("webhook", "send", events["track"]) == {"data": events["track"]}


def test_mixpanel_default_mappings(events: dict[str, Any]) -> None:
    track = _payload("mixpanel", "track_event", events["track"])
    assert track["event"] == "Order Completed" and track["distinct_id"] == "user-42"
    assert track["anonymous_id"] == "anon-7" and track["insert_id"] == "msg-track-1"
    assert track["time"] == "2024-05-01T12:00:00.000Z" and track["ip"] == "203.0.113.7"
    assert track["properties"]["order_id"] == "o-1001"
    assert track["current_url"] == "https://shop.example.com/cart" and track["utm_source"] == "newsletter"
    page = _payload("mixpanel", "track_page_view", events["page"])
    assert page["event"] == "Viewed Pricing" and page["distinct_id"] == "anon-7"
    unnamed = {k: v for k, v in events["page"].items() if k != "name"}
    assert _payload("mixpanel", "track_page_view", unnamed)["event"] == "Loaded a Page"
    assert _payload("mixpanel", "track_screen_view", events["screen"])["event"] == "Viewed Home"
    identify = _payload("mixpanel", "identify_user", events["identify"])
    assert identify == {"user_id": "user-42", "anonymous_id": "anon-7", "traits": events["identify"]["traits"],
                        "ip": "203.0.113.7"}
    group = _payload("mixpanel", "group_identify_user", events["group"])
    assert group == {"group_key": "$group_id", "group_id": "acme-inc", "traits": events["group"]["traits"]}
    assert _payload("mixpanel", "alias", events["alias"]) == {"alias": "user-42", "distinct_id": "anon-7"}


def test_amplitude_default_mappings(events: dict[str, Any]) -> None:
    track = _payload("amplitude", "log_event", events["track"])
    assert track["event_type"] == "Order Completed" and track["user_id"] == "user-42"
    assert track["device_id"] == "anon-7" and track["insert_id"] == "msg-track-1"
    assert track["platform"] == "Web" and track["os_name"] == "Mac OS X" and track["language"] == "en-GB"
    screen = _payload("amplitude", "log_screen_view", events["screen"])
    assert screen["event_type"] == "Viewed Home" and screen["device_id"] == "device-123"
    assert screen["platform"] == "ios" and screen["device_model"] == "iPhone15,2" and screen["app_version"] == "3.2.1"
    identify = _payload("amplitude", "identify_user", events["identify"])
    assert identify["user_properties"]["plan"] == "pro" and identify["user_id"] == "user-42"


def test_slack_default_mapping_renders_the_message(events: dict[str, Any]) -> None:
    assert _payload("slack", "post_message", events["track"]) == {"text": "Order Completed by user-42"}
    anonymous = {**events["track"], "userId": None}
    assert _payload("slack", "post_message", anonymous)["text"] == "Order Completed by anonymous user anon-7"


def test_postgres_default_mapping_is_the_whole_event(events: dict[str, Any]) -> None:
    assert _payload("postgres", "write_events", events["group"]) == {"event": events["group"]}


def test_ga4_browser_settings() -> None:
    ga4 = get_definition("ga4")
    settings = ga4.clean_settings({"measurement_id": "g-abc123XYZ"})
    assert ga4.browser_settings(settings) == {
        "measurementIds": ["G-ABC123XYZ"], "measurementId": "G-ABC123XYZ", "pageView": True,
        "cookieDomain": "auto", "allowGoogleSignals": False, "allowAdPersonalizationSignals": False,
    }
    with pytest.raises(Exception) as exc:
        ga4.clean_settings({"measurement_id": "UA-1234-1"})
    assert "measurement_id" in exc.value.errors
