"""The workspace settings page (/w/<slug>/settings/): the retention windows, and deleting the workspace."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from connections.views.access import render_page
from pipelines.models import Membership
from pipelines.tenancy import get_workspace

from . import services
from .forms import DeleteWorkspaceForm, RetentionPolicyForm
from .models import DEDUPE_WINDOW_DAYS, policy_for
from .workspace_deletion import request_deletion

Role = Membership.Role


@login_required
def workspace_settings(request: HttpRequest, slug: str) -> HttpResponse:
    """Every member sees the policy; admins and owners change it (POST needs the admin role). Owners
    also see the danger zone: deleting the workspace (POST op=delete, owners only)."""
    deleting = request.method == "POST" and request.POST.get("op") == "delete"
    at_least = Role.VIEWER
    if request.method == "POST":
        at_least = Role.OWNER if deleting else Role.ADMIN
    workspace = get_workspace(request.user, slug, at_least=at_least)
    policy = policy_for(workspace)
    can_edit = workspace.role.includes(Role.ADMIN)
    form = RetentionPolicyForm(request.POST if request.method == "POST" and not deleting else None, instance=policy)
    delete_form = DeleteWorkspaceForm(request.POST if deleting else None, slug=workspace.slug)
    if deleting and delete_form.is_valid():
        request_deletion(workspace)
        messages.success(request, f"The workspace {workspace.name} is deleted. Its data is being removed in the "
                                  "background, and its keys stop accepting events within seconds.")
        return redirect("connections:home")
    if request.method == "POST" and not deleting and form.is_valid():
        try:
            services.update_policy(workspace, form.cleaned_data)
        except ValidationError as exc:  # checked by the form already; kept so the two can never disagree
            form.add_error(None, exc)
        else:
            messages.success(request, "Retention settings saved.")
            return redirect("retention:workspace-settings", slug=workspace.slug)
    if not can_edit:
        for field in form.fields.values():
            field.disabled = True
    return render_page(request, workspace, "retention/settings.html", {
        "form": form, "delete_form": delete_form, "can_edit": can_edit, "nav": "settings",
        "dedupe_hours": max(policy.events_days or DEDUPE_WINDOW_DAYS, DEDUPE_WINDOW_DAYS) * 24,
    }, status=400 if form.errors or delete_form.errors else 200)
