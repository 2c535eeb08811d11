"""Small test utilities shared by every test package."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Callable, TypeVar

if TYPE_CHECKING:
    from destinations.delivery import DeliverResult

T = TypeVar("T")


def wait_for(condition: Callable[[], T], *, timeout: float = 15.0, interval: float = 0.05, what: str = "") -> T:
    """Poll `condition` until it returns something truthy, and return that; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}")
        pause.wait(interval)


def send_queued(**filters: object) -> DeliverResult:
    """Send, inline, the first attempts fan-out left queued (every DeliveryChunk, or those matching
    `filters`), exactly as a delivery worker's task would; return its result."""
    from destinations import delivery
    from destinations.models import DeliveryChunk

    return delivery.deliver_chunks(list(DeliveryChunk.objects.filter(**filters).order_by("id")
                                        .values_list("id", flat=True)))
