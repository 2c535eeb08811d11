"""URL map. Each area owns its own module:
- ingest.urls: the Segment/Customer.io compatible tracking API (/v1/*)
- ingest.track_urls: the Customer.io Track API compatibility routes (/api/v1/*, /api/v2/*)
- connections.api_urls, destinations.api_urls: the management REST API (/api/...)
- connections.urls: the Connections web UI
"""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("ingest.urls")),
    path("", include("ingest.track_urls")),
    path("api/", include("connections.api_urls")),
    path("api/", include("destinations.api_urls")),
    path("", include("connections.urls")),
]

# Unmatched URLs and crashes under /api/ and /v1/ answer JSON {code, message} like every other API error.
handler400 = "pipelines.api_errors.bad_request"
handler403 = "pipelines.api_errors.permission_denied"
handler404 = "pipelines.api_errors.page_not_found"
handler500 = "pipelines.api_errors.server_error"
