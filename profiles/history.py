"""How many days of per-day event counts the profile store keeps for a workspace.

The window is the longest one any audience uses (an audience app tells it through `register_window`),
PROFILES_HISTORY_DAYS when none does, and never more than the workspace's event retention
(retention.RetentionPolicy.events_days): the profile store keeps no longer what the events it is made
of are kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

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


# --- what else the store keeps: exact recent times and filtered counts -------------------------------------

RECENT_MAX_SECONDS = 7 * 86400  # the recent horizon never reaches further back than this
RECENT_MAX_EVENTS = 1000  # nor holds more times than this per person and event name
# Times are kept this much longer than asked: an evaluation a little behind the store's clock (a queued
# re-evaluation, a worker's clock) still finds its whole window covered.
RECENT_SLACK_SECONDS = 3600


@dataclass(frozen=True)
class Filter:
    """A property filter audiences count events by: the events named `event` whose properties
    `matches`, kept under `key` (stable for the same event name and filter)."""

    key: str
    event: str
    matches: Callable[[dict[str, Any]], bool]


@dataclass(frozen=True)
class Needs:
    """What the store keeps beyond per-day counts for a workspace: the exact times of the events of the
    last `recent_seconds` (for minute/hour windows), and the filtered histories of `filters`."""

    recent_seconds: int = 0
    filters: tuple[Filter, ...] = ()


NeedsProvider = Callable[[int], "Needs | None"]
_needs_providers: list[NeedsProvider] = []


def register_needs(provider: NeedsProvider) -> None:
    """Register `provider(workspace_id) -> Needs | None`. Call it from an AppConfig.ready(); the store
    asks it once per chunk, so cache what it reads."""
    if provider not in _needs_providers:
        _needs_providers.append(provider)


def needs(workspace_id: int) -> Needs:
    recent, filters = 0, []
    for provider in _needs_providers:
        n = provider(workspace_id)
        if n is not None:
            recent = max(recent, n.recent_seconds)
            filters.extend(n.filters)
    return Needs(min(recent, RECENT_MAX_SECONDS), tuple(filters))


def first_day(workspace_id: int, now: datetime, days: int | None = None) -> date:
    """The oldest day (UTC) whose count is kept: `days` days including today."""
    return now.date() - timedelta(days=(days if days is not None else window_days(workspace_id)) - 1)


TRIM_BATCH = 5000


def trim(now: datetime | None = None, *, batch: int = TRIM_BATCH) -> int:
    """Drop the per-day counts older than each workspace's window from every history row, including the
    rows of people who had no event since (a written row is trimmed as it is written). Walks each
    workspace's rows by id, `batch` at a time, one short statement each. Returns the rows changed."""
    from django.db import connection, transaction

    from .models import PersonEvent

    now = now or datetime.now(UTC)
    changed = 0
    workspaces = PersonEvent.objects.order_by().values_list("workspace_id", flat=True).distinct()
    for workspace_id in list(workspaces):
        oldest = first_day(workspace_id, now).isoformat()
        last = 0
        while True:
            ids = list(PersonEvent.objects.filter(workspace_id=workspace_id, id__gt=last).order_by("id")
                       .values_list("id", flat=True)[:batch])
            if not ids:
                break
            last = ids[-1]
            with transaction.atomic():
                if connection.vendor == "postgresql":
                    with connection.cursor() as cursor:
                        cursor.execute(
                            "UPDATE profiles_personevent SET per_day = COALESCE((SELECT jsonb_object_agg(k, v) "
                            "FROM jsonb_each(per_day) AS e(k, v) WHERE k >= %s), '{}'::jsonb) "
                            "WHERE id = ANY(%s) AND EXISTS (SELECT 1 FROM jsonb_object_keys(per_day) AS d(k) "
                            "WHERE d.k < %s)", [oldest, ids, oldest])
                        changed += cursor.rowcount
                    continue
                rows = [r for r in PersonEvent.objects.select_for_update().filter(id__in=ids)
                        if any(day < oldest for day in r.per_day)]
                for r in rows:
                    r.per_day = {d: n for d, n in r.per_day.items() if d >= oldest}
                PersonEvent.objects.bulk_update(rows, ["per_day"])
                changed += len(rows)
    return changed
