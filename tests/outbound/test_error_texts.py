"""The outbound error says what happened: a name that does not resolve, a refused connection, a connect or a
read timeout, a refused credential. Driven through real sockets on loopback; the resolver is replaced only
where a DNS failure is needed (no network here)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from connections.views.wizard import run_credentials_test
from destinations import http
from destinations.catalog import get_definition
from destinations.errors import DeliveryError

CIO = {"site_id": "site-1", "api_key": "key-123456", "region": "us"}


@pytest.fixture(autouse=True)
def _fresh_pools() -> Iterator[None]:
    http.reset_pools()
    yield
    http.reset_pools()


def test_a_dns_failure_says_the_name_could_not_be_resolved(monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    settings.DESTINATION_ENDPOINTS = {"customerio": "https://track.cio-nowhere.test"}

    def no_such_name(host: str, *args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_name)
    ok, message = run_credentials_test(get_definition("customerio"), CIO)
    assert ok is False
    assert message == ("Could not reach Customer.io: Connection error: the name track.cio-nowhere.test could not "
                       "be resolved (DNS lookup failed: Name or service not known)")
    assert "Timed out" not in message


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_refused_connection_says_refused(settings: Any) -> None:
    port = _closed_port()
    settings.DESTINATION_ENDPOINTS = {"customerio": f"http://127.0.0.1:{port}"}
    ok, message = run_credentials_test(get_definition("customerio"), CIO)
    assert ok is False
    assert message == (f"Could not reach Customer.io: Connection error: Connection refused by 127.0.0.1 on port "
                       f"{port} (nothing accepts connections there)")


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_a_read_timeout_says_it_connected_but_got_no_answer(silent_server: int, settings: Any) -> None:
    settings.OUTBOUND_READ_TIMEOUT = 0.3
    with pytest.raises(DeliveryError) as caught:
        http.send("POST", f"http://127.0.0.1:{silent_server}/hook", json={})
    assert caught.value.retryable is True
    assert caught.value.message == ("Timed out waiting for the response from 127.0.0.1 (connected, but no answer "
                                    "within 0.3 s)")


def test_a_connect_timeout_says_timed_out_connecting(monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    port = _closed_port()

    def hang(sock: socket.socket, address: Any) -> None:
        raise TimeoutError("timed out")  # what the socket raises when the connect timeout passes

    monkeypatch.setattr(socket.socket, "connect", hang)
    with pytest.raises(DeliveryError) as caught:
        http.send("POST", f"http://127.0.0.1:{port}/hook", json={})
    assert caught.value.message == f"Timed out connecting to 127.0.0.1 on port {port} (no answer within 5 s)"


def test_a_401_says_the_credentials_were_refused(httpserver: HTTPServer, settings: Any) -> None:
    httpserver.expect_request("/api/v1/accounts/region").respond_with_data("Unauthorized", status=401)
    settings.DESTINATION_ENDPOINTS = {"customerio": httpserver.url_for("")}
    assert run_credentials_test(get_definition("customerio"), CIO) == (False, "Invalid Site ID or API key")
    with pytest.raises(DeliveryError) as caught:
        http.send("GET", httpserver.url_for("/api/v1/accounts/region"))
    assert caught.value.message == (
        "HTTP 401 from localhost: the credentials were refused (check the API key or token)")
    assert caught.value.retryable is False
