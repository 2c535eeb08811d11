"""The People pages: a searchable list and a person page. Every member may read them."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import Q, Subquery
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from ingest.models import Event
from pipelines.tenancy import get_workspace, workspaces_for

from .models import Identifier, IdentityConflict, Person
from .search import display_name, search_people
from .state import memberships

PAGE_SIZE = 50
RECENT_EVENTS = 20
# The person page looks for the person's events among the workspace's latest this many stored events:
# a bounded scan of the (workspace, received_at) index, whatever the size of the events table.
RECENT_SCAN = 5000


def identifiers_of(person_ids: list[int]) -> dict[int, dict[str, list[str]]]:
    found: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for pid, kind, value in (Identifier.objects.filter(person_id__in=person_ids).order_by("id")
                             .values_list("person_id", "kind", "value")):
        found[pid][kind].append(value)
    return {pid: dict(kinds) for pid, kinds in found.items()}


def _before(request: HttpRequest) -> int | None:
    raw = request.GET.get("before", "")
    return int(raw) if raw.isdigit() else None


@require_GET
@login_required
def people(request: HttpRequest, slug: str) -> HttpResponse:
    workspace = get_workspace(request.user, slug)
    q = request.GET.get("q", "").strip()[:200]
    found = search_people(workspace.id, q)
    before = _before(request)
    if before is not None:
        found = found.filter(id__lt=before)
    rows = list(found[:PAGE_SIZE + 1])
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    identifiers = identifiers_of([p.id for p in rows])
    listed = [{"person": p, "name": display_name(p, identifiers.get(p.id, {})),
               "identifiers": identifiers.get(p.id, {})} for p in rows]
    return render(request, "profiles/people.html", {
        "workspace": workspace, "workspaces": workspaces_for(request.user), "nav": "people",
        "people": listed, "q": q, "next_before": rows[-1].id if more and rows else None,
        "first_page": before is None,
    })


def recent_events(workspace_id: int, identifiers: dict[str, list[str]]) -> list[Event]:
    user_ids, anonymous_ids = identifiers.get("user_id", []), identifiers.get("anonymous_id", [])
    if not user_ids and not anonymous_ids:
        return []
    latest = Event.objects.filter(workspace_id=workspace_id).order_by("-received_at").values("id")[:RECENT_SCAN]
    mine = Q()
    if user_ids:
        mine |= Q(payload__userId__in=user_ids)
    if anonymous_ids:
        mine |= Q(payload__anonymousId__in=anonymous_ids)
    return list(Event.objects.filter(id__in=Subquery(latest)).filter(mine).order_by("-received_at", "-id")[:RECENT_EVENTS])


def _label(payload: Any) -> str:
    if not isinstance(payload, dict):
        return ""
    for key in ("event", "name", "groupId", "previousId"):
        if isinstance(payload.get(key), str):
            return payload[key]
    return ""


def person_context(workspace: Any, person_id: int) -> dict[str, Any]:
    try:
        person = Person.objects.get(workspace=workspace, id=person_id)
    except Person.DoesNotExist:
        raise Http404("No such person") from None
    identifiers = identifiers_of([person.id]).get(person.id, {})
    conflicts = list(IdentityConflict.objects.filter(Q(user_person=person) | Q(email_person=person))
                     .order_by("-created_at")[:20])
    return {
        "person": person,
        "name": display_name(person, identifiers),
        "identifiers": identifiers,
        "traits": sorted(person.traits.items()) if isinstance(person.traits, dict) else [],
        "trait_times": person.trait_times if isinstance(person.trait_times, dict) else {},
        "events": [{"received_at": e.received_at, "type": e.type, "event": e.payload}
                   | {"label": _label(e.payload)} for e in recent_events(workspace.id, identifiers)],
        "history": list(person.event_stats.filter(filter_key="").order_by("-last_at")[:50]),
        "devices": list(person.devices.order_by("-last_seen_at")[:50]),
        "groups": list(person.groups.order_by("-last_seen_at")[:50]),
        "conflicts": conflicts,
        "person_audiences": memberships(workspace.id, [person.id])[person.id],
    }


@require_GET
@login_required
def person_detail(request: HttpRequest, slug: str, person_id: int) -> HttpResponse:
    workspace = get_workspace(request.user, slug)
    context = person_context(workspace, person_id)
    context.update({"workspace": workspace, "workspaces": workspaces_for(request.user), "nav": "people"})
    return render(request, "profiles/person.html", context)
