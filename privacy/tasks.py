"""Celery tasks of the privacy area (queue "retries": slow background work that must not delay fan-out
or first attempts; every worker, the embedded `make run` one included, consumes it)."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="privacy.run_deletion", acks_late=True)
def run_deletion(request_id: int, final_pass: bool = False) -> str:
    request = services.run_deletion(request_id, final_pass=final_pass)
    if request is None:
        return "no such request"
    return f"{request.status} rows={request.rows_deleted} forwards={len(request.forwards)}"


@shared_task(name="privacy.retry_forwards", acks_late=True)
def retry_forwards(request_id: int, attempt: int) -> str:
    request = services.retry_forwards(request_id, attempt)
    if request is None:
        return "no such request"
    return " ".join(f"{f['destination_id']}={f['status']}" for f in request.forwards)


@shared_task(name="privacy.sweep", ignore_result=True)
def sweep() -> int:
    """Enqueue deletions whose task never ran (scheduled by beat)."""
    return services.sweep_pending()
