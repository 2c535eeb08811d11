"""The Add Destination wizard: Select destination → (Optional) Select sources → Configure → Review.

One view per step. Each step declares pre-conditions (missing earlier choices send the user back to the
step that makes them) and skip-conditions (a step with nothing to do forwards the user). The state lives in
one session object per workspace under a namespaced key; secrets typed in Configure are kept there only
encrypted. Enable Destination calls connections.services.create_destination and clears the state.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import orjson
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from destinations.catalog import all_definitions, get_definition
from destinations.catalog.base import DestinationDefinition
from destinations.errors import DeliveryError
from pipelines import crypto
from pipelines.models import Workspace

from .. import monograms, services
from ..forms import DestinationSettingsForm, SourceSelectionForm
from ..models import Destination, DestinationMode, Source, check_connectable
from .access import Role, render_page, workspace_for

STEPS = (
    ("select", "Select destination"),
    ("sources", "Select sources"),
    ("configure", "Configure"),
    ("review", "Review"),
)
STEP_KEYS = tuple(key for key, _ in STEPS)


@dataclass
class WizardState:
    kind: str = ""
    source_ids: list[int] = field(default_factory=list)
    sources_chosen: bool = False
    name: str = ""
    settings_encrypted: str = ""  # the cleaned settings, encrypted: secrets never sit in the session in clear

    @property
    def configured(self) -> bool:
        return bool(self.settings_encrypted)

    @property
    def settings(self) -> dict[str, Any]:
        if not self.settings_encrypted:
            return {}
        try:
            return orjson.loads(crypto.decrypt(self.settings_encrypted))
        except ValueError:  # the key changed since: ask again
            return {}

    @settings.setter
    def settings(self, values: dict[str, Any]) -> None:
        self.settings_encrypted = crypto.encrypt(orjson.dumps(values).decode())


def _session_key(workspace: Workspace) -> str:
    return f"connections:add-destination:{workspace.slug}"


def load_state(request: HttpRequest, workspace: Workspace) -> WizardState:
    raw = request.session.get(_session_key(workspace)) or {}
    try:
        return WizardState(**raw)
    except TypeError:  # an older shape of the state: start over
        return WizardState()


def save_state(request: HttpRequest, workspace: Workspace, state: WizardState) -> None:
    request.session[_session_key(workspace)] = asdict(state)


def clear_state(request: HttpRequest, workspace: Workspace) -> None:
    request.session.pop(_session_key(workspace), None)


def _definition(state: WizardState) -> DestinationDefinition | None:
    try:
        return get_definition(state.kind) if state.kind else None
    except KeyError:
        return None


def _workspace_sources(workspace: Workspace) -> list[Source]:
    return list(Source.objects.filter(workspace=workspace))


def _eligibility(workspace: Workspace, definition: DestinationDefinition) -> list[tuple[Source, str]]:
    """Every source of the workspace with the reason it cannot feed this destination type ('' if it can)."""
    probe = Destination(workspace=workspace, kind=definition.key, mode=definition.mode)
    result = []
    for source in _workspace_sources(workspace):
        try:
            check_connectable(source, probe)
            reason = ""
        except ValidationError as exc:
            reason = exc.messages[0]
        result.append((source, reason))
    return result


def _step_url(workspace: Workspace, step: str) -> str:
    return reverse("connections:add-destination", kwargs={"slug": workspace.slug, "step": step})


def _guard(request: HttpRequest, workspace: Workspace, step: str, state: WizardState) -> HttpResponse | None:
    """Pre-conditions send the user back; skip-conditions send them forward. None: show this step."""
    definition = _definition(state)
    if step != "select" and definition is None:
        return redirect(_step_url(workspace, "select"))
    if step == "sources" and not _workspace_sources(workspace):
        return redirect(_step_url(workspace, "configure"))  # nothing to choose: skip forward
    if step == "review" and not state.configured:
        return redirect(_step_url(workspace, "configure"))
    return None


def _previous(workspace: Workspace, step: str) -> str | None:
    index = STEP_KEYS.index(step)
    if index == 0:
        return None
    previous = STEP_KEYS[index - 1]
    if previous == "sources" and not _workspace_sources(workspace):
        previous = "select"
    return _step_url(workspace, previous)


def _render(request: HttpRequest, workspace: Workspace, step: str, state: WizardState,
            context: dict[str, Any], status: int = 200) -> HttpResponse:
    index = STEP_KEYS.index(step)
    steps = [
        {"key": key, "label": label, "number": i + 1, "current": key == step, "done": i < index,
         "optional": key == "sources"}
        for i, (key, label) in enumerate(STEPS)
    ]
    return render_page(request, workspace, f"connections/wizard/{step}.html", {
        "steps": steps, "step": step, "state": state, "definition": _definition(state),
        "back_url": _previous(workspace, step), "nav": "connections",
        "cancel_url": reverse("connections:add-destination-cancel", kwargs={"slug": workspace.slug}),
        **context,
    }, status=status)


@login_required
def start(request: HttpRequest, slug: str) -> HttpResponse:
    """Open the wizard. `?source=<id>` (the "Add a destination" button of a source page) starts afresh with
    that source preselected; an id that is not a source of this workspace answers 404."""
    workspace = workspace_for(request, slug, Role.ADMIN)
    source_id = request.GET.get("source", "")
    if source_id:
        if not source_id.isdigit():
            raise Http404("No such source")
        source = Source.objects.filter(workspace=workspace, id=int(source_id)).first()
        if source is None:
            raise Http404("No such source")
        save_state(request, workspace, WizardState(source_ids=[source.id]))
    return redirect(_step_url(workspace, "select"))


@login_required
def step_view(request: HttpRequest, slug: str, step: str) -> HttpResponse:
    workspace = workspace_for(request, slug, Role.ADMIN)
    if step not in STEP_KEYS:
        raise Http404("No such step")
    state = load_state(request, workspace)
    guard = _guard(request, workspace, step, state)
    if guard is not None:
        return guard
    handler = {"select": _select, "sources": _sources, "configure": _configure, "review": _review}[step]
    return handler(request, workspace, state)


@login_required
@require_POST
def cancel(request: HttpRequest, slug: str) -> HttpResponse:
    workspace = workspace_for(request, slug, Role.ADMIN)
    clear_state(request, workspace)
    return redirect("connections:connections", slug=workspace.slug)


# --- step 1 --------------------------------------------------------------------------------------------

def _select(request: HttpRequest, workspace: Workspace, state: WizardState) -> HttpResponse:
    definitions = all_definitions()
    error = ""
    if request.method == "POST":
        kind = request.POST.get("kind", "")
        try:
            definition = get_definition(kind)
        except KeyError:
            error = "Choose a destination from the catalog."
        else:
            if kind != state.kind:  # a different type: its settings differ; the sources picked stay
                # preselected (the sources step unticks any this type cannot take)
                state = WizardState(kind=kind, name=definition.name, source_ids=state.source_ids)
            save_state(request, workspace, state)
            return redirect(_step_url(workspace, "sources"))
    query = request.GET.get("q", "").strip()
    category = request.GET.get("category", "").strip()
    categories = sorted({d.category for d in definitions})
    shown = [
        d for d in definitions
        if (not query or query.lower() in f"{d.name} {d.category} {d.description}".lower())
        and (not category or d.category == category)
    ]
    preselected = list(Source.objects.filter(workspace=workspace, id__in=state.source_ids))
    return _render(request, workspace, "select", state, {
        "preselected": preselected, "definitions": shown,
        "cards": [{"definition": d, "monogram": monograms.for_destination(d.key, d.name),
                   "badges": [{"text": d.category, "mode": False},
                              {"text": "Direct mode" if d.mode == DestinationMode.DIRECT else "Cloud mode",
                               "mode": True}]} for d in shown], "categories": categories, "query": query, "category": category,
        "total": len(definitions), "error": error,
    }, status=400 if error else 200)


# --- step 2 --------------------------------------------------------------------------------------------

def _sources(request: HttpRequest, workspace: Workspace, state: WizardState) -> HttpResponse:
    definition = _definition(state)
    assert definition is not None  # the guard sent the user back otherwise
    rows = _eligibility(workspace, definition)
    eligible = [(s.id, s.display_name) for s, reason in rows if not reason]
    if request.method == "POST":
        form = SourceSelectionForm(request.POST, eligible=eligible)
        if form.is_valid():
            state.source_ids = form.cleaned_data["source_ids"]
            state.sources_chosen = True
            save_state(request, workspace, state)
            return redirect(_step_url(workspace, "configure"))
    else:
        form = SourceSelectionForm(initial={"source_ids": state.source_ids}, eligible=eligible)
    selected = set(form.data.getlist("source_ids")) if form.is_bound else {str(i) for i in state.source_ids}
    return _render(request, workspace, "sources", state, {
        "form": form,
        "rows": [{"source": s, "reason": reason, "checked": str(s.id) in selected} for s, reason in rows],
        "direct": definition.mode == DestinationMode.DIRECT,
    }, status=400 if form.is_bound else 200)


# --- step 3 --------------------------------------------------------------------------------------------

def _wants_json(request: HttpRequest) -> bool:
    return request.headers.get("X-Requested-With") == "fetch"


def run_credentials_test(definition: DestinationDefinition, settings: dict[str, Any]) -> tuple[bool, str]:
    """Run the catalog's credentials test; a failure of any kind is reported, never raised."""
    if definition.check_credentials is None:
        return True, f"{definition.name} has no credentials test; the settings are valid."
    try:
        return definition.check_credentials(settings)
    except DeliveryError as exc:
        return False, exc.message
    except Exception as exc:  # noqa: BLE001 - a vendor test must never turn into a 500 page
        return False, f"The test could not run: {exc}"


