"""Alert rules (what to watch, whom to tell) and incidents (one per time a rule's condition held)."""

from __future__ import annotations

from typing import Any

from django.db import models

from connections.models import Destination, Source
from pipelines import crypto
from pipelines.models import Workspace


class RuleKind(models.TextChoices):
    FAILURE_RATE = "failure_rate", "Failure rate above a threshold"
    NO_DELIVERY = "no_delivery", "Nothing delivered while events arrive"
    CIRCUIT_OPEN = "circuit_open", "Circuit opened"
    SOURCE_VOLUME = "source_volume", "Source volume outside a band"


DESTINATION_KINDS = (RuleKind.FAILURE_RATE, RuleKind.NO_DELIVERY, RuleKind.CIRCUIT_OPEN)


class AlertRule(models.Model):
    """One condition on a destination or a source. Which numbers apply depends on `kind`:
    failure_rate: window_minutes, threshold_percent, min_events; no_delivery: window_minutes;
    circuit_open: none; source_volume: window_minutes, min_volume and/or max_volume."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="alert_rules")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=RuleKind.choices)
    destination = models.ForeignKey(Destination, on_delete=models.CASCADE, null=True, blank=True,
                                    related_name="alert_rules")
    source = models.ForeignKey(Source, on_delete=models.CASCADE, null=True, blank=True, related_name="alert_rules")
    window_minutes = models.PositiveIntegerField(default=15)
    threshold_percent = models.FloatField(null=True, blank=True)
    min_events = models.PositiveIntegerField(default=10)
    min_volume = models.PositiveIntegerField(null=True, blank=True)
    max_volume = models.PositiveIntegerField(null=True, blank=True)
    emails = models.JSONField(default=list, blank=True)
    # A Slack-compatible incoming-webhook URL: the URL is the credential, so it is encrypted at rest.
    slack_url_encrypted = models.TextField(blank=True, default="")
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name", "id")

    def __str__(self) -> str:
        return self.name

    @property
    def slack_url(self) -> str:
        return crypto.decrypt(self.slack_url_encrypted) if self.slack_url_encrypted else ""

    @slack_url.setter
    def slack_url(self, value: str) -> None:
        self.slack_url_encrypted = crypto.encrypt(value) if value else ""

    @property
    def masked_slack_url(self) -> str:
        return crypto.mask(self.slack_url) if self.slack_url_encrypted else ""

    @property
    def target_name(self) -> str:
        target: Any = self.destination if self.destination_id else self.source
        return target.name if target is not None else ""


class AlertIncident(models.Model):
    """A rule's condition holding, from when the evaluator first saw it until it saw it clear.
    At most one incident of a rule is open (recovered_at empty) at a time."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="incidents")
    opened_at = models.DateTimeField()
    recovered_at = models.DateTimeField(null=True, blank=True)
    summary = models.TextField()
    recovery_summary = models.TextField(blank=True, default="")
    # [{"at", "event": "opened"|"recovered", "channel": "email"|"slack", "ok": bool, "error": str}]
    notifications = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ("-opened_at", "-id")
        constraints = (models.UniqueConstraint(fields=["rule"], condition=models.Q(recovered_at__isnull=True),
                                               name="one_open_incident_per_rule"),)

    def __str__(self) -> str:
        return f"{self.rule} at {self.opened_at}"
