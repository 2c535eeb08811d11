"""The one error contract for delivery.

A destination's perform / perform_batch either returns an Exchange or raises DeliveryError. `retryable`
decides what happens next: True → retried with backoff until the retry window ends; False → failed at
once with the response kept. Payload problems (a required field missing after mapping) are
PayloadError: the event is recorded as filtered for that action and never sent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .http import Exchange


class DeliveryError(Exception):
    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        status: int | None = None,
        exchange: Exchange | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.status = status
        self.exchange = exchange
        self.retry_after = retry_after


class PayloadError(Exception):
    """The mapped payload cannot be sent (e.g. a required field is missing): filtered, not retried."""


class SettingsError(Exception):
    """Destination settings are invalid; `errors` maps a field key to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors
