"""Customer.io Track API compatibility routes (Journeys Track API sources); see ingest/trackapi."""

from django.urls import path, re_path

from ingest.trackapi import views

urlpatterns = [
    path("api/v1/accounts/region", views.region, name="trackapi-region"),
    re_path(r"^api/v1/customers/(?P<rest>.+)$", views.customers, name="trackapi-customers"),
    path("api/v1/events", views.anonymous_events, name="trackapi-events"),
    path("api/v1/merge_customers", views.merge_customers, name="trackapi-merge"),
    path("api/v2/entity", views.entity, name="trackapi-entity"),
    path("api/v2/batch", views.batch, name="trackapi-batch"),
]
