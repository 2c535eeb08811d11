"""Celery tasks of audiences: the background computation and the due-time sweep (beat, "retries")."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from . import services

log = logging.getLogger(__name__)


@shared_task(name="audiences.compute", ignore_result=True)
def compute_audience(audience_id: int, generation: int) -> bool:
    """Compute a new or edited audience over every existing person (progress on the audience row)."""
    return services.compute(audience_id, generation, batch=settings.AUDIENCES_COMPUTE_BATCH)


@shared_task(name="audiences.sweep_due", ignore_result=True)
def sweep_due() -> dict[str, int]:
    """Memberships (and candidates) whose time window passes now; nothing else is looked at."""
    changes = services.sweep_due(limit=settings.AUDIENCES_SWEEP_LIMIT)
    entered, exited = changes.count()
    if entered or exited:
        log.info("audiences sweep: %d entered, %d exited", entered, exited)
    return {"evaluated": changes.evaluated, "entered": entered, "exited": exited}
