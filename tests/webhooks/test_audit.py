"""Changes to a webhook source's settings are in the audit log; the shared secret only as "changed"."""

from __future__ import annotations

from audit.models import AuditEntry
from connections.models import Source
from connections.services import update_webhook_settings

from .conftest import STRIPE_MAPPING


def test_mapping_and_secret_changes_are_audited_without_the_secret(hook: Source) -> None:
    update_webhook_settings(hook, mapping=STRIPE_MAPPING)
    update_webhook_settings(hook, signature_scheme="hmac_sha256", secret="audit-shared-secret-9")
    created, rotated = AuditEntry.objects.filter(object_type="webhook").order_by("id")
    assert created.action == "created" and created.changes["mapping"]["after"]
    assert created.object_name == "Payments: webhook" and created.workspace_id == hook.workspace_id
    assert rotated.action == "rotated"
    assert rotated.changes["webhook_secret"] == "changed"
    assert rotated.changes["signature_scheme"] == {"before": "none", "after": "hmac_sha256"}
    assert "audit-shared-secret-9" not in str(rotated.changes)
