"""Management API routes of audiences (mounted under /api/)."""

from django.urls import path

from . import api

app_name = "audiences-api"

urlpatterns = [
    path("workspaces/<slug:slug>/audiences/", api.AudienceList.as_view(), name="audience-list"),
    path("workspaces/<slug:slug>/audiences/estimate/", api.AudienceEstimate.as_view(), name="audience-estimate"),
    path("workspaces/<slug:slug>/audiences/vocabulary/", api.AudienceVocabulary.as_view(),
         name="audience-vocabulary"),
    path("workspaces/<slug:slug>/audiences/<int:pk>/", api.AudienceDetail.as_view(), name="audience-detail"),
    path("workspaces/<slug:slug>/audiences/<int:pk>/members/", api.AudienceMembers.as_view(),
         name="audience-members"),
    path("workspaces/<slug:slug>/audiences/<int:pk>/history/", api.AudienceHistory.as_view(),
         name="audience-history"),
]
