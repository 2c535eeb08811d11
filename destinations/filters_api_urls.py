"""Management API routes of the routing controls: a destination's filters (mounted under /api/)."""

from django.urls import path

from . import filters_api

app_name = "routing-api"

urlpatterns = [
    path("workspaces/<slug:slug>/destinations/<int:destination_id>/filters/",
         filters_api.DestinationFiltersView.as_view(), name="destination-filters"),
    path("workspaces/<slug:slug>/destinations/<int:destination_id>/filters/preview/",
         filters_api.DestinationFiltersPreview.as_view(), name="destination-filters-preview"),
]
