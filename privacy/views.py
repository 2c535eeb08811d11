"""The Privacy page: the workspace's privacy requests and suppressions, and (admins and above) forms to
delete a person's data, suppress or unsuppress identities. Changes go through privacy.services."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from connections.views.access import render_page
from pipelines.models import Membership
from pipelines.tenancy import get_workspace

from . import services
from .forms import PersonForm
from .models import PrivacyRequest, Suppression

Role = Membership.Role

_DONE = {
    "delete": "Deletion requested for {who}: their events are dropped from now on, and what is stored is "
              "being deleted (the list below shows when it is done).",
    "suppress": "Suppressed {who}: their new events are dropped at ingest.",
    "unsuppress": "Lifted the suppression of {who}: their events are accepted again.",
}
_ACTIONS = {"delete": services.request_deletion, "suppress": services.suppress, "unsuppress": services.unsuppress}


@login_required
def privacy_page(request: HttpRequest, slug: str) -> HttpResponse:
    """GET lists requests and suppressions (any member); POST runs the form's action (admin or above)."""
    if request.method == "POST":
        workspace = get_workspace(request.user, slug, at_least=Role.ADMIN)
        form = PersonForm(request.POST)
        if form.is_valid():
            action = form.cleaned_data["action"]
            identities = form.cleaned_data["identities"]
            _ACTIONS[action](workspace, request.user, **identities)
            who = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in identities.items())
            messages.success(request, _DONE[action].format(who=who))
            return redirect("privacy:privacy", slug=slug)
        status = 400
    else:
        workspace = get_workspace(request.user, slug)
        form, status = None, 200
    can_change = workspace.role.includes(Role.ADMIN)
    return render_page(request, workspace, "privacy/privacy.html", {
        "nav": "privacy", "can_change": can_change,
        "requests": PrivacyRequest.objects.filter(workspace=workspace).select_related("requested_by")[:100],
        "suppressions": Suppression.objects.filter(workspace=workspace).select_related("created_by"),
        "delete_form": form if form is not None and form.data.get("action") == "delete"
        else PersonForm(auto_id="delete_%s"),
        "suppress_form": form if form is not None and form.data.get("action") != "delete"
        else PersonForm(auto_id="suppress_%s"),
    }, status=status)
