"""Keeps membership current as the profile store changes (profiles.signals.person_changed)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from . import services


def on_person_changed(sender: Any = None, *, workspace_id: int, person_ids: Iterable[int],
                      event_names: Iterable[str] = (), trait_keys: Iterable[str] = (),
                      merged_ids: Iterable[int] = (), created_ids: Iterable[int] = (),
                      states: Mapping[int, Any] | None = None,
                      changes: Mapping[int, tuple[set[str], set[str]]] | None = None, **_: Any) -> None:
    """Re-evaluate, for these people only, the audiences that name one of the changed events or traits
    (every audience for people new to the store); people merged into another leave their audiences (the
    survivor is among `person_ids`)."""
    merged = list(merged_ids or ())
    if merged:
        services.forget_people(workspace_id, merged)
    services.evaluate_people(workspace_id, person_ids, event_names=list(event_names or ()),
                             trait_keys=list(trait_keys or ()), created_ids=created_ids or (), states=states,
                             per_person=changes)
