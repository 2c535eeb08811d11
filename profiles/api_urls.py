"""Profiles API routes under /api/."""

from django.urls import path

from . import api

urlpatterns = [
    path("workspaces/<slug:slug>/profiles/", api.ProfileList.as_view(), name="api-profiles"),
    path("workspaces/<slug:slug>/profiles/<int:person_id>/", api.ProfileDetail.as_view(), name="api-profile"),
]
