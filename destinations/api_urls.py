"""Management API routes of the delivery engine (mounted under /api/)."""

from django.urls import path

from . import api

app_name = "destinations-api"

urlpatterns = [
    path("workspaces/<slug:slug>/destinations/<int:destination_id>/deliveries/", api.DeliveryList.as_view(),
         name="deliveries"),
    path("workspaces/<slug:slug>/destinations/<int:destination_id>/delivery-stats/", api.DeliveryStats.as_view(),
         name="delivery-stats"),
    path("workspaces/<slug:slug>/destinations/<int:destination_id>/actions/<int:action_id>/test/",
         api.ActionTest.as_view(), name="action-test"),
]
