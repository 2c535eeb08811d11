"""Sources: the Add Source wizard, Installation instructions, the source page with its write key and the
live debugger (a page polling a small JSON view of the newest events)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_POST

from destinations.models import Delivery, DeliveryChunk, DeliveryStatus
from ingest.models import Event, OutboxEntry
from privacy.models import IdentityKind, SuppressedEvent

from .. import delivery_summary, monograms, services, snippets
from ..forms import SOURCE_DESCRIPTIONS, SourceNameForm
from ..models import CLIENT_SIDE_KINDS, INTERNAL_KINDS, SYSTEM_KINDS, Source, SourceKind
from .access import Role, render_page, source_for, workspace_for

# The Track API key is shown once, right after it is issued: kept in the session until that page shows it.
_ONCE_KEY = "connections:track-api-key:{id}"
# What a viewer sees where the write key would be.
HIDDEN_WRITE_KEY = "YOUR_WRITE_KEY"


def _kinds() -> list[dict[str, Any]]:
    """The source catalog's cards: every kind with its description, monogram and where it runs."""
    def where(value: str) -> str:
        if value in INTERNAL_KINDS:
            return "Internal"
        return "Client-side" if value in CLIENT_SIDE_KINDS else "Server-side"

    return [{"value": value, "label": label, "description": SOURCE_DESCRIPTIONS.get(value, ""),
             "monogram": monograms.for_source(value, label),
             "badges": [{"text": where(value), "mode": value in CLIENT_SIDE_KINDS}]}
            for value, label in SourceKind.choices if value not in SYSTEM_KINDS]


def _base_url(request: HttpRequest) -> str:
    return snippets.public_base_url(request.build_absolute_uri("/"))


@login_required
def add_source(request: HttpRequest, slug: str) -> HttpResponse:
    """Step 1: pick the type. Each type is a card linking to step 2."""
    workspace = workspace_for(request, slug, Role.ADMIN)
    return render_page(request, workspace, "connections/source/add.html", {"kinds": _kinds(), "nav": "connections"})


@login_required
def name_source(request: HttpRequest, slug: str, kind: str) -> HttpResponse:
    """Step 2: name it and Submit; then the installation instructions."""
    workspace = workspace_for(request, slug, Role.ADMIN)
    if kind not in SourceKind.values or kind in SYSTEM_KINDS:
        raise Http404("No such source type")
    form = SourceNameForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            source, api_key = services.create_source(workspace, name=form.cleaned_data["name"], kind=kind)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            if api_key:
                request.session[_ONCE_KEY.format(id=source.id)] = api_key
            messages.success(request, f"Created the source {source.display_name}.")
            return redirect("connections:source-setup", slug=slug, pk=source.pk)
    return render_page(request, workspace, "connections/source/name.html", {
        "form": form, "kind": SourceKind(kind), "description": SOURCE_DESCRIPTIONS.get(kind, ""),
        "nav": "connections",
    }, status=400 if form.is_bound and form.errors else 200)


