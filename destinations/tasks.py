"""Celery tasks of the delivery engine. Thin wrappers: the work is in fanout.py and delivery.py.

Queues (see the "Delivery engine" block of settings.py):
- "celery": destinations.fan_out (from ingest, one task per accepted request);
- "deliveries": first attempts, destinations.deliver_chunks, one task per DeliveryChunk (the events of one
  (destination, action) pair of a fan-out);
- "retries": destinations.sweep (beat, every DELIVERY_SWEEP_INTERVAL s) and what it enqueues: retries
  (destinations.deliver, Delivery row ids) and chunks whose task was lost or waited for a slot.
Every task is acked late and safe to run twice: fan-out skips events already fanned out (their outbox
entries are gone), deliver_chunks only takes chunks that still exist and are not held by another task,
deliver only rows still pending/retrying, due and not held.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from celery import shared_task

from . import delivery, fanout


def _summary(result: Any) -> str:
    """What a task returns (the worker logs it): a short line, not a dict Celery's saferepr walks item by
    item after every task."""
    return " ".join(f"{k}={v}" for k, v in asdict(result).items() if v)


@shared_task(name="destinations.fan_out", acks_late=True)
def fan_out(event_ids: list[int], entries: list[int] | None = None) -> str:
    return _summary(fanout.fan_out(event_ids, entries))


@shared_task(name="destinations.deliver_chunks", acks_late=True)
def deliver_chunks(chunk_ids: list[int]) -> str:
    return _summary(delivery.deliver_chunks(chunk_ids))


@shared_task(name="destinations.deliver", acks_late=True)
def deliver(delivery_ids: list[int]) -> str:
    return _summary(delivery.deliver(delivery_ids))


@shared_task(name="destinations.sweep", acks_late=True)
def sweep() -> int:
    return delivery.sweep()
