"""Mixpanel: the exact /import, /engage, /track and /groups requests a local server receives."""

from __future__ import annotations

from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from destinations.catalog import get_definition
from destinations.errors import DeliveryError, PayloadError, SettingsError
from destinations.mapping import apply_fields

from .conftest import basic, body, received

MIXPANEL = get_definition("mixpanel")
SETTINGS = {"project_token": "abc123token", "api_secret": "mp-secret-value", "region": "us", "strict_mode": True}


@pytest.fixture(autouse=True)
def mixpanel_at(settings: Any, httpserver: HTTPServer) -> None:
    settings.DESTINATION_ENDPOINTS = {"mixpanel": httpserver.url_for("/")}


def _mapped(action: str, event: dict[str, Any]) -> dict[str, Any]:
    action_def = MIXPANEL.action(action)
    return apply_fields(action_def, action_def.default_mapping(), event)


def test_track_goes_to_import_with_basic_auth(httpserver: HTTPServer, events: dict[str, Any]) -> None:
    httpserver.expect_request("/import", method="POST").respond_with_json(
        {"code": 200, "num_records_imported": 1, "status": "OK"})
    payload = {
        "event": "Order Completed", "distinct_id": "user-42", "user_id": "user-42", "anonymous_id": "anon-7",
        "time": "2024-05-01T12:00:00.000Z", "insert_id": "msg-track-1", "ip": "203.0.113.7",
        "properties": {"order_id": "o-1001", "total": 99.5}, "current_url": "https://shop.example.com/cart",
        "os_name": "Mac OS X",
    }
    MIXPANEL.action("track_event").perform(SETTINGS, payload)
    (request,) = received(httpserver)
    assert request.method == "POST" and request.path == "/import"
    assert request.args.to_dict() == {"strict": "1"}
    assert request.headers["Authorization"] == basic("mp-secret-value")
    assert request.headers["Content-Type"] == "application/json"
    assert body(request) == [{"event": "Order Completed", "properties": {
        "order_id": "o-1001", "total": 99.5, "time": 1714564800000, "distinct_id": "user-42",
        "$insert_id": "msg-track-1", "$device_id": "anon-7", "$user_id": "user-42", "ip": "203.0.113.7",
        "$current_url": "https://shop.example.com/cart", "$os": "Mac OS X",
    }}]


def test_batch_is_one_import_request_and_token_auth_without_secret(
    httpserver: HTTPServer, events: dict[str, Any]
) -> None:
    httpserver.expect_request("/import").respond_with_json({"code": 200, "num_records_imported": 3, "status": "OK"})
    settings = {**SETTINGS, "api_secret": None, "strict_mode": False}
    payloads = [_mapped("track_event", events["track"]), _mapped("track_page_view", events["page"]),
                _mapped("track_screen_view", events["screen"])]
    result = MIXPANEL.action("track_event").perform_batch(settings, payloads)
    (request,) = received(httpserver)
    assert request.args.to_dict() == {"strict": "0"}
    assert request.headers["Authorization"] == basic("abc123token")
    sent = body(request)
    assert [e["event"] for e in sent] == ["Order Completed", "Viewed Pricing", "Viewed Home"]
    assert [e["properties"]["distinct_id"] for e in sent] == ["user-42", "anon-7", "user-42"]
    assert sent[1]["properties"]["url"] == "https://shop.example.com/pricing"
    assert sent[2]["properties"]["$model"] == "iPhone15,2" and sent[2]["properties"]["$app_version_string"] == "3.2.1"
    assert result.item_errors == {}


def test_long_message_ids_become_valid_insert_ids(httpserver: HTTPServer, events: dict[str, Any]) -> None:
    httpserver.expect_request("/import").respond_with_json({"code": 200, "num_records_imported": 1, "status": "OK"})
    event = {**events["track"], "messageId": "ajs-next-1714564800000-5f1d2c3b-aaaa-bbbb-cccc-1234567890ab"}
    MIXPANEL.action("track_event").perform(SETTINGS, _mapped("track_event", event))
    insert_id = body(received(httpserver)[0])[0]["properties"]["$insert_id"]
    assert len(insert_id) == 32 and insert_id.isalnum()


def test_strict_mode_failures_fail_only_those_events(httpserver: HTTPServer, events: dict[str, Any]) -> None:
    httpserver.expect_request("/import").respond_with_json({
        "code": 400, "error": "some data points in the request failed validation", "status": "Bad Request",
        "num_records_imported": 1,
        "failed_records": [{"index": 1, "insert_id": "msg-page-1", "field": "properties.time",
                            "message": "'properties.time' is invalid"}],
    }, status=400)
    payloads = [_mapped("track_event", events["track"]), _mapped("track_page_view", events["page"])]
    result = MIXPANEL.action("track_event").perform_batch(SETTINGS, payloads)
    assert set(result.item_errors) == {1}
    error = result.item_errors[1]
    assert isinstance(error, DeliveryError) and not error.retryable and "properties.time" in error.message


