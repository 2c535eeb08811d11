"""STAND-IN of the profile store's read interface."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime


@dataclass
class EventStat:
    name: str
    per_day: dict[date, int]
    first_at: datetime
    last_at: datetime
    last_properties: dict


@dataclass
class PersonState:
    person_id: int
    workspace_id: int
    traits: dict
    identifiers: dict[str, list[str]]
    events: dict[str, EventStat]


def load_states(workspace_id: int, person_ids: Iterable[int]) -> dict[int, PersonState]:
    from .models import Person

    out = {}
    for p in Person.objects.filter(workspace_id=workspace_id, id__in=list(person_ids)):
        s = p.state or {}
        events = {
            name: EventStat(name, {date.fromisoformat(d): n for d, n in e["per_day"].items()},
                            datetime.fromisoformat(e["first_at"]), datetime.fromisoformat(e["last_at"]),
                            e.get("last_properties") or {})
            for name, e in (s.get("events") or {}).items()
        }
        out[p.id] = PersonState(p.id, workspace_id, s.get("traits") or {}, s.get("identifiers") or {}, events)
    return out