@login_required
def setup(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """Installation instructions for a source, filled with its write key and our host."""
    workspace = workspace_for(request, slug)
    source = source_for(workspace, pk)
    base_url = _base_url(request)
    api_key = request.session.pop(_ONCE_KEY.format(id=source.id), None)
    # Viewers never see a credential: the snippets carry a placeholder instead of the write key.
    write_key = source.write_key if workspace.role.includes(Role.MEMBER) else HIDDEN_WRITE_KEY
    if source.kind == SourceKind.JOURNEYS_TRACK_API:
        items = snippets.track_api_instructions(source, base_url, api_key=api_key or "YOUR_API_KEY")
    else:
        items = snippets.instructions(source, base_url, write_key=write_key)
    return render_page(request, workspace, "connections/source/setup.html", {
        "source": source, "snippets": items, "api_key": api_key, "base_url": base_url, "nav": "connections",
        "source_tab": "setup", "write_key": write_key,
    })


@login_required
def source_page(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    workspace = workspace_for(request, slug)
    source = source_for(workspace, pk)
    return render_page(request, workspace, "connections/source/detail.html", _detail_context(source))


def _detail_context(source: Source) -> dict[str, Any]:
    destinations = list(source.destinations.all())
    statuses = delivery_summary.statuses(destinations)
    for d in destinations:  # the same badge as the Connections cards: a failing destination says so here too
        d.status = statuses[d.id]  # type: ignore[attr-defined]
    return {
        "source": source, "destinations": destinations, "events": _events_json(source, None)["events"],
        "nav": "connections", "source_tab": "overview",
        "rename_form": SourceNameForm(initial={"name": source.name}, auto_id="rename_%s"),
    }


@login_required
def rotate_key(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """GET asks for confirmation; POST rotates (the old key stops working at once)."""
    workspace = workspace_for(request, slug, Role.ADMIN)
    source = source_for(workspace, pk)
    if request.method == "POST":
        secret = services.rotate_source_key(source)
        if source.kind == SourceKind.JOURNEYS_TRACK_API:
            request.session[_ONCE_KEY.format(id=source.id)] = secret
            messages.success(request, "Issued a new API key. Copy it now: it is shown only once.")
            return redirect("connections:source-setup", slug=slug, pk=pk)
        messages.success(request, "The write key was rotated. Update your installations with the new key.")
        return redirect("connections:source", slug=slug, pk=pk)
    return render_page(request, workspace, "connections/source/rotate.html", {"source": source,
                                                                             "nav": "connections"})


@login_required
@require_POST
def rename_source(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    workspace = workspace_for(request, slug, Role.ADMIN)
    source = source_for(workspace, pk)
    form = SourceNameForm(request.POST)
    if form.is_valid():
        services.update_source(source, name=form.cleaned_data["name"])
        messages.success(request, f"Renamed the source to {source.display_name}.")
        return redirect("connections:source", slug=slug, pk=pk)
    return render_page(request, workspace, "connections/source/detail.html", {
        **_detail_context(source), "rename_form": form,
    }, status=400)


@login_required
@require_POST
def toggle_source(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    workspace = workspace_for(request, slug, Role.ADMIN)
    source = source_for(workspace, pk)
    enable = request.POST.get("enabled") == "true"
    services.update_source(source, enabled=enable)
    if enable:
        messages.success(request, f"{source.display_name} is enabled: it accepts events again.")
    else:
        messages.success(request, f"{source.display_name} is disabled: its events are refused (401) "
                                  "within a few seconds, once servers drop their cached copy of the key.")
    return redirect("connections:source", slug=slug, pk=pk)


@login_required
def delete_source(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """GET asks for confirmation (naming what gets disconnected); POST deletes."""
    workspace = workspace_for(request, slug, Role.ADMIN)
    source = source_for(workspace, pk)
    if request.method == "POST":
        name = source.display_name
        services.delete_source(source)
        messages.success(request, f"{name} was deleted.")
        return redirect("connections:connections", slug=slug)
    return render_page(request, workspace, "connections/source/delete.html", {
        "source": source, "destinations": source.destinations.all(), "event_count": source.events.count(),
        "nav": "connections",
    })


def _delivery_rows(event_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    rows: dict[int, list[dict[str, Any]]] = {i: [] for i in event_ids}
    deliveries = (
        Delivery.objects.filter(event_id__in=event_ids)
        .select_related("destination", "action")
        .order_by("destination__name", "id")
    )
    for d in deliveries:
        rows[d.event_id].append({
            "destination": d.destination.name, "action": d.action.name if d.action else "",
            "status": d.status, "attempts": d.attempts, "status_code": d.last_status_code,
            "error": d.last_error, "updated_at": d.updated_at.isoformat(),
        })
    return rows


def _events_json(source: Source, after: int | None, limit: int = 30) -> dict[str, Any]:
    """The newest events, with the newest events dropped at ingest for a suppressed identity among them
    (`suppressed: true`, id "s<n>", no payload: it was never stored), newest first."""
    events = Event.objects.filter(workspace=source.workspace, source=source)
    if after is not None:
        events = events.filter(id__gt=after)
    newest = list(events.order_by("-id")[:limit])
    deliveries = _delivery_rows([e.id for e in newest])
    recent = timezone.now() - QUEUED_LOOKBACK
    queued = _queued(source, {e.id for e in newest if not deliveries[e.id] and e.received_at >= recent})
    items: list[dict[str, Any]] = [
        {
            "id": e.id, "type": e.type, "message_id": e.message_id, "received_at": e.received_at.isoformat(),
            "summary": _summary(e), "payload": e.payload, "deliveries": deliveries[e.id], "suppressed": False,
            "user": _user(e.payload), "delivery": _delivery_state(deliveries[e.id], queued=e.id in queued),
        }
        for e in newest
    ]
    traces = SuppressedEvent.objects.filter(workspace=source.workspace, source=source)
    if newest and len(newest) == limit:  # only those within the time the events shown cover
        traces = traces.filter(received_at__gte=newest[-1].received_at)
    items += [
        {
            "id": f"s{t.id}", "type": t.type, "message_id": t.message_id, "received_at": t.received_at.isoformat(),
            "summary": f"suppressed ({IdentityKind(t.identity_kind).label.lower()}): dropped, not stored",
            "payload": None, "deliveries": [], "suppressed": True,
            "user": {"text": "", "title": ""}, "delivery": {"status": "suppressed", "label": "Not stored"},
        }
        for t in traces.order_by("-id")[:limit]
    ]
    items.sort(key=lambda item: item["received_at"], reverse=True)
    return {"events": items[:limit]}


# An event's delivery state in one word, from its deliveries (one per destination action): the worst wins.
_DELIVERY_ORDER = (
    (DeliveryStatus.FAILED, "Failed"), (DeliveryStatus.RETRYING, "Retrying"), (DeliveryStatus.PENDING, "Pending"),
    (DeliveryStatus.DELIVERED, "Delivered"), (DeliveryStatus.FILTERED, "Filtered"),
)


# Only events this recent are looked for in the queues: older ones without a delivery matched no action.
QUEUED_LOOKBACK = timedelta(hours=1)
_QUEUE_ROWS = 50


def _queued(source: Source, event_ids: set[int]) -> set[int]:
    """Those of `event_ids` still waiting in a queue: in the outbox (not yet fanned out) or in a chunk of
    first attempts not yet sent (their Delivery rows appear when they are sent). Reads at most
    _QUEUE_ROWS newest rows of each queue, which are short-lived and few unless delivery is stuck."""
    if not event_ids:
        return set()
    found: set[int] = set()
    for raw in OutboxEntry.objects.order_by("-id").values_list("event_ids", flat=True)[:_QUEUE_ROWS]:
        found.update(int(i) for i in orjson.loads(raw) if int(i) in event_ids)
    chunks = (DeliveryChunk.objects.filter(workspace=source.workspace, destination__connections__source=source)
              .order_by("-id").values_list("items", flat=True)[:_QUEUE_ROWS])
    for raw in chunks:
        found.update(int(item[0]) for item in orjson.loads(raw) if int(item[0]) in event_ids)
    return found


def _delivery_state(deliveries: list[dict[str, Any]], *, queued: bool = False) -> dict[str, str]:
    """{"status", "label"} of an event row: the worst of its deliveries (one per destination action), with
    how many of them when they differ ("Failed: 1 of 2"); "Queued" while it waits for its first attempt;
    "Not sent" when nothing was (no action matched it)."""
    if not deliveries:
        return {"status": "pending", "label": "Queued"} if queued else {"status": "none", "label": "Not sent"}
    statuses = [d["status"] for d in deliveries]
    for status, label in _DELIVERY_ORDER:
        if status in statuses:
            count = statuses.count(status)
            if count < len(statuses):
                label = f"{label}: {count} of {len(statuses)}"
            return {"status": str(status), "label": label}
    return {"status": "none", "label": "Not sent"}


def _user(payload: Any) -> dict[str, str]:
    """Who an event is about, for its debugger row: the userId, else the email, else the anonymous id
    ("Anonymous 1a2b3c4d"); `title` lists every identifier the event carries."""
    payload = payload if isinstance(payload, dict) else {}
    traits = payload.get("traits") if isinstance(payload.get("traits"), dict) else {}
    context = payload.get("context") if isinstance(payload.get("context"), dict) else {}
    context_traits = context.get("traits") if isinstance(context.get("traits"), dict) else {}
    properties = payload.get("properties") if isinstance(payload.get("properties"), dict) else {}
    user_id = str(payload.get("userId") or "")
    anonymous_id = str(payload.get("anonymousId") or "")
    email = str(traits.get("email") or context_traits.get("email") or properties.get("email") or "")
    found = [(k, v) for k, v in (("userId", user_id), ("email", email), ("anonymousId", anonymous_id)) if v]
    if user_id or email:
        text = user_id or email
    elif anonymous_id:
        text = f"Anonymous {anonymous_id[:8]}"
    else:
        text = ""
    return {"text": text, "title": " · ".join(f"{k}: {v}" for k, v in found)}


def _summary(event: Event) -> str:
    payload = event.payload if isinstance(event.payload, dict) else {}
    if event.type == "track":
        return str(payload.get("event", ""))
    if event.type in ("page", "screen"):
        return str(payload.get("name") or (payload.get("properties") or {}).get("path", ""))
    if event.type == "identify":  # who it is about is on the row already: say what it sets
        traits = payload.get("traits") if isinstance(payload.get("traits"), dict) else {}
        names = sorted(traits)[:4]
        return f"Traits: {', '.join(names)}{', …' if len(traits) > 4 else ''}" if names else "No traits"
    who = payload.get("userId") or payload.get("anonymousId") or ""
    return str(who)


@login_required
def events_feed(request: HttpRequest, slug: str, pk: int) -> JsonResponse:
    """The newest events of a source (newest first), optionally only those after event id `after`."""
    workspace = workspace_for(request, slug)
    source = source_for(workspace, pk)
    after_raw = request.GET.get("after", "")
    try:
        after = int(after_raw) if after_raw else None
    except ValueError:
        return JsonResponse({"code": "invalid_request", "message": "after must be an event id."}, status=400)
    return JsonResponse(_events_json(source, after))
