"""`python manage.py bootstrap --json [--workspace SLUG] [--username NAME]`

Idempotently sets up a usable installation: the workspace, a staff superuser who owns it, their API
token and an `http` source; prints how to use them. Running it again reuses everything it finds.

The password: ADMIN_PASSWORD when set (applied on every run, so the printed password always works).
Otherwise one is generated on first run and kept in `<VAR_DIR>/bootstrap-passwords.json` (mode 0600); later
runs print the kept one. If it no longer works (changed in the admin, or the file was lost), a new one
is generated, set and kept, so what is printed is always a password that logs in. Set ADMIN_PASSWORD
to choose your own and keep it.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from rest_framework.authtoken.models import Token

from connections import services
from connections.models import Source, SourceKind
from pipelines.models import Membership, Workspace

SOURCE_NAME = "HTTP API"


class Command(BaseCommand):
    help = "Create or reuse a workspace, its owner (staff superuser), an API token and an http source."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--workspace", default="demo", help="workspace slug (default: demo)")
        parser.add_argument("--username", default="admin", help="user name (default: admin)")
        parser.add_argument("--json", action="store_true", dest="as_json", help="print one JSON object instead of text")

    def handle(self, *args: Any, workspace: str, username: str, as_json: bool, **options: Any) -> None:
        result = bootstrap(workspace, username)
        if as_json:
            self.stdout.write(json.dumps(result))
        else:
            for key, value in result.items():
                self.stdout.write(f"{key:>10}: {value}")


@transaction.atomic
def bootstrap(slug: str, username: str) -> dict[str, Any]:
    """Create what is missing and return {workspace, username, password, api_token, write_key, source_id}."""
    workspace, _ = Workspace.objects.get_or_create(slug=slug, defaults={"name": slug.replace("-", " ").title()})

    User = get_user_model()
    user, _ = User.objects.get_or_create(username=username)
    user.is_staff = user.is_superuser = user.is_active = True
    password = _settle_password(user)
    user.save()

    membership, created = Membership.objects.get_or_create(
        user=user, workspace=workspace, defaults={"role": Membership.Role.OWNER}
    )
    if not created and membership.role != Membership.Role.OWNER:
        membership.role = Membership.Role.OWNER
        membership.save(update_fields=["role"])

    token, _ = Token.objects.get_or_create(user=user)

    source = Source.objects.filter(workspace=workspace, kind=SourceKind.HTTP).order_by("id").first()
    if source is None:
        source, _ = services.create_source(workspace, name=SOURCE_NAME, kind=SourceKind.HTTP)

    return {
        "workspace": workspace.slug,
        "username": user.get_username(),
        "password": password,
        "api_token": token.key,
        "write_key": source.write_key,
        "source_id": source.id,
    }


def _settle_password(user: Any) -> str:
    """Make sure `user` has a password we can print, and return it (see the module docstring)."""
    wanted = os.environ.get("ADMIN_PASSWORD", "")
    if wanted:
        if not user.check_password(wanted):
            user.set_password(wanted)
        return wanted
    kept = _read_kept()
    password = kept.get(user.get_username(), "")
    if password and user.check_password(password):
        return password
    password = secrets.token_urlsafe(12)
    user.set_password(password)
    kept[user.get_username()] = password
    _write_kept(kept)
    return password


def _kept_path() -> Path:
    return Path(settings.VAR_DIR) / "bootstrap-passwords.json"


def _read_kept() -> dict[str, str]:
    try:
        data = json.loads(_kept_path().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_kept(kept: dict[str, str]) -> None:
    path = _kept_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(kept, fh)
    os.replace(tmp, path)
