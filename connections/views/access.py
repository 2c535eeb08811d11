"""Workspace-scoped lookups and page rendering shared by the UI views."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from pipelines.models import Membership, Workspace
from pipelines.tenancy import abilities, get_workspace, workspaces_for

from ..models import Action, Destination, Source

Role = Membership.Role


def workspace_for(request: HttpRequest, slug: str, at_least: Role = Role.VIEWER) -> Workspace:
    """The workspace `slug` if the user is a member; Http404 otherwise, PermissionDenied (a 403 page)
    when their role is below `at_least`."""
    return get_workspace(request.user, slug, at_least=at_least)


def read_or_change(request: HttpRequest, change: Role = Role.ADMIN) -> Role:
    """The role a page needs: viewer to look at it (GET), `change` to post to it."""
    return Role.VIEWER if request.method in ("GET", "HEAD", "OPTIONS") else change


def destination_for(workspace: Workspace, destination_id: int) -> Destination:
    return get_object_or_404(Destination, workspace=workspace, pk=destination_id)


def source_for(workspace: Workspace, source_id: int) -> Source:
    return get_object_or_404(Source, workspace=workspace, pk=source_id)


def action_for(destination: Destination, action_id: int) -> Action:
    return get_object_or_404(Action, destination=destination, pk=action_id)


def render_page(
    request: HttpRequest, workspace: Workspace, template: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    """Render a page inside the app layout: adds the workspace and the switcher's list."""
    context = {"workspace": workspace, "workspaces": workspaces_for(request.user), "can": abilities(workspace.role),
               **context}
    return render(request, template, context, status=status)
