"""Deleting a workspace: at once for its users and keys, then its data in the background.

`request_deletion` (an owner, from the settings page or `DELETE /api/workspaces/{slug}/`) marks the
workspace `deleting_at` and, in the same transaction, disables its sources, destinations and audiences
and records an audit entry that outlives the workspace (it names no workspace; Django admin shows it).
From its commit on:

- the workspace is gone for every user: `pipelines.tenancy.workspaces_for` leaves it out, so its pages
  and API routes answer 404, and its invitation links stop working;
- its write keys, Track API credentials and webhook URLs are refused (401) in the process that deleted
  it at once, in every other process within INGEST_KEY_CACHE_SECONDS (Track API: 10 seconds), the
  interval for which ingest remembers a key (ingest/auth.py);
- nothing more is sent: fan-out routes only to enabled destinations (within DELIVERY_ROUTING_TTL), and
  a delivery to a disabled destination is not sent.

The task "retention.delete_workspace" (retries queue) then removes the data, enqueued once those caches
have expired (`deletion_delay`). It deletes in bounded batches, each one short transaction, as the
retention purge does: the first attempts still waiting (delivery chunks) and the pending and retrying
delivery rows (which the retention purge never deletes), then with `retention.purge.purge_workspace` and
cutoffs in the future every event, settled delivery row, delivery count and incoming webhook body, then
the delivery exchanges, profiles, audiences, privacy records and audit entries, and last the Workspace
row (its sources, destinations, members and settings go with it). A second audit entry, by "system",
records when the data was gone (each run logs how many rows of each model it deleted).

A run holds a lease (`Workspace.deletion_locked_until`) so two never overlap, works for at most
RETENTION_PURGE_MAX_SECONDS and then enqueues the next run. Running it again is harmless: it continues
where the data stands, and does nothing once the workspace is gone. If a worker dies mid-way, its lease
runs out and the beat task "retention.sweep_deletions" enqueues the run again.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from pipelines.models import Workspace

from . import purge

log = logging.getLogger(__name__)

DELETE_TASK = "retention.delete_workspace"
# A run whose worker died leaves its lease behind: it runs out this long after the run's time budget.
LEASE_MARGIN_SECONDS = 60.0
# The beat sweep enqueues a deletion only when it is older than this: a first run waits for the caches
# (deletion_delay) and may wait behind other work on the retries queue.
SWEEP_GRACE_SECONDS = 300.0


def deletion_delay() -> float:
    """Seconds after the deletion until no process accepts the workspace's keys or routes its events any
    more (the ingest key caches, the fan-out routing cache), plus a little for requests in flight."""
    from ingest.trackapi import auth as trackapi_auth

    return max(float(settings.INGEST_KEY_CACHE_SECONDS), float(trackapi_auth.CACHE_SECONDS),
               float(settings.DELIVERY_ROUTING_TTL)) + 5.0


def request_deletion(workspace: Workspace) -> Workspace:
    """Delete `workspace` for everybody now and its data in the background (see the module docstring).
    The caller checks that the user is an owner. Deleting a workspace already being deleted does nothing
    more. Returns the workspace with `deleting_at` set."""
    from audiences.models import Audience
    from audit.recording import record_workspace_deletion
    from connections.models import Destination, Source

    with transaction.atomic():
        locked = Workspace.objects.select_for_update().get(pk=workspace.pk)
        if locked.deleting_at is not None:
            return locked
        locked.deleting_at = timezone.now()
        locked.save(update_fields=["deleting_at"])
        sources = Source.objects.filter(workspace=locked)
        keys = list(sources.values_list("write_key", "site_id"))
        # update(): one statement each, and no audit entry per object (the workspace's entries go with it;
        # the entry below says what happened)
        sources.update(enabled=False, updated_at=locked.deleting_at)
        Destination.objects.filter(workspace=locked).update(enabled=False)
        Audience.objects.filter(workspace=locked).update(enabled=False)
        record_workspace_deletion(locked)
        transaction.on_commit(lambda: _after_commit(locked.pk, keys))
    return locked


def _after_commit(workspace_id: int, keys: list[tuple[str, str | None]]) -> None:
    from destinations.fanout import clear_routing_cache
    from ingest import auth
    from ingest.trackapi import auth as trackapi_auth

    for write_key, site_id in keys:  # this process refuses them at once; the others within deletion_delay
        auth.forget(write_key)
        if site_id:
            trackapi_auth.forget(site_id)
    clear_routing_cache()
    enqueue(workspace_id, countdown=deletion_delay())


def enqueue(workspace_id: int, *, countdown: float | None = None) -> bool:
    """Publish a run of the deletion task; False when the broker refused (the beat sweep enqueues it)."""
    from pipelines.celery import app

    try:
        app.send_task(DELETE_TASK, args=[workspace_id], countdown=countdown, retry=False)
    except Exception:
        log.warning("broker unavailable; deletion of workspace %s left for the sweep", workspace_id, exc_info=True)
        return False
    return True


def sweep() -> int:
    """Enqueue the deletions no run is working on (the beat task calls this): deleted more than
    SWEEP_GRACE_SECONDS ago and holding no live lease. Returns how many were enqueued."""
    now = timezone.now()
    ids = list(Workspace.objects.filter(deleting_at__lt=now - timedelta(seconds=SWEEP_GRACE_SECONDS))
               .filter(models.Q(deletion_locked_until__isnull=True) | models.Q(deletion_locked_until__lt=now))
               .order_by("deleting_at").values_list("id", flat=True)[:100])
    return sum(1 for pk in ids if enqueue(pk))


# --- Removing the data ----------------------------------------------------------------------------------


@dataclass
class DeletionRun:
    """What one run did: rows deleted per model label ("ingest.Event": 1200, ...), whether the workspace
    is now gone (`complete`), and `busy` when another run held the lease (this one did nothing)."""

    deleted: Counter[str] = field(default_factory=Counter)
    complete: bool = False
    busy: bool = False


def _claim(workspace_id: int, max_seconds: float) -> bool:
    """Take the run's lease: one UPDATE, true when no other live run holds it."""
    now = timezone.now()
    return bool(Workspace.objects.filter(pk=workspace_id, deleting_at__isnull=False)
                .filter(models.Q(deletion_locked_until__isnull=True) | models.Q(deletion_locked_until__lt=now))
                .update(deletion_locked_until=now + timedelta(seconds=max_seconds + LEASE_MARGIN_SECONDS)))


