"""Fixtures for audiences: people with compact states written into the profile store's tables (what it
would have built from those events), and a recent clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

# The profile store fed for real (store, fan out, deliver inline): `feed(*messages)`.
from tests.profiles.conftest import _fresh_engine_state, feed, profiles_destination, source  # noqa: F401

# Half past an hour, in the recent past: the profile store keeps per-day counts only for recent days.
NOW = (datetime.now(UTC) - timedelta(hours=1)).replace(minute=30, second=0, microsecond=0)


@pytest.fixture
def person(workspace: Any) -> Any:
    """person(traits=..., events={name: [times]} or {name: ([times], props)}, ws=...): a person of the
    profile store with that compact state."""
    from profiles.models import Person

    def make(traits: dict | None = None, events: dict | None = None, ws: Any = None) -> Any:
        p = Person.objects.create(workspace=ws or workspace)
        set_state(p, traits=traits, events=events)
        return p

    return make


def set_state(p: Any, traits: dict | None = None, events: dict | None = None) -> None:
    """Replace the person's traits and per-event history (PersonEvent rows) with these."""
    from profiles.models import PersonEvent

    p.traits = traits or {}
    p.save()
    PersonEvent.objects.filter(person=p).delete()
    for name, spec in (events or {}).items():
        times, props = (spec if isinstance(spec, tuple) else (spec, None))
        per_day: dict[str, int] = {}
        for t in times:
            per_day[t.date().isoformat()] = per_day.get(t.date().isoformat(), 0) + 1
        PersonEvent.objects.create(workspace_id=p.workspace_id, person=p, name=name, per_day=per_day,
                                   first_at=min(times), last_at=max(times), last_properties=props or {})


def hours_ago(n: float) -> datetime:
    return NOW - timedelta(hours=n)


def days_ago(n: float) -> datetime:
    return NOW - timedelta(days=n)


__all__ = ["NOW", "date", "days_ago", "hours_ago", "set_state"]
