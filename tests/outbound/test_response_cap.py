"""Responses are read streamed and capped (OUTBOUND_MAX_RESPONSE_BYTES, after decompression): a huge or
gzip-bombed body from a vendor or webhook is a clear delivery error, never inflated in a shared worker."""

from __future__ import annotations

import gzip
import http.server
import struct
import threading
import tracemalloc
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import timezone
from pytest_httpserver import HTTPServer
from werkzeug import Response

from connections import services
from destinations import http as outbound
from destinations.errors import DeliveryError
from destinations.models import Delivery
from ingest.models import Event
from ingest.services import store_events
from tests.helpers import wait_for

GIB = 1 << 30
MIB = 1 << 20


def gzip_bomb(total: int = GIB, chunk: int = MIB) -> Iterator[bytes]:
    """A valid gzip stream of `total` zero bytes, produced as it is sent (about 1 KB per MiB), never
    held whole. After a full flush the compressor starts afresh, so every later MiB compresses to the
    same bytes: compressing 1 GiB for real would take the machine ~15 s."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(chunk)
    yield compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)  # gzip header + the first MiB
    block = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    for _ in range(total // chunk - 1):
        yield block
    crc = 0
    for _ in range(total // chunk):
        crc = zlib.crc32(zeros, crc)
    yield b"\x03\x00" + struct.pack("<II", crc, total & 0xFFFFFFFF)  # final empty block, gzip trailer


def test_the_bomb_is_what_it_claims() -> None:
    assert gzip.decompress(b"".join(gzip_bomb(total=8 * MIB))) == bytes(8 * MIB)


class BombServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _BombHandler)
        self.requests = 0
        self.finished = 0  # bodies sent to the end: the client read (or buffered) all of it

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


class _BombHandler(http.server.BaseHTTPRequestHandler):
    server: BombServer

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.requests += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Connection", "close")
        self.end_headers()
        try:
            for piece in gzip_bomb():
                self.wfile.write(piece)
        except (BrokenPipeError, ConnectionResetError):
            return  # the client stopped reading: what it should do
        self.server.finished += 1

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def bomb_server() -> Iterator[BombServer]:
    server = BombServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.usefixtures("celery_worker")
def test_a_gzip_bomb_from_a_webhook_is_a_delivery_error_and_never_inflated(workspace, bomb_server, settings):
    settings.OUTBOUND_ALLOW_PRIVATE = True
    from destinations.fanout import clear_routing_cache

    clear_routing_cache()
    source, _ = services.create_source(workspace, name="Website", kind="javascript")
    services.create_destination(workspace, name="Bomb", kind="webhook", settings={"url": bomb_server.url},
                                sources=[source])

    tracemalloc.start()
    try:
        [event_id] = store_events(source, [{"type": "track", "event": "Signed Up", "userId": "u-1",
                                            "messageId": "bomb-1", "timestamp": "2024-05-01T12:00:00.000Z"}],
                                  timezone.now())
        event = Event.objects.get(id=event_id)
        row = wait_for(lambda: Delivery.objects.filter(event=event).exclude(status="pending").first(),
                       timeout=60, what="the delivery's outcome")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert bomb_server.requests == 1
    assert row.status == "failed"  # a 2xx we cannot read is not retried (it would only be sent again)
    assert row.last_error == (f"The response from 127.0.0.1 (HTTP 200) is larger than "
                              f"OUTBOUND_MAX_RESPONSE_BYTES ({MIB} bytes)")
    assert row.response["status"] == 200
    assert len(row.response["body"]) < 200  # a note, not the body
    # The whole process, worker threads included, allocated a few MiB at most while 1 GiB was on offer.
    assert peak < 48 * MIB, f"peak traced memory {peak / MIB:.0f} MiB"


def test_a_plain_response_over_the_cap_is_refused_and_the_next_request_works(httpserver: HTTPServer,
                                                                           settings) -> None:
    settings.OUTBOUND_MAX_RESPONSE_BYTES = 1000
    httpserver.expect_ordered_request("/big").respond_with_data("x" * 5000)
    httpserver.expect_ordered_request("/small").respond_with_data("y" * 1000)
    with pytest.raises(DeliveryError) as info:
        outbound.send("POST", httpserver.url_for("/big"), json={})
    assert info.value.retryable is False
    assert "larger than OUTBOUND_MAX_RESPONSE_BYTES (1000 bytes)" in info.value.message
    # The oversized response's connection was dropped, so its unread rest cannot poison the next one.
    assert outbound.send("POST", httpserver.url_for("/small"), json={}).response_body == "y" * 1000


def test_an_oversized_error_response_keeps_its_retry_decision(httpserver: HTTPServer, settings) -> None:
    settings.OUTBOUND_MAX_RESPONSE_BYTES = 100
    httpserver.expect_request("/busy").respond_with_data("z" * 500, status=503)
    with pytest.raises(DeliveryError) as info:
        outbound.send("POST", httpserver.url_for("/busy"), json={})
    assert info.value.retryable is True and info.value.status == 503


@pytest.mark.parametrize("encoding, encode", [
    ("gzip", gzip.compress),
    ("deflate", zlib.compress),
    ("deflate", lambda data: zlib.compress(data, wbits=-zlib.MAX_WBITS)),  # raw deflate, as some servers send
    ("gzip", lambda data: gzip.compress(data[:10]) + gzip.compress(data[10:])),  # two gzip members
], ids=["gzip", "zlib-deflate", "raw-deflate", "gzip-members"])
def test_compressed_responses_within_the_cap_are_decoded(httpserver: HTTPServer, encoding, encode) -> None:
    body = b'{"ok": true, "note": "' + b"a" * 3000 + b'"}'
    httpserver.expect_request("/hook").respond_with_response(
        Response(encode(body), headers={"Content-Encoding": encoding, "Content-Type": "application/json"}))
    exchange = outbound.send("POST", httpserver.url_for("/hook"), json={})
    assert exchange.json() == {"ok": True, "note": "a" * 3000}


def test_a_response_exactly_at_the_cap_is_read(httpserver: HTTPServer, settings) -> None:
    settings.OUTBOUND_MAX_RESPONSE_BYTES = 2048
    httpserver.expect_request("/hook").respond_with_response(
        Response(gzip.compress(b"q" * 2048), headers={"Content-Encoding": "gzip"}))
    assert outbound.send("POST", httpserver.url_for("/hook"), json={}).response_body == "q" * 2048


def test_a_corrupt_gzip_body_is_a_retryable_connection_error(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook").respond_with_response(
        Response(b"\x1f\x8b\x08\x00garbage-not-gzip", headers={"Content-Encoding": "gzip"}))
    with pytest.raises(DeliveryError) as info:
        outbound.send("POST", httpserver.url_for("/hook"), json={})
    assert info.value.retryable is True
    assert info.value.message.startswith("Connection error")
