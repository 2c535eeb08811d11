"""Delivery records: what happened to each event at each destination action."""

from __future__ import annotations

from typing import Any

import orjson
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


class DeliveryExchange(models.Model):
    """One request we sent and the response we got (bodies truncated, secrets redacted). Every delivery
    row a request carried points at it, so a batch of 100 events stores its request once, not 100 times."""

    destination = models.ForeignKey(Destination, on_delete=models.CASCADE, related_name="+")
    request = models.JSONField(null=True, blank=True)
    response = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField()
    # How many delivery rows point at it. A retry points its rows at the new attempt's exchange and
    # subtracts them here; at zero the record is deleted (it was nobody's last request any more).
    # Null: not counted (written before the count existed); such a record is never deleted that way.
    row_count = models.PositiveIntegerField(null=True, blank=True)

    def __str__(self) -> str:
        return f"exchange {self.pk} ({self.destination_id})"


class Delivery(models.Model):
    """One event at one action of one destination (action empty: filtered before any action matched)."""

    # Hot-path table: no database-level foreign keys, as on ingest.Event (checks and key-share locks on the
    # same few rows at every commit). Django still cascades deletes and nulls `action`.
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="deliveries",
                                  db_constraint=False)
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries", db_constraint=False)
    # not indexed alone: the (destination, ...) indexes below start with it
    destination = models.ForeignKey(Destination, on_delete=models.CASCADE, related_name="deliveries",
                                    db_index=False, db_constraint=False)
    action = models.ForeignKey(Action, on_delete=models.SET_NULL, null=True, blank=True, related_name="deliveries",
                               db_constraint=False)
    message_id = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices)
    attempts = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    # The last request and response (see DeliveryExchange; `request` and `response` below read them).
    # No database constraint: exchanges go with their destination, as the rows pointing at them do.
    exchange = models.ForeignKey(DeliveryExchange, on_delete=models.DO_NOTHING, null=True, blank=True,
                                 related_name="+", db_index=False, db_constraint=False)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # The mapped payload, fixed at fan-out: every retry sends exactly this. Kept on retrying and failed
    # rows; null on delivered and filtered ones (what was sent is in the exchange's request).
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
        verbose_name_plural = "deliveries"
        ordering = ["-updated_at", "-id"]
        indexes = [
            models.Index(fields=["destination", "status", "-updated_at"], name="delivery_dest_status"),
            models.Index(fields=["destination", "message_id"], name="delivery_dest_message"),
            models.Index(
                fields=["next_attempt_at"], name="delivery_due",
                condition=models.Q(status__in=["pending", "retrying"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.message_id} → {self.destination_id}: {self.status}"

    def _exchange(self) -> DeliveryExchange | None:
        if self.exchange_id is None:
            return None
        try:
            return self.exchange
        except DeliveryExchange.DoesNotExist:
            return None

    @property
    def request(self) -> Any:
        """The last request sent for this row: {method, url, headers, body}, or None."""
        exchange = self._exchange()
        return exchange.request if exchange is not None else None

    @property
    def response(self) -> Any:
        """The last response: {status, headers, body, duration_ms}, or None."""
        exchange = self._exchange()
        return exchange.response if exchange is not None else None


class DeliveryChunk(models.Model):
    """First attempts waiting to be sent: the mapped payloads of up to one task's worth of events for one
    action of one destination.

    Fan-out writes one chunk where it used to write one pending Delivery row per event, and the task that
    sends it writes each event's Delivery row, with its outcome, and deletes the chunk in the same
    transaction. So an event's Delivery row appears with its first attempt, and a delivered event costs
    one narrow row write instead of a wide insert, a row lock and a wide update. Until then the chunk is
    the durable record of the work: a chunk whose task was lost is found by the sweep, like a row."""

    # Hot path, like Delivery: no database-level foreign keys.
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_constraint=False,
                                  db_index=False)
    destination = models.ForeignKey(Destination, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    action = models.ForeignKey(Action, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                               db_constraint=False)
    # JSON text (not jsonb: nothing queries inside it, and PostgreSQL need not parse it on every insert):
    # [[event_id, message_id, payload], ...] in event order.
    items = models.TextField()
    size = models.PositiveIntegerField()
    # Set while the destination had no free slot: the chunk waits until then and the sweep sends it.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # SQLite only, as on Delivery: the lease of the worker sending it.
    locked_until = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.size} events for action {self.action_id} of destination {self.destination_id}"

    @classmethod
    def queued(cls, destination: Destination) -> int:
        """Events of the destination waiting for their first attempt."""
        return cls.objects.filter(destination=destination).aggregate(n=models.Sum("size"))["n"] or 0

    def parsed_items(self) -> list[tuple[int, str, Any]]:
        return [tuple(item) for item in orjson.loads(self.items)]  # type: ignore[misc]


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


class FieldsMode(models.TextChoices):
    ALL = "", "Send every field"
    BLOCK = "block", "Drop the listed fields"
    ALLOW = "allow", "Send only the listed fields"


class DestinationFilters(models.Model):
    """A destination's filters, applied at fan-out before its actions (see destinations/routing_controls.py
    for the rules). No row: no filters."""

    destination = models.OneToOneField(Destination, on_delete=models.CASCADE, related_name="filters")
    keep_if = models.TextField(blank=True, default="", help_text="Only events matching this condition are sent.")
    drop_if = models.TextField(blank=True, default="", help_text="Events matching this condition are not sent.")
    sample_percent = models.PositiveSmallIntegerField(default=100)
    fields_mode = models.CharField(max_length=5, choices=FieldsMode.choices, blank=True, default="")
    fields = models.JSONField(default=list, blank=True)  # paths such as "properties.email"
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"filters of {self.destination_id}"

    def compiled(self) -> Any:
        """The filters as destinations.routing_controls compiles them (raises FilterError if invalid)."""
        from .routing_controls import compile_filters

        return compile_filters(self.keep_if, self.drop_if, self.sample_percent, self.fields_mode, self.fields)
