"""Fixtures for the audit log tests (the personas and their logged-in browsers are tests/conftest.py's):
a webhook with a secret, and a way to read every stored entry as the database holds it (to prove no
secret is in any of them)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from audit.models import AuditEntry
from connections import services
from connections.models import Destination, Source
from pipelines.models import Workspace

SECRET = "whsec-audit-secret-value-0123456789"
NEW_SECRET = "whsec-replaced-secret-value-987654"


@pytest.fixture
def js_source(workspace: Workspace) -> Source:
    return services.create_source(workspace, name="Website", kind="javascript")[0]


@pytest.fixture
def webhook(workspace: Workspace, js_source: Source, settings: Any) -> Destination:
    settings.OUTBOUND_ALLOW_PRIVATE = True
    return services.create_destination(
        workspace, name="My webhook", kind="webhook",
        settings={"url": "http://127.0.0.1:9/hook", "shared_secret": SECRET}, sources=[js_source],
    )


def stored_entries_text() -> str:
    """Every audit row as the database stores it, as one string."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT actor_label, object_name, changes::text FROM audit_auditentry")
        return "\n".join(" ".join(row) for row in cursor.fetchall())


def entries(**filters: Any) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(**filters).order_by("id"))


def last_entry(**filters: Any) -> AuditEntry:
    entry = AuditEntry.objects.filter(**filters).order_by("-id").first()
    assert entry is not None, f"no audit entry matching {filters}"
    return entry
