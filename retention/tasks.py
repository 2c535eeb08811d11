"""Celery tasks of the retention area."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from . import purge, workspace_deletion

log = logging.getLogger(__name__)


@shared_task(name="retention.purge_expired", ignore_result=True)
def purge_expired() -> dict[str, int]:
    """Delete what every workspace's retention policy says has expired (scheduled by beat, on the
    "retries" queue). Runs at most RETENTION_PURGE_MAX_SECONDS; the next run continues a backlog."""
    result = purge.purge_expired(batch=settings.RETENTION_PURGE_BATCH,
                                 max_seconds=settings.RETENTION_PURGE_MAX_SECONDS,
                                 pause=settings.RETENTION_PURGE_PAUSE)
    deleted = result.as_dict()
    if any(deleted.values()):
        log.info("retention purge: %s%s", " ".join(f"{k}={v}" for k, v in deleted.items() if v),
                 "" if result.complete else " (time budget reached, continuing next run)")
    return deleted


@shared_task(name="retention.delete_workspace", ignore_result=True, acks_late=True)
def delete_workspace(workspace_id: int) -> str:
    """Remove the data of a workspace an owner deleted, then the workspace (retention.workspace_deletion).
    Works for at most RETENTION_PURGE_MAX_SECONDS, then enqueues the next run."""
    run = workspace_deletion.run_deletion(workspace_id)
    if run.busy:
        return "another run holds the lease"
    if not run.complete:
        workspace_deletion.enqueue(workspace_id)
    summary = " ".join(f"{k}={v}" for k, v in sorted(run.deleted.items()))
    if run.deleted:
        log.info("deleting workspace %s: %s%s", workspace_id, summary, "" if run.complete else " (continuing)")
    return f"{'done' if run.complete else 'continuing'} {summary}"


@shared_task(name="retention.sweep_deletions", ignore_result=True)
def sweep_deletions() -> int:
    """Enqueue the workspace deletions no run is working on (scheduled by beat): a lost task, a dead worker."""
    return workspace_deletion.sweep()
