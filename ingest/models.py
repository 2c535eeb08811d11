"""Stored events: every message we acknowledged, durable before the 200."""

from __future__ import annotations

import orjson
from django.db import models

from connections.models import Source
from pipelines.models import Workspace


class Event(models.Model):
    # Hot-path table: no database-level foreign keys (each one cost a check and a FOR KEY SHARE lock on the
    # same source and workspace rows at every commit, which concurrent requests turn into MultiXacts).
    # Django still cascades deletes; rows only ever point at a source that existed when they were written.
    # Not indexed alone either: the composite indexes below start with these columns.
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="events",
                                  db_constraint=False, db_index=False)
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="events",
                               db_constraint=False, db_index=False)
    message_id = models.CharField(max_length=200)
    type = models.CharField(max_length=16)
    payload = models.JSONField()
    received_at = models.DateTimeField()

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["source", "message_id"], name="unique_source_message"),
        ]
        indexes = [
            models.Index(fields=["source", "-received_at"], name="event_source_latest"),
            models.Index(fields=["workspace", "-received_at"], name="event_workspace_latest"),
            models.Index(fields=["message_id"], name="event_message_id"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.message_id}"


class OutboxEntry(models.Model):
    """Events stored by one INSERT (one request, or one group commit) and not yet handed to fan-out.

    Written in the transaction that stores the events, deleted by the fan-out task in the transaction that
    records their delivery work: an entry still here after OUTBOX_GRACE_SECONDS lost its task (broker
    down, message lost) and the outbox sweep enqueues it again. Event rows are never updated: marking
    each one dispatched rewrote the whole row (payload included) and every index entry of it.
    """

    # JSON array of Event ids (text: nothing queries inside it).
    event_ids = models.TextField()
    # When its events were last handed to fan-out: written with them, and moved on by the sweep when it
    # enqueues them again, so a backlog of tasks still on their way is not enqueued again at every sweep.
    # Not indexed: ids grow with time, so the sweep walks the primary key oldest first and stops at its
    # limit, and single-event requests pay for one index less.
    handed_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "outbox entries"

    def __str__(self) -> str:
        return f"outbox entry {self.pk}"

    def ids(self) -> list[int]:
        return [int(i) for i in orjson.loads(self.event_ids)]


class WebhookBody(models.Model):
    """A body posted to /v1/webhooks/{key}, kept as received (before any mapping) so that a body the
    mapping could not turn into events is never lost: it is shown with its reason and can be mapped
    again once the mapping is fixed (ingest.webhooks.reprocess)."""

    class Status(models.TextChoices):
        PROCESSED = "processed", "Processed"
        FAILED = "failed", "Not mapped"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="webhook_bodies")
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="webhook_bodies")
    received_at = models.DateTimeField()
    content_type = models.CharField(max_length=200, blank=True, default="")
    # The request's headers worth mapping (lower-cased names; credentials and the signature left out).
    headers = models.JSONField(default=dict, blank=True)
    raw = models.BinaryField()
    ip = models.CharField(max_length=64, blank=True, default="")
    status = models.CharField(max_length=16, choices=Status.choices)
    reason = models.TextField(blank=True, default="")
    event_count = models.PositiveIntegerField(default=0)
    processed_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "webhook bodies"
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["source", "-id"], name="webhookbody_source_latest"),
            models.Index(fields=["source", "status", "-id"], name="webhookbody_source_status"),
            models.Index(fields=["workspace", "received_at"], name="webhookbody_workspace_received"),  # retention
        ]

    def __str__(self) -> str:
        return f"webhook body {self.pk} ({self.status})"

    @property
    def text(self) -> str:
        """The body as text, for display (undecodable bytes replaced)."""
        return bytes(self.raw).decode("utf-8", errors="replace")
