"""Write-key brute force: unknown keys are rejected at constant cost and failing clients are slowed down.

- a repeated unknown key is looked up once, then answered from the cache (no query);
- after AUTH_FAILURE_LIMIT failures per AUTH_FAILURE_WINDOW from one IP, that IP gets 429 with
  Retry-After and no query at all, whatever new key it tries;
- other IPs, and keys already known to the process, are not affected; X-Forwarded-For from an
  untrusted peer does not let a guesser change its address.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from connections.services import create_source
from ingest import auth

EVENT = b'{"userId": "u1", "event": "Signed Up"}'


@pytest.fixture(autouse=True)
def _fresh_key_cache() -> Iterator[None]:
    auth.forget()
    yield
    auth.forget()


@pytest.fixture
def limit(settings: Any) -> int:
    settings.AUTH_FAILURE_LIMIT = 5
    settings.AUTH_FAILURE_WINDOW = 60
    return 5


def _track(client: Client, key: str, ip: str = "203.0.113.7", **extra: str) -> Any:
    token = base64.b64encode(f"{key}:".encode()).decode()
    return client.post("/v1/track", EVENT, content_type="application/json", HTTP_AUTHORIZATION=f"Basic {token}",
                       REMOTE_ADDR=ip, **extra)


def test_a_repeated_unknown_key_is_looked_up_once(db: Any, client: Client, settings: Any) -> None:
    settings.AUTH_FAILURE_LIMIT = 0  # only the cache is under test here
    key = secrets.token_urlsafe(24)
    with CaptureQueriesContext(connection) as first:
        assert _track(client, key).status_code == 401
    with CaptureQueriesContext(connection) as later:
        for _ in range(20):
            response = _track(client, key)
            assert response.status_code == 401
            assert response.json()["code"] == "unauthorized"
    assert len(first) == 1
    assert len(later) == 0


def test_absurdly_long_keys_are_rejected_without_a_query(db: Any, client: Client) -> None:
    with CaptureQueriesContext(connection) as queries:
        assert _track(client, "k" * 5000).status_code == 401
    assert len(queries) == 0


def test_an_ip_guessing_keys_is_blocked_and_costs_no_queries(db: Any, client: Client, limit: int) -> None:
    for _ in range(limit):
        assert _track(client, secrets.token_urlsafe(24)).status_code == 401
    with CaptureQueriesContext(connection) as queries:
        for _ in range(50):
            response = _track(client, secrets.token_urlsafe(24))
            assert response.status_code == 429
    assert len(queries) == 0
    body = response.json()
    assert body["code"] == "too_many_auth_failures" and body["message"]
    assert 1 <= int(response["Retry-After"]) <= 60


def test_other_ips_are_not_blocked(db: Any, client: Client, limit: int, workspace: Any) -> None:
    source, _ = create_source(workspace, name="Backend", kind="python")
    for _ in range(limit):
        _track(client, secrets.token_urlsafe(24), ip="203.0.113.7")
    assert _track(client, secrets.token_urlsafe(24), ip="198.51.100.4").status_code == 401
    assert _track(client, source.write_key, ip="198.51.100.4").status_code == 200


def test_a_known_key_keeps_working_from_a_blocked_ip(db: Any, client: Client, limit: int, workspace: Any) -> None:
    source, _ = create_source(workspace, name="Backend", kind="python")
    assert _track(client, source.write_key).status_code == 200  # known to this process
    for _ in range(limit):
        _track(client, secrets.token_urlsafe(24))
    assert _track(client, secrets.token_urlsafe(24)).status_code == 429
    assert _track(client, source.write_key).status_code == 200


def test_forwarded_for_from_an_untrusted_peer_does_not_evade_the_block(db: Any, client: Client, limit: int,
                                                                       settings: Any) -> None:
    settings.TRUSTED_PROXIES = []
    for n in range(limit):
        _track(client, secrets.token_urlsafe(24), HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
    response = _track(client, secrets.token_urlsafe(24), HTTP_X_FORWARDED_FOR="192.0.2.200")
    assert response.status_code == 429


def test_body_write_keys_count_too(db: Any, client: Client, limit: int) -> None:
    for _ in range(limit):
        body = b'{"writeKey": "%s", "batch": [{"type": "track", "userId": "u", "event": "E"}]}' % (
            secrets.token_urlsafe(24).encode())
        assert client.post("/v1/batch", body, content_type="application/json",
                           REMOTE_ADDR="203.0.113.9").status_code == 401
    assert _track(client, secrets.token_urlsafe(24), ip="203.0.113.9").status_code == 429


def test_the_browser_settings_endpoint_is_guarded_too(db: Any, client: Client, limit: int) -> None:
    for _ in range(limit):
        response = client.get(f"/v1/projects/{secrets.token_urlsafe(24)}/settings", REMOTE_ADDR="203.0.113.8")
        assert response.status_code == 404
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/v1/projects/{secrets.token_urlsafe(24)}/settings", REMOTE_ADDR="203.0.113.8")
    assert response.status_code == 429
    assert len(queries) == 0


def test_the_limit_can_be_turned_off(db: Any, client: Client, settings: Any) -> None:
    settings.AUTH_FAILURE_LIMIT = 0
    for _ in range(40):
        assert _track(client, secrets.token_urlsafe(24)).status_code == 401
