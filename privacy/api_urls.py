"""Privacy routes of the management API (mounted under /api/)."""

from django.urls import path

from . import api

app_name = "privacy-api"

WS = "workspaces/<slug:slug>/privacy"

urlpatterns = [
    path(f"{WS}/delete/", api.DeletePerson.as_view(), name="delete"),
    path(f"{WS}/suppress/", api.SuppressPerson.as_view(), name="suppress"),
    path(f"{WS}/unsuppress/", api.UnsuppressPerson.as_view(), name="unsuppress"),
    path(f"{WS}/requests/", api.PrivacyRequestList.as_view(), name="requests"),
    path(f"{WS}/suppressions/", api.SuppressionList.as_view(), name="suppressions"),
]
