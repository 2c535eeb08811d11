"""Management API routes under /api/ (see connections/api.py). Delivery routes live in destinations.api_urls."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from . import api, webhook_api

WS = "workspaces/<slug:slug>"

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", api.api_docs, name="api-docs"),
    path("workspaces/", api.WorkspaceList.as_view(), name="api-workspaces"),
    path(f"{WS}/", api.WorkspaceDetail.as_view(), name="api-workspace"),
    path("catalog/destinations/", api.CatalogDestinationList.as_view(), name="api-catalog"),
    path("catalog/destinations/<str:key>/", api.CatalogDestinationDetail.as_view(), name="api-catalog-entry"),
    path(f"{WS}/sources/", api.SourceList.as_view(), name="api-sources"),
    path(f"{WS}/sources/<int:pk>/", api.SourceDetail.as_view(), name="api-source"),
    path(f"{WS}/sources/<int:pk>/rotate-key/", api.SourceRotateKey.as_view(), name="api-source-rotate-key"),
    path(f"{WS}/sources/<int:pk>/webhook/", webhook_api.WebhookSettingsView.as_view(), name="api-source-webhook"),
    path(f"{WS}/sources/<int:pk>/webhook/bodies/", webhook_api.WebhookBodyList.as_view(),
         name="api-source-webhook-bodies"),
    path(f"{WS}/sources/<int:pk>/webhook/bodies/<int:body_id>/", webhook_api.WebhookBodyDetail.as_view(),
         name="api-source-webhook-body"),
    path(f"{WS}/sources/<int:pk>/webhook/bodies/<int:body_id>/reprocess/",
         webhook_api.WebhookBodyReprocess.as_view(), name="api-source-webhook-body-reprocess"),
    path(f"{WS}/sources/<int:pk>/webhook/reprocess/", webhook_api.WebhookReprocess.as_view(),
         name="api-source-webhook-reprocess"),
    path(f"{WS}/sources/<int:pk>/webhook/preview/", webhook_api.WebhookPreview.as_view(),
         name="api-source-webhook-preview"),
    path(f"{WS}/destinations/", api.DestinationList.as_view(), name="api-destinations"),
    path(f"{WS}/destinations/<int:pk>/", api.DestinationDetail.as_view(), name="api-destination"),
    path(f"{WS}/destinations/<int:destination_id>/actions/", api.ActionList.as_view(), name="api-actions"),
    path(f"{WS}/destinations/<int:destination_id>/actions/<int:pk>/", api.ActionDetail.as_view(),
         name="api-action"),
    path(f"{WS}/events/", api.EventList.as_view(), name="api-events"),
]
