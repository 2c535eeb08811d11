"""The Destinations section of an audience page: connect a destination, change its mode or schedule,
disconnect it (admins). The section itself is rendered by the `audience_destinations` template tag."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from audiences.models import Audience
from connections.models import Destination
from pipelines.api_input import MAX_ID
from pipelines.models import Membership as WorkspaceMembership
from pipelines.tenancy import get_workspace

from . import services
from .models import AudienceDestination, SyncMode

ADMIN = WorkspaceMembership.Role.ADMIN


class ScheduleForm(forms.Form):
    mode = forms.ChoiceField(choices=SyncMode.choices, initial=SyncMode.ADD_REMOVE)
    interval_minutes = forms.IntegerField(min_value=0, max_value=services.MAX_INTERVAL_MINUTES, initial=0,
                                          help_text="0 sends changes in realtime.")


class ConnectForm(ScheduleForm):
    destination_id = forms.IntegerField(min_value=1, max_value=MAX_ID)
    interval_minutes = forms.IntegerField(min_value=0, max_value=services.MAX_INTERVAL_MINUTES, required=False)
    external_audience_id = forms.CharField(required=False, max_length=100)


def _errors(form: forms.Form) -> str:
    return " ".join(f"{'' if k == '__all__' else k.replace('_', ' ').capitalize() + ': '}{' '.join(v)}"
                    for k, v in form.errors.items())


def _back(audience: Audience) -> HttpResponse:
    response = redirect("audiences:detail", slug=audience.workspace.slug, pk=audience.pk)
    response["Location"] += "#destinations"
    return response


@login_required
@require_POST
def connect(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    workspace = get_workspace(request.user, slug, at_least=ADMIN)
    audience = get_object_or_404(Audience, workspace=workspace, pk=pk)
    form = ConnectForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Not connected. {_errors(form)}")
        return _back(audience)
    data = form.cleaned_data
    destination = Destination.objects.filter(workspace=workspace, pk=data["destination_id"]).first()
    if destination is None:
        messages.error(request, "Not connected: no such destination in this workspace.")
        return _back(audience)
    try:
        services.connect(audience, destination, mode=data["mode"], interval_minutes=data["interval_minutes"],
                         external_audience_id=data["external_audience_id"])
    except ValidationError as exc:
        messages.error(request, "Not connected: " + " ".join(exc.messages))
    else:
        messages.success(request, f"Connected to {destination.name}: sending the current "
                                  f"{audience.size} {'person' if audience.size == 1 else 'people'} now, then "
                                  "entries and exits.")
    return _back(audience)


@login_required
@require_POST
def change(request: HttpRequest, slug: str, pk: int, destination_id: int) -> HttpResponse:
    workspace = get_workspace(request.user, slug, at_least=ADMIN)
    audience = get_object_or_404(Audience, workspace=workspace, pk=pk)
    link = get_object_or_404(AudienceDestination.objects.select_related("destination"), audience=audience,
                             destination_id=destination_id)
    if request.POST.get("op") == "disconnect":
        services.disconnect(link)
        messages.success(request, f"Disconnected from {link.destination.name}: nothing more is sent there.")
        return _back(audience)
    form = ScheduleForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Not saved. {_errors(form)}")
        return _back(audience)
    services.update(link, mode=form.cleaned_data["mode"], interval_minutes=form.cleaned_data["interval_minutes"])
    messages.success(request, f"Sync to {link.destination.name} saved.")
    return _back(audience)
