"""One row per recorded change. Rows are written by audit.recording and never edited afterwards."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from pipelines.models import Workspace

# The value stored for a secret field that changed: never the secret itself, nor a digest of it.
SECRET_CHANGED = "changed"


class AuditEntry(models.Model):
    class Action(models.TextChoices):
        CREATED = "created", "Created"
        UPDATED = "updated", "Updated"
        DELETED = "deleted", "Deleted"
        ROTATED = "rotated", "Rotated key"

    class ObjectType(models.TextChoices):
        SOURCE = "source", "Source"
        DESTINATION = "destination", "Destination"
        CONNECTION = "connection", "Connection"
        ACTION = "action", "Action"
        MEMBERSHIP = "membership", "Member"
        INVITATION = "invitation", "Invitation"
        WEBHOOK = "webhook", "Webhook settings"
        FILTERS = "filters", "Destination filters"
        WORKSPACE = "workspace", "Workspace"

    class Channel(models.TextChoices):
        UI = "ui", "Web UI"
        API = "api", "API"
        ADMIN = "admin", "Django admin"
        SYSTEM = "system", "System"

    # Empty only on the entries recording a workspace's deletion (object_type "workspace"): they outlive it,
    # and are shown in Django admin; every other entry goes with its workspace.
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="audit_entries",
                                  null=True, blank=True)
    # The user is kept as a label too, so an entry still says who it was after the user is deleted.
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    actor_label = models.CharField(max_length=200)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    action = models.CharField(max_length=10, choices=Action.choices)
    object_type = models.CharField(max_length=20, choices=ObjectType.choices)
    object_id = models.BigIntegerField(null=True, blank=True)
    object_name = models.CharField(max_length=300, blank=True, default="")
    # {field: {"before": value, "after": value}} for plain fields, {field: "changed"} for secrets.
    changes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["workspace", "created_at"], name="audit_workspace_created")]
        verbose_name = "audit entry"
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.actor_label} {self.action} {self.object_type} {self.object_name}"

    @property
    def verb(self) -> str:
        """How the page says what happened, before the object type ("Rotated the key of" source X)."""
        return "Rotated the key of" if self.action == self.Action.ROTATED else self.get_action_display()

    def change_lines(self) -> list[str]:
        """The changes as short human-readable lines ("name: Old → New", "write_key: changed")."""
        lines = []
        for field, change in self.changes.items():
            if change == SECRET_CHANGED:
                lines.append(f"{field}: {'set' if self.action == self.Action.CREATED else 'changed'} (secret)")
            elif isinstance(change, dict):
                before, after = change.get("before"), change.get("after")
                if self.action == self.Action.CREATED:
                    lines.append(f"{field}: {_show(after)}")
                else:
                    lines.append(f"{field}: {_show(before)} → {_show(after)}")
        return lines


def _show(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (dict, list)):
        import json

        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)
