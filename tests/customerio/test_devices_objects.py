"""Create or Update Device, Delete Device, Create or Update Object, Delete Object, Delete Relationship and
Report Delivery Event: mapped payload → the exact request received."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pytest_httpserver import HTTPServer

from destinations.catalog import get_definition
from destinations.errors import PayloadError

from .conftest import BASIC_AUTH, received
from .events import SEED_DEVICE_TOKEN

CIO = get_definition("customerio")
INSTALLED_AT = int(datetime(2022, 11, 24, 22, 48, 17, tzinfo=UTC).timestamp())

# The seed's "Application Installed" as the default mapping reads it, from an app whose context names the
# platform (the seed's excerpt leaves the context out).
SEED_DEVICE = {
    "person_id": "97980cfea0067", "email": "cool.person@example.com", "device_id": SEED_DEVICE_TOKEN,
    "platform": "android", "last_used": "2022-11-24T22:48:17.593Z", "app_version": "2.4.1",
    "attributes": {"device_id": SEED_DEVICE_TOKEN, "push_enabled": True, "screen_dpi": 420},
}


def test_create_or_update_device_adds_the_token_to_the_person(track_api: HTTPServer, cio_settings):
    track_api.expect_request("/api/v2/entity", method="POST").respond_with_json({})
    CIO.action("create_update_device").perform(cio_settings, SEED_DEVICE)
    assert received(track_api) == [{
        "method": "POST", "path": "/api/v2/entity", "auth": BASIC_AUTH, "content_type": "application/json",
        "json": {
            "type": "person", "identifiers": {"id": "97980cfea0067"}, "action": "add_device",
            "device": {
                "token": SEED_DEVICE_TOKEN, "platform": "android", "last_used": INSTALLED_AT,
                # device attributes are strings for Customer.io; the token is not repeated
                "attributes": {"push_enabled": "true", "screen_dpi": "420", "app_version": "2.4.1"},
            },
        },
    }]


def test_device_platform_is_normalised_and_checked(track_api: HTTPServer, cio_settings):
    track_api.expect_request("/api/v2/entity").respond_with_json({})
    CIO.action("create_update_device").perform(cio_settings, {**SEED_DEVICE, "platform": "iOS"})
    assert received(track_api)[0]["json"]["device"]["platform"] == "ios"
    with pytest.raises(PayloadError, match="ios or android"):
        CIO.action("create_update_device").perform(cio_settings, {**SEED_DEVICE, "platform": "web"})
    with pytest.raises(PayloadError, match="missing platform"):
        CIO.action("create_update_device").perform(cio_settings, {**SEED_DEVICE, "platform": None})
    assert len(received(track_api)) == 1


def test_device_without_token_or_person_is_filtered(track_api: HTTPServer, cio_settings):
    with pytest.raises(PayloadError, match="missing device_id"):
        CIO.action("create_update_device").perform(cio_settings, {**SEED_DEVICE, "device_id": None})
    with pytest.raises(PayloadError, match="missing person identifier"):
        CIO.action("create_update_device").perform(cio_settings, {**SEED_DEVICE, "person_id": None, "email": None})
    assert received(track_api) == []


def test_delete_device_of_the_seed(track_api: HTTPServer, cio_settings):
    track_api.expect_request("/api/v2/entity").respond_with_json({})
    CIO.action("delete_device").perform(cio_settings, {
        "person_id": "97980cfea0067", "email": "cool.person@example.com", "device_id": SEED_DEVICE_TOKEN,
    })
    assert received(track_api)[0]["json"] == {
        "type": "person", "identifiers": {"id": "97980cfea0067"}, "action": "delete_device",
        "device": {"token": SEED_DEVICE_TOKEN},
    }


SEED_GROUP = {
    "object_id": "example-company", "object_type_id": "1", "person_id": "97980cfea0067",
    "attributes": {"name": "Example Co, Inc.", "industry": "edtech", "plan": "enterprise"},
}


def test_group_of_the_seed_identifies_the_object_and_relates_the_person(track_api: HTTPServer, cio_settings):
    track_api.expect_request("/api/v2/entity").respond_with_json({})
    CIO.action("create_update_object").perform(cio_settings, SEED_GROUP)
    assert received(track_api) == [{
        "method": "POST", "path": "/api/v2/entity", "auth": BASIC_AUTH, "content_type": "application/json",
        "json": {
            "type": "object", "identifiers": {"object_type_id": "1", "object_id": "example-company"},
            "action": "identify",
            "attributes": {"name": "Example Co, Inc.", "industry": "edtech", "plan": "enterprise"},
            "cio_relationships": [{"identifiers": {"id": "97980cfea0067"}}],
        },
    }]


def test_group_from_an_anonymous_visitor_uses_identify_anonymous(track_api: HTTPServer, cio_settings):
    track_api.expect_request("/api/v2/entity").respond_with_json({})
    payload = {**SEED_GROUP, "anonymous_id": "anon-9", "relationship_attributes": {"role": "trialist"}}
    del payload["person_id"]
    CIO.action("create_update_object").perform(cio_settings, payload)
    body = received(track_api)[0]["json"]
    assert body["action"] == "identify_anonymous"
    assert body["cio_relationships"] == [
        {"identifiers": {"anonymous_id": "anon-9"}, "relationship_attributes": {"role": "trialist"}}
    ]


def test_group_without_group_id_is_filtered(track_api: HTTPServer, cio_settings):
    with pytest.raises(PayloadError, match="missing object_id"):
        CIO.action("create_update_object").perform(cio_settings, {**SEED_GROUP, "object_id": None})
    assert received(track_api) == []


def test_delete_object_and_delete_relationship(track_api: HTTPServer, cio_settings):
    track_api.expect_request("/api/v2/entity").respond_with_json({})
    CIO.action("delete_object").perform(cio_settings, {"object_id": "example-company", "object_type_id": "2"})
    CIO.action("delete_relationship").perform(
        cio_settings, {"object_id": "example-company", "object_type_id": "1", "person_id": "97980cfea0067"}
    )
    assert [r["json"] for r in received(track_api)] == [
        {"type": "object", "identifiers": {"object_type_id": "2", "object_id": "example-company"},
         "action": "delete"},
        {"type": "object", "identifiers": {"object_type_id": "1", "object_id": "example-company"},
         "action": "delete_relationships", "cio_relationships": [{"identifiers": {"id": "97980cfea0067"}}]},
    ]


def test_report_delivery_event_sends_a_delivery_metric(track_api: HTTPServer, cio_settings):
    track_api.expect_request("/api/v2/entity").respond_with_json({})
    CIO.action("report_delivery_event").perform(cio_settings, {
        "delivery_id": "RPILAgUBcRhIBqSfeiIwdIYJKxTY", "metric": "opened", "device_token": SEED_DEVICE_TOKEN,
    })
    assert received(track_api)[0]["json"] == {
        "type": "delivery", "action": "event", "identifiers": {"id": "RPILAgUBcRhIBqSfeiIwdIYJKxTY"},
        "name": "opened", "attributes": {"device_token": SEED_DEVICE_TOKEN},
    }
    with pytest.raises(PayloadError, match="invalid metric"):
        CIO.action("report_delivery_event").perform(cio_settings, {
            "delivery_id": "d", "metric": "clicked", "device_token": SEED_DEVICE_TOKEN,
        })
