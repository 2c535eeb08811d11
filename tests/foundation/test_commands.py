"""The bootstrap and rotate_secrets management commands."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from rest_framework.test import APIClient

from connections import services
from connections.models import Destination, Source
from pipelines import crypto
from pipelines.models import Membership, Workspace


@pytest.fixture
def var_dir(settings, tmp_path, monkeypatch):
    monkeypatch.delenv("ADMIN_PASSWORD", raising=False)
    settings.VAR_DIR = tmp_path
    return tmp_path


def _bootstrap(*args):
    out = StringIO()
    call_command("bootstrap", "--json", *args, stdout=out)
    return json.loads(out.getvalue())


def test_bootstrap_creates_a_working_setup(client, db, var_dir):
    result = _bootstrap()
    assert set(result) == {"workspace", "username", "password", "api_token", "write_key", "source_id"}
    assert (result["workspace"], result["username"]) == ("demo", "admin")
    user = User.objects.get(username="admin")
    assert user.is_staff and user.is_superuser
    assert Membership.objects.get(user=user, workspace__slug="demo").role == "owner"
    source = Source.objects.get(id=result["source_id"])
    assert source.kind == "http" and source.write_key == result["write_key"] and source.workspace.slug == "demo"

    assert client.login(username="admin", password=result["password"])
    assert client.get("/admin/").status_code == 200
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {result['api_token']}")
    assert [s["id"] for s in api.get("/api/workspaces/demo/sources/").json()["results"]] == [source.id]


def test_bootstrap_is_idempotent_and_its_password_keeps_working(client, db, var_dir):
    first = _bootstrap()
    second = _bootstrap()
    assert second == first
    assert (Workspace.objects.count(), User.objects.count(), Source.objects.count()) == (1, 1, 1)
    assert client.login(username="admin", password=second["password"])


def test_bootstrap_prints_a_working_password_after_it_was_changed(client, db, var_dir):
    first = _bootstrap()
    user = User.objects.get(username="admin")
    user.set_password("changed-in-the-admin")
    user.save()
    second = _bootstrap()
    assert client.login(username="admin", password=second["password"])
    assert second["api_token"] == first["api_token"] and second["source_id"] == first["source_id"]


def test_bootstrap_uses_admin_password_and_custom_names(client, db, var_dir, monkeypatch):
    monkeypatch.setenv("ADMIN_PASSWORD", "chosen-password-123")
    result = _bootstrap("--workspace", "shop", "--username", "ops")
    assert (result["workspace"], result["username"], result["password"]) == ("shop", "ops", "chosen-password-123")
    assert client.login(username="ops", password="chosen-password-123")
    assert not (var_dir / "bootstrap-passwords.json").exists()


def test_bootstrap_reuses_an_existing_workspace_and_makes_the_user_its_owner(db, var_dir, workspace, teammate):
    existing, _ = services.create_source(workspace, name="Existing", kind="http")
    result = _bootstrap("--workspace", "acme", "--username", "bob")
    assert result["source_id"] == existing.id
    assert Membership.objects.get(user=teammate, workspace=workspace).role == "owner"
    assert Workspace.objects.count() == 1


def test_rotate_secrets_reencrypts_under_the_first_key(db, settings, workspace):
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old_key]
    crypto.reset_keys()
    try:
        dest = services.create_destination(workspace, name="Hook", kind="webhook",
                                           settings={"url": "https://93.184.216.34/in", "shared_secret": "s3cr3t-x"})
        before = dest.secrets_encrypted

        settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
        out = StringIO()
        call_command("rotate_secrets", stdout=out)
        assert "1 destination" in out.getvalue()

        with connection.cursor() as cursor:
            cursor.execute("SELECT secrets_encrypted FROM connections_destination WHERE id = %s", [dest.id])
            after = cursor.fetchone()[0]
        assert after != before and "s3cr3t-x" not in after
        assert Fernet(new_key.encode()).decrypt(after.encode())  # readable with the new key alone

        settings.FIELD_ENCRYPTION_KEYS = [new_key]
        crypto.reset_keys()
        assert Destination.objects.get(id=dest.id).settings["shared_secret"] == "s3cr3t-x"
    finally:
        crypto.reset_keys()
