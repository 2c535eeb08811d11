"""Google Analytics 4, direct mode: runs in the visitor's browser through the JavaScript source, never
sent from our servers.

The browser settings endpoint (`/v1/projects/<write key>/settings`) lists it for JavaScript sources
connected to it, under `integrations` and as a remote plugin (`remotePlugins`, see destinations/browser.py)
whose code is ours: static/js/plugins/ga4.js. The plugin loads Google's gtag.js with the measurement id
(the `G-` id of a GA4 web data stream) and runs this destination's actions in the browser: each event goes
through every enabled action whose trigger matches, and the action's mapped fields become one gtag call:

- page_view → `gtag("event", "page_view", {page_location, page_title, page_referrer, send_to})`
  (only when "Send page views" is on);
- custom_event → `gtag("event", name, params)`;
- set_user_properties → `gtag("set", {user_id})` and `gtag("set", "user_properties", {...})`.

gtag.js comes from `vendor_script_url` (Google's) unless `DIRECT_MODE_SCRIPT_URLS["ga4"]` names a copy.
"""

from __future__ import annotations

import re
from typing import Any

from ..mapping import path, person_traits
from .base import ActionDefinition, ActionField, DestinationDefinition, SettingField, runs_in_browser

MEASUREMENT_ID_RE = re.compile(r"^G-[A-Z0-9]{4,20}$")


def browser_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """What the browser library needs to start gtag.js, in its camelCase names."""
    s = DEFINITION.read(settings)
    out: dict[str, Any] = {
        "measurementIds": [s.text("measurement_id")],
        "measurementId": s.text("measurement_id"),
        "pageView": s.flag("send_page_view"),
        "cookieDomain": s.text("cookie_domain"),
        "allowGoogleSignals": s.flag("allow_google_signals"),
        "allowAdPersonalizationSignals": s.flag("allow_ad_personalization"),
    }
    expires = s.integer("cookie_expires")
    if expires is not None:
        out["cookieExpirationInSeconds"] = expires
    return out


def _validate(settings: dict[str, Any]) -> dict[str, str]:
    errors: dict[str, str] = {}
    measurement_id = DEFINITION.read(settings).text("measurement_id").upper()
    if not MEASUREMENT_ID_RE.match(measurement_id):
        errors["measurement_id"] = "A GA4 measurement id looks like G-XXXXXXXXXX (Admin → Data streams)."
    else:
        settings["measurement_id"] = measurement_id  # normalized in the cleaned settings: GA ids are upper case
    expires = DEFINITION.read(settings).integer("cookie_expires")
    if expires is not None and not 0 <= expires <= 63_072_000:
        errors["cookie_expires"] = "Between 0 and 63072000 seconds (two years)."
    return errors


PAGE_VIEW = ActionDefinition(
    key="page_view", title="Page View",
    description="Send page calls as GA4 page_view events (when \"Send page views\" is on).",
    default_trigger='type = "page"',
    fields=(
        ActionField("page_location", "Page location", "string", "The full URL of the page.",
                    default=path("$.context.page.url")),
        ActionField("page_title", "Page title", "string", default=path("$.context.page.title")),
        ActionField("page_referrer", "Page referrer", "string", default=path("$.context.page.referrer")),
    ),
    perform=runs_in_browser,
)
# GA4 event names are letters, digits and underscores: "Order Completed" becomes order_completed.
_EVENT_NAME = {"@case": {"operator": "lower", "value": {
    "@replace": {"pattern": " ", "replacement": "_", "value": path("$.event")}}}}
CUSTOM_EVENT = ActionDefinition(
    key="custom_event", title="Custom Event",
    description="Send track calls as GA4 events named after the event (lower case, spaces as underscores).",
    default_trigger='type = "track"',
    fields=(
        ActionField("name", "Event name", "string", "The GA4 event name.", required=True, default=_EVENT_NAME),
        ActionField("params", "Event parameters", "object", "Sent as the event's parameters.",
                    default=path("$.properties")),
    ),
    perform=runs_in_browser,
)
SET_USER_PROPERTIES = ActionDefinition(
    key="set_user_properties", title="Set User Properties",
    description="On identify calls, set GA4's user_id and user properties for the following events.",
    default_trigger='type = "identify"',
    fields=(
        ActionField("user_id", "User ID", "string", default=path("$.userId")),
        ActionField("user_properties", "User properties", "object", default=person_traits()),
    ),
    perform=runs_in_browser,
)

DEFINITION = DestinationDefinition(
    key="ga4",
    name="Google Analytics 4 (Web)",
    category="Analytics",
    mode="direct",
    description="Loads Google Analytics 4 (gtag.js) in visitors' browsers through your JavaScript source.",
    settings=(
        SettingField("measurement_id", "Measurement ID", "string",
                     "The G- id of your GA4 web data stream (Admin → Data streams).", required=True),
        SettingField("send_page_view", "Send page views", "boolean",
                     "Send GA4's page_view on each page call.", default=True),
        SettingField("cookie_domain", "Cookie domain", "string", "GA cookie domain; \"auto\" by default.",
                     default="auto"),
        SettingField("cookie_expires", "Cookie expiration (seconds)", "integer",
                     "How long GA's cookies last; GA's default is two years."),
        SettingField("allow_google_signals", "Allow Google signals", "boolean",
                     "Let Google collect cross-device data for signed-in users.", default=False),
        SettingField("allow_ad_personalization", "Allow ad personalization signals", "boolean", default=False),
    ),
    actions=(PAGE_VIEW, CUSTOM_EVENT, SET_USER_PROPERTIES),
    validate=_validate,
    browser_settings=browser_settings,
    browser_integration="Google Analytics 4 Web",
    browser_plugin="ga4",
    browser_library="pipelinesGa4Web",
    vendor_script_url="https://www.googletagmanager.com/gtag/js",
)
