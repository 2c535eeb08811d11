"""Audit log API route under /api/."""

from django.urls import path

from . import api

urlpatterns = [
    path("workspaces/<slug:slug>/audit/", api.AuditEntryList.as_view(), name="api-audit"),
]
