"""Outbound requests honour the standard proxy variables (HTTP_PROXY, HTTPS_PROXY, NO_PROXY), read once
per host, as operators behind an egress proxy expect."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from destinations import http


@pytest.fixture
def proxy_env(monkeypatch: pytest.MonkeyPatch, httpserver: HTTPServer, settings: Any) -> Iterator[HTTPServer]:
    settings.OUTBOUND_ALLOW_PRIVATE = True
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", httpserver.url_for("/").rstrip("/"))
    http._proxy_for.cache_clear()
    yield httpserver
    http._proxy_for.cache_clear()


def test_requests_go_through_the_configured_proxy(proxy_env: HTTPServer) -> None:
    proxy_env.expect_request("/hook", method="POST").respond_with_data("via proxy")
    exchange = http.send("POST", "http://destination.example/hook", json={"a": 1})
    assert exchange.status == 200 and exchange.response_body == "via proxy"
    [(request, _)] = proxy_env.log
    assert request.headers["Host"] == "destination.example"  # the proxy was asked for the real host
    assert request.get_json() == {"a": 1}


def test_no_proxy_hosts_are_reached_directly(proxy_env: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    direct = HTTPServer(host="127.0.0.1")
    direct.start()
    try:
        direct.expect_request("/hook").respond_with_data("direct")
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        http._proxy_for.cache_clear()
        exchange = http.send("POST", direct.url_for("/hook"), json={})
        assert exchange.response_body == "direct"
        assert proxy_env.log == []
    finally:
        direct.stop()
