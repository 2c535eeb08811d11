"""Workspace-scoped lookups and page rendering shared by the UI views."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from pipelines.models import Workspace
from pipelines.tenancy import get_workspace, workspaces_for

from ..models import Action, Destination, Source


def workspace_for(request: HttpRequest, slug: str) -> Workspace:
    """The workspace `slug` if the user is a member; Http404 otherwise."""
    return get_workspace(request.user, slug)


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
    context = {"workspace": workspace, "workspaces": workspaces_for(request.user), **context}
    return render(request, template, context, status=status)
