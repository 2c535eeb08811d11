"""The outbound SSRF guard: user-supplied destination URLs that point inward are refused when the
destination is saved and again on every send (the host is re-resolved each time), unless
OUTBOUND_ALLOW_PRIVATE is on.

Names are not added to /etc/hosts here: literal addresses of every class (in the notations resolvers
accept) and the name "localhost" cover what a hostile DNS answer could return.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from pytest_httpserver import HTTPServer

from connections import services
from connections.models import Destination
from destinations import http
from destinations.catalog import get_definition
from destinations.errors import DeliveryError

INWARD_URLS = [
    "http://127.0.0.1/hook",  # loopback
    "http://127.8.9.10:8080/hook",  # the whole 127/8 is loopback
    "http://localhost/hook",  # a name resolving to loopback
    "http://10.1.2.3/hook",  # private
    "http://172.16.5.4/hook",  # private
    "http://192.168.1.20/hook",  # private
    "http://169.254.169.254/latest/meta-data/",  # link-local: cloud metadata
    "http://100.64.0.1/hook",  # shared address space (carrier-grade NAT, cloud internals)
    "http://0.0.0.0:8000/hook",  # unspecified: reaches local listeners on Linux
    "http://224.0.0.1/hook",  # multicast
    "http://240.0.0.1/hook",  # reserved
    "http://[::1]/hook",  # IPv6 loopback
    "http://[fe80::1]/hook",  # IPv6 link-local
    "http://[fd00::1]/hook",  # IPv6 unique local
    "http://[::ffff:127.0.0.1]/hook",  # IPv4-mapped loopback
    "http://[::ffff:169.254.169.254]/hook",  # IPv4-mapped metadata
    "http://[2002:7f00:1::]/hook",  # 6to4 wrapping 127.0.0.1
    "http://[64:ff9b::a9fe:a9fe]/hook",  # NAT64 wrapping 169.254.169.254
    "http://2130706433/hook",  # 127.0.0.1 as one decimal number
    "http://0x7f.1/hook",  # 127.0.0.1 in hex, short form
    "http://127.1/hook",  # 127.0.0.1, short form
    "http://017700000001/hook",  # 127.0.0.1 in octal
]


@pytest.fixture
def private_refused(settings: Any) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = False


@pytest.mark.parametrize("url", INWARD_URLS)
def test_check_url_refuses_inward_addresses(private_refused: None, url: str) -> None:
    with pytest.raises(http.UnsafeURL, match="private or local address"):
        http.check_url(url)


@pytest.mark.parametrize("url", ["http://8.8.8.8/hook", "https://1.1.1.1:8443/x", "http://[2606:4700:4700::1111]/"])
def test_check_url_allows_public_addresses(private_refused: None, url: str) -> None:
    http.check_url(url)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://127.0.0.1:6379/_INFO", "ftp://8.8.8.8/",
                                 "http:///nohost", "javascript:alert(1)"])
def test_check_url_refuses_other_schemes_and_hostless_urls(private_refused: None, url: str) -> None:
    with pytest.raises(http.UnsafeURL, match="http:// or https://"):
        http.check_url(url)


@pytest.mark.parametrize("url", ["http://127.0.0.1/hook", "http://localhost/hook", "http://10.0.0.1/x"])
def test_check_url_allows_inward_addresses_when_configured(settings: Any, url: str) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = True
    http.check_url(url)


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/hook", "http://169.254.169.254/", "http://localhost/x"])
def test_webhook_with_inward_url_is_refused_at_save_time(private_refused: None, workspace: Any, url: str) -> None:
    with pytest.raises(ValidationError) as caught:
        services.create_destination(workspace, name="Sneaky", kind="webhook", settings={"url": url})
    assert "settings.url" in caught.value.message_dict
    assert not Destination.objects.filter(workspace=workspace).exists()


def test_management_api_refuses_inward_webhook_url_with_a_clear_error(private_refused: None, owner_api: Any) -> None:
    response = owner_api.post(
        "/api/workspaces/acme/destinations/",
        {"kind": "webhook", "name": "Metadata", "settings": {"url": "http://169.254.169.254/latest/"}},
        format="json",
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_request"
    assert "169.254.169.254" in body["message"]
    assert not Destination.objects.exists()


def test_changing_a_saved_webhook_to_an_inward_url_is_refused(settings: Any, workspace: Any) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = False
    destination = services.create_destination(workspace, name="Hook", kind="webhook",
                                              settings={"url": "https://8.8.8.8/hook"})
    with pytest.raises(ValidationError):
        services.update_destination(destination, settings={"url": "http://[::ffff:10.0.0.1]/hook"})
    destination.refresh_from_db()
    assert destination.settings["url"] == "https://8.8.8.8/hook"


def test_send_time_guard_refuses_an_address_allowed_when_saved(settings: Any, workspace: Any,
                                                               httpserver: HTTPServer) -> None:
    """A destination saved while private addresses were allowed (or whose name later resolves inward)
    is checked again when it sends: nothing reaches the inward server and the failure is permanent."""
    httpserver.expect_request("/hook").respond_with_json({"ok": True})
    settings.OUTBOUND_ALLOW_PRIVATE = True
    destination = services.create_destination(workspace, name="Hook", kind="webhook",
                                              settings={"url": httpserver.url_for("/hook")})
    settings.OUTBOUND_ALLOW_PRIVATE = False
    action = get_definition("webhook").action("send")
    with pytest.raises(DeliveryError) as caught:
        action.perform(destination.settings, {"data": {"type": "track", "event": "Ping"}})
    assert caught.value.retryable is False
    assert "private or local address" in caught.value.message
    assert httpserver.log == []


def test_send_time_guard_lets_through_when_configured(settings: Any, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_json({"ok": True})
    settings.OUTBOUND_ALLOW_PRIVATE = True
    exchange = http.send("POST", httpserver.url_for("/hook"), json={"a": 1}, user_url=True)
    assert exchange.status == 200
    assert len(httpserver.log) == 1


def test_redirects_are_not_followed(settings: Any, httpserver: HTTPServer) -> None:
    """A redirect could point anywhere (e.g. the metadata service): it is a failed delivery, not followed."""
    settings.OUTBOUND_ALLOW_PRIVATE = True
    httpserver.expect_request("/hook").respond_with_data(
        "", status=302, headers={"Location": "http://169.254.169.254/latest/meta-data/"})
    with pytest.raises(DeliveryError) as caught:
        http.send("POST", httpserver.url_for("/hook"), json={"a": 1}, user_url=True)
    assert caught.value.status == 302
    assert caught.value.retryable is False
    assert len(httpserver.log) == 1
