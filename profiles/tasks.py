"""Celery tasks of the profile store."""

from __future__ import annotations

from celery import shared_task

from . import history


@shared_task(name="profiles.trim_history", ignore_result=True)
def trim_history() -> int:
    """Drop per-day counts older than each workspace's history window (beat, daily, "retries" queue)."""
    return history.trim()
