"""Google Analytics 4, direct mode: loaded in the visitor's browser by the JavaScript source, never sent
from our servers (so it has no cloud actions).

The browser settings endpoint (`/v1/projects/<write key>/settings`) lists it under `browser_integration`
with `browser_settings(settings)` (given the non-secret settings only) for JavaScript sources connected to
it; the browser library then loads gtag.js with the measurement id (the `G-` id of a GA4 web data stream).
"""

from __future__ import annotations

import re
from typing import Any

from .base import DestinationDefinition, SettingField

MEASUREMENT_ID_RE = re.compile(r"^G-[A-Z0-9]{4,20}$")


def browser_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """What the browser library needs to start gtag.js, in its camelCase names."""
    out: dict[str, Any] = {
        "measurementIds": [settings["measurement_id"]],
        "measurementId": settings["measurement_id"],
        "pageView": bool(settings.get("send_page_view", True)),
        "cookieDomain": settings.get("cookie_domain") or "auto",
        "allowGoogleSignals": bool(settings.get("allow_google_signals", False)),
        "allowAdPersonalizationSignals": bool(settings.get("allow_ad_personalization", False)),
    }
    if settings.get("cookie_expires") is not None:
        out["cookieExpirationInSeconds"] = int(settings["cookie_expires"])
    return out


def _validate(settings: dict[str, Any]) -> dict[str, str]:
    errors: dict[str, str] = {}
    measurement_id = settings.get("measurement_id", "").upper()
    if not MEASUREMENT_ID_RE.match(measurement_id):
        errors["measurement_id"] = "A GA4 measurement id looks like G-XXXXXXXXXX (Admin → Data streams)."
    else:
        settings["measurement_id"] = measurement_id  # normalized in the cleaned settings: GA ids are upper case
    expires = settings.get("cookie_expires")
    if expires is not None and not 0 <= expires <= 63_072_000:
        errors["cookie_expires"] = "Between 0 and 63072000 seconds (two years)."
    return errors


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
    actions=(),
    validate=_validate,
    browser_settings=browser_settings,
    browser_integration="Google Analytics 4 Web",
)
