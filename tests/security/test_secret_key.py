"""SECRET_KEY has no usable default: a process started without one, or with the public development key of
earlier versions, stops at once; secrets stored under the key derived from that public value can be moved
under the current key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import call_command

from connections import services
from connections.models import Destination
from pipelines import crypto

REPO = Path(__file__).resolve().parents[2]
PUBLIC_DEVELOPMENT_KEY = "dev-insecure-change-me-" + "x" * 40


def _start(command: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k != "SECRET_KEY" and not k.startswith("PYTEST")}
    return subprocess.run([sys.executable, *command], cwd=REPO, env={**base, **env}, capture_output=True,
                          text=True, timeout=120, check=False)


SETUP = ["-c", "import django; django.setup(); print('started')"]


def test_the_process_refuses_to_start_without_a_secret_key() -> None:
    done = _start(SETUP)
    assert done.returncode != 0 and "started" not in done.stdout
    assert "ImproperlyConfigured: SECRET_KEY is not set" in done.stderr


@pytest.mark.parametrize("value", ["", "   "], ids=["empty", "blank"])
def test_the_process_refuses_to_start_with_an_empty_secret_key(value: str) -> None:
    done = _start(SETUP, SECRET_KEY=value)
    assert done.returncode != 0 and "started" not in done.stdout
    assert "SECRET_KEY is not set" in done.stderr


def test_manage_py_check_refuses_the_public_development_key() -> None:
    done = _start(["manage.py", "check"], SECRET_KEY=PUBLIC_DEVELOPMENT_KEY)
    assert done.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY is the public development key" in done.stderr


def test_the_process_starts_with_a_key_of_its_own() -> None:
    done = _start(SETUP, SECRET_KEY="an-operator-chosen-key-0b9d7c1e4f2a6b8d3c5e7f9a1b2c4d6e")
    assert done.returncode == 0, done.stderr
    assert "started" in done.stdout


def test_rotate_secrets_moves_secrets_from_the_public_development_key(workspace, settings) -> None:
    """A database from an earlier version: its webhook secret was encrypted under the key derived from the
    public SECRET_KEY. After `rotate_secrets --public-development-key` the current key reads it, and the
    public key no longer does."""
    settings.OUTBOUND_ALLOW_PRIVATE = True
    source, _ = services.create_source(workspace, name="Site", kind="python")
    dest = services.create_destination(workspace, name="Hook", kind="webhook", sources=[source],
                                          settings={"url": "http://127.0.0.1:9/in", "shared_secret": "s3cr3t-value"})
    public = Fernet(crypto.derived_key(PUBLIC_DEVELOPMENT_KEY).encode())
    legacy = public.encrypt(orjson.dumps({"shared_secret": "s3cr3t-value"})).decode()
    Destination.objects.filter(id=dest.id).update(secrets_encrypted=legacy)
    assert not crypto.can_decrypt(legacy)

    call_command("rotate_secrets", public_development_key=True)

    dest.refresh_from_db()
    assert dest.secrets_encrypted != legacy
    assert dest.secret_values == {"shared_secret": "s3cr3t-value"}
    with pytest.raises(InvalidToken):
        public.decrypt(dest.secrets_encrypted.encode())
