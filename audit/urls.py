"""The audit log page (namespace "audit")."""

from django.urls import path

from . import views

app_name = "audit"

urlpatterns = [
    path("w/<slug:slug>/audit/", views.audit_log, name="log"),
]
