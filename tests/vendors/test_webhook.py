"""Webhook: the exact requests a local server receives, signing, batching and the SSRF guard."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import orjson
import pytest
from pytest_httpserver import HTTPServer

from destinations.catalog import get_definition
from destinations.errors import DeliveryError, SettingsError

from .conftest import body, received

WEBHOOK = get_definition("webhook")
SEND = WEBHOOK.action("send")


@pytest.fixture
def loopback(settings: Any) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = True


def test_one_event_is_posted_as_json_with_custom_headers(loopback: None, httpserver: HTTPServer,
                                                         events: dict[str, Any]) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    settings = WEBHOOK.clean_settings({"url": httpserver.url_for("/hook"), "headers": {"X-Token": "s3cret-token"}})
    exchange = SEND.perform(settings, {"data": events["track"]})
    (request,) = received(httpserver)
    assert request.method == "POST" and request.path == "/hook"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Token"] == "s3cret-token"
    assert "X-Signature" not in request.headers
    assert body(request) == events["track"]
    assert exchange.status == 200
    assert exchange.request_headers["X-Token"] == "[redacted]"


def test_signature_is_hmac_sha1_of_the_exact_body(loopback: None, httpserver: HTTPServer,
                                                  events: dict[str, Any]) -> None:
    httpserver.expect_request("/signed", method="PUT").respond_with_data("ok")
    settings = WEBHOOK.clean_settings({"url": httpserver.url_for("/signed"), "method": "PUT",
                                       "shared_secret": "shh-its-secret"})
    SEND.perform(settings, {"data": events["identify"]})
    (request,) = received(httpserver)
    raw = request.get_data()
    assert request.method == "PUT"
    assert request.headers["X-Signature"] == hmac.new(b"shh-its-secret", raw, hashlib.sha1).hexdigest()
    assert orjson.loads(raw) == events["identify"]


def test_batch_is_one_json_array_signed_as_a_whole(loopback: None, httpserver: HTTPServer,
                                                   events: dict[str, Any]) -> None:
    httpserver.expect_request("/batch", method="PATCH").respond_with_data("ok")
    settings = WEBHOOK.clean_settings({"url": httpserver.url_for("/batch"), "method": "PATCH", "batch_size": 3,
                                       "shared_secret": "batch-secret"})
    payloads = [{"data": events[k]} for k in ("track", "page", "alias")]
    result = SEND.perform_batch(settings, payloads)
    (request,) = received(httpserver)
    assert body(request) == [events["track"], events["page"], events["alias"]]
    assert request.headers["X-Signature"] == hmac.new(b"batch-secret", request.get_data(), hashlib.sha1).hexdigest()
    assert result.item_errors == {}


def test_server_errors_are_retryable_and_client_errors_are_not(loopback: None, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/busy").respond_with_data("later", status=503, headers={"Retry-After": "30"})
    httpserver.expect_request("/gone").respond_with_data("no", status=410)
    with pytest.raises(DeliveryError) as busy:
        SEND.perform({"url": httpserver.url_for("/busy")}, {"data": {"a": 1}})
    assert busy.value.retryable and busy.value.status == 503 and busy.value.retry_after == 30
    with pytest.raises(DeliveryError) as gone:
        SEND.perform({"url": httpserver.url_for("/gone")}, {"data": {"a": 1}})
    assert not gone.value.retryable and gone.value.status == 410


def test_private_url_is_refused_at_save(settings: Any, httpserver: HTTPServer) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = False
    for url in (httpserver.url_for("/hook"), "http://10.0.0.5/hook", "http://[::1]/hook", "http://169.254.169.254/"):
        with pytest.raises(SettingsError) as exc:
            WEBHOOK.clean_settings({"url": url})
        assert "private or local" in exc.value.errors["url"]


def test_private_url_is_refused_at_send(settings: Any, httpserver: HTTPServer) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = False
    with pytest.raises(DeliveryError) as exc:
        SEND.perform({"url": httpserver.url_for("/hook")}, {"data": {"a": 1}})
    assert not exc.value.retryable and "private or local" in exc.value.message
    assert received(httpserver) == []


@pytest.mark.parametrize(("values", "field"), [
    ({"batch_size": 0}, "batch_size"),
    ({"batch_size": 5000}, "batch_size"),
    ({"headers": {"Bad Header": "x"}}, "headers"),
    ({"headers": {"Content-Length": "1"}}, "headers"),
    ({"method": "DELETE"}, "method"),
])
def test_bad_settings_are_rejected_with_the_field(loopback: None, values: dict[str, Any], field: str) -> None:
    with pytest.raises(SettingsError) as exc:
        WEBHOOK.clean_settings({"url": "http://127.0.0.1:9/hook", **values})
    assert field in exc.value.errors


def test_credentials_test_reports_the_answer(loopback: None, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/ok").respond_with_data("ok")
    httpserver.expect_request("/denied").respond_with_data("denied", status=401)
    ok, message = WEBHOOK.check_credentials({"url": httpserver.url_for("/ok")})
    assert ok and "200" in message
    ok, message = WEBHOOK.check_credentials({"url": httpserver.url_for("/denied")})
    assert not ok and "401" in message
