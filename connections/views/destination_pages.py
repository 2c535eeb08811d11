"""A destination's pages: the Overview, Settings, Actions and Event delivery tabs, and action editing."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from destinations import trigger_outline
from destinations.models import Delivery, DeliveryChunk, DeliveryStatus
from destinations.preview import preview_action
from destinations.triggers import TriggerSyntaxError, parse
from ingest.models import Event
from pipelines import timeranges
from pipelines.models import Workspace

from .. import delivery_summary, mapping_editor, services
from ..forms import ActionForm, DestinationSettingsForm
from ..models import Action, Destination, DestinationMode, Source, check_connectable
from .access import Role, action_for, destination_for, read_or_change, render_page, source_for, workspace_for
from .wizard import run_connection_test

TABS = (("overview", "Overview"), ("settings", "Settings"), ("actions", "Actions"), ("filters", "Filters"),
        ("delivery", "Event delivery"))


def _page(request: HttpRequest, workspace: Workspace, destination: Destination, tab: str, template: str,
          context: dict[str, Any], status: int = 200) -> HttpResponse:
    if "health" not in context:  # the header's badge
        context["health"] = delivery_summary.statuses([destination])[destination.id]
    return render_page(request, workspace, template, {
        "destination": destination, "definition": destination.definition, "tabs": TABS, "tab": tab,
        "nav": "connections", **context,
    }, status=status)


# --- Overview ------------------------------------------------------------------------------------------

def _source_choices(destination: Destination) -> list[dict[str, Any]]:
    """Sources not yet connected, each with the reason it can't be connected ('' when it can)."""
    connected = set(destination.connections.values_list("source_id", flat=True))
    rows = []
    for source in Source.objects.filter(workspace=destination.workspace).exclude(id__in=connected):
        try:
            check_connectable(source, destination)
            reason = ""
        except ValidationError as exc:
            reason = exc.messages[0]
        rows.append({"source": source, "reason": reason})
    return rows


@login_required
def overview(request: HttpRequest, slug: str, pk: int, error: str = "", status: int = 200) -> HttpResponse:
    workspace = workspace_for(request, slug)
    destination = destination_for(workspace, pk)
    summary = delivery_summary.statuses([destination])[destination.id]
    return _page(request, workspace, destination, "overview", "connections/destination/overview.html", {
        "connected": [c.source for c in destination.connections.select_related("source")],
        "candidates": _source_choices(destination), "summary": summary, "health": summary, "error": error,
        "actions": destination.actions.all(),
    }, status=status)