def _release(workspace_id: int) -> None:
    Workspace.objects.filter(pk=workspace_id).update(deletion_locked_until=None)


class _Deadline:
    def __init__(self, max_seconds: float) -> None:
        self.at = time.monotonic() + max_seconds

    def passed(self) -> bool:
        return time.monotonic() >= self.at

    def left(self) -> float:
        return max(0.0, self.at - time.monotonic())


def _drain(queryset: models.QuerySet[Any], batch: int, pause: float, deadline: _Deadline,
           deleted: Counter[str]) -> bool:
    """Delete every row of `queryset`, at most `batch` per transaction, resting `pause` times as long as
    each batch took (as the retention purge does); True when none is left, False when the deadline came
    first. Unordered, so each batch is read through the index of the filter."""
    model = queryset.model
    while not deadline.passed():
        started = time.monotonic()
        with transaction.atomic():
            ids = list(queryset.order_by().values_list("pk", flat=True)[:batch])
            if not ids:
                return True
            _, per_model = model._default_manager.filter(pk__in=ids).delete()
        deleted.update({label: n for label, n in per_model.items() if n})
        if len(ids) < batch:
            return True
        time.sleep(min((time.monotonic() - started) * pause, deadline.left()))
    return False


def _steps(workspace_id: int) -> list[Any]:
    """The queries to empty, in order: each only once nothing that points at its rows is left."""
    from audiences.models import Audience, DueCheck, HourlyCount, MembershipEvent
    from audiences.models import Membership as AudienceMembership
    from audit.models import AuditEntry
    from connections.models import Destination
    from destinations.models import Delivery, DeliveryChunk, DeliveryExchange
    from privacy.models import PrivacyRequest, SuppressedEvent, Suppression
    from profiles.models import Device, GroupMembership, Identifier, IdentityConflict, Person, PersonEvent

    destinations = list(Destination.objects.filter(workspace_id=workspace_id).order_by("id")
                        .values_list("id", flat=True))
    audiences = list(Audience.objects.filter(workspace_id=workspace_id).order_by("id").values_list("id", flat=True))
    steps: list[Any] = []
    # First attempts not sent yet, then the rows the retention purge keeps whatever their age: with them
    # gone, purge_workspace below can take every event.
    steps += [DeliveryChunk.objects.filter(destination_id=d) for d in destinations]
    steps += [Delivery.objects.filter(destination_id=d, status=s) for d in destinations for s in purge.UNSETTLED]
    steps.append("purge")
    # Every delivery row is gone now; so is any reason to keep a request or response.
    steps += [DeliveryExchange.objects.filter(destination_id=d) for d in destinations]
    steps += [model.objects.filter(workspace_id=workspace_id)
              for model in (IdentityConflict, Identifier, Device, GroupMembership, PersonEvent, Person)]
    steps += [model.objects.filter(audience_id=a)
              for a in audiences for model in (AudienceMembership, DueCheck, MembershipEvent, HourlyCount)]
    steps += [model.objects.filter(workspace_id=workspace_id)
              for model in (SuppressedEvent, Suppression, PrivacyRequest, AuditEntry)]
    return steps


