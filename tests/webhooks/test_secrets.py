"""A webhook source's shared secret: encrypted with the configured key, rotated by rotate_secrets, and an
echoed mask keeps it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from connections.models import Source, WebhookSettings
from connections.services import update_webhook_settings
from pipelines import crypto

from .conftest import STRIPE_EVENT, STRIPE_MAPPING, HookClient, hex_hmac

SECRET = "whsec_5c1e7a9b3d2f4068"


@pytest.fixture
def keys(settings: Any) -> Iterator[list[str]]:
    generated = [Fernet.generate_key().decode(), Fernet.generate_key().decode()]
    settings.FIELD_ENCRYPTION_KEYS = [generated[0]]
    crypto.reset_keys()
    yield generated
    crypto.reset_keys()


def _use(settings: Any, keys: list[str]) -> None:
    settings.FIELD_ENCRYPTION_KEYS = keys
    crypto.reset_keys()


def _signed(hook: Source) -> int:
    raw = orjson.dumps(STRIPE_EVENT)
    return HookClient(hook).post(raw=raw, HTTP_X_SIGNATURE=hex_hmac(SECRET, raw)).status_code


def test_rotate_secrets_re_encrypts_the_shared_secret(settings: Any, keys: list[str], hook: Source) -> None:
    old, new = keys
    update_webhook_settings(hook, mapping=STRIPE_MAPPING, signature_scheme="hmac_sha256", secret=SECRET)
    _use(settings, [new, old])
    call_command("rotate_secrets")
    _use(settings, [new])
    token = WebhookSettings.objects.get(source=hook).secret_encrypted
    with pytest.raises(InvalidToken):
        Fernet(old.encode()).decrypt(token.encode())
    assert Fernet(new.encode()).decrypt(token.encode()).decode() == SECRET
    assert _signed(hook) == 200


def test_rotation_fails_loudly_when_no_key_reads_the_secret(settings: Any, keys: list[str], hook: Source) -> None:
    update_webhook_settings(hook, signature_scheme="hmac_sha256", secret=SECRET)
    _use(settings, [keys[1]])  # the key it was encrypted with forgotten too early
    with pytest.raises(CommandError, match="webhook source"):
        call_command("rotate_secrets")


def test_echoing_the_mask_back_keeps_the_secret(owner_api: APIClient, hook: Source) -> None:
    base = f"/api/workspaces/{hook.workspace.slug}/sources/{hook.id}/webhook/"
    owner_api.patch(base, {"mapping": STRIPE_MAPPING, "signature_scheme": "hmac_sha256", "secret": SECRET},
                    format="json")
    shown = owner_api.get(base).json()["secret_masked"]
    assert SECRET not in shown
    assert owner_api.patch(base, {"secret": shown}, format="json").status_code == 200
    assert WebhookSettings.objects.get(source=hook).secret == SECRET
    assert _signed(hook) == 200
