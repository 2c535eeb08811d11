"""Stored events: every message we acknowledged, durable before the 200."""

from __future__ import annotations

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
    # Set when the event was handed to fan-out; the outbox sweep re-enqueues rows where it stays empty.
    dispatched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["source", "message_id"], name="unique_source_message"),
        ]
        indexes = [
            models.Index(fields=["source", "-received_at"], name="event_source_latest"),
            models.Index(fields=["workspace", "-received_at"], name="event_workspace_latest"),
            models.Index(fields=["message_id"], name="event_message_id"),
            models.Index(
                fields=["received_at"], name="event_undispatched", condition=models.Q(dispatched_at__isnull=True)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.message_id}"
