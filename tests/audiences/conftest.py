"""Fixtures for audiences: people with compact states written into the profile store, a fixed clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

# Half past an hour, in the recent past: the profile store keeps per-day counts only for recent days.
NOW = (datetime.now(UTC) - timedelta(hours=1)).replace(minute=30, second=0, microsecond=0)


def stat(*times: datetime, props: dict | None = None) -> dict[str, Any]:
    per_day: dict[str, int] = {}
    for t in times:
        per_day[t.date().isoformat()] = per_day.get(t.date().isoformat(), 0) + 1
    return {"per_day": per_day, "first_at": min(times).isoformat(), "last_at": max(times).isoformat(),
            "last_properties": props or {}}


@pytest.fixture
def person(workspace: Any) -> Any:
    """person(traits=..., events={name: [times]} or {name: (times, props)}): a person in the profile
    store with that compact state (what profiles would have built from those events)."""
    from profiles.models import Person

    def make(traits: dict | None = None, events: dict | None = None, ws: Any = None) -> Any:
        p = Person.objects.create(workspace=ws or workspace, state={})
        set_state(p, traits=traits, events=events)
        return p

    return make


def set_state(p: Any, traits: dict | None = None, events: dict | None = None) -> None:
    built = {}
    for name, spec in (events or {}).items():
        times, props = (spec if isinstance(spec, tuple) else (spec, None))
        built[name] = stat(*times, props=props)
    p.state = {"traits": traits or {}, "identifiers": {}, "events": built}
    p.save()


def hours_ago(n: float) -> datetime:
    return NOW - timedelta(hours=n)


def days_ago(n: float) -> datetime:
    return NOW - timedelta(days=n)


__all__ = ["NOW", "date", "days_ago", "hours_ago", "set_state", "stat"]
