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

    def __str__(self) -> str:
        return f"outbox entry {self.pk}"

    def ids(self) -> list[int]:
        return [int(i) for i in orjson.loads(self.event_ids)]
