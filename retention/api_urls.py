"""Management API routes of retention (mounted under /api/)."""

from django.urls import path

from . import api

app_name = "retention-api"

urlpatterns = [
    path("workspaces/<slug:slug>/retention/", api.RetentionPolicyDetail.as_view(), name="retention"),
]
