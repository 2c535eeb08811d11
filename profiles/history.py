"""How many days of per-day event counts the profile store keeps for a workspace.

The window is the longest one any audience uses (an audience app tells it through `register_window`),
PROFILES_HISTORY_DAYS when none does, and never more than the workspace's event retention
(retention.RetentionPolicy.events_days): the profile store keeps no longer what the events it is made
of are kept.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

from django.conf import settings

WindowProvider = Callable[[int], "int | None"]
_providers: list[WindowProvider] = []


def register_window(provider: WindowProvider) -> None:
    """Register `provider(workspace_id) -> days | None`: the longest window (in days) the caller's
    definitions need in that workspace, None for no opinion. Call it from an AppConfig.ready()."""
    if provider not in _providers:
        _providers.append(provider)


def window_days(workspace_id: int) -> int:
    from retention.models import DEFAULT_EVENTS_DAYS, RetentionPolicy

    wanted = [d for d in (p(workspace_id) for p in _providers) if d]
    days = max(wanted) if wanted else settings.PROFILES_HISTORY_DAYS
    retention = (RetentionPolicy.objects.filter(workspace_id=workspace_id)
                 .values_list("events_days", flat=True).first()) or DEFAULT_EVENTS_DAYS
    return max(1, min(int(days), int(retention)))


def first_day(workspace_id: int, now: datetime, days: int | None = None) -> date:
    """The oldest day (UTC) whose count is kept: `days` days including today."""
    return now.date() - timedelta(days=(days if days is not None else window_days(workspace_id)) - 1)
