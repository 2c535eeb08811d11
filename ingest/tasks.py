"""Celery tasks of the ingest area."""

from __future__ import annotations

import logging

from celery import shared_task

from . import outbox

log = logging.getLogger(__name__)


@shared_task(name="ingest.outbox_sweep", ignore_result=True)
def outbox_sweep() -> int:
    """Re-enqueue stored events that were never handed to fan-out (scheduled by beat)."""
    sent = outbox.sweep()
    if sent:
        log.info("outbox sweep re-enqueued %d events", sent)
    return sent
