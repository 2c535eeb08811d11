"""How long each workspace keeps its events, delivery records and delivery counts."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from pipelines.models import Workspace

# messageId dedupe works for as long as the event is stored (the unique (source, message_id) constraint),
# so events are never kept for less than this: the window the README promises.
DEDUPE_WINDOW_DAYS = 1
MAX_DAYS = 3650

DEFAULT_EVENTS_DAYS = 30
DEFAULT_DELIVERIES_DAYS = 14
DEFAULT_COUNTS_DAYS = 90
DEFAULT_COUNTS_ROLLUP_DAYS = 7


def _days(default: int, minimum: int, help_text: str) -> models.PositiveIntegerField:
    return models.PositiveIntegerField(
        default=default, help_text=help_text,
        validators=[MinValueValidator(minimum), MaxValueValidator(MAX_DAYS)],
    )


class RetentionPolicy(models.Model):
    """A workspace's retention windows, in days. A workspace without a row has the defaults
    (`policy_for` answers an unsaved one)."""

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE, primary_key=True,
                                     related_name="retention_policy")
    events_days = _days(DEFAULT_EVENTS_DAYS, DEDUPE_WINDOW_DAYS,
                        "Stored events (and their delivery records) older than this are deleted. messageId "
                        "dedupe holds for this long, so at least 1 day.")
    deliveries_days = _days(DEFAULT_DELIVERIES_DAYS, 1,
                            "Settled delivery records (delivered, failed, filtered) and their requests and "
                            "responses are deleted this long after their last attempt. Pending and retrying "
                            "records are always kept.")
    counts_days = _days(DEFAULT_COUNTS_DAYS, 1, "Delivery counts (the delivery chart) older than this are deleted.")
    counts_rollup_days = _days(DEFAULT_COUNTS_ROLLUP_DAYS, 1,
                               "Per-minute delivery counts older than this are summed into hourly ones.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "retention policies"

    def __str__(self) -> str:
        return f"retention of {self.workspace_id}"

    def clean(self) -> None:
        errors = {}
        if self.deliveries_days is not None and self.events_days is not None \
                and self.deliveries_days > self.events_days:
            errors["deliveries_days"] = ("Delivery records cannot be kept longer than events: they are deleted "
                                         "with their event.")
        if self.counts_rollup_days is not None and self.counts_days is not None \
                and self.counts_rollup_days > self.counts_days:
            errors["counts_rollup_days"] = "Counts must be rolled up to hourly before they are deleted."
        if errors:
            raise ValidationError(errors)


def policy_for(workspace: Workspace) -> RetentionPolicy:
    """The workspace's policy, or an unsaved one with the defaults."""
    try:
        return RetentionPolicy.objects.get(workspace=workspace)
    except RetentionPolicy.DoesNotExist:
        return RetentionPolicy(workspace=workspace)
