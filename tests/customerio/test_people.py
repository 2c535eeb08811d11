"""Create or Update Person, Delete / Suppress / Unsuppress Person and Merge People: mapped payload → the
exact request Customer.io's Track API receives."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from destinations.catalog import get_definition
from destinations.errors import PayloadError

from .conftest import BASIC_AUTH, received

CIO = get_definition("customerio")


def perform(action: str, settings: dict[str, Any], payload: dict[str, Any]) -> Any:
    return CIO.action(action).perform(settings, payload)


# The payload Create or Update Person's default mapping makes of the seed's identify call.
SEED_IDENTIFY_PAYLOAD = {
    "person_id": "97980cfea0067",
    "email": "cool.person@example.com",
    "attributes": {"first_name": "cool", "last_name": "person", "email": "cool.person@example.com",
                   "plan": "premium"},
    "created_at": "1679407797",
}


def test_identify_of_the_seed_sends_one_entity_request_with_basic_auth(track_api: HTTPServer, cio_settings):
    track_api.expect_request("/api/v2/entity", method="POST").respond_with_json({})

    exchange = perform("create_update_person", cio_settings, SEED_IDENTIFY_PAYLOAD)

    assert exchange.status == 200
    assert received(track_api) == [{
        "method": "POST", "path": "/api/v2/entity", "auth": BASIC_AUTH, "content_type": "application/json",
        "json": {
            "type": "person", "identifiers": {"id": "97980cfea0067"}, "action": "identify",
            "attributes": {"first_name": "cool", "last_name": "person", "email": "cool.person@example.com",
                           "plan": "premium", "created_at": 1679407797},
        },
    }]


def test_the_api_key_never_appears_in_the_recorded_exchange(track_api: HTTPServer, cio_settings):
    track_api.expect_request("/api/v2/entity").respond_with_json({})
    exchange = perform("create_update_person", cio_settings, SEED_IDENTIFY_PAYLOAD)
    assert cio_settings["api_key"] not in str(exchange.as_record())
    assert exchange.request_headers["Authorization"] == "[redacted]"


def test_person_known_only_by_email_is_identified_by_email(track_api: HTTPServer, cio_settings):
    track_api.expect_request("/api/v2/entity").respond_with_json({})
    perform("create_update_person", cio_settings,
            {"email": "lead@example.com", "attributes": {"email": "lead@example.com", "source": "webinar"}})
    body = received(track_api)[0]["json"]
    assert body["identifiers"] == {"email": "lead@example.com"}
    assert body["attributes"] == {"email": "lead@example.com", "source": "webinar"}


@pytest.mark.parametrize(("user_id", "identifiers"), [
    ("cio_03000001", {"cio_id": "03000001"}),
    ("someone@example.com", {"email": "someone@example.com"}),
    ("42", {"id": "42"}),
    (42, {"id": "42"}),
])
def test_user_id_is_resolved_to_the_right_identifier(track_api: HTTPServer, cio_settings, user_id, identifiers):
    track_api.expect_request("/api/v2/entity").respond_with_json({})
    perform("create_update_person", cio_settings, {"person_id": user_id, "attributes": {"plan": "free"}})
    assert received(track_api)[0]["json"]["identifiers"] == identifiers


def test_identify_without_user_id_or_email_is_filtered_and_not_sent(track_api: HTTPServer, cio_settings):
    with pytest.raises(PayloadError, match="missing person identifier"):
        perform("create_update_person", cio_settings, {"anonymous_id": "anon-1", "attributes": {"plan": "free"}})
    assert received(track_api) == []


def test_anonymous_id_goes_into_attributes_and_timestamps_become_unix_seconds(track_api: HTTPServer, cio_settings):
    track_api.expect_request("/api/v2/entity").respond_with_json({})
    perform("create_update_person", cio_settings, {
        "person_id": "u1", "anonymous_id": "anon-1", "timestamp": "2024-05-01T12:00:00.000Z",
        "attributes": {"trial_ends": "2024-06-01T00:00:00Z", "birthday": "1990-04-01", "note": "hello"},
    })
    body = received(track_api)[0]["json"]
    assert body["timestamp"] == int(datetime(2024, 5, 1, 12, tzinfo=UTC).timestamp())
    assert body["attributes"] == {
        "trial_ends": int(datetime(2024, 6, 1, tzinfo=UTC).timestamp()),
        "birthday": "1990-04-01",  # a date without a time stays text
        "note": "hello",
        "anonymous_id": "anon-1",
    }


def test_converting_timestamps_can_be_turned_off(track_api: HTTPServer, cio_settings):
    track_api.expect_request("/api/v2/entity").respond_with_json({})
    perform("create_update_person", {**cio_settings, "convert_timestamps": False},
            {"person_id": "u1", "attributes": {"trial_ends": "2024-06-01T00:00:00Z"}})
    assert received(track_api)[0]["json"]["attributes"] == {"trial_ends": "2024-06-01T00:00:00Z"}


def test_identify_can_relate_the_person_to_an_object(track_api: HTTPServer, cio_settings):
    track_api.expect_request("/api/v2/entity").respond_with_json({})
    perform("create_update_person", cio_settings, {
        "person_id": "u1", "attributes": {}, "object_id": "acme", "object_type_id": "2",
        "relationship_attributes": {"role": "admin"},
    })
    assert received(track_api)[0]["json"]["cio_relationships"] == [
        {"identifiers": {"object_type_id": "2", "object_id": "acme"}, "relationship_attributes": {"role": "admin"}}
    ]


@pytest.mark.parametrize("action", ["delete", "suppress", "unsuppress"])
def test_delete_suppress_and_unsuppress_name_the_person_only(track_api: HTTPServer, cio_settings, action):
    track_api.expect_request("/api/v2/entity").respond_with_json({})
    perform(f"{action}_person", cio_settings, {"person_id": "97980cfea0067"})
    assert received(track_api) == [{
        "method": "POST", "path": "/api/v2/entity", "auth": BASIC_AUTH, "content_type": "application/json",
        "json": {"type": "person", "identifiers": {"id": "97980cfea0067"}, "action": action},
    }]


def test_delete_person_without_identifier_is_filtered(track_api: HTTPServer, cio_settings):
    with pytest.raises(PayloadError):
        perform("delete_person", cio_settings, {})
    assert received(track_api) == []


def test_merge_people_sends_primary_and_secondary_without_identifiers(track_api: HTTPServer, cio_settings):
    track_api.expect_request("/api/v2/entity").respond_with_json({})
    perform("merge_people", cio_settings, {"primary": "97980cfea0067", "secondary": "cool.person@example.com"})
    assert received(track_api)[0]["json"] == {
        "type": "person", "action": "merge",
        "primary": {"id": "97980cfea0067"}, "secondary": {"email": "cool.person@example.com"},
    }


def test_merge_of_a_person_with_themself_is_filtered(track_api: HTTPServer, cio_settings):
    with pytest.raises(PayloadError, match="same person"):
        perform("merge_people", cio_settings, {"primary": "u1", "secondary": "u1"})
    assert received(track_api) == []


def test_oversized_operation_is_rejected_before_sending(track_api: HTTPServer, cio_settings):
    with pytest.raises(PayloadError, match="32768 bytes"):
        perform("create_update_person", cio_settings, {"person_id": "u1", "attributes": {"blob": "x" * 40_000}})
    assert received(track_api) == []
