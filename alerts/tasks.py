"""Celery task of alerts: the evaluator (beat, every ALERTS_EVALUATE_INTERVAL seconds, "retries" queue)."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from . import services

log = logging.getLogger(__name__)


@shared_task(name="alerts.evaluate", ignore_result=True)
def evaluate() -> dict[str, int]:
    """Check every enabled rule once; open and close incidents and send their notifications."""
    result = services.evaluate(limit=settings.ALERTS_EVALUATE_LIMIT)
    if result["opened"] or result["recovered"]:
        log.info("alerts: %(opened)d opened, %(recovered)d recovered", result)
    return result
