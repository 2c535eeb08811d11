"""Celery tasks of audience syncing: one connection's sync (after connecting, and for each due
connection) and the beat tick that finds the due ones ("audience_sync.tick", queue "retries")."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from . import services


@shared_task(name="audience_sync.sync_connection", ignore_result=True)
def sync_connection(link_id: int) -> dict[str, int]:
    """Sync one connection until nothing is waiting (a backfill is several batches), at most
    AUDIENCE_SYNC_MAX_BATCHES batches per run: the next tick continues a longer one. Then, every
    AUDIENCE_SYNC_SIZE_INTERVAL seconds, fetch the platform's own audience size."""
    total = {"adds": 0, "removes": 0, "skipped": 0, "events": 0}
    for _ in range(settings.AUDIENCE_SYNC_MAX_BATCHES):
        result = services.sync(link_id)
        for k in total:
            total[k] += getattr(result, k)
        if not result.more:
            break
    from .models import AudienceDestination
    from .validation import refresh_platform_size

    link = AudienceDestination.objects.select_related("destination").filter(pk=link_id).first()
    if link is not None:
        refresh_platform_size(link)  # the platform's own size, for validation (at most once an interval)
    return total


@shared_task(name="audience_sync.tick", ignore_result=True)
def tick() -> int:
    """Enqueue a sync of every connection whose time has come (realtime ones at every tick)."""
    ids = services.due()
    for link_id in ids:
        sync_connection.delay(link_id)
    return len(ids)
