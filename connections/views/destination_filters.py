"""A destination's Filters tab: the filters applied before its actions (destinations/routing_controls.py),
with a preview against the last 100 events of its connected sources. Saving needs the admin role;
previewing stores nothing, so a viewer may."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from destinations import destination_filters
from destinations.models import FieldsMode
from destinations.routing_controls import FilterError

from ..models import DestinationMode
from .access import Role, destination_for, read_or_change, workspace_for
from .destination_pages import _page


class FiltersForm(forms.Form):
    keep_if = forms.CharField(
        label="Only send events matching", required=False,
        widget=forms.Textarea(attrs={"rows": 2, "class": "code", "spellcheck": "false",
                                     "placeholder": 'type = "track" and properties.total > 0'}),
        help_text="A condition in the trigger language. Empty: every event goes on to the next filter.")
    drop_if = forms.CharField(
        label="Drop events matching", required=False,
        widget=forms.Textarea(attrs={"rows": 2, "class": "code", "spellcheck": "false",
                                     "placeholder": 'event = "Test Event" or context.device.type = "ios"'}),
        help_text="Events matching this condition are never sent to this destination.")
    sample_percent = forms.IntegerField(
        label="Send a sample of (%)", min_value=0, max_value=100, initial=100,
        widget=forms.NumberInput(attrs={"class": "narrow-number"}),
        help_text="Percent of the remaining events, chosen by messageId: a retried or replayed event gets the "
                  "same answer. 100 sends all.")
    fields_mode = forms.ChoiceField(label="Fields", choices=FieldsMode.choices, required=False,
                                    widget=forms.RadioSelect)
    fields = forms.CharField(
        label="Field paths", required=False,
        widget=forms.Textarea(attrs={"rows": 4, "class": "code", "spellcheck": "false",
                                     "placeholder": "properties.email\ntraits.phone\ncontext.ip"}),
        help_text="One path per line, under properties, traits or context. “Send only” keeps just these under "
                  "properties and traits (and context, when a path is in it); the event's type, name and ids "
                  "always go.")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        paths = [line.strip() for line in (data.get("fields") or "").splitlines() if line.strip()]
        try:
            data["clean"], data["compiled"] = destination_filters.check({**data, "fields": paths})
        except FilterError as exc:
            self.add_error(exc.field, exc.message)
        return data


@login_required
def filters_tab(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    op = request.POST.get("op", "save")
    workspace = workspace_for(request, slug, Role.VIEWER if op == "preview" else read_or_change(request))
    destination = destination_for(workspace, pk)
    direct = destination.mode == DestinationMode.DIRECT
    preview = None
    if request.method == "POST" and not direct:
        form = FiltersForm(request.POST)
        if form.is_valid():
            if op == "preview":
                preview = destination_filters.preview(destination, form.cleaned_data["compiled"]).as_dict()
            else:
                destination_filters.save(destination, form.cleaned_data["clean"])
                messages.success(request, "Filters saved. New events get them within seconds.")
                return redirect("connections:destination-filters", slug=slug, pk=pk)
    else:
        saved = destination_filters.settings_of(destination)
        form = FiltersForm(initial={**saved, "fields": "\n".join(saved["fields"])})
    return _page(request, workspace, destination, "filters", "connections/destination/filters.html", {
        "form": form, "preview": preview, "direct": direct, "preview_size": destination_filters.PREVIEW_EVENTS,
    }, status=400 if form.is_bound and form.errors else 200)
