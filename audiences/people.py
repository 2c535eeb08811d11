"""What audiences reads from the profile store: person ids in batches and compact states. The only
module that imports `profiles`, so its interface is used in one place."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from profiles.models import Person
from profiles.state import PersonState, load_states


def person_ids_after(workspace_id: int, after_id: int, limit: int) -> list[int]:
    return list(Person.objects.filter(workspace_id=workspace_id, id__gt=after_id).order_by("id")
                .values_list("id", flat=True)[:limit])


def count(workspace_id: int) -> int:
    return Person.objects.filter(workspace_id=workspace_id).count()


def recent_person_ids(workspace_id: int, limit: int) -> list[int]:
    return list(Person.objects.filter(workspace_id=workspace_id).order_by("-id")
                .values_list("id", flat=True)[:limit])


def states(workspace_id: int, person_ids: Iterable[int]) -> dict[int, PersonState]:
    return load_states(workspace_id, person_ids)


def existing(workspace_id: int, person_ids: Iterable[int]) -> set[int]:
    return set(Person.objects.filter(workspace_id=workspace_id, id__in=list(person_ids))
               .values_list("id", flat=True))


# --- What the profile store asks of audiences (registered in AudiencesConfig.ready) ----------------------


WINDOW_CACHE_SECONDS = 10.0
_cache: dict[int, tuple[float, Any]] = {}


def _definitions(workspace_id: int) -> tuple[list[Any], Any]:
    """The enabled audiences' definitions and what the profile store must keep for them, kept for
    WINDOW_CACHE_SECONDS per process (asked on every chunk the store applies). Saving an audience drops
    this process's copy (`forget_definitions`); other processes see it within the TTL: a longer window
    needs the days it did not keep anyway, a shorter one only trims later, a new filter's history starts
    a few seconds later (its condition reads the latest event until then)."""
    import time

    cached = _cache.get(workspace_id)
    if cached is not None and time.monotonic() - cached[0] < WINDOW_CACHE_SECONDS:
        return cached[1]
    from profiles.history import Filter, Needs

    from . import definition
    from .models import Audience

    defs = list(Audience.objects.filter(workspace_id=workspace_id, enabled=True).values_list("definition", flat=True))
    found = definition.filters(defs)
    needs = Needs(recent_seconds=int(definition.recent_horizon(defs).total_seconds()),
                  filters=tuple(Filter(key, event, matches) for key, (event, matches) in sorted(found.items())))
    value = (defs, needs)
    _cache[workspace_id] = (time.monotonic(), value)
    return value


def forget_definitions(workspace_id: int) -> None:
    _cache.pop(workspace_id, None)


def window_days(workspace_id: int) -> int | None:
    """The longest window (whole days, rounded up) the workspace's enabled audiences use: how much
    per-day history the profile store must keep. None when no audience has a bounded window."""
    from . import definition

    defs, _ = _definitions(workspace_id)
    if not defs:
        return None
    longest = definition.max_window(defs)
    if longest is None:
        return None  # an audience looks at the whole history: the store's own limit applies
    return max(1, -(-int(longest.total_seconds()) // 86400) + 1)


def history_needs(workspace_id: int) -> Any:
    """profiles.history.Needs: exact event times as far back as the longest minute/hour window, and the
    filtered histories of every property filter of the enabled audiences."""
    return _definitions(workspace_id)[1]


def memberships_of(workspace_id: int, person_ids: list[int]) -> dict[int, list[dict]]:
    """{person_id: [{key, name, entered_at, url}]}: the audiences each person is in now."""
    from django.urls import reverse

    from .models import Membership

    out: dict[int, list[dict]] = {}
    rows = (Membership.objects.filter(audience__workspace_id=workspace_id, person_id__in=person_ids)
            .select_related("audience__workspace").order_by("-entered_at"))
    for m in rows:
        a = m.audience
        out.setdefault(m.person_id, []).append({
            "key": a.key, "name": a.name, "entered_at": m.entered_at,
            "url": reverse("audiences:detail", args=[a.workspace.slug, a.pk])})
    return out


def event_names(workspace_id: int, limit: int = 500) -> list[str] | None:
    """Event names seen in the workspace, from the profile store's per-person history table (None when
    the store has no such table)."""
    try:
        from profiles.models import PersonEvent
    except ImportError:
        return None
    return list(PersonEvent.objects.filter(workspace_id=workspace_id, filter_key="").order_by("name")
                .values_list("name", flat=True).distinct()[:limit])
