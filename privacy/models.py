"""What was asked about a person (PrivacyRequest) and whose future events are dropped (Suppression)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from connections.models import Source
from pipelines.models import Workspace


class IdentityKind(models.TextChoices):
    """The identifiers an event names a person by: `userId`, an email (`traits.email` or
    `context.traits.email`) and `anonymousId`."""

    USER_ID = "user_id", "User ID"
    EMAIL = "email", "Email"
    ANONYMOUS_ID = "anonymous_id", "Anonymous ID"


def normalize_identity(kind: str, value: object) -> str:
    """The stored form of an identifier: an email compares case-insensitively (trimmed, lowercased), an id
    exactly (a numeric userId as its text)."""
    text = str(value)
    return text.strip().lower() if kind == IdentityKind.EMAIL else text


class PrivacyRequest(models.Model):
    class Kind(models.TextChoices):
        DELETE = "delete", "Delete"
        SUPPRESS = "suppress", "Suppress"
        UNSUPPRESS = "unsuppress", "Unsuppress"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="privacy_requests")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    user_id = models.CharField(max_length=200, blank=True, default="")
    email = models.CharField(max_length=254, blank=True, default="")
    anonymous_id = models.CharField(max_length=200, blank=True, default="")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                     related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Rows removed, by table label: {"ingest.Event": 12, "destinations.Delivery": 30, ...}; and
    # "destinations.DeliveryExchange redacted": shared requests kept for other people, bodies removed.
    deleted = models.JSONField(default=dict, blank=True)
    # One entry per destination the deletion was forwarded to:
    # {"destination_id", "destination", "kind", "status": "ok"|"failed", "status_code", "error"}.
    forwards = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["workspace", "-created_at"], name="privacy_request_latest")]

    def __str__(self) -> str:
        return f"{self.kind} {self.identities()} in {self.workspace_id}"

    def identities(self) -> dict[str, str]:
        """The identifiers the request names, by IdentityKind value (only those given)."""
        return {k: v for k, v in (("user_id", self.user_id), ("email", self.email),
                                  ("anonymous_id", self.anonymous_id)) if v}

    @property
    def rows_deleted(self) -> int:
        return sum(int(n) for table, n in (self.deleted or {}).items() if not table.endswith(" redacted"))


class Suppression(models.Model):
    """An identity whose events are dropped at ingest, before they are stored."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="suppressions")
    kind = models.CharField(max_length=12, choices=IdentityKind.choices)
    value = models.CharField(max_length=254)  # normalize_identity(kind, ...)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    # Events dropped because of it, and when the last one was.
    dropped = models.PositiveBigIntegerField(default=0)
    last_dropped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["kind", "value"]
        constraints = [models.UniqueConstraint(fields=["workspace", "kind", "value"], name="unique_suppression")]

    def __str__(self) -> str:
        return f"{self.kind}={self.value}"


class SuppressedEvent(models.Model):
    """A trace of an event dropped at ingest, for the source's debugger: no payload (that is what was not
    to be kept), only what identifies the message. The newest KEEP_PER_SOURCE per source are kept."""

    KEEP_PER_SOURCE = 50

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="+")
    message_id = models.CharField(max_length=200)
    type = models.CharField(max_length=16)
    identity_kind = models.CharField(max_length=12, choices=IdentityKind.choices)
    received_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["source", "-id"], name="suppressed_event_source")]

    def __str__(self) -> str:
        return f"suppressed {self.type} {self.message_id}"
