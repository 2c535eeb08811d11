"""The connection goes to the address the SSRF guard approved: a user-supplied name is resolved once per
send, so a DNS server that answers "public" to the check and "loopback" to the connection (DNS rebinding)
reaches nothing inward. Host header, TLS SNI and certificate verification stay on the name.

Names under .test are resolved by a stand-in for `socket.getaddrinfo` (the resolver is the boundary
under test); every other lookup, and every connection, is real.
"""

from __future__ import annotations

import datetime
import socket
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pytest_httpserver import HTTPServer

from destinations import http
from destinations.errors import DeliveryError

PUBLIC_IP = "93.184.215.14"  # a globally routable address: the answer that passes the check


class FakeDNS:
    """socket.getaddrinfo for names under .test: each name answers from its list of answers in turn (the
    last one repeats); records every lookup of such a name."""

    def __init__(self, real: Callable[..., Any]) -> None:
        self.real = real
        self.answers: dict[str, list[list[str]]] = {}
        self.lookups: list[str] = []

    def __call__(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if not name.endswith(".test"):
            return self.real(host, port, *args, **kwargs)
        self.lookups.append(name)
        answers = self.answers.get(name)
        if not answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        addresses = answers.pop(0) if len(answers) > 1 else answers[0]
        return [info for address in addresses for info in self.real(address, port, *args, **kwargs)]


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> FakeDNS:
    fake = FakeDNS(socket.getaddrinfo)
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return fake


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every TCP connect this process makes, in order. A connect to PUBLIC_IP is refused here rather than
    sent out: tests touch no network beyond loopback."""
    made: list[tuple[str, int]] = []
    real_connect = socket.socket.connect

    def connect(sock: socket.socket, address: Any) -> None:
        made.append((address[0], address[1]))
        if address[0] == PUBLIC_IP:
            raise ConnectionRefusedError(111, "Connection refused")
        real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return made


@pytest.fixture(autouse=True)
def _fresh_pools() -> Iterator[None]:
    http.reset_pools()
    yield
    http.reset_pools()


def test_a_name_that_rebinds_to_loopback_after_the_check_reaches_nothing_inward(
        settings: Any, httpserver: HTTPServer, dns: FakeDNS, connects: list[tuple[str, int]]) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = False
    httpserver.expect_request("/hook").respond_with_data("inward server reached")
    dns.answers["rebind.test"] = [[PUBLIC_IP], ["127.0.0.1"]]  # public for the check, loopback afterwards

    with pytest.raises(DeliveryError) as caught:
        http.send("POST", f"http://rebind.test:{httpserver.port}/hook", json={"a": 1}, user_url=True)

    assert httpserver.log == []
    assert dns.lookups == ["rebind.test"]  # the check's lookup was the only one
    assert connects == [(PUBLIC_IP, httpserver.port)]  # the connection went where the check said
    assert caught.value.retryable is True
    assert caught.value.message.startswith("Connection error: Connection refused by rebind.test on port")


def test_the_request_goes_to_the_resolved_address_and_names_the_host(
        settings: Any, httpserver: HTTPServer, dns: FakeDNS) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = True  # the server is on loopback
    httpserver.expect_request("/hook", query_string="a=1").respond_with_data("ok")
    dns.answers["hooks.test"] = [["127.0.0.1"]]

    for _ in range(2):
        exchange = http.send("POST", f"http://hooks.test:{httpserver.port}/hook?a=1", json={}, user_url=True)
        assert exchange.status == 200 and exchange.response_body == "ok"

    assert [r.headers["Host"] for r, _ in httpserver.log] == [f"hooks.test:{httpserver.port}"] * 2
    assert dns.lookups == ["hooks.test", "hooks.test"]  # once per send, none by the connection


def test_an_address_that_refuses_gives_way_to_the_next_approved_one(
        settings: Any, httpserver: HTTPServer, dns: FakeDNS, connects: list[tuple[str, int]]) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = True
    httpserver.expect_request("/hook").respond_with_data("ok")
    dns.answers["two.test"] = [["127.0.0.2", "127.0.0.1"]]  # nothing listens on 127.0.0.2

    exchange = http.send("POST", f"http://two.test:{httpserver.port}/hook", json={}, user_url=True)

    assert exchange.status == 200
    assert connects == [("127.0.0.2", httpserver.port), ("127.0.0.1", httpserver.port)]
    assert dns.lookups == ["two.test"]


# --- TLS: SNI and certificate verification on the name ----------------------------------------------

def _certificates(tmp_path: Path, name: str) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for `name` signed by it: (ca.pem, cert.pem, key.pem)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pipelines test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


@pytest.fixture
def tls_server(tmp_path: Path, settings: Any) -> Iterator[tuple[HTTPServer, list[str | None]]]:
    """An HTTPS server on loopback with a certificate for secure.test (our CA trusted through
    OUTBOUND_CA_BUNDLE), recording the SNI name of every handshake."""
    ca, cert, key = _certificates(tmp_path, "secure.test")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server_names: list[str | None] = []
    context.sni_callback = lambda sock, name, ctx: server_names.append(name)
    settings.OUTBOUND_CA_BUNDLE = str(ca)
    settings.OUTBOUND_ALLOW_PRIVATE = True
    http.reset_pools()
    server = HTTPServer(host="127.0.0.1", port=0, ssl_context=context)
    server.start()
    yield server, server_names
    server.stop()


def test_tls_uses_the_name_for_sni_and_certificate_checks(tls_server, dns: FakeDNS) -> None:
    server, server_names = tls_server
    server.expect_request("/hook").respond_with_data("secure ok")
    dns.answers["secure.test"] = [["127.0.0.1"]]

    exchange = http.send("POST", f"https://secure.test:{server.port}/hook", json={}, user_url=True)

    assert exchange.response_body == "secure ok"
    assert server_names == ["secure.test"]
    assert server.log[0][0].headers["Host"] == f"secure.test:{server.port}"


def test_tls_refuses_a_certificate_for_another_name_at_the_pinned_address(tls_server, dns: FakeDNS) -> None:
    server, _ = tls_server
    server.expect_request("/hook").respond_with_data("must not be read")
    dns.answers["impostor.test"] = [["127.0.0.1"]]  # the same address, but the certificate says secure.test

    with pytest.raises(DeliveryError) as caught:
        http.send("POST", f"https://impostor.test:{server.port}/hook", json={}, user_url=True)

    assert server.log == []
    assert caught.value.message.startswith("Connection error")
    assert "impostor.test" in str(caught.value.__cause__)
