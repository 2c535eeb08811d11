"""Destination secrets: encrypted at rest with the key from the environment, rotatable, and never shown
back: not in API responses, validation errors, delivery records (Exchange redaction) or logs."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone
from pytest_httpserver import HTTPServer

from connections import services
from connections.models import Destination
from destinations import http
from destinations.errors import DeliveryError
from pipelines import crypto

TOKEN = "sk_live_7f3a9c1e5b2d4f6a8c0e"
SHARED = "whsec_91b7d3f5a2c4e6081"


@pytest.fixture
def keys(settings: Any) -> Iterator[list[str]]:
    """Two fresh Fernet keys; the first is configured as FIELD_ENCRYPTION_KEY."""
    generated = [Fernet.generate_key().decode(), Fernet.generate_key().decode()]
    settings.FIELD_ENCRYPTION_KEYS = [generated[0]]
    crypto.reset_keys()
    yield generated
    crypto.reset_keys()


def _use_keys(settings: Any, keys: list[str]) -> None:
    settings.FIELD_ENCRYPTION_KEYS = keys
    crypto.reset_keys()


def _hook(workspace: Any, url: str = "https://8.8.8.8/hook") -> Destination:
    return services.create_destination(
        workspace, name="Hook", kind="webhook",
        settings={"url": url, "headers": {"Authorization": f"Bearer {TOKEN}"}, "shared_secret": SHARED},
    )


def _raw_row(destination_id: int) -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT config::text, secrets_encrypted FROM connections_destination WHERE id = %s",
                       [destination_id])
        return cursor.fetchone()


def test_secrets_are_encrypted_at_rest_with_the_configured_key(keys: list[str], workspace: Any) -> None:
    destination = _hook(workspace)
    config, encrypted = _raw_row(destination.id)
    for secret in (TOKEN, SHARED):
        assert secret not in config
        assert secret not in encrypted
    plaintext = Fernet(keys[0].encode()).decrypt(encrypted.encode()).decode()
    assert TOKEN in plaintext and SHARED in plaintext
    with pytest.raises(InvalidToken):
        Fernet(keys[1].encode()).decrypt(encrypted.encode())


def test_key_rotation_reencrypts_every_secret_under_the_new_key(settings: Any, keys: list[str],
                                                                workspace: Any) -> None:
    old, new = keys
    first = _hook(workspace)
    second = services.create_destination(workspace, name="Other", kind="webhook",
                                         settings={"url": "https://1.1.1.1/", "shared_secret": SHARED})
    _use_keys(settings, [new, old])  # step 1: new key first, old one kept for reading
    call_command("rotate_secrets")
    _use_keys(settings, [new])  # step 3: old key removed
    for destination in (first, second):
        _, encrypted = _raw_row(destination.id)
        with pytest.raises(InvalidToken):
            Fernet(old.encode()).decrypt(encrypted.encode())
        Fernet(new.encode()).decrypt(encrypted.encode())
    assert Destination.objects.get(id=first.id).settings["headers"] == {"Authorization": f"Bearer {TOKEN}"}
    assert Destination.objects.get(id=second.id).settings["shared_secret"] == SHARED


def test_rotation_fails_loudly_for_secrets_no_key_can_read(settings: Any, keys: list[str], workspace: Any) -> None:
    old, new = keys
    destination = _hook(workspace)
    _use_keys(settings, [new])  # the old key forgotten too early
    with pytest.raises(CommandError, match=f"#{destination.id}"):
        call_command("rotate_secrets")
    _, encrypted = _raw_row(destination.id)
    assert Fernet(old.encode()).decrypt(encrypted.encode())  # left untouched, still recoverable


def test_api_responses_show_secrets_masked_only(keys: list[str], workspace: Any, owner_api: Any) -> None:
    destination = _hook(workspace)
    for url in ("/api/workspaces/acme/destinations/", f"/api/workspaces/acme/destinations/{destination.id}/"):
        response = owner_api.get(url)
        assert response.status_code == 200
        body = response.content.decode()
        assert TOKEN not in body and SHARED not in body
        assert TOKEN[-4:] in body  # the mask keeps the last four characters of a long secret


def test_echoing_the_masked_value_back_keeps_the_secret(keys: list[str], workspace: Any, owner_api: Any) -> None:
    destination = _hook(workspace)
    shown = owner_api.get(f"/api/workspaces/acme/destinations/{destination.id}/").json()["settings"]
    response = owner_api.patch(f"/api/workspaces/acme/destinations/{destination.id}/",
                               {"settings": {"shared_secret": shown["shared_secret"]}}, format="json")
    assert response.status_code == 200
    assert SHARED not in response.content.decode()
    assert Destination.objects.get(id=destination.id).settings["shared_secret"] == SHARED


def test_validation_errors_do_not_echo_credentials_in_urls(settings: Any, keys: list[str], owner_api: Any) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = False
    response = owner_api.post(
        "/api/workspaces/acme/destinations/",
        {"kind": "webhook", "settings": {"url": f"http://admin:{TOKEN}@169.254.169.254/latest/"}},
        format="json",
    )
    assert response.status_code == 400
    assert TOKEN not in response.content.decode()


def test_error_pages_do_not_leak_settings(client: Any, settings: Any) -> None:
    settings.DEBUG = False
    response = client.get("/no-such-page/", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 404
    body = response.content.decode()
    assert TOKEN not in body and settings.SECRET_KEY not in body


def test_delivery_records_redact_secrets_from_request_and_response(settings: Any, httpserver: HTTPServer) -> None:
    """The Exchange kept on a delivery record: secret headers, URL parameters and body echoes redacted."""
    settings.OUTBOUND_ALLOW_PRIVATE = True
    httpserver.expect_request("/hook").respond_with_data(
        f'{{"error": "bad token {TOKEN}"}}', status=401, headers={"X-Echo": TOKEN}, content_type="application/json")
    with pytest.raises(DeliveryError) as caught:
        http.send("POST", httpserver.url_for("/hook"), params={"token": TOKEN},
                  json={"token": TOKEN, "event": "x"}, headers={"Authorization": f"Bearer {TOKEN}"},
                  user_url=True, secrets=(TOKEN,))
    record = caught.value.exchange.as_record()
    assert caught.value.retryable is False and record["status"] == 401
    assert TOKEN not in repr(record)
    assert record["request_headers"]["Authorization"] == http.REDACTED
    # The real request carried the real secret: redaction is of the record only.
    assert httpserver.log[0][0].headers["Authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize("status", [500, 401])
def test_a_failing_delivery_leaks_no_secret_into_logs_or_records(settings: Any, caplog: Any, httpserver: HTTPServer,
                                                                 keys: list[str], workspace: Any,
                                                                 status: int) -> None:
    """A real event through the real fan-out and delivery code to a destination that fails and echoes
    the credentials back: neither the logs (every logger, DEBUG) nor the Delivery record hold a secret."""
    from destinations import fanout
    from destinations.models import Delivery
    from ingest.services import store_events
    from tests.helpers import send_queued

    settings.OUTBOUND_ALLOW_PRIVATE = True
    fanout.clear_routing_cache()
    httpserver.expect_request("/hook").respond_with_data(
        f'{{"error": "bad credentials Bearer {TOKEN} / {SHARED}"}}', status=status,
        headers={"WWW-Authenticate": f"Bearer {TOKEN}"}, content_type="application/json")
    source, _ = services.create_source(workspace, name="Backend", kind="python")
    services.create_destination(
        workspace, name="Hook", kind="webhook", sources=[source],
        settings={"url": httpserver.url_for("/hook"),
                  "headers": {"Authorization": f"Bearer {TOKEN}"}, "shared_secret": SHARED},
    )
    caplog.set_level(logging.DEBUG)
    ids = store_events(source, [{"type": "track", "messageId": "leak-1", "userId": "u1", "event": "Signed Up"}],
                       timezone.now())
    fanout.fan_out(ids)
    send_queued()
    assert len(httpserver.log) == 1
    assert httpserver.log[0][0].headers["Authorization"] == f"Bearer {TOKEN}"  # the real request had it
    record = Delivery.objects.get(message_id="leak-1")
    assert record.status == ("retrying" if status == 500 else "failed")
    assert record.last_status_code == status
    stored = repr((record.request, record.response, record.last_error))
    assert TOKEN not in stored and SHARED not in stored
    assert "bad credentials" in stored  # the response is kept, only the secrets are blanked
    ours = [r for r in caplog.records if not r.name.startswith("werkzeug")]  # werkzeug: the test's own server
    assert ours, "expected the engine to log something about the failure"
    text = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in ours)
    assert TOKEN not in text and SHARED not in text
