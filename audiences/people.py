"""What audiences reads from the profile store: person ids in batches and compact states. The only
module that imports `profiles`, so its interface is used in one place."""

from __future__ import annotations

from collections.abc import Iterable

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
