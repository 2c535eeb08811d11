"""The tracking API routes (/v1/*). Single calls carry their type in the route; the browser library uses
one-letter short forms; /v1/import is Segment's alias of batch."""

from django.urls import path, re_path

from . import views

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
    path("v1/projects/<str:write_key>/settings", views.browser_settings, name="v1-settings"),
]