# purge.PurgeResult's fields as the model labels the other steps count under
_PURGED = {"events": "ingest.Event", "deliveries": "destinations.Delivery", "exchanges": "destinations.DeliveryExchange",
           "counts": "destinations.DeliveryCount", "webhook_bodies": "ingest.WebhookBody"}


def run_deletion(workspace_id: int, *, batch: int | None = None, max_seconds: float | None = None,
                 pause: float | None = None) -> DeletionRun:
    """Remove the data of a workspace being deleted, for at most `max_seconds` (default
    RETENTION_PURGE_MAX_SECONDS); `batch` and `pause` as the retention purge's (RETENTION_PURGE_BATCH,
    RETENTION_PURGE_PAUSE). Does nothing for a workspace that is not being deleted or is gone already."""
    batch = batch or settings.RETENTION_PURGE_BATCH
    max_seconds = settings.RETENTION_PURGE_MAX_SECONDS if max_seconds is None else max_seconds
    pause = settings.RETENTION_PURGE_PAUSE if pause is None else pause
    run = DeletionRun()
    workspace = Workspace.objects.filter(pk=workspace_id, deleting_at__isnull=False).first()
    if workspace is None:
        run.complete = not Workspace.objects.filter(pk=workspace_id).exists()
        return run
    if not _claim(workspace_id, max_seconds):
        run.busy = True
        return run
    deadline = _Deadline(max_seconds)
    try:
        for step in _steps(workspace_id):
            if step == "purge":
                future = timezone.now() + timedelta(days=1)
                result = purge.purge_workspace(
                    workspace_id, purge.Cutoffs(events=future, deliveries=future, counts=future, rollup=None),
                    batch=batch, pause=pause, max_seconds=deadline.left())
                run.deleted.update({_PURGED[k]: v for k, v in result.as_dict().items() if v and k in _PURGED})
                done = result.complete
            else:
                done = _drain(step, batch, pause, deadline, run.deleted)
            if not done:
                return run
        run.complete = _delete_row(workspace, run.deleted)
    finally:
        if not run.complete:
            _release(workspace_id)
    return run


def _delete_row(workspace: Workspace, deleted: Counter[str]) -> bool:
    """Delete the Workspace row and the little that is left with it (sources, destinations, members,
    settings, anything stored since the batches ran) and record that its data is gone. True also when
    another run deleted it first (then nothing is recorded twice)."""
    from audit.recording import record_workspace_deletion

    with transaction.atomic():
        row = Workspace.objects.select_for_update().filter(pk=workspace.pk).first()
        if row is None:
            return True
        _, per_model = row.delete()
        deleted.update({label: n for label, n in per_model.items() if n})
        record_workspace_deletion(workspace, {"status": {"before": "deleting", "after": "deleted"}})
    log.info("workspace %s (%s) deleted: %s", workspace.pk, workspace.slug,
             " ".join(f"{k}={v}" for k, v in sorted(deleted.items())))
    return True