# What a failed credentials test says, and the kind of setting it is about.
_ADDRESS_FAILURES = ("Connection error", "Timed out", "The host", "Not a valid http(s) URL")
_CREDENTIAL_FAILURES = ("HTTP 401", "HTTP 403", "Invalid ", "refused the credentials", "credentials were refused")


def _failed_setting(definition: DestinationDefinition, message: str) -> str | None:
    """The setting a failed test points at: the URL for an address that could not be reached, the first required
    secret for refused credentials; None when the message names neither."""
    if any(marker in message for marker in _ADDRESS_FAILURES):
        return next((f.key for f in definition.settings if f.type == "url"), None)
    if any(marker in message for marker in _CREDENTIAL_FAILURES):
        return next((f.key for f in definition.settings if f.secret and f.required and f.type != "headers"), None)
    return None


def run_connection_test(definition: DestinationDefinition, form: DestinationSettingsForm) -> dict[str, Any]:
    """Validate `form` and, when valid, run the credentials test. The answer carries the form's errors as
    they are now (so no earlier error stays on screen) and, for a failed test, the error under the
    setting it failed on: {"ok", "message", "errors": {field: [{"message", "code"}]}}."""
    if not form.is_valid():
        return {"ok": False, "message": "Fix the errors below, then test again.",
                "errors": form.errors.get_json_data()}
    ok, message = run_credentials_test(definition, form.cleaned_data["settings"])
    key = None if ok else _failed_setting(definition, message)
    if key is not None and key in form.fields:
        form.add_error(key, message)
    return {"ok": ok, "message": message, "errors": form.errors.get_json_data()}


