"""Track Event, Track Page View and Track Screen View: identified people through /api/v2/entity,
anonymous visitors through the v1 anonymous event endpoint (v2 operations require a person identifier)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from destinations.catalog import get_definition
from destinations.catalog.customerio.operations import event_ulid
from destinations.errors import PayloadError

from .conftest import BASIC_AUTH, received

CIO = get_definition("customerio")
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def unix(*parts: int) -> int:
    return int(datetime(*parts, tzinfo=UTC).timestamp())


def ulid_millis(ulid: str) -> int:
    number = 0
    for char in ulid:
        number = number * 32 + CROCKFORD.index(char)
    return number >> 80


# Payloads as the default mappings make them of the seed's track, page and screen calls.
SEED_TRACK = {
    "person_id": "97980cfea0067", "email": "cool.person@example.com", "name": "enrolled", "event_id": "i6yatl",
    "timestamp": "2022-11-24T22:48:17.593Z",
    "attributes": {"class_name": "Customer.io Basics", "class_code": "cio101", "start_date": 1679410730},
}
SEED_PAGE = {
    "person_id": "97980cfea0067", "email": "cool.person@example.com", "name": "http://www.example.com",
    "event_id": "efxqsi", "timestamp": "2022-11-24T22:55:59.498Z",
    "attributes": {"session_started": 1679410730, "url": "http://www.example.com"},
}
SEED_SCREEN = {
    "person_id": "97980cfea0067", "email": "cool.person@example.com", "name": "home", "event_id": "9zk6c",
    "timestamp": "2023-03-20T22:56:06.259Z", "attributes": {"session_started": 1679410730},
}


def test_track_event_of_the_seed(track_api: HTTPServer, cio_settings):
    track_api.expect_request("/api/v2/entity", method="POST").respond_with_json({})
    CIO.action("track_event").perform(cio_settings, SEED_TRACK)
    assert received(track_api) == [{
        "method": "POST", "path": "/api/v2/entity", "auth": BASIC_AUTH, "content_type": "application/json",
        "json": {
            "type": "person", "identifiers": {"id": "97980cfea0067"}, "action": "event", "name": "enrolled",
            "id": event_ulid("i6yatl", unix(2022, 11, 24, 22, 48, 17)),
            "timestamp": unix(2022, 11, 24, 22, 48, 17),
            "attributes": {"class_name": "Customer.io Basics", "class_code": "cio101", "start_date": 1679410730},
        },
    }]


def test_page_view_of_the_seed(track_api: HTTPServer, cio_settings):
    track_api.expect_request("/api/v2/entity").respond_with_json({})
    CIO.action("track_page_view").perform(cio_settings, SEED_PAGE)
    body = received(track_api)[0]["json"]
    assert body == {
        "type": "person", "identifiers": {"id": "97980cfea0067"}, "action": "page",
        "name": "http://www.example.com", "id": event_ulid("efxqsi", unix(2022, 11, 24, 22, 55, 59)),
        "timestamp": unix(2022, 11, 24, 22, 55, 59),
        "attributes": {"session_started": 1679410730, "url": "http://www.example.com"},
    }


def test_screen_view_of_the_seed(track_api: HTTPServer, cio_settings):
    track_api.expect_request("/api/v2/entity").respond_with_json({})
    CIO.action("track_screen_view").perform(cio_settings, SEED_SCREEN)
    body = received(track_api)[0]["json"]
    assert (body["action"], body["name"], body["timestamp"]) == ("screen", "home", unix(2023, 3, 20, 22, 56, 6))
    assert body["identifiers"] == {"id": "97980cfea0067"}


def test_event_dedupe_id_is_a_stable_ulid_carrying_the_event_time():
    first = event_ulid("i6yatl", unix(2022, 11, 24, 22, 48, 17))
    assert first == event_ulid("i6yatl", unix(2022, 11, 24, 22, 48, 17))  # a retry carries the same id
    assert first != event_ulid("i6yatm", unix(2022, 11, 24, 22, 48, 17))
    assert len(first) == 26 and set(first) <= set(CROCKFORD)
    assert ulid_millis(first) == unix(2022, 11, 24, 22, 48, 17) * 1000
    assert event_ulid("01ARZ3NDEKTSV4RRFFQ69G5FAV", 0) == "01ARZ3NDEKTSV4RRFFQ69G5FAV"  # a ULID is kept


def test_identified_event_keeps_the_anonymous_id_as_an_attribute(track_api: HTTPServer, cio_settings):
    track_api.expect_request("/api/v2/entity").respond_with_json({})
    CIO.action("track_event").perform(cio_settings, {**SEED_TRACK, "anonymous_id": "anon-7"})
    assert received(track_api)[0]["json"]["attributes"]["anonymous_id"] == "anon-7"


def test_event_known_only_by_email_is_sent_for_that_email(track_api: HTTPServer, cio_settings):
    track_api.expect_request("/api/v2/entity").respond_with_json({})
    payload = {k: v for k, v in SEED_TRACK.items() if k != "person_id"}
    CIO.action("track_event").perform(cio_settings, payload)
    assert received(track_api)[0]["json"]["identifiers"] == {"email": "cool.person@example.com"}


@pytest.mark.parametrize(("action", "payload", "expected_type"), [
    ("track_event", SEED_TRACK, None),
    ("track_page_view", SEED_PAGE, "page"),
    ("track_screen_view", SEED_SCREEN, "screen"),
])
def test_anonymous_visitor_events_go_to_the_anonymous_event_endpoint(
    track_api: HTTPServer, cio_settings, action: str, payload: dict[str, Any], expected_type: str | None
):
    track_api.expect_request("/api/v1/events", method="POST").respond_with_json({})
    anonymous = {k: v for k, v in payload.items() if k not in ("person_id", "email")}
    anonymous["anonymous_id"] = "anon-42"
    CIO.action(action).perform(cio_settings, anonymous)
    [request] = received(track_api)
    assert (request["method"], request["path"], request["auth"]) == ("POST", "/api/v1/events", BASIC_AUTH)
    expected = {"name": payload["name"], "anonymous_id": "anon-42",
                "id": event_ulid(payload["event_id"], request["json"]["timestamp"]),
                "timestamp": request["json"]["timestamp"], "data": payload["attributes"]}
    if expected_type:
        expected["type"] = expected_type
    assert request["json"] == expected


def test_event_with_nobody_to_attribute_it_to_is_filtered(track_api: HTTPServer, cio_settings):
    with pytest.raises(PayloadError, match="no userId, email or anonymousId"):
        CIO.action("track_event").perform(cio_settings, {"name": "enrolled", "attributes": {}})
    assert received(track_api) == []


def test_event_without_a_name_is_filtered(track_api: HTTPServer, cio_settings):
    with pytest.raises(PayloadError, match="missing name"):
        CIO.action("track_event").perform(cio_settings, {"person_id": "u1"})
    assert received(track_api) == []


def test_unparseable_timestamp_is_filtered_with_a_reason(track_api: HTTPServer, cio_settings):
    with pytest.raises(PayloadError, match="invalid timestamp"):
        CIO.action("track_event").perform(cio_settings, {**SEED_TRACK, "timestamp": "last tuesday"})
    assert received(track_api) == []
