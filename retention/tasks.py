"""Celery tasks of the retention area."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from . import purge

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
