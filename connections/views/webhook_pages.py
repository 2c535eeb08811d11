"""The Webhook tab of an incoming webhook source: its URL, the mapping (with a preview on a received body
and a path picker built from it), the signature settings, and the received bodies with their reasons
and Re-process buttons. Viewers see everything but the secret; changes need the admin role."""

from __future__ import annotations

import json
import re
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from destinations.mapping import read_path
from ingest import webhooks
from ingest.models import WebhookBody
from ingest.webhook_mapping import BodyError, parse_body
from pipelines.models import Membership, Workspace
from pipelines.tenancy import get_workspace

from .. import services
from ..forms import WebhookMappingForm, WebhookSignatureForm
from ..models import Source, SourceKind, WebhookSettings
from ..webhook_api import preview, shown_url
from .access import render_page

SHOWN_BODIES = 30


def _id(text: str) -> int | None:
    """A body id from a form or query value, or None (not a number, or beyond what a bigint holds)."""
    return int(text) if text.isdigit() and len(text) <= 18 else None


def _source(request: HttpRequest, slug: str, pk: int, at_least: Membership.Role = Membership.Role.VIEWER
            ) -> tuple[Workspace, Source]:
    workspace = get_workspace(request.user, slug, at_least=at_least)
    return workspace, get_object_or_404(Source, workspace=workspace, pk=pk, kind=SourceKind.WEBHOOK)


_PLAIN_KEY = re.compile(r"[A-Za-z_$][A-Za-z0-9_$\-]*\Z")
MAX_PATHS = 300


def _event_paths(value: Any, prefix: str, depth: int = 0, out: list[str] | None = None) -> list[str]:
    """Every path into the objects of `value`, four levels deep (keys that are not plain names quoted)."""
    out = [] if out is None else out
    if isinstance(value, dict) and depth < 4:
        for key, item in value.items():
            if not isinstance(key, str) or len(out) >= MAX_PATHS:
                continue
            path = f"{prefix}.{key}" if _PLAIN_KEY.match(key) else f"{prefix}[{json.dumps(key)}]"
            out.append(path)
            _event_paths(item, path, depth + 1, out)
    return out


def _paths(body: WebhookBody | None, array_path: str) -> list[str]:
    """Paths of the picked body's root (body, headers and, with an array path, its first item)."""
    if body is None:
        return ["$.body", "$.headers"]
    try:
        parsed = parse_body(bytes(body.raw), body.content_type)
    except BodyError:
        parsed = None
    root: dict[str, Any] = {"body": parsed, "headers": body.headers or {}}
    paths = ["$.body", *_event_paths(parsed, "$.body"), "$.headers", *_event_paths(root["headers"], "$.headers")]
    if array_path:
        try:
            items = read_path(root, array_path)
        except ValueError:
            items = None
        if isinstance(items, list) and items:
            paths = ["$.item", *_event_paths(items[0], "$.item"), "$.index", *paths]
    return paths


def _pretty(body: WebhookBody) -> str:
    try:
        return json.dumps(parse_body(bytes(body.raw), body.content_type), indent=2, ensure_ascii=False)
    except BodyError:
        return body.text


def _page(request: HttpRequest, workspace: Workspace, source: Source, settings: WebhookSettings, *,
          mapping_form: WebhookMappingForm | None = None, signature_form: WebhookSignatureForm | None = None,
          previewed: dict[str, Any] | None = None, status: int = 200) -> HttpResponse:
    bodies = list(WebhookBody.objects.filter(source=source).order_by("-id")[:SHOWN_BODIES])
    picked_id = request.POST.get("body") or request.GET.get("body") or ""
    picked = next((b for b in bodies if str(b.id) == picked_id), None)
    if picked is None and _id(picked_id) is not None:
        picked = WebhookBody.objects.filter(source=source, pk=_id(picked_id)).first()
    if picked is None and bodies:
        picked = bodies[0]
    mapping_form = mapping_form or WebhookMappingForm(mapping=settings.mapping, array_path=settings.array_path)
    if previewed is None and picked is not None and settings.mapping:
        previewed = preview(source, settings.mapping, settings.array_path, body_id=picked.id)
    signature_form = signature_form or WebhookSignatureForm(initial={
        "signature_scheme": settings.signature_scheme, "signature_header": settings.signature_header,
        "signature_encoding": settings.signature_encoding, "signature_prefix": settings.signature_prefix,
    })
    return render_page(request, workspace, "connections/source/webhook.html", {
        "source": source, "settings": settings, "url": shown_url(request, source, workspace.role), "nav": "connections",
        "source_tab": "webhook", "bodies": bodies, "picked": picked,
        "picked_pretty": _pretty(picked) if picked else "", "preview": previewed,
        "preview_events": json.dumps(previewed["events"], indent=2, ensure_ascii=False) if previewed else "",
        "paths": _paths(picked, settings.array_path), "mapping_form": mapping_form,
        "signature_form": signature_form, "can_edit": workspace.role.includes(Membership.Role.ADMIN),
        "failed_count": WebhookBody.objects.filter(source=source, status=WebhookBody.Status.FAILED).count(),
    }, status=status)


