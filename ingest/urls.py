"""The tracking API routes (/v1/*). Single calls carry their type in the route; the browser library uses
one-letter short forms; /v1/import is Segment's alias of batch. Also the browser library itself, at the
paths Segment's CDN uses (/analytics.js/v1/..., /analytics-next/bundles/...) and Customer.io's snippet uses
(/v1/analytics-js/snippet/...), and our direct-mode plugins (/analytics-plugins/...): see
ingest/analytics_js.py."""

from django.urls import path, re_path

from . import analytics_js, views, webhook_views

_TYPES = {
    "identify": "identify", "i": "identify",
    "track": "track", "t": "track",
    "page": "page", "p": "page",
    "screen": "screen", "s": "screen",
    "group": "group", "g": "group",
    "alias": "alias", "a": "alias",
}

urlpatterns = [
    *[
        re_path(rf"^v1/{route}/?$", views.single, {"type_": type_}, name=f"v1-{route}")
        for route, type_ in _TYPES.items()
    ],
    re_path(r"^v1/(?:batch|b|import)/?$", views.batch, name="v1-batch"),
    re_path(r"^v1/m/?$", views.metrics, name="v1-metrics"),
    # Incoming webhooks: the write key in the path, any JSON or form body, mapped by the source's mapping.
    re_path(r"^v1/webhooks/(?P<key>[^/]+)/?$", webhook_views.receive, name="v1-webhook"),
    path("v1/projects/<str:write_key>/settings", views.browser_settings, name="v1-settings"),
    re_path(r"^analytics\.js/v1/(?P<write_key>[^/]+)/analytics\.min\.js$", analytics_js.analytics_min_js,
            name="analytics-js"),
    # Customer.io's snippet loads the library from this path: served too, pointing the library at us.
    re_path(r"^v1/analytics-js/snippet/(?P<write_key>[^/]+)/analytics\.min\.js$",
            analytics_js.snippet_analytics_min_js, name="analytics-js-snippet"),
    re_path(r"^analytics-plugins/(?P<name>[^/]+)\.js$", analytics_js.plugin, name="analytics-plugin"),
    # <path:...> so that names with slashes (traversal attempts) still reach the view and get its 404 JSON.
    path("analytics-next/bundles/<path:name>", analytics_js.bundle, name="analytics-js-bundle"),
]
