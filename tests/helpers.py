"""Small test utilities shared by every test package."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from django.test import Client
    from rest_framework.test import APIClient

    from destinations.delivery import DeliverResult

T = TypeVar("T")


def wait_for(condition: Callable[[], T], *, timeout: float = 15.0, interval: float = 0.05, what: str = "") -> T:
    """Poll `condition` until it returns something truthy, and return that; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}")
        pause.wait(interval)


def send_queued(**filters: object) -> DeliverResult:
    """Send, inline, the first attempts fan-out left queued (every DeliveryChunk, or those matching
    `filters`), exactly as a delivery worker's task would; return its result."""
    from destinations import delivery
    from destinations.models import DeliveryChunk

    return delivery.deliver_chunks(list(DeliveryChunk.objects.filter(**filters).order_by("id")
                                        .values_list("id", flat=True)))


def api_client_for(user: Any) -> APIClient:
    """A management API client authenticated with `user`'s token (created if they have none)."""
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def browser_for(user: Any) -> Client:
    """A Django test client logged in as `user` (the web UI's session)."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


# The PostgreSQL server the test suites use (user root, trust authentication), and its maintenance database.
POSTGRES_SERVER = "postgresql://root@127.0.0.1:5432/postgres"


@contextmanager
def scratch_postgres_database(prefix: str) -> Iterator[str]:
    """A new, empty PostgreSQL database named `prefix` + 6 random hex digits, for a process a test starts
    (a server, a worker) to migrate and use; yields its URL and drops it afterwards, closing any
    connection left open to it (WITH (FORCE))."""
    import psycopg

    name = prefix + secrets.token_hex(3)
    with psycopg.connect(POSTGRES_SERVER, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgres://root@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(POSTGRES_SERVER, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
