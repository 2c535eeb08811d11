"""What audiences read of a person: the interface between the profile store and audience evaluation.

`load_states(workspace_id, person_ids)` answers every asked person of the workspace in three queries
(people, identifiers, event history), whatever their number; people of another workspace or that no
longer exist (merged away) are simply absent. Per-day counts older than the history window are left
out even where the stored row still has them. The profile store builds the same states from what it has
just written (`state_of`) and hands them to person_changed's receivers, so they need not load them again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.utils import timezone

from .history import first_day
from .models import Identifier, Person, PersonEvent


@dataclass
class EventStat:
    """The compact history of one event name (or, with a filter key, of the events of that name that
    matched one property filter): counts per day, first and last time, the latest properties, and the
    times (epoch seconds, ascending) of the events of the recent horizon (profiles.history.Needs)."""

    name: str
    per_day: dict[date, int]
    first_at: datetime
    last_at: datetime
    last_properties: dict
    recent: list[float] = field(default_factory=list)
    # `recent` holds every event after this time (epoch s); None: nothing recent is kept (counts per day)
    recent_from: float | None = None


@dataclass
class PersonState:
    person_id: int
    workspace_id: int
    traits: dict
    identifiers: dict[str, list[str]]  # kind ("user_id", "email", "anonymous_id") → values
    events: dict[str, EventStat] = field(default_factory=dict)
    # (event name, filter key) → the history of the events of that name that matched the filter
    filtered: dict[tuple[str, str], EventStat] = field(default_factory=dict)
    # manual segment id (text) → True while the person is in it (Track API add/remove_customers)
    segments: dict[str, bool] = field(default_factory=dict)


def in_segments(segments: Any) -> dict[str, bool]:
    """The manual segments a person is in, from Person.segments (id → [in it?, event time])."""
    return {k: True for k, v in (segments or {}).items() if isinstance(v, list) and v and v[0] is True}


def stat_of(name: str, per_day: dict[str, int], first_at: datetime, last_at: datetime, props: Any,
            recent: Any, oldest: str) -> EventStat:
    recent = recent if isinstance(recent, dict) else {}
    return EventStat(name, {date.fromisoformat(d): n for d, n in sorted(per_day.items()) if d >= oldest},
                     first_at, last_at, props or {}, list(recent.get("t") or ()), recent.get("from"))


def add_event_row(state: PersonState, name: str, filter_key: str, stat: EventStat) -> None:
    if filter_key:
        state.filtered[(name, filter_key)] = stat
    else:
        state.events[name] = stat


def load_states(workspace_id: int, person_ids: Iterable[int]) -> dict[int, PersonState]:
    ids = sorted(set(person_ids))
    if not ids:
        return {}
    states = {pid: PersonState(pid, workspace_id, traits, {}, segments=in_segments(segments)) for pid, traits, segments in
              Person.objects.filter(workspace_id=workspace_id, id__in=ids).values_list("id", "traits", "segments")}
    if not states:
        return {}
    found = list(states)
    identifiers: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for pid, kind, value in (Identifier.objects.filter(person_id__in=found).order_by("id")
                             .values_list("person_id", "kind", "value")):
        identifiers[pid][kind].append(value)
    for pid, kinds in identifiers.items():
        states[pid].identifiers = {k: list(v) for k, v in kinds.items()}
    oldest = first_day(workspace_id, timezone.now()).isoformat()
    for pid, name, key, per_day, first_at, last_at, props, recent in (
            PersonEvent.objects.filter(person_id__in=found)
            .values_list("person_id", "name", "filter_key", "per_day", "first_at", "last_at", "last_properties",
                         "recent")):
        add_event_row(states[pid], name, key, stat_of(name, per_day, first_at, last_at, props, recent, oldest))
    return states


# --- audience memberships, for the People page and the profiles API --------------------------------

MembershipLookup = Callable[[int, list[int]], dict[int, list[dict[str, Any]]]]
_membership_lookups: list[MembershipLookup] = []


def register_memberships(lookup: MembershipLookup) -> None:
    """Register `lookup(workspace_id, person_ids) -> {person_id: [{"key", "name", "entered_at", "url"?}]}`:
    the audiences each person is in now. The audiences app calls it from its AppConfig.ready(); the
    profiles API's `audiences` field and the person page's Audiences block then show what it answers
    (an empty list while nothing is registered)."""
    if lookup not in _membership_lookups:
        _membership_lookups.append(lookup)


def memberships(workspace_id: int, person_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    found: dict[int, list[dict[str, Any]]] = {pid: [] for pid in person_ids}
    for lookup in _membership_lookups:
        for pid, items in lookup(workspace_id, person_ids).items():
            if pid in found:
                found[pid].extend(items)
    return found


# --- what the workspace has seen, for condition pickers ----------------------------------------------

PICKER_SAMPLE = 10_000


def event_names(workspace_id: int) -> list[str]:
    """Every track event name some person of the workspace has in their history, sorted."""
    return list(PersonEvent.objects.filter(workspace_id=workspace_id, filter_key="").order_by("name")
                .values_list("name", flat=True).distinct())


def trait_keys(workspace_id: int) -> list[str]:
    """The trait keys of the workspace's newest PICKER_SAMPLE people, sorted (a bounded read)."""
    keys: set[str] = set()
    for traits in (Person.objects.filter(workspace_id=workspace_id).order_by("-id")
                   .values_list("traits", flat=True)[:PICKER_SAMPLE]):
        if isinstance(traits, dict):
            keys.update(traits)
    return sorted(keys)


def all_person_ids(workspace_id: int, *, after: int = 0, limit: int = 1000) -> list[int]:
    """The workspace's people in id order after `after`, `limit` at a time: walk it to compute an
    audience for everyone (pass the last id back as `after`; an empty list is the end)."""
    return list(Person.objects.filter(workspace_id=workspace_id, id__gt=after).order_by("id")
                .values_list("id", flat=True)[:limit])
