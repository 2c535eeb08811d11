"""The profile store: people, their identifiers, traits, devices, groups, identity conflicts and a
compact per-event-name history. Written only by profiles.store (the "Profiles" destination's delivery);
read by the People pages, the profiles API and, through profiles.state, by audiences."""

from __future__ import annotations

from django.db import models

from pipelines.models import Workspace


class Person(models.Model):
    """One person of a workspace. `traits` is the merged trait document; `trait_times` holds, per trait
    key, the timestamp (ISO 8601, UTC) of the event that set its current value, so a late-arriving older
    event never overwrites a newer value (last write wins by event time, not arrival)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="people")
    traits = models.JSONField(default=dict, blank=True)
    trait_times = models.JSONField(default=dict, blank=True)
    # Manual segments (the Track API's add_customers / remove_customers): segment id (text) → [in it?,
    # the event time that said so]; the latest event wins, whatever the arrival order.
    segments = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "people"
        # the People list and API: a workspace's people newest first, a page at a time
        indexes = [models.Index(fields=["workspace", "-id"], name="person_workspace_newest")]

    def __str__(self) -> str:
        return f"person {self.pk}"


class IdentifierKind(models.TextChoices):
    USER_ID = "user_id", "userId"
    EMAIL = "email", "Email"
    ANONYMOUS_ID = "anonymous_id", "anonymousId"


MAX_IDENTIFIER_LENGTH = 500


class Identifier(models.Model):
    """A value that finds a person. userId and anonymousId are kept as sent (case-sensitive); email is
    stored trimmed and lower-cased (found case-insensitively). A value belongs to one person per
    workspace and kind: the unique constraint is what keeps two workers from creating the same person
    twice."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="identifiers")
    kind = models.CharField(max_length=16, choices=IdentifierKind.choices)
    value = models.CharField(max_length=MAX_IDENTIFIER_LENGTH)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "kind", "value"], name="unique_identifier"),
        ]
        indexes = [
            # the People search: exact value or prefix, whatever the kind
            models.Index(fields=["workspace", "value"], name="identifier_search",
                         opclasses=["int8_ops", "varchar_pattern_ops"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind}={self.value}"


class Device(models.Model):
    """A device (push token or device id) from the device events ("Application Installed" / "Opened")
    or any event's context.device. Deleted by "Application Uninstalled" / "Device Deleted"."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="devices")
    device_id = models.CharField(max_length=500)
    platform = models.CharField(max_length=40, blank=True, default="")
    attributes = models.JSONField(default=dict, blank=True)
    last_seen_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "device_id"], name="unique_device")]
        indexes = [models.Index(fields=["person"], name="device_person")]


class GroupMembership(models.Model):
    """The person belongs to the group (account, company) `group_id`, from a group call."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="groups")
    group_id = models.CharField(max_length=500)
    traits = models.JSONField(default=dict, blank=True)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["person", "group_id"], name="unique_group_membership")]


class IdentityConflict(models.Model):
    """An event whose userId and email belong to two different people. Neither person is changed by the
    conflicting identifier (Customer.io's "Attribute Update Failure"); the row is shown on both people's
    pages so someone can decide."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    user_id = models.CharField(max_length=MAX_IDENTIFIER_LENGTH)
    email = models.CharField(max_length=MAX_IDENTIFIER_LENGTH)
    user_person = models.ForeignKey(Person, on_delete=models.SET_NULL, null=True, related_name="+")
    email_person = models.ForeignKey(Person, on_delete=models.SET_NULL, null=True, related_name="+")
    message_id = models.CharField(max_length=200, blank=True, default="")
    event_id = models.BigIntegerField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["user_person"], name="conflict_user_person"),
            models.Index(fields=["email_person"], name="conflict_email_person"),
        ]


class PersonEvent(models.Model):
    """The compact history of one event name for one person: counts per day (UTC, "YYYY-MM-DD" → n,
    only days inside the history window), first and last time, the properties of the latest one, and the
    exact times (epoch seconds) of the events inside the recent horizon (the longest minute/hour window
    audiences use, bounded: profiles.history.Needs). Not a copy of the events.

    With a `filter_key`, the row counts only the events of that name that matched one property filter
    audiences asked for (profiles.history.Filter), from the time the filter was first asked for."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="event_stats")
    name = models.CharField(max_length=200)
    filter_key = models.CharField(max_length=40, blank=True, default="")
    per_day = models.JSONField(default=dict)
    first_at = models.DateTimeField()
    last_at = models.DateTimeField()
    last_properties = models.JSONField(default=dict)
    recent = models.JSONField(default=dict, blank=True)  # {"from": epoch s, "t": [epoch s, ...]}

    class Meta:
        constraints = [models.UniqueConstraint(fields=["person", "name", "filter_key"], name="unique_person_event_filter")]
        indexes = [models.Index(fields=["workspace", "name"], name="person_event_name")]
