"""Management API routes of alerts (mounted under /api/)."""

from django.urls import path

from . import api

app_name = "alerts-api"

urlpatterns = [
    path("workspaces/<slug:slug>/alerts/rules/", api.AlertRuleList.as_view(), name="rule-list"),
    path("workspaces/<slug:slug>/alerts/rules/<int:pk>/", api.AlertRuleDetail.as_view(), name="rule-detail"),
    path("workspaces/<slug:slug>/alerts/incidents/", api.AlertIncidentList.as_view(), name="incident-list"),
]
