"""The default triggers and mappings of every Customer.io action, run through the engine's own trigger
language (destinations.triggers) and mapping directives (destinations.mapping) on the seed's events."""

from __future__ import annotations

from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from destinations import triggers
from destinations.catalog import get_definition
from destinations.errors import PayloadError
from destinations.mapping import apply_fields, validate_mapping

from .conftest import received
from .events import NAMES, SEED_DEVICE_TOKEN, event
from .test_devices_objects import SEED_GROUP
from .test_events import SEED_PAGE, SEED_SCREEN, SEED_TRACK
from .test_people import SEED_IDENTIFY_PAYLOAD

CIO = get_definition("customerio")
APP_CONTEXT = {"device": {"type": "android"}, "app": {"version": "2.4.1"}}


def mapped(action_key: str, evt: dict[str, Any]) -> dict[str, Any]:
    action = CIO.action(action_key)
    return apply_fields(action, action.default_mapping(), evt)


def matching_actions(evt: dict[str, Any]) -> set[str]:
    return {a.key for a in CIO.actions if triggers.parse(a.default_trigger).matches(evt)}


def test_every_default_trigger_and_mapping_is_valid():
    for action in CIO.actions:
        triggers.parse(action.default_trigger)
        validate_mapping(action.default_mapping())


@pytest.mark.parametrize(("evt", "expected"), [
    (event("identify"), {"create_update_person"}),
    (event("group"), {"create_update_object"}),
    (event("application_installed"), {"create_update_device"}),
    (event("application_installed", event="Application Opened"), {"create_update_device"}),
    (event("application_installed", event="Device Created or Updated"), {"create_update_device"}),
    (event("application_uninstalled"), {"delete_device"}),
    (event("application_uninstalled", event="Device Deleted"), {"delete_device"}),
    (event("track"), {"track_event"}),
    (event("page"), {"track_page_view"}),
    (event("screen"), {"track_screen_view"}),
    (event("alias"), {"merge_people"}),
    (event("user_deleted"), {"delete_person"}),
    (event("user_suppressed"), {"suppress_person"}),
    (event("user_unsuppressed"), {"unsuppress_person"}),
    (event("object_deleted"), {"delete_object"}),
    (event("relationship_deleted"), {"delete_relationship"}),
    (event("report_delivery"), {"report_delivery_event"}),
    (event("track", event="Report Content Event"), set()),
])
def test_each_event_reaches_exactly_its_action_by_default(evt: dict[str, Any], expected: set[str]):
    assert matching_actions(evt) == expected


def test_identify_of_the_seed_maps_to_the_person_payload():
    assert mapped("create_update_person", event("identify")) == SEED_IDENTIFY_PAYLOAD


def test_track_page_and_screen_of_the_seed_map_to_event_payloads():
    assert mapped("track_event", event("track")) == SEED_TRACK
    assert mapped("track_page_view", event("page")) == SEED_PAGE
    assert mapped("track_screen_view", event("screen")) == SEED_SCREEN


def test_page_name_prefers_the_page_url_from_the_context():
    evt = event("page", context={"page": {"url": "https://example.com/pricing"}})
    assert mapped("track_page_view", evt)["name"] == "https://example.com/pricing"


def test_group_of_the_seed_maps_to_the_object_payload():
    assert mapped("create_update_object", event("group")) == SEED_GROUP
    evt = event("group", traits={"name": "Acme", "object_type_id": "3"})
    assert mapped("create_update_object", evt)["object_type_id"] == "3"


def test_device_token_comes_from_properties_then_the_device_context():
    evt = event("application_installed", context=APP_CONTEXT)
    assert mapped("create_update_device", evt) == {
        "person_id": "97980cfea0067", "email": "cool.person@example.com", "device_id": SEED_DEVICE_TOKEN,
        "platform": "android", "last_used": "2022-11-24T22:48:17.593Z", "app_version": "2.4.1",
        "attributes": {"device_id": SEED_DEVICE_TOKEN},
    }
    evt = event("application_installed", properties={}, context={**APP_CONTEXT, "device": {
        "type": "ios", "token": "apns-token-1"}})
    assert mapped("create_update_device", evt)["device_id"] == "apns-token-1"
    assert mapped("delete_device", event("application_uninstalled")) == {
        "person_id": "97980cfea0067", "email": "cool.person@example.com", "device_id": SEED_DEVICE_TOKEN}


def test_device_event_without_a_platform_is_filtered_by_the_mapping():
    # The seed's excerpt carries no context.device.type; Customer.io requires ios or android.
    with pytest.raises(PayloadError, match="missing platform"):
        mapped("create_update_device", event("application_installed"))


def test_other_actions_map_their_events():
    assert mapped("merge_people", event("alias")) == {"primary": "97980cfea0067",
                                                       "secondary": "cool.person@example.com"}
    assert mapped("delete_person", event("user_deleted")) == {"person_id": "97980cfea0067"}
    assert mapped("suppress_person", event("user_suppressed")) == {"person_id": "97980cfea0067"}
    assert mapped("delete_object", event("object_deleted")) == {"object_id": "example-company",
                                                                 "object_type_id": "2"}
    assert mapped("delete_relationship", event("relationship_deleted")) == {
        "object_id": "example-company", "object_type_id": "1", "person_id": "97980cfea0067"}
    assert mapped("report_delivery_event", event("report_delivery")) == {
        "delivery_id": "RPILAgUBcRhIBqSfeiIwdIYJKxTY", "metric": "opened", "device_token": SEED_DEVICE_TOKEN}


@pytest.mark.parametrize("name", NAMES)
def test_every_example_event_goes_through_trigger_mapping_and_batch_to_a_valid_request(
    name: str, track_api: HTTPServer, cio_settings
):
    track_api.expect_request("/api/v2/batch", method="POST").respond_with_json({})
    evt = event(name, context=APP_CONTEXT)
    [action_key] = matching_actions(evt)
    result = CIO.action(action_key).perform_batch(cio_settings, [mapped(action_key, evt)])
    assert result.item_errors == {}
    [request] = received(track_api)
    assert request["path"] == "/api/v2/batch" and len(request["json"]["batch"]) == 1
