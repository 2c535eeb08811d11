"""The time audiences evaluate at. Tests (and demos) freeze it with the AUDIENCES_FROZEN_NOW setting
(an aware datetime or ISO string); nothing in audiences sleeps or reads the wall clock elsewhere."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.utils import timezone


def now() -> datetime:
    frozen = getattr(settings, "AUDIENCES_FROZEN_NOW", None)
    if frozen:
        return frozen if isinstance(frozen, datetime) else datetime.fromisoformat(str(frozen))
    return timezone.now()