def test_rate_limit_is_retryable(httpserver: HTTPServer, events: dict[str, Any]) -> None:
    httpserver.expect_request("/import").respond_with_json({"code": 429, "error": "rate limited"}, status=429)
    with pytest.raises(DeliveryError) as exc:
        MIXPANEL.action("track_event").perform(SETTINGS, _mapped("track_event", events["track"]))
    assert exc.value.retryable and exc.value.status == 429
    assert "mp-secret-value" not in str(exc.value.exchange.request_headers)


def test_identify_sets_the_profile_and_links_the_anonymous_id(httpserver: HTTPServer,
                                                              events: dict[str, Any]) -> None:
    httpserver.expect_request("/track").respond_with_json({"status": 1, "error": None})
    httpserver.expect_request("/engage").respond_with_json({"status": 1, "error": None})
    MIXPANEL.action("identify_user").perform(SETTINGS, _mapped("identify_user", events["identify"]))
    identify, engage = received(httpserver)
    assert identify.path == "/track" and identify.args.to_dict() == {"verbose": "1"}
    assert body(identify) == [{"event": "$identify", "properties": {
        "$identified_id": "user-42", "$anon_id": "anon-7", "token": "abc123token"}}]
    assert engage.method == "POST" and engage.path == "/engage" and engage.args.to_dict() == {"verbose": "1"}
    assert "Authorization" not in engage.headers
    assert body(engage) == [{"$token": "abc123token", "$distinct_id": "user-42", "$ip": "203.0.113.7", "$set": {
        "$email": "ada@example.com", "$first_name": "Ada", "$last_name": "Lovelace", "plan": "pro", "logins": 12,
        "$created": "2023-01-02T03:04:05Z"}}]


def test_identify_without_user_id_updates_the_anonymous_profile_only(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/engage").respond_with_json({"status": 1, "error": None})
    MIXPANEL.action("identify_user").perform(SETTINGS, {"anonymous_id": "anon-9", "traits": {"name": "Bo"}})
    (engage,) = received(httpserver)
    assert body(engage) == [{"$token": "abc123token", "$distinct_id": "anon-9", "$ip": "0", "$set": {"$name": "Bo"}}]


def test_verbose_failure_is_a_permanent_error(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/engage").respond_with_json({"status": 0, "error": "$distinct_id missing"})
    with pytest.raises(DeliveryError) as exc:
        MIXPANEL.action("identify_user").perform(SETTINGS, {"user_id": "u1", "traits": {}})
    assert not exc.value.retryable and "$distinct_id missing" in exc.value.message


def test_group_sets_the_group_profile(httpserver: HTTPServer, events: dict[str, Any]) -> None:
    httpserver.expect_request("/groups").respond_with_json({"status": 1, "error": None})
    payload = {**_mapped("group_identify_user", events["group"]), "group_key": "company_id"}
    MIXPANEL.action("group_identify_user").perform(SETTINGS, payload)
    (request,) = received(httpserver)
    assert request.path == "/groups" and request.args.to_dict() == {"verbose": "1"}
    assert body(request) == [{"$token": "abc123token", "$group_key": "company_id", "$group_id": "acme-inc",
                              "$set": {"name": "Acme Inc", "employees": 250, "industry": "Tools"}}]


def test_alias_creates_an_alias(httpserver: HTTPServer, events: dict[str, Any]) -> None:
    httpserver.expect_request("/track").respond_with_json({"status": 1, "error": None})
    MIXPANEL.action("alias").perform(SETTINGS, _mapped("alias", events["alias"]))
    assert body(received(httpserver)[0]) == [{"event": "$create_alias", "properties": {
        "distinct_id": "anon-7", "alias": "user-42", "token": "abc123token"}}]


def test_event_without_time_is_not_sent(httpserver: HTTPServer) -> None:
    with pytest.raises(PayloadError):
        MIXPANEL.action("track_event").perform(SETTINGS, {"event": "X", "distinct_id": "u", "time": "yesterday"})
    assert received(httpserver) == []


def test_region_picks_the_host(settings: Any) -> None:
    from destinations.catalog import mixpanel

    settings.DESTINATION_ENDPOINTS = {}
    assert mixpanel._base({"region": "eu"}) == "https://api-eu.mixpanel.com"
    assert mixpanel._base({"region": "in"}) == "https://api-in.mixpanel.com"
    assert mixpanel._base({}) == "https://api.mixpanel.com"


def test_credentials_ok_and_rejected(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/import").respond_with_json(
        {"code": 200, "num_records_imported": 0, "status": "OK"})
    httpserver.expect_ordered_request("/import").respond_with_json(
        {"code": 401, "error": "Invalid credentials", "status": "Unauthorized"}, status=401)
    assert MIXPANEL.check_credentials(SETTINGS) == (True, "Mixpanel accepted the credentials (HTTP 200).")
    ok, message = MIXPANEL.check_credentials({**SETTINGS, "api_secret": "wrong-secret"})
    assert not ok and "rejected the credentials" in message
    first, second = received(httpserver)
    assert body(first) == [] and first.args.to_dict() == {"strict": "1"}
    assert first.headers["Authorization"] == basic("mp-secret-value")
    assert second.headers["Authorization"] == basic("wrong-secret")


def test_project_token_is_validated() -> None:
    with pytest.raises(SettingsError) as exc:
        MIXPANEL.clean_settings({"project_token": "not a token!"})
    assert "project_token" in exc.value.errors
