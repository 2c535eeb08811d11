"""The outbox sweep: no stored event is ever stranded.

Events are handed to fan-out right after their request commits. When that publish fails (broker down) or
its message is lost, the row keeps `dispatched_at` empty; fan-out sets it once it has durably recorded
the delivery work. The sweep finds rows still empty after OUTBOX_GRACE_SECONDS and enqueues them again,
oldest first, CHUNK ids per task. Fan-out skips events already dispatched, so a repeat is harmless.

Celery beat runs it every OUTBOX_SWEEP_INTERVAL seconds (task "ingest.outbox_sweep"); operators can run
`python manage.py sweep_outbox`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.conf import settings

from .models import Event
from .services import MAX_IDS_PER_TASK, dispatch

CHUNK = MAX_IDS_PER_TASK
# Most events one sweep re-enqueues; the next sweep continues where the backlog is.
DEFAULT_LIMIT = 50_000


def sweep(*, grace_seconds: float | None = None, limit: int = DEFAULT_LIMIT, now: datetime | None = None) -> int:
    """Enqueue fan-out for undispatched events older than the grace period; return how many were sent.

    Stops at the first failed publish (the broker is still down; the next sweep retries).
    """
    grace = settings.OUTBOX_GRACE_SECONDS if grace_seconds is None else grace_seconds
    cutoff = (now or datetime.now(UTC)) - timedelta(seconds=grace)
    ids = list(
        Event.objects.filter(dispatched_at__isnull=True, received_at__lt=cutoff)
        .order_by("received_at", "id")
        .values_list("id", flat=True)[:limit]
    )
    sent = 0
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        if not dispatch(chunk, force=True):
            break
        sent += len(chunk)
    return sent
