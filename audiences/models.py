"""Audiences (segments): a definition (audiences.definition), who is in it, and every enter and exit.

Membership rows are the current members; MembershipEvent is the enter/exit log (what syncing to
destinations reads); HourlyCount is the size over time; DueCheck holds the non-members that time alone
could bring in (a `between` window reaching an old event), so the sweep needs no scan of everyone."""

from __future__ import annotations

from django.db import models

from pipelines.models import Workspace


class Audience(models.Model):
    """A rules audience is its `definition`; a manual one (kind "manual") is the people the Track API's
    POST /api/v1/segments/{segment_id}/add_customers added and remove_customers did not remove since:
    its definition is {"segment": segment_id}, kept by the service, not edited."""

    class Kind(models.TextChoices):
        RULES = "rules", "Rules"
        MANUAL = "manual", "Manual segment"

    class Status(models.TextChoices):
        COMPUTING = "computing", "Computing"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="audiences")
    name = models.CharField(max_length=200)
    key = models.SlugField(max_length=100, help_text="Stable identifier (a slug), unique in the workspace.")
    definition = models.JSONField()
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.RULES)
    segment_id = models.PositiveIntegerField(null=True, blank=True,
                                             help_text="Manual audiences: the Track API's segment id.")
    enabled = models.BooleanField(default=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.COMPUTING)
    # Each save of the definition bumps the generation; a background computation of an older one stops.
    generation = models.PositiveIntegerField(default=1)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    size = models.PositiveIntegerField(default=0)
    computed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "key"], name="unique_audience_key"),
            models.UniqueConstraint(fields=["workspace", "segment_id"], name="unique_audience_segment",
                                    condition=models.Q(segment_id__isnull=False)),
        ]
        ordering = ("name", "id")

    def __str__(self) -> str:
        return f"{self.name} ({self.key})"


class Membership(models.Model):
    """A person currently in an audience. `due_at`: when time passing could change that (None: never)."""

    audience = models.ForeignKey(Audience, on_delete=models.CASCADE, related_name="memberships")
    person_id = models.BigIntegerField()
    entered_at = models.DateTimeField()
    due_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["audience", "person_id"], name="unique_audience_member")]
        indexes = [
            models.Index(fields=["due_at"], name="audience_member_due", condition=models.Q(due_at__isnull=False)),
            models.Index(fields=["person_id"], name="audience_member_person"),
            models.Index(fields=["audience", "-entered_at"], name="audience_member_recent"),
        ]


class DueCheck(models.Model):
    """A person not in the audience whom time alone could bring in at `due_at`."""

    audience = models.ForeignKey(Audience, on_delete=models.CASCADE, related_name="due_checks")
    person_id = models.BigIntegerField()
    due_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["audience", "person_id"], name="unique_audience_due")]
        indexes = [models.Index(fields=["due_at"], name="audience_due_at")]


class MembershipEvent(models.Model):
    class Kind(models.TextChoices):
        ENTER = "enter", "Entered"
        EXIT = "exit", "Exited"

    audience = models.ForeignKey(Audience, on_delete=models.CASCADE, related_name="membership_events")
    person_id = models.BigIntegerField()
    kind = models.CharField(max_length=5, choices=Kind.choices)
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["audience", "-at"], name="audience_event_recent")]


class HourlyCount(models.Model):
    """Entries and exits during one hour, and the size at the end of it (as last written)."""

    audience = models.ForeignKey(Audience, on_delete=models.CASCADE, related_name="hourly_counts")
    hour = models.DateTimeField()
    entered = models.PositiveIntegerField(default=0)
    exited = models.PositiveIntegerField(default=0)
    size = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["audience", "hour"], name="unique_audience_hour")]
