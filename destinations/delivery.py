"""Sending mapped payloads through an action definition, and classifying what happened.

This module knows nothing about Celery or rows: the tasks (destinations/tasks.py) and the preview
(destinations/preview.py) both call `send_chunk`, so a test request from the UI goes through exactly the
code a real delivery does.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .catalog.base import ActionDefinition, BatchResult
from .errors import DeliveryError, PayloadError
from .http import Exchange

log = logging.getLogger(__name__)

# Exponential backoff with full jitter: attempt n waits uniformly in [0, min(CAP, BASE * 2**(n-1))],
# and never less than the destination's Retry-After.
BACKOFF_BASE_SECONDS = 5.0
BACKOFF_CAP_SECONDS = 600.0
# Even full jitter keeps a small floor so a retry storm cannot hammer a struggling destination.
BACKOFF_FLOOR_SECONDS = 1.0


def batch_size(action_def: ActionDefinition, settings: dict[str, Any]) -> int:
    """How many payloads one request carries: 1 without perform_batch; else the destination's
    `batch_size` setting when it has one, else the action's declared batch_size."""
    if action_def.perform_batch is None:
        return 1
    configured = settings.get("batch_size")
    if isinstance(configured, (int, float)) and not isinstance(configured, bool) and configured >= 1:
        return int(configured)
    return max(1, action_def.batch_size)


@dataclass
class ItemOutcome:
    """What happened to one payload of a chunk. `error` None means delivered."""

    error: Exception | None
    exchange: Exchange | None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def retryable(self) -> bool:
        return isinstance(self.error, DeliveryError) and self.error.retryable


def send_chunk(
    action_def: ActionDefinition, settings: dict[str, Any], payloads: list[dict[str, Any]], *, size: int
) -> list[ItemOutcome]:
    """Send `payloads` (at most `size` of them) in one request and return one outcome per payload.

    size 1 → perform(settings, payload); size > 1 → perform_batch(settings, payloads) so a batching
    destination always receives its batch shape. Per-item errors of a BatchResult apply to those items
    only. Any other exception from a catalog entry is turned into a retryable DeliveryError (a bug in an
    entry must not lose events), except PayloadError which is permanent."""
    try:
        if size > 1 and action_def.perform_batch is not None:
            result = action_def.perform_batch(settings, payloads)
            if not isinstance(result, BatchResult):  # tolerate entries returning a bare Exchange
                return [ItemOutcome(None, result) for _ in payloads]
            return [ItemOutcome(result.item_errors.get(i), result.exchange) for i in range(len(payloads))]
        outcomes = []
        for payload in payloads:
            try:
                outcomes.append(ItemOutcome(None, action_def.perform(settings, payload)))
            except (DeliveryError, PayloadError) as exc:
                outcomes.append(ItemOutcome(exc, getattr(exc, "exchange", None)))
        return outcomes
    except DeliveryError as exc:
        return [ItemOutcome(exc, exc.exchange) for _ in payloads]
    except PayloadError as exc:
        return [ItemOutcome(exc, None) for _ in payloads]
    except Exception as exc:
        log.exception("action %s raised unexpectedly", action_def.key)
        error = DeliveryError(f"Internal error in {action_def.key}: {exc.__class__.__name__}: {exc}", retryable=True)
        return [ItemOutcome(error, None) for _ in payloads]


def backoff_seconds(attempts: int, retry_after: float | None = None) -> float:
    """Seconds to wait after the `attempts`-th failed attempt (1-based)."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempts - 1))
    wait = max(BACKOFF_FLOOR_SECONDS, random.uniform(0, ceiling))
    if retry_after is not None:
        wait = max(wait, retry_after)
    return wait


def next_attempt(now: datetime, attempts: int, retry_after: float | None) -> datetime:
    return now + timedelta(seconds=backoff_seconds(attempts, retry_after))
