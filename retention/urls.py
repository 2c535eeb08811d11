"""Workspace settings pages (namespace "retention")."""

from django.urls import path

from . import views

app_name = "retention"

urlpatterns = [
    path("w/<slug:slug>/settings/", views.workspace_settings, name="workspace-settings"),
]
