"""The outbox sweep: no stored event is ever stranded.

Every INSERT of events also writes an OutboxEntry listing them, in the same transaction. Right after the
commit the entry is handed to fan-out, which deletes it in the transaction that records the events'
delivery work. When that publish fails (broker down) or its message is lost, the entry stays. The sweep
finds entries handed over more than OUTBOX_GRACE_SECONDS ago and enqueues them again, oldest first, whole
entries up to MAX_IDS_PER_TASK events per task, and notes the time, so a backlog of tasks still on their
way is not enqueued again at every sweep. Fan-out claims an entry by deleting it, so a repeat is
harmless.

Celery beat runs it every OUTBOX_SWEEP_INTERVAL seconds (task "ingest.outbox_sweep"); operators can run
`python manage.py sweep_outbox`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.conf import settings

from .models import OutboxEntry
from .services import dispatch_entries

# Most entries one sweep re-enqueues; the next sweep continues where the backlog is.
DEFAULT_LIMIT = 5_000


def sweep(*, grace_seconds: float | None = None, limit: int = DEFAULT_LIMIT, now: datetime | None = None) -> int:
    """Enqueue fan-out for outbox entries older than the grace period; return how many events were sent.

    Stops at the first failed publish (the broker is still down; the next sweep retries).
    """
    grace = settings.OUTBOX_GRACE_SECONDS if grace_seconds is None else grace_seconds
    now = now or datetime.now(UTC)
    cutoff = now - timedelta(seconds=grace)
    entries = [(entry.ids(), entry.id) for entry in
               OutboxEntry.objects.filter(handed_at__lt=cutoff).order_by("id")[:limit]]
    sent = dispatch_entries(entries, force=True)
    # handed over again now: the next sweeps leave them to that task for another grace period
    OutboxEntry.objects.filter(id__in=[entry for _, entry in entries[:sent]]).update(handed_at=now)
    return sum(len(ids) for ids, _ in entries[:sent])
