"""Customer.io In-App, direct mode: in-app messages shown on your website by Customer.io's in-app script,
loaded in the visitor's browser through the JavaScript source.

It is the destination behind the `"Customer.io In-App Plugin": {siteId}` entry of Customer.io's own
snippet: the browser settings endpoint lists it under that name (in `integrations` and `remotePlugins`),
so a snippet that passes `integrations: {"Customer.io In-App Plugin": {siteId: ...}}` still works, its
siteId overriding the one stored here. Our plugin (static/js/plugins/customerio_in_app.js) loads the
in-app script from `vendor_script_url` (or `DIRECT_MODE_SCRIPT_URLS["customerio_in_app"]`), starts it
with the site id and region (`Gist.setup({siteId, dataCenter})`), and runs the actions below in the
browser: identify → `Gist.setUserToken(user_id)` (also at load, for a visitor the library already knows),
page → `Gist.setCurrentRoute(route)` for page-targeted messages; `analytics.reset()` →
`Gist.clearUserToken()`.
"""

from __future__ import annotations

import re
from typing import Any

from ..mapping import path
from .base import ActionDefinition, ActionField, DestinationDefinition, SettingField, runs_in_browser

SITE_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def browser_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """What the plugin needs, in the names Customer.io's snippet uses (siteId)."""
    s = DEFINITION.read(settings)
    return {"siteId": s.text("site_id"), "region": s.choice("region")}


def _validate(settings: dict[str, Any]) -> dict[str, str]:
    if not SITE_ID_RE.match(DEFINITION.read(settings).text("site_id")):
        return {"site_id": "The Site ID of your tracking API credentials (Settings → API credentials): "
                           "letters, digits, - and _."}
    return {}


IDENTIFY_USER = ActionDefinition(
    key="identify_user", title="Identify User",
    description="Tell the in-app script who the visitor is, so their in-app messages are shown.",
    default_trigger='type = "identify"',
    fields=(
        ActionField("user_id", "User ID", "string", "The person's identifier in Customer.io.", required=True,
                    default=path("$.userId")),
    ),
    perform=runs_in_browser,
)
PAGE_ROUTE = ActionDefinition(
    key="page_route", title="Set Page Route",
    description="On page calls, tell the in-app script the current page, for messages limited to pages.",
    default_trigger='type = "page"',
    fields=(
        ActionField("route", "Route", "string", "The page path messages are matched against.", required=True,
                    default=path("$.context.page.path")),
    ),
    perform=runs_in_browser,
)

DEFINITION = DestinationDefinition(
    key="customerio_in_app",
    name="Customer.io In-App",
    category="Messaging",
    mode="direct",
    description="Shows Customer.io in-app messages to your website's visitors (loads the in-app script "
                "through your JavaScript source).",
    settings=(
        SettingField("site_id", "Site ID", "string",
                     "The Site ID of the tracking API credentials your in-app messages come from.", required=True),
        SettingField("region", "Region", "choice", "Your Customer.io account's data center.", default="us",
                     choices=(("us", "US"), ("eu", "EU"))),
    ),
    actions=(IDENTIFY_USER, PAGE_ROUTE),
    validate=_validate,
    browser_settings=browser_settings,
    browser_integration="Customer.io In-App Plugin",
    browser_plugin="customerio_in_app",
    browser_library="pipelinesCustomerioInApp",
    vendor_script_url="https://code.gist.build/web/latest/gist.min.js",
)