def _configure(request: HttpRequest, workspace: Workspace, state: WizardState) -> HttpResponse:
    definition = _definition(state)
    assert definition is not None
    stored = state.settings
    test_result = None
    if request.method == "POST":
        form = DestinationSettingsForm(definition, request.POST, existing=stored, masked=_masked(definition, stored))
        if request.POST.get("op") == "test":
            test_result = run_connection_test(definition, form)
            if _wants_json(request):
                return JsonResponse(test_result)
        elif form.is_valid():
            state.name = form.cleaned_data["name"].strip()
            state.settings = form.cleaned_data["settings"]
            save_state(request, workspace, state)
            return redirect(_step_url(workspace, "review"))
    else:
        initial = {"name": state.name or definition.name}
        form = DestinationSettingsForm(definition, initial=initial, existing=stored,
                                       masked=_masked(definition, stored))
    status = 400 if form.is_bound and form.errors else 200
    return _render(request, workspace, "configure", state, {
        "form": form, "test_result": test_result, "has_test": definition.check_credentials is not None,
    }, status=status)


def _masked(definition: DestinationDefinition, settings: dict[str, Any]) -> dict[str, Any]:
    probe = Destination(kind=definition.key)
    probe.settings = settings
    return probe.masked_settings()


# --- step 4 --------------------------------------------------------------------------------------------

def _review(request: HttpRequest, workspace: Workspace, state: WizardState) -> HttpResponse:
    definition = _definition(state)
    assert definition is not None
    sources = list(Source.objects.filter(workspace=workspace, id__in=state.source_ids))
    errors: list[str] = []
    if request.method == "POST":
        try:
            destination = services.create_destination(
                workspace, name=state.name, kind=definition.key, settings=state.settings, sources=sources,
            )
        except ValidationError as exc:
            errors = exc.messages
        else:
            clear_state(request, workspace)
            messages.success(request, f"{destination.name} is enabled and will start receiving data from "
                                      f"{len(sources)} source{'s' if len(sources) != 1 else ''}.")
            return redirect("connections:destination", slug=workspace.slug, pk=destination.pk)
    return _render(request, workspace, "review", state, {
        "sources": sources, "settings_shown": review_rows(definition, state.settings), "errors": errors,
        "actions": [a.title for a in definition.actions if a.default_enabled],
    }, status=400 if errors else 200)


@dataclass
class ReviewRow:
    """One setting as the review step shows it: words a marketer reads, never a raw stored value."""

    label: str
    text: str = ""  # the value in words ("US", "Yes", "••••••••1234"); "" when `items` or `empty`
    items: list[str] = field(default_factory=list)  # a list value (headers), one entry per line
    code: bool = False  # an identifier or address, shown in monospace
    empty: bool = False  # not set


def review_rows(definition: DestinationDefinition, settings: dict[str, Any]) -> list[ReviewRow]:
    """Every setting of `definition` with its value in words: a choice by its label, a boolean as Yes/No,
    headers one per line, secrets masked (the masks of Destination.masked_settings), unset ones marked."""
    masked = _masked(definition, settings)
    rows = []
    for setting in definition.settings:
        value = masked.get(setting.key)
        row = ReviewRow(setting.label)
        if value is None or value == "" or value == {}:
            row.empty = True
        elif setting.type == "boolean":
            row.text = "Yes" if value is True or str(value).lower() in ("true", "1", "yes", "on") else "No"
        elif setting.type == "choice":
            row.text = dict(setting.choices).get(str(value), str(value))
        elif isinstance(value, dict):
            row.items = [f"{k}: {v}" for k, v in value.items()]
        elif isinstance(value, (list, tuple)):
            row.items = [str(v) for v in value]
        else:
            row.text = str(value)
            row.code = setting.secret or setting.type in ("url", "string")
        rows.append(row)
    return rows
