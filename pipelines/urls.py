"""URL map. Each area owns its own module:
- ingest.urls: the Segment/Customer.io compatible tracking API (/v1/*)
- ingest.track_urls: the Customer.io Track API compatibility routes (/api/v1/*, /api/v2/*)
- connections.api_urls, destinations.api_urls: the management REST API (/api/...)
- destinations.filters_api_urls: a destination's filters (routing controls) in the management API
- audit.urls, audit.api_urls: the audit log page (/w/<slug>/audit/) and its API
- retention.api_urls: the retention policy in the management API
- privacy.api_urls, privacy.urls: the privacy API (/api/workspaces/<slug>/privacy/...) and page (/w/<slug>/privacy/)
- connections.urls: the Connections web UI; retention.urls: the workspace settings page
- audiences.api_urls, audiences.urls: audiences (segments) in the management API and the web UI
- audience_sync.api_urls, audience_sync.urls: audiences connected to destinations (API, the audience page's forms)
- pipelines.members_urls: the Members page, invitation links and the members API
- profiles.urls, profiles.api_urls: the People pages (/w/<slug>/people/) and the profiles API
- alerts.urls, alerts.api_urls: the Alerts page (/w/<slug>/alerts/) and the alert rules and incidents API
"""

from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from . import members_urls

urlpatterns = [
    # Pages link the SVG icon themselves; this answers browsers (and admin, JSON pages) asking the old way.
    path("favicon.ico", RedirectView.as_view(url=static("img/favicon.svg"), permanent=True), name="favicon"),
    path("admin/", admin.site.urls),
    path("", include("ingest.urls")),
    path("", include("ingest.track_urls")),
    path("api/", include("connections.api_urls")),
    path("api/", include("destinations.api_urls")),
    path("api/", include("destinations.filters_api_urls")),
    path("api/", include("audit.api_urls")),
    path("", include("audit.urls")),
    path("api/", include("retention.api_urls")),
    path("", include("retention.urls")),
    path("api/", include("audiences.api_urls")),
    path("", include("audiences.urls")),
    path("api/", include("audience_sync.api_urls")),
    path("", include("audience_sync.urls")),
    path("api/", include("privacy.api_urls")),
    path("", include("privacy.urls")),
    path("api/", include((members_urls.api_patterns, "members-api"))),
    path("", include((members_urls.ui_patterns, "members"))),
    path("api/", include("profiles.api_urls")),
    path("api/", include("alerts.api_urls")),
    path("", include("alerts.urls")),
    path("", include("profiles.urls")),
    path("", include("connections.urls")),
]

# Unmatched URLs and crashes under /api/ and /v1/ answer JSON {code, message} like every other API error.
handler400 = "pipelines.api_errors.bad_request"
handler403 = "pipelines.api_errors.permission_denied"
handler404 = "pipelines.api_errors.page_not_found"
handler500 = "pipelines.api_errors.server_error"
