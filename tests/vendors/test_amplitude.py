"""Amplitude: the exact HTTP V2, Batch and Identify API requests a local server receives."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import orjson
import pytest
from pytest_httpserver import HTTPServer

from destinations.catalog import get_definition
from destinations.errors import DeliveryError, PayloadError
from destinations.mapping import apply_fields

from .conftest import basic, body, received

AMPLITUDE = get_definition("amplitude")
SETTINGS = {"api_key": "amp-api-key", "secret_key": "amp-secret-key", "region": "us", "use_batch_api": False}
OK = {"code": 200, "events_ingested": 1, "payload_size_bytes": 100, "server_upload_time": 1714564800000}


@pytest.fixture(autouse=True)
def amplitude_at(settings: Any, httpserver: HTTPServer) -> None:
    settings.DESTINATION_ENDPOINTS = {"amplitude": httpserver.url_for("/"),
                                      "amplitude_dashboard": httpserver.url_for("/")}


def _mapped(action: str, event: dict[str, Any]) -> dict[str, Any]:
    action_def = AMPLITUDE.action(action)
    return apply_fields(action_def, action_def.default_mapping(), event)


def test_track_goes_to_http_v2(httpserver: HTTPServer, events: dict[str, Any]) -> None:
    httpserver.expect_request("/2/httpapi", method="POST").respond_with_json(OK)
    AMPLITUDE.action("log_event").perform(SETTINGS, _mapped("log_event", events["track"]))
    (request,) = received(httpserver)
    assert request.method == "POST" and request.path == "/2/httpapi" and request.args.to_dict() == {}
    assert request.headers["Content-Type"] == "application/json"
    assert body(request) == {"api_key": "amp-api-key", "events": [{
        "user_id": "user-42", "device_id": "anon-7", "event_type": "Order Completed", "time": 1714564800000,
        "insert_id": "msg-track-1",
        "event_properties": {"order_id": "o-1001", "total": 99.5, "currency": "EUR", "coupon": None,
                             "products": [{"sku": "A1", "quantity": 2}], "gift": False},
        "platform": "Web", "os_name": "Mac OS X", "os_version": "14.4", "language": "en-GB",
        "library": "analytics.js", "ip": "203.0.113.7",
    }]}


def test_batch_api_and_options(httpserver: HTTPServer, events: dict[str, Any]) -> None:
    httpserver.expect_request("/batch").respond_with_json(OK)
    settings = {**SETTINGS, "use_batch_api": True, "min_id_length": 1}
    payloads = [_mapped("log_event", events["track"]), _mapped("log_page_view", events["page"]),
                _mapped("log_screen_view", events["screen"])]
    AMPLITUDE.action("log_event").perform_batch(settings, payloads)
    (request,) = received(httpserver)
    sent = body(request)
    assert request.path == "/batch" and sent["options"] == {"min_id_length": 1}
    assert [e["event_type"] for e in sent["events"]] == ["Order Completed", "Viewed Pricing", "Viewed Home"]
    screen = sent["events"][2]
    assert screen["device_id"] == "device-123" and screen["platform"] == "ios"
    assert screen["device_model"] == "iPhone15,2" and screen["device_manufacturer"] == "Apple"
    assert screen["app_version"] == "3.2.1" and screen["ip"] == "203.0.113.8"


def test_rejected_events_fail_and_the_rest_are_retried(httpserver: HTTPServer, events: dict[str, Any]) -> None:
    httpserver.expect_request("/2/httpapi").respond_with_json({
        "code": 400, "error": "Request missing required field",
        "events_with_invalid_fields": {"time": [2]}, "events_with_missing_fields": {"event_type": [0]},
    }, status=400)
    payloads = [_mapped("log_event", events["track"])] * 3
    result = AMPLITUDE.action("log_event").perform_batch(SETTINGS, payloads)
    assert set(result.item_errors) == {0, 1, 2}
    assert not result.item_errors[0].retryable and "missing field event_type" in result.item_errors[0].message
    assert not result.item_errors[2].retryable and "invalid field time" in result.item_errors[2].message
    assert result.item_errors[1].retryable


def test_whole_request_errors_apply_to_every_event(httpserver: HTTPServer, events: dict[str, Any]) -> None:
    httpserver.expect_request("/2/httpapi").respond_with_json({"code": 400, "error": "Invalid API key"}, status=400)
    with pytest.raises(DeliveryError) as exc:
        AMPLITUDE.action("log_event").perform_batch(SETTINGS, [_mapped("log_event", events["track"])])
    assert not exc.value.retryable and exc.value.status == 400
    assert "amp-api-key" not in exc.value.exchange.request_body


def test_throttling_is_retryable(httpserver: HTTPServer, events: dict[str, Any]) -> None:
    httpserver.expect_request("/2/httpapi").respond_with_json(
        {"code": 429, "error": "Too many requests for some devices and users", "throttled_events": [0]}, status=429)
    with pytest.raises(DeliveryError) as exc:
        AMPLITUDE.action("log_event").perform(SETTINGS, _mapped("log_event", events["track"]))
    assert exc.value.retryable


def test_event_without_any_id_is_not_sent(httpserver: HTTPServer) -> None:
    with pytest.raises(PayloadError, match="missing user_id and device_id"):
        AMPLITUDE.action("log_event").perform(SETTINGS, {"event_type": "X"})
    assert received(httpserver) == []


def test_identify_posts_a_form_to_the_identify_api(httpserver: HTTPServer, events: dict[str, Any]) -> None:
    httpserver.expect_request("/identify", method="POST").respond_with_data("success")
    payloads = [_mapped("identify_user", events["identify"]), {"device_id": "device-9", "paying": True}]
    AMPLITUDE.action("identify_user").perform_batch(SETTINGS, payloads)
    (request,) = received(httpserver)
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    form = parse_qs(request.get_data(as_text=True))
    assert form["api_key"] == ["amp-api-key"]
    assert orjson.loads(form["identification"][0]) == [
        {"user_id": "user-42", "device_id": "anon-7", "user_properties": events["identify"]["traits"],
         "platform": "Web", "os_name": "Mac OS X", "os_version": "14.4", "language": "en-GB",
         "library": "analytics.js"},
        {"device_id": "device-9", "paying": True},
    ]


def test_credentials_ok_and_rejected(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/api/2/usersearch", method="GET").respond_with_json({"matches": []})
    httpserver.expect_ordered_request("/api/2/usersearch").respond_with_data("Invalid API key", status=401)
    assert AMPLITUDE.check_credentials(SETTINGS)[0]
    ok, message = AMPLITUDE.check_credentials({**SETTINGS, "secret_key": "wrong"})
    assert not ok and "rejected" in message
    first, second = received(httpserver)
    assert first.args.to_dict() == {"user": "testUser@example.com"}
    assert first.headers["Authorization"] == basic("amp-api-key", "amp-secret-key")
    assert second.headers["Authorization"] == basic("amp-api-key", "wrong")
    ok, message = AMPLITUDE.check_credentials({**SETTINGS, "secret_key": None})
    assert not ok and "secret key" in message


def test_region_picks_the_host(settings: Any) -> None:
    from destinations.catalog import amplitude

    settings.DESTINATION_ENDPOINTS = {}
    assert amplitude._base({"region": "eu"}) == "https://api.eu.amplitude.com"
    assert amplitude._base({"region": "us"}) == "https://api2.amplitude.com"
