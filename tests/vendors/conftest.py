"""Event fixtures shaped as ingest stores them (Segment spec), and helpers to read what a local
HTTP server received."""

from __future__ import annotations

import base64
import copy
import secrets
from collections.abc import Iterator
from typing import Any

import orjson
import psycopg
import pytest
from django.conf import settings as django_settings
from pytest_httpserver import HTTPServer

from destinations.catalog import postgres

CONTEXT = {
    "ip": "203.0.113.7",
    "library": {"name": "analytics.js", "version": "2.11.1"},
    "page": {"url": "https://shop.example.com/cart", "referrer": "https://google.com/", "path": "/cart",
             "title": "Cart"},
    "os": {"name": "Mac OS X", "version": "14.4"},
    "locale": "en-GB",
    "userAgent": "Mozilla/5.0",
    "campaign": {"source": "newsletter", "medium": "email", "name": "spring"},
}

EVENTS: dict[str, dict[str, Any]] = {
    "track": {
        "type": "track", "messageId": "msg-track-1", "event": "Order Completed", "userId": "user-42",
        "anonymousId": "anon-7", "timestamp": "2024-05-01T12:00:00.000Z",
        "receivedAt": "2024-05-01T12:00:01.250Z", "sentAt": "2024-05-01T12:00:00.900Z",
        "properties": {"order_id": "o-1001", "total": 99.5, "currency": "EUR", "coupon": None,
                       "products": [{"sku": "A1", "quantity": 2}], "gift": False},
        "context": CONTEXT,
    },
    "identify": {
        "type": "identify", "messageId": "msg-identify-1", "userId": "user-42", "anonymousId": "anon-7",
        "timestamp": "2024-05-01T11:59:00.000Z", "receivedAt": "2024-05-01T11:59:01.000Z",
        "traits": {"email": "ada@example.com", "firstName": "Ada", "last_name": "Lovelace", "plan": "pro",
                   "logins": 12, "created_at": "2023-01-02T03:04:05Z"},
        "context": CONTEXT,
    },
    "page": {
        "type": "page", "messageId": "msg-page-1", "name": "Pricing", "category": "Docs",
        "anonymousId": "anon-7", "timestamp": "2024-05-01T12:01:00.000Z", "receivedAt": "2024-05-01T12:01:00.500Z",
        "properties": {"url": "https://shop.example.com/pricing", "title": "Pricing", "path": "/pricing"},
        "context": CONTEXT,
    },
    "screen": {
        "type": "screen", "messageId": "msg-screen-1", "name": "Home", "userId": "user-42",
        "timestamp": "2024-05-01T12:02:00.000Z", "receivedAt": "2024-05-01T12:02:00.500Z",
        "properties": {"variant": "B"},
        "context": {"ip": "203.0.113.8", "device": {"type": "ios", "model": "iPhone15,2", "manufacturer": "Apple",
                                                     "id": "device-123"},
                    "os": {"name": "iOS", "version": "17.4"}, "app": {"version": "3.2.1"},
                    "library": {"name": "analytics-ios", "version": "4.1"}},
    },
    "group": {
        "type": "group", "messageId": "msg-group-1", "groupId": "acme-inc", "userId": "user-42",
        "timestamp": "2024-05-01T12:03:00.000Z", "receivedAt": "2024-05-01T12:03:00.500Z",
        "traits": {"name": "Acme Inc", "employees": 250, "industry": "Tools"},
        "context": {"ip": "203.0.113.7"},
    },
    "alias": {
        "type": "alias", "messageId": "msg-alias-1", "userId": "user-42", "previousId": "anon-7",
        "timestamp": "2024-05-01T12:04:00.000Z", "receivedAt": "2024-05-01T12:04:00.500Z",
        "context": {"ip": "203.0.113.7"},
    },
}


@pytest.fixture
def events() -> dict[str, dict[str, Any]]:
    return copy.deepcopy(EVENTS)


def basic(username: str, password: str = "") -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def received(httpserver: HTTPServer) -> list[Any]:
    """The requests the server received, in order (werkzeug Request objects)."""
    return [request for request, _ in httpserver.log]


def body(request: Any) -> Any:
    return orjson.loads(request.get_data())


def server_url(dbname: str) -> str:
    """A URL for `dbname` on the PostgreSQL server the test database lives on."""
    db = django_settings.DATABASES["default"]
    assert db["ENGINE"].endswith("postgresql"), "the warehouse tests need DATABASE_URL to be PostgreSQL"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{dbname}"


@pytest.fixture
def warehouse(settings: Any) -> Iterator[str]:
    """A fresh database on the local server, dropped afterwards; yields its URL."""
    settings.OUTBOUND_ALLOW_PRIVATE = True
    name = f"warehouse_test_{secrets.token_hex(4)}"
    with psycopg.connect(server_url("postgres"), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = server_url(name)
    try:
        yield url
    finally:
        postgres._discard(url)
        with psycopg.connect(server_url("postgres"), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def query(url: str, statement: str, *args: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(statement, args).fetchall()
