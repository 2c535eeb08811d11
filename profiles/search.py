"""Finding people: the one query behind the People page and GET /api/workspaces/{slug}/profiles/.

`q` is an email (any case), a userId or anonymousId — exact, or the start of one — or `key:value` for a
trait (`plan:pro`, `seats:3`). Every form uses an index: identifiers (workspace, value) with a
pattern-ops btree for the prefix, traits a GIN index (PostgreSQL) for containment. Newest people first
(by id: the primary key orders pages without a count).
"""

from __future__ import annotations

import orjson
from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.fields.json import KeyTransform

from .models import Identifier, Person


def search_people(workspace_id: int, q: str = "") -> QuerySet[Person]:
    people = Person.objects.filter(workspace_id=workspace_id)
    q = (q or "").strip()
    if not q:
        return people.order_by("-id")
    key, sep, raw = q.partition(":")
    if sep and key.strip() and raw.strip() and "@" not in key:
        key, raw = key.strip(), raw.strip()
        try:
            typed = orjson.loads(raw)
        except orjson.JSONDecodeError:
            typed = raw
        values = [raw] if typed == raw or isinstance(typed, (dict, list)) else [raw, typed]
        if connection.vendor == "postgresql":
            wanted = Q()
            for value in values:
                wanted |= Q(traits__contains={key: value})
            return people.filter(wanted).order_by("-id")
        # SQLite (embedded mode) has no JSON containment: compare the key's value (a scan)
        return people.alias(trait=KeyTransform(key, "traits")).filter(trait__in=values).order_by("-id")
    values = {q, q.lower()}
    matches = Identifier.objects.filter(workspace_id=workspace_id).filter(
        Q(value__in=values) | Q(value__startswith=q) | Q(value__startswith=q.lower()))
    return people.filter(id__in=matches.values("person_id")).order_by("-id")


def display_name(person: Person, identifiers: dict[str, list[str]]) -> str:
    """How a person is named in lists: a name trait, else an email, a userId, an anonymousId."""
    traits = person.traits if isinstance(person.traits, dict) else {}
    for key in ("name", "full_name"):
        if isinstance(traits.get(key), str) and traits[key].strip():
            return traits[key].strip()
    first, last = traits.get("first_name"), traits.get("last_name")
    if isinstance(first, str) and first.strip():
        return f"{first.strip()} {last.strip() if isinstance(last, str) else ''}".strip()
    for kind in ("email", "user_id", "anonymous_id"):
        if identifiers.get(kind):
            return identifiers[kind][0]
    return f"Person {person.id}"
