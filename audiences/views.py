"""The Audiences pages (/w/<slug>/audiences/...): the list, the audience page (size chart, latest entries
and exits, the definition in a builder) and the new-audience page. Viewers read; admins change."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from connections.views.access import render_page
from pipelines import timeranges
from pipelines.models import Membership as WorkspaceMembership
from pipelines.tenancy import get_workspace

from . import api, services
from .models import Audience

ADMIN = WorkspaceMembership.Role.ADMIN
NAMING_HINT = "Cart Abandon | 0-24h | Excl Purch 7d"
STARTER = {"all": [{"event": "Product Added", "within": "24h"},
                   {"not": {"event": "Order Completed", "within": "7d"}}]}


class AudienceForm(forms.Form):
    name = forms.CharField(max_length=200, help_text=f"Intent | window | exclusions, e.g. “{NAMING_HINT}”.",
                           widget=forms.TextInput(attrs={"placeholder": NAMING_HINT}))
    key = forms.SlugField(max_length=100, help_text="A slug, unique in the workspace: other audiences and "
                          "destinations refer to the audience by it.")
    enabled = forms.BooleanField(required=False, initial=True)
    kind = forms.ChoiceField(choices=Audience.Kind.choices, initial=Audience.Kind.RULES, required=False,
                             widget=forms.RadioSelect(attrs={"data-audience-kind": ""}), label="Members",
                             help_text="Rules: the people matching the conditions below. Manual segment: the "
                             "people the Track API's segment calls add (and have not removed).")
    segment_id = forms.IntegerField(required=False, min_value=0, max_value=2**31 - 1, label="Segment id",
                                    help_text="The {segment_id} of POST /api/v1/segments/{segment_id}/add_customers "
                                    "and /remove_customers.")
    definition = forms.CharField(required=False, widget=forms.Textarea(attrs={
        "rows": 8, "spellcheck": "false", "data-audience-definition": ""}),
        help_text="The condition tree as JSON (the builder above writes it).")

    def __init__(self, *args: Any, audience: Audience | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if audience is not None:  # the kind is chosen once
            self.fields["kind"].disabled = True
            self.fields["kind"].initial = audience.kind
            if audience.kind == Audience.Kind.MANUAL:
                del self.fields["definition"]
            else:
                del self.fields["segment_id"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        data["kind"] = data.get("kind") or Audience.Kind.RULES
        if data["kind"] == Audience.Kind.MANUAL:
            data.pop("definition", None)
            if data.get("segment_id") is None and "segment_id" not in self.errors:
                self.add_error("segment_id", "A manual audience needs the segment id its Track API calls use.")
        else:
            data.pop("segment_id", None)
            text = (data.get("definition") or "").strip() if "definition" in self.fields else None
            if text is not None and "definition" not in self.errors:
                if not text:
                    self.add_error("definition", "This field is required.")
                else:
                    try:
                        data["definition"] = json.loads(text)
                    except ValueError as exc:
                        self.add_error("definition", f"Not valid JSON: {exc}")
        return data


def _apply_errors(form: AudienceForm, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


@login_required
def audience_list(request: HttpRequest, slug: str) -> HttpResponse:
    workspace = get_workspace(request.user, slug)
    return render_page(request, workspace, "audiences/list.html", {
        "nav": "audiences", "audiences": Audience.objects.filter(workspace=workspace),
        "can_edit": workspace.role.includes(ADMIN)})


@login_required
def audience_new(request: HttpRequest, slug: str) -> HttpResponse:
    workspace = get_workspace(request.user, slug, at_least=ADMIN)
    form = AudienceForm(request.POST or None, initial={"definition": json.dumps(STARTER, indent=2)})
    if request.method == "POST" and form.is_valid():
        try:
            audience = services.create_audience(workspace, **form.cleaned_data)
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, f"Audience “{audience.name}” created; computing its members now.")
            return redirect("audiences:detail", slug=workspace.slug, pk=audience.pk)
    return render_page(request, workspace, "audiences/new.html", {
        "nav": "audiences", "form": form, "can_edit": True, "naming_hint": NAMING_HINT,
    }, status=400 if form.errors else 200)


@login_required
def audience_detail(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    workspace = get_workspace(request.user, slug, at_least=ADMIN if request.method == "POST" else
                              WorkspaceMembership.Role.VIEWER)
    audience = get_object_or_404(Audience, workspace=workspace, pk=pk)
    can_edit = workspace.role.includes(ADMIN)
    initial = {"name": audience.name, "key": audience.key, "enabled": audience.enabled,
               "definition": json.dumps(audience.definition, indent=2), "segment_id": audience.segment_id}
    form = AudienceForm(request.POST or None, initial=initial, audience=audience)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_audience(audience, form.cleaned_data)
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, "Audience saved.")
            return redirect("audiences:detail", slug=workspace.slug, pk=audience.pk)
    if not can_edit:
        for field in form.fields.values():
            field.disabled = True
    picker = timeranges.picker(request.GET)
    data = api.history_by_range(audience, picker["range"])
    return render_page(request, workspace, "audiences/detail.html", {
        "nav": "audiences", "audience": audience, "form": form, "can_edit": can_edit, "picker": picker,
        "chart": size_chart(data["buckets"], picker["range"]), "latest": data["latest"][:20],
        "naming_hint": NAMING_HINT,
    }, status=400 if form.errors or picker["error"] else 200)


@login_required
@require_POST
def audience_delete(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    workspace = get_workspace(request.user, slug, at_least=ADMIN)
    audience = get_object_or_404(Audience, workspace=workspace, pk=pk)
    try:
        services.delete_audience(audience)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("audiences:detail", slug=workspace.slug, pk=audience.pk)
    messages.success(request, f"Audience “{audience.name}” deleted.")
    return redirect("audiences:list", slug=workspace.slug)


def size_chart(hours: list[dict[str, Any]], time_range: timeranges.TimeRange) -> dict[str, Any]:
    """SVG geometry: the size as a line, entries (up) and exits (down) per bucket as small bars. Times
    carry their instant (`time`) so the browser labels them in its own time zone."""
    width, height, left, right, top, bottom = 720, 200, 44, 8, 10, 150
    flow_bottom = 190
    peak = max((h["size"] for h in hours), default=0) or 1
    flow_peak = max((max(h["entered"], h["exited"]) for h in hours), default=0) or 1
    slot = (width - left - right) / max(len(hours), 1)
    points, bars, labels = [], [], []
    for i, h in enumerate(hours):
        x = left + i * slot + slot / 2
        points.append(f"{x:.1f},{bottom - (bottom - top) * h['size'] / peak:.1f}")
        mid = (bottom + flow_bottom) / 2 + 3
        if h["entered"]:
            bh = (mid - bottom - 6) * h["entered"] / flow_peak + 1
            bars.append({"x": round(x - slot * .35, 1), "y": round(mid - bh, 1), "w": round(slot * .7, 1),
                         "h": round(bh, 1), "kind": "enter",
                         "time": h["start"].isoformat(), "suffix": f": {h['entered']} entered",
                         "title": f"{h['start']:%d %b %H:%M} UTC: {h['entered']} entered"})
        if h["exited"]:
            bh = (flow_bottom - mid) * h["exited"] / flow_peak + 1
            bars.append({"x": round(x - slot * .35, 1), "y": round(mid, 1), "w": round(slot * .7, 1),
                         "h": round(bh, 1), "kind": "exit",
                         "time": h["start"].isoformat(), "suffix": f": {h['exited']} exited",
                         "title": f"{h['start']:%d %b %H:%M} UTC: {h['exited']} exited"})
        if i % time_range.label_every == 0:
            labels.append({"x": round(left + i * slot, 1), "time": h["start"].isoformat(),
                           "text": time_range.axis_text(h["start"])})
    return {"width": width, "height": height + 12, "time_range": time_range, "left": left, "right": width - right, "top": top,
            "bottom": bottom, "peak": peak, "points": " ".join(points), "bars": bars, "labels": labels,
            "label_y": height + 8, "current": hours[-1]["size"] if hours else 0,
            "entered": sum(h["entered"] for h in hours), "exited": sum(h["exited"] for h in hours)}