@login_required
@require_POST
def toggle_destination(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    workspace = workspace_for(request, slug, Role.ADMIN)
    destination = destination_for(workspace, pk)
    enable = request.POST.get("enabled") == "true"
    services.update_destination(destination, enabled=enable)
    messages.success(request, f"{destination.name} is {'enabled' if enable else 'disabled'}.")
    return redirect("connections:destination", slug=slug, pk=pk)


@login_required
@require_POST
def add_source(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    workspace = workspace_for(request, slug, Role.ADMIN)
    destination = destination_for(workspace, pk)
    try:
        source = source_for(workspace, int(request.POST.get("source_id", "")))
    except ValueError:
        return overview(request, slug, pk, error="Choose a source to connect.", status=400)
    try:
        services.connect(source, destination)
    except ValidationError as exc:
        return overview(request, slug, pk, error=exc.messages[0], status=400)
    messages.success(request, f"{source.display_name} now sends data to {destination.name}.")
    return redirect("connections:destination", slug=slug, pk=pk)


@login_required
@require_POST
def remove_source(request: HttpRequest, slug: str, pk: int, source_id: int) -> HttpResponse:
    workspace = workspace_for(request, slug, Role.ADMIN)
    destination = destination_for(workspace, pk)
    source = source_for(workspace, source_id)
    services.disconnect(source, destination)
    messages.success(request, f"{source.display_name} no longer sends data to {destination.name}.")
    return redirect("connections:destination", slug=slug, pk=pk)


@login_required
def delete_destination(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """GET asks for confirmation; POST deletes."""
    workspace = workspace_for(request, slug, Role.ADMIN)
    destination = destination_for(workspace, pk)
    if request.method == "POST":
        name = destination.name
        services.delete_destination(destination)
        messages.success(request, f"{name} was deleted.")
        return redirect("connections:connections", slug=slug)
    return _page(request, workspace, destination, "overview", "connections/destination/delete.html", {})


# --- Settings ------------------------------------------------------------------------------------------

@login_required
def settings_tab(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    workspace = workspace_for(request, slug, read_or_change(request))
    destination = destination_for(workspace, pk)
    definition = destination.definition
    existing, masked = destination.settings, destination.masked_settings()
    test_result = None
    if request.method == "POST":
        form = DestinationSettingsForm(definition, request.POST, existing=existing, masked=masked)
        if request.POST.get("op") == "test":
            test_result = run_connection_test(definition, form)
            if request.headers.get("X-Requested-With") == "fetch":
                return JsonResponse(test_result)
        elif form.is_valid():
            try:
                services.update_destination(destination, name=form.cleaned_data["name"],
                                            settings=form.cleaned_data["settings"])
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, "Settings saved.")
                return redirect("connections:destination-settings", slug=slug, pk=pk)
    else:
        form = DestinationSettingsForm(definition, initial={"name": destination.name}, existing=existing,
                                       masked=masked)
    return _page(request, workspace, destination, "settings", "connections/destination/settings.html", {
        "form": form, "test_result": test_result, "has_test": definition.check_credentials is not None,
    }, status=400 if form.is_bound and form.errors else 200)


# --- Actions -------------------------------------------------------------------------------------------

@login_required
def actions_tab(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    workspace = workspace_for(request, slug, read_or_change(request))
    destination = destination_for(workspace, pk)
    error = ""
    if request.method == "POST":
        try:
            action = services.add_action(destination, kind=request.POST.get("kind", ""))
        except ValidationError as exc:
            error = exc.messages[0]
        else:
            messages.success(request, f"Added the action “{action.name}”. Adjust its trigger and mapping below.")
            return redirect("connections:action", slug=slug, pk=pk, action_id=action.pk)
    return _page(request, workspace, destination, "actions", "connections/destination/actions.html", {
        "actions": destination.actions.all(), "catalog_actions": destination.definition.actions, "error": error,
    }, status=400 if error else 200)


@login_required
@require_POST
def toggle_action(request: HttpRequest, slug: str, pk: int, action_id: int) -> HttpResponse:
    workspace = workspace_for(request, slug, Role.ADMIN)
    destination = destination_for(workspace, pk)
    action = action_for(destination, action_id)
    enable = request.POST.get("enabled") == "true"
    services.update_action(action, enabled=enable)
    messages.success(request, f"“{action.name}” is {'enabled' if enable else 'disabled'}.")
    return redirect("connections:destination-actions", slug=slug, pk=pk)


@login_required
@require_POST
def delete_action(request: HttpRequest, slug: str, pk: int, action_id: int) -> HttpResponse:
    workspace = workspace_for(request, slug, Role.ADMIN)
    destination = destination_for(workspace, pk)
    action = action_for(destination, action_id)
    services.delete_action(action)
    messages.success(request, f"Removed the action “{action.name}”.")
    return redirect("connections:destination-actions", slug=slug, pk=pk)


SAMPLE_EVENTS: dict[str, dict[str, Any]] = {
    "track": {
        "type": "track", "event": "Order Completed", "userId": "user-123", "anonymousId": "anon-456",
        "messageId": "test-message-1", "timestamp": "2024-05-01T12:00:00.000Z",
        "properties": {"order_id": "A-1001", "total": 42.5, "currency": "USD"},
        "context": {"ip": "203.0.113.7", "library": {"name": "analytics.js", "version": "2.0.0"}},
    },
    "identify": {
        "type": "identify", "userId": "user-123", "anonymousId": "anon-456", "messageId": "test-message-2",
        "timestamp": "2024-05-01T12:00:00.000Z",
        "traits": {"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace", "plan": "pro"},
        "context": {"ip": "203.0.113.7"},
    },
    "page": {
        "type": "page", "name": "Pricing", "userId": "user-123", "messageId": "test-message-3",
        "timestamp": "2024-05-01T12:00:00.000Z",
        "properties": {"path": "/pricing", "url": "https://example.com/pricing", "title": "Pricing"},
    },
}

def _sample_for(action: Action) -> dict[str, Any]:
    """The first sample event the action's trigger matches (a track event when none does)."""
    try:
        trigger = parse(action.trigger)
    except TriggerSyntaxError:
        return SAMPLE_EVENTS["track"]
    return next((e for e in SAMPLE_EVENTS.values() if trigger.matches(e)), SAMPLE_EVENTS["track"])


def _recent_events(destination: Destination, limit: int = 10) -> list[Event]:
    """The newest events of the sources feeding this destination (same workspace by construction)."""
    source_ids = destination.connections.values_list("source_id", flat=True)
    return list(Event.objects.filter(workspace=destination.workspace, source_id__in=source_ids)[:limit])


def _trigger_examples(recent: list[Event]) -> list[dict[str, Any]]:
    """What the never-matching check compares field types with: recent events, else the sample events."""
    return [e.payload for e in recent if isinstance(e.payload, dict)] or list(SAMPLE_EVENTS.values())


def _unsaved(action: Action, cleaned: dict[str, Any]) -> Action:
    """The action as the form has it, not saved: what *Test action* runs."""
    return Action(pk=action.pk, destination=action.destination, kind=action.kind, name=cleaned["name"],
                  trigger=cleaned["trigger"], mapping=cleaned["mapping"], enabled=cleaned["enabled"])


@login_required
def action_page(request: HttpRequest, slug: str, pk: int, action_id: int) -> HttpResponse:
    """Edit an action (POST op=save: admin), or test the form's unsaved version (op=test: show the request;
    op=send: also send it; member). A trigger that can never match is saved only once confirmed
    (confirmed_trigger equal to the trigger posted)."""
    op = request.POST.get("op", "save") if request.method == "POST" else ""
    needs = Role.MEMBER if op in ("test", "send") else Role.ADMIN
    workspace = workspace_for(request, slug, read_or_change(request, needs))
    destination = destination_for(workspace, pk)
    action = action_for(destination, action_id)
    recent = _recent_events(destination)
    # A test posted without the action's fields (an older page, a script, a member's disabled form) runs the
    # saved action.
    form_posted = op == "save" or "trigger" in request.POST
    form = ActionForm(action, request.POST if form_posted else None)
    status = 200
    test: dict[str, Any] = {"event_text": "", "result": None, "error": ""}
    trigger_warnings: list[str] = []
    if op == "save":
        if form.is_valid():
            trigger = form.cleaned_data["trigger"]
            if request.POST.get("confirmed_trigger") != trigger:
                trigger_warnings = trigger_outline.warnings(trigger, _trigger_examples(recent))
        if form.is_valid() and not trigger_warnings:
            try:
                services.update_action(action, name=form.cleaned_data["name"], trigger=form.cleaned_data["trigger"],
                                       mapping=form.cleaned_data["mapping"], enabled=form.cleaned_data["enabled"])
            except ValidationError as exc:
                form.add_service_errors(exc)
            else:
                messages.success(request, f"Saved “{action.name}”.")
                return redirect("connections:action", slug=slug, pk=pk, action_id=action.pk)
        status = 400
    elif op in ("test", "send"):
        test["event_text"] = request.POST.get("event", "")
        try:
            event = json.loads(test["event_text"])
        except json.JSONDecodeError as exc:
            test["error"] = f"The event is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
            status = 400
        else:
            if not form_posted or form.is_valid():
                tested = _unsaved(action, form.cleaned_data) if form_posted else action
                test["result"] = preview_action(tested, event, send=op == "send")
                test["sent"] = op == "send"
            else:
                test["error"] = "Fix the errors in the action's form first: the test runs the form as it is."
                status = 400
    if not test["event_text"]:
        chosen = request.GET.get("event", "")
        picked = next((e for e in recent if str(e.id) == chosen), None)
        if picked is not None:
            test["event_text"] = json.dumps(picked.payload, indent=2)
        else:
            sample = _sample_for(action)
            test["event_text"] = json.dumps(sample, indent=2)
    trigger_text = form["trigger"].value() or ""
    return _page(request, workspace, destination, "actions", "connections/destination/action.html", {
        "action": action, "form": form, "test": test, "recent": recent,
        "picked_event": request.GET.get("event", ""), "trigger_warnings": trigger_warnings,
        "builder_initial": trigger_outline.builder_rows(trigger_text) if trigger_text.strip() else None,
        "mapping_editor": mapping_editor.editor_context(
            form.action_definition, form.mapping_fields(), [e.payload for e in recent], [_sample_for(action)]),
    }, status=status)


# --- Event delivery ------------------------------------------------------------------------------------

@login_required
def delivery_tab(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    workspace = workspace_for(request, slug)
    destination = destination_for(workspace, pk)
    context: dict[str, Any] = {"direct": destination.mode == DestinationMode.DIRECT}
    if not context["direct"]:
        context["picker"] = timeranges.picker(request.GET)
        context["chart"] = delivery_summary.delivery_chart(destination, context["picker"]["range"])
        context["failures"] = (
            Delivery.objects.filter(destination=destination, status=DeliveryStatus.FAILED)
            .select_related("action", "exchange")[:20]
        )
        # the newest retrying events with their last error, beside the failures (same index)
        context["retrying_rows"] = (
            Delivery.objects.filter(destination=destination, status=DeliveryStatus.RETRYING)
            .select_related("action", "exchange")[:20]
        )
        # the newest events not sent on purpose (no action matched, the event's integrations, ...), each
        # with the reason (same index)
        context["filtered_rows"] = (
            Delivery.objects.filter(destination=destination, status=DeliveryStatus.FILTERED)
            .select_related("action", "exchange")[:20]
        )
        context["queued"] = DeliveryChunk.queued(destination)
    return _page(request, workspace, destination, "delivery", "connections/destination/delivery.html", context,
                 status=400 if context.get("picker", {}).get("error") else 200)
