"""Slack: the exact message a local incoming-webhook server receives, and the SSRF guard."""

from __future__ import annotations

from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from destinations.catalog import get_definition
from destinations.errors import DeliveryError, PayloadError, SettingsError
from destinations.mapping import apply_fields

from .conftest import body, received

SLACK = get_definition("slack")
POST = SLACK.action("post_message")
HOOK = "/services/T000/B000/XXXXSECRET"


@pytest.fixture
def loopback(settings: Any) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = True


def test_templated_message_is_posted(loopback: None, httpserver: HTTPServer, events: dict[str, Any]) -> None:
    httpserver.expect_request(HOOK, method="POST").respond_with_data("ok")
    settings = SLACK.clean_settings({"webhook_url": httpserver.url_for(HOOK)})
    payload = apply_fields(POST, POST.default_mapping(), events["track"])
    exchange = POST.perform(settings, payload)
    (request,) = received(httpserver)
    assert request.method == "POST" and request.path == HOOK
    assert request.headers["Content-Type"] == "application/json"
    assert body(request) == {"text": "Order Completed by user-42"}
    assert "XXXXSECRET" not in exchange.url


def test_custom_template_and_legacy_overrides(loopback: None, httpserver: HTTPServer, events: dict[str, Any]) -> None:
    httpserver.expect_request(HOOK).respond_with_data("ok")
    settings = SLACK.clean_settings({"webhook_url": httpserver.url_for(HOOK), "channel": "#sales",
                                     "username": "Pipelines", "icon_emoji": ":moneybag:"})
    mapping = {"text": {"@template": ":tada: {{traits.email}} paid {{properties.total}} {{properties.currency}}"},
               "channel": "#big-orders"}
    event = {**events["track"], "traits": {"email": "ada@example.com"}}
    POST.perform(settings, apply_fields(POST, mapping, event))
    assert body(received(httpserver)[0]) == {
        "text": ":tada: ada@example.com paid 99.5 EUR", "channel": "#big-orders", "username": "Pipelines",
        "icon_emoji": ":moneybag:",
    }


def test_empty_text_is_not_sent(loopback: None, httpserver: HTTPServer) -> None:
    with pytest.raises(PayloadError):
        POST.perform({"webhook_url": httpserver.url_for(HOOK)}, {"text": "   "})
    assert received(httpserver) == []


def test_archived_channel_is_a_permanent_failure(loopback: None, httpserver: HTTPServer) -> None:
    httpserver.expect_request(HOOK).respond_with_data("channel_is_archived", status=410)
    with pytest.raises(DeliveryError) as exc:
        POST.perform({"webhook_url": httpserver.url_for(HOOK)}, {"text": "hi"})
    assert not exc.value.retryable and exc.value.exchange.response_body == "channel_is_archived"


def test_private_hook_is_refused_at_save_and_at_send(settings: Any, httpserver: HTTPServer) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = False
    with pytest.raises(SettingsError) as exc:
        SLACK.clean_settings({"webhook_url": httpserver.url_for(HOOK)})
    assert "private or local" in exc.value.errors["webhook_url"]
    with pytest.raises(DeliveryError) as sent:
        POST.perform({"webhook_url": httpserver.url_for(HOOK)}, {"text": "hi"})
    assert not sent.value.retryable
    assert received(httpserver) == []


def test_credentials_ok_and_revoked(loopback: None, httpserver: HTTPServer) -> None:
    httpserver.expect_request(HOOK).respond_with_data("no_text", status=400)
    httpserver.expect_request("/services/revoked").respond_with_data("invalid_token", status=403)
    assert SLACK.check_credentials({"webhook_url": httpserver.url_for(HOOK)})[0]
    ok, message = SLACK.check_credentials({"webhook_url": httpserver.url_for("/services/revoked")})
    assert not ok and "invalid_token" in message
    assert body(received(httpserver)[0]) == {}
