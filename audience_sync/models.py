"""An audience connected to a destination, and where its sync stands.

Each connection (`AudienceDestination`) owns an internal source (kind "audience"): syncing stores the
audience's entries and exits as events of that source (ingest.services.store_events), and fan-out
routes them to this one destination's actions like any event. `cursor` is the last
audiences.MembershipEvent id handed over, so each sync reads only what changed since."""

from __future__ import annotations

from django.db import models

from audiences.models import Audience
from connections.models import Destination, Source
from pipelines.models import Workspace


class SyncMode(models.TextChoices):
    ADD_REMOVE = "add_remove", "Add and remove"
    MIRROR = "mirror", "Mirror"


class AudienceDestination(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    audience = models.ForeignKey(Audience, on_delete=models.CASCADE, related_name="destination_links")
    destination = models.ForeignKey(Destination, on_delete=models.CASCADE, related_name="audience_links")
    # The internal source whose events carry this audience to this destination. Deleting it disconnects
    # the audience; a connection deleted any way (its audience or destination deleted) takes its source
    # along (AudienceSyncConfig.ready).
    source = models.OneToOneField(Source, on_delete=models.CASCADE, related_name="audience_link")
    mode = models.CharField(max_length=10, choices=SyncMode.choices, default=SyncMode.ADD_REMOVE)
    # 0: realtime (every tick of the sync beat); otherwise changes are sent every this many minutes.
    interval_minutes = models.PositiveIntegerField(default=0)
    # The audience's id at the ad platform (Meta custom audience, Google user list), when it has one.
    external_audience_id = models.CharField(max_length=100, blank=True, default="")
    cursor = models.BigIntegerField(default=0)
    # Backfill: the last member (person id) sent so far; done once backfilled_at is set.
    backfill_after = models.BigIntegerField(default=0)
    backfilled_at = models.DateTimeField(null=True, blank=True)
    last_sync_at = models.DateTimeField(null=True, blank=True)
    next_sync_at = models.DateTimeField(null=True, blank=True)
    # What we handed to the destination: entries (adds) and exits (removes), people counted once per sync.
    sent_adds = models.PositiveIntegerField(default=0)
    sent_removes = models.PositiveIntegerField(default=0)
    # People we could not send: no identifier the destination can use (never sent, counted here).
    skipped = models.PositiveIntegerField(default=0)
    # Identifier values dropped by identity hygiene (invalid email or phone...), by field.
    dropped = models.JSONField(default=dict, blank=True)
    # The platform's own figures for validation (Meta's num_received / num_invalid_entries / samples,
    # approximate size bounds and when they were fetched).
    platform = models.JSONField(default=dict, blank=True)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["audience", "destination"], name="unique_audience_destination")]
        indexes = [models.Index(fields=["next_sync_at"], name="audience_sync_due")]
        ordering = ("id",)

    def __str__(self) -> str:
        return f"audience {self.audience_id} → destination {self.destination_id}"


class SentMember(models.Model):
    """Ad platforms: what an entry sent for a person (ids and hashed identifiers only, as in the event), so
    that their exit removes exactly those hashes, even after their identifiers changed or the person was
    deleted from the profile store. Deleted when the exit is sent."""

    link = models.ForeignKey(AudienceDestination, on_delete=models.CASCADE, related_name="sent_members")
    person_id = models.BigIntegerField()
    identity = models.JSONField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["link", "person_id"], name="unique_sent_member")]
