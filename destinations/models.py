"""Delivery records: what happened to each event at each destination action."""

from __future__ import annotations

from django.db import models

from connections.models import Action, Destination
from ingest.models import Event
from pipelines.models import Workspace


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    RETRYING = "retrying", "Retrying"
    FAILED = "failed", "Failed"
    FILTERED = "filtered", "Filtered"


class Delivery(models.Model):
    """One event at one action of one destination (action empty: filtered before any action matched)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    destination = models.ForeignKey(Destination, on_delete=models.CASCADE, related_name="deliveries")
    action = models.ForeignKey(Action, on_delete=models.SET_NULL, null=True, blank=True, related_name="deliveries")
    message_id = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices)
    attempts = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    # The last request and response, bodies truncated and secrets redacted.
    request = models.JSONField(null=True, blank=True)
    response = models.JSONField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # The mapped payload, fixed at fan-out: every attempt sends exactly this (null for filtered rows).
    payload = models.JSONField(null=True, blank=True)
    # Lease (SQLite only): a worker sending this row holds it until then; a dead worker's lease runs out.
    # On PostgreSQL a task holds its rows with row locks for as long as it runs, and this stays empty.
    locked_until = models.DateTimeField(null=True, blank=True)
    # When a task carrying this row was last put on the broker; the sweep re-enqueues rows whose task
    # seems lost (never ran within the grace period: a killed worker, a wiped broker).
    enqueued_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [
            models.Index(fields=["destination", "status", "-updated_at"], name="delivery_dest_status"),
            models.Index(fields=["destination", "message_id"], name="delivery_dest_message"),
            models.Index(fields=["event"], name="delivery_event"),
            models.Index(
                fields=["next_attempt_at"], name="delivery_due",
                condition=models.Q(status__in=["pending", "retrying"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.message_id} → {self.destination_id}: {self.status}"


class DeliveryCount(models.Model):
    """Per-minute outcome counts per destination, for the Event delivery chart."""

    destination = models.ForeignKey(Destination, on_delete=models.CASCADE, related_name="delivery_counts")
    minute = models.DateTimeField()
    delivered = models.PositiveIntegerField(default=0)
    retrying = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    filtered = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["destination", "minute"], name="unique_delivery_minute")]
        ordering = ["-minute"]


class DestinationCircuit(models.Model):
    """A destination that is failing at request level (timeouts, refused connections, 5xx, 429).

    Shared by every worker process: while `open_until` is in the future, first attempts to the
    destination are not sent but handed to the retry queue, so a dead or hanging destination cannot
    occupy the workers that first attempts to the other destinations need. Retries still probe it; the
    first success deletes the row.
    """

    destination = models.OneToOneField(Destination, on_delete=models.CASCADE, primary_key=True,
                                       related_name="circuit")
    open_until = models.DateTimeField()
    reason = models.TextField(blank=True, default="")
    opened_at = models.DateTimeField(auto_now=True)
