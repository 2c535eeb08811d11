"""Management API routes of audience destinations (mounted under /api/)."""

from django.urls import path

from . import api

app_name = "audience-sync-api"

urlpatterns = [
    path("workspaces/<slug:slug>/audiences/<int:pk>/destinations/", api.AudienceDestinationList.as_view(),
         name="audience-destinations"),
    path("workspaces/<slug:slug>/audiences/<int:pk>/destinations/<int:destination_id>/",
         api.AudienceDestinationDetail.as_view(), name="audience-destination"),
    path("workspaces/<slug:slug>/audiences/<int:pk>/destinations/<int:destination_id>/sync/",
         api.AudienceDestinationSync.as_view(), name="audience-destination-sync"),
]
