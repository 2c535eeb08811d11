"""The workspace's audit log page: every member may read it (entries hold no secrets)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from pipelines.tenancy import get_workspace, workspaces_for

from .models import AuditEntry

PAGE_SIZE = 50


@require_GET
@login_required
def audit_log(request: HttpRequest, slug: str) -> HttpResponse:
    workspace = get_workspace(request.user, slug)
    entries = AuditEntry.objects.filter(workspace=workspace).order_by("-created_at", "-id")
    object_type = request.GET.get("type", "")
    if object_type not in AuditEntry.ObjectType.values:
        object_type = ""  # an unknown filter shows everything rather than an error page
    if object_type:
        entries = entries.filter(object_type=object_type)
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "audit/log.html", {
        "workspace": workspace,
        "workspaces": workspaces_for(request.user),
        "nav": "audit",
        "page": page,
        "object_type": object_type,
        "object_types": AuditEntry.ObjectType.choices,
    })
