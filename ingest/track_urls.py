"""Customer.io Track API compatibility routes (Journeys Track API sources); see ingest/trackapi."""

from django.urls import path, re_path

from ingest.trackapi import views

urlpatterns = [
    path("api/v1/accounts/region", views.region, name="trackapi-region"),
    re_path(r"^api/v1/customers/(?P<rest>.+)$", views.customers, name="trackapi-customers"),
    path("api/v1/events", views.anonymous_events, name="trackapi-events"),
    path("api/v1/merge_customers", views.merge_customers, name="trackapi-merge"),
    path("api/v1/metrics", views.metrics, name="trackapi-metrics"),
    path("api/v1/push/events", views.push_events, name="trackapi-push-events"),
    path("push/events", views.push_events, name="trackapi-push-events-root"),
    re_path(r"^api/v1/segments/(?P<segment_id>[^/]+)/(?P<change>add_customers|remove_customers)$",
            views.segment_customers, name="trackapi-segment-customers"),
    # A form id may contain "/" (clients send %2F, decoded before routing): match up to the last /submit.
    re_path(r"^api/v1/forms/(?P<form_id>.+)/submit$", views.form_submit, name="trackapi-form-submit"),
    path("api/v2/entity", views.entity, name="trackapi-entity"),
    path("api/v2/batch", views.batch, name="trackapi-batch"),
    # Last: every other path under a Track API prefix answers 404 in the Track API's error shape.
    re_path(r"^(?:api/v1|api/v2|push|unsubscribe)(?:/.*)?$", views.unknown_route, name="trackapi-unknown"),
]