@login_required
def webhook_tab(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """GET shows the tab. POST op=preview tries the form's (unsaved) mapping on the picked body;
    op=save (admin) saves it."""
    workspace, source = _source(request, slug, pk)
    settings = webhooks.settings_for(source)
    if request.method != "POST":
        return _page(request, workspace, source, settings)
    op = request.POST.get("op", "save")
    if op == "save":
        workspace, source = _source(request, slug, pk, Membership.Role.ADMIN)
    form = WebhookMappingForm(request.POST, mapping=settings.mapping, array_path=settings.array_path)
    if not form.is_valid():
        return _page(request, workspace, source, settings, mapping_form=form, status=400)
    mapping, array_path = form.cleaned_data["mapping"], form.cleaned_data.get("array_path", "")
    if op == "preview":
        picked = request.POST.get("body", "")
        result = preview(source, mapping, array_path, body_id=_id(picked))
        return _page(request, workspace, source, settings, mapping_form=form, previewed=result)
    try:
        services.update_webhook_settings(source, mapping=mapping, array_path=array_path)
    except ValidationError as exc:
        for key, errors in exc.message_dict.items():
            form.add_error(key if key in form.fields else None, errors)
        return _page(request, workspace, source, settings, mapping_form=form, status=400)
    failed = WebhookBody.objects.filter(source=source, status=WebhookBody.Status.FAILED).count()
    messages.success(request, "Saved the mapping." + (
        f" {failed} received bodies are not mapped yet: re-process them below." if failed else ""))
    return redirect("connections:source-webhook", slug=slug, pk=pk)


@login_required
@require_POST
def webhook_signature(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    workspace, source = _source(request, slug, pk, Membership.Role.ADMIN)
    settings = webhooks.settings_for(source)
    form = WebhookSignatureForm(request.POST)
    if form.is_valid():
        data = dict(form.cleaned_data)
        secret = data.pop("secret", "")
        try:
            services.update_webhook_settings(source, secret=secret, **data)
        except ValidationError as exc:
            for key, errors in exc.message_dict.items():
                form.add_error(key if key in form.fields else None, errors)
        else:
            messages.success(request, "Saved the signature settings.")
            return redirect("connections:source-webhook", slug=slug, pk=pk)
    return _page(request, workspace, source, settings, signature_form=form, status=400)


@login_required
@require_POST
def webhook_reprocess(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """Re-process one body (POST body=<id>) or every body not mapped yet."""
    _workspace, source = _source(request, slug, pk, Membership.Role.ADMIN)
    body_id = request.POST.get("body", "")
    if body_id:
        if _id(body_id) is None:
            messages.error(request, "No such body.")
            return redirect("connections:source-webhook", slug=slug, pk=pk)
        done = webhooks.reprocess(source, [get_object_or_404(WebhookBody, source=source, pk=_id(body_id))])
    else:
        done = webhooks.reprocess(source)
    ok = sum(1 for b in done if b.status == WebhookBody.Status.PROCESSED)
    if not done:
        messages.success(request, "There was nothing to re-process.")
    elif ok == len(done):
        messages.success(request, f"Re-processed {ok} bodies: their events are stored and on their way.")
    else:
        messages.error(request, f"Re-processed {len(done)} bodies: {ok} made events, {len(done) - ok} still "
                                "cannot be mapped (see their reasons).")
    return redirect("connections:source-webhook", slug=slug, pk=pk)
