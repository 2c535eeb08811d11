"""Celery tasks of the delivery engine. Thin wrappers: the work is in fanout.py and delivery.py.

Queues (see the "Delivery engine" block of settings.py):
- "celery": destinations.fan_out (from ingest, one task per accepted request);
- "deliveries": first attempts, one task per (destination, action) group of rows;
- "retries": destinations.sweep (beat, every DELIVERY_SWEEP_INTERVAL s) and the retries it enqueues.
Every task is acked late and safe to run twice: fan-out skips events already dispatched, deliver only
claims rows still pending/retrying, due and not held by another task.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from celery import shared_task

from . import delivery, fanout


@shared_task(name="destinations.fan_out", acks_late=True)
def fan_out(event_ids: list[int]) -> dict[str, Any]:
    return asdict(fanout.fan_out(event_ids))


@shared_task(name="destinations.deliver", acks_late=True)
def deliver(delivery_ids: list[int]) -> dict[str, Any]:
    return asdict(delivery.deliver(delivery_ids))


@shared_task(name="destinations.sweep", acks_late=True)
def sweep() -> int:
    return delivery.sweep()
