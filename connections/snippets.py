"""Installation instructions: the code a developer pastes to send a source's data to this server.

`instructions(source, base_url)` returns the snippets for the source's kind, each filled with the source's
write key and our public base URL (settings.PUBLIC_URL, else the URL the page was requested on).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

from .models import Source, SourceKind


@dataclass(frozen=True)
class Snippet:
    title: str
    language: str
    code: str
    note: str = ""


def public_base_url(request_base: str) -> str:
    """Our base URL without a trailing slash: PUBLIC_URL when configured, else what the browser used."""
    return (settings.PUBLIC_URL or request_base).rstrip("/")


def analytics_js_url(base_url: str, write_key: str) -> str:
    """Where the page loads the analytics.js library from (ANALYTICS_JS_URL may point at your own copy)."""
    template = getattr(settings, "ANALYTICS_JS_URL", "") or "{host}/analytics.js/v1/{writeKey}/analytics.min.js"
    return template.replace("{host}", base_url).replace("{writeKey}", write_key)


def javascript_snippet(write_key: str, base_url: str) -> str:
    """The analytics.js loader: queues calls made before the library arrives, loads it asynchronously
    from this server (ingest/analytics_js.py; ANALYTICS_JS_URL overrides), and points it at this server.

    The pointing is `analytics._cdn`, set before the library loads: the standalone build reads its CDN
    from there (a `cdnURL` load option is ignored by it), then fetches /v1/projects/{writeKey}/settings and
    its lazy-loaded bundles from that host. The Segment.io apiHost option sends events to our /v1 even
    before the settings say so."""
    parts = urlsplit(base_url)
    api_host = f"{parts.netloc}{parts.path}/v1"
    options = {"integrations": {"Segment.io": {"apiHost": api_host, "protocol": parts.scheme or "https"}}}
    src = analytics_js_url(base_url, "\" + key + \"")
    return f"""<script>
(function () {{
  var analytics = (window.analytics = window.analytics || []);
  if (analytics.initialize) return;                 // the library is already running
  if (analytics.invoked) {{
    if (window.console && console.error) console.error("The analytics snippet was included twice.");
    return;
  }}
  analytics.invoked = true;
  // Calls made before the library loads are queued as [method, ...args] and replayed by it.
  analytics.methods = ["trackSubmit", "trackClick", "trackLink", "trackForm", "pageview", "identify",
    "reset", "group", "track", "ready", "alias", "debug", "page", "screen", "once", "off", "on",
    "addSourceMiddleware", "addIntegrationMiddleware", "setAnonymousId", "addDestinationMiddleware",
    "register"];
  analytics.factory = function (method) {{
    return function () {{
      var args = Array.prototype.slice.call(arguments);
      args.unshift(method);
      analytics.push(args);
      return analytics;
    }};
  }};
  for (var i = 0; i < analytics.methods.length; i++) {{
    var name = analytics.methods[i];
    analytics[name] = analytics.factory(name);
  }}
  analytics.load = function (key, options) {{
    var script = document.createElement("script");
    script.type = "text/javascript";
    script.async = true;
    script.src = "{src}";
    var first = document.getElementsByTagName("script")[0];
    first.parentNode.insertBefore(script, first);
    analytics._writeKey = key;
    analytics._loadOptions = options;
  }};
  analytics.SNIPPET_VERSION = "4.15.3";
  // Settings and the library's lazy-loaded code come from this server, not from Segment's CDN.
  analytics._cdn = {json.dumps(base_url)};
  analytics.load("{write_key}", {json.dumps(options)});
  analytics.page();
}})();
</script>"""


def _python(write_key: str, base_url: str) -> list[Snippet]:
    return [
        Snippet("Python (segment-analytics-python)", "python", f"""# pip install segment-analytics-python
import segment.analytics as analytics

analytics.write_key = "{write_key}"
analytics.host = "{base_url}"

analytics.identify("user-123", {{"email": "ada@example.com", "name": "Ada Lovelace"}})
analytics.track("user-123", "Order Completed", {{"total": 42.5}})
analytics.flush()"""),
        Snippet("Python (customerio-cdp-analytics)", "python", f"""# pip install customerio-cdp-analytics
import customerio.analytics as analytics

analytics.write_key = "{write_key}"
analytics.host = "{base_url}"

analytics.identify("user-123", {{"email": "ada@example.com"}})
analytics.track("user-123", "Order Completed", {{"total": 42.5}})
analytics.flush()"""),
    ]


def _node(write_key: str, base_url: str) -> list[Snippet]:
    return [Snippet("Node.js (@segment/analytics-node)", "javascript", f"""// npm install @segment/analytics-node
const {{ Analytics }} = require("@segment/analytics-node");

const analytics = new Analytics({{ writeKey: "{write_key}", host: "{base_url}" }});

analytics.identify({{ userId: "user-123", traits: {{ email: "ada@example.com" }} }});
analytics.track({{ userId: "user-123", event: "Order Completed", properties: {{ total: 42.5 }} }});
await analytics.closeAndFlush();""")]


def _go(write_key: str, base_url: str) -> list[Snippet]:
    return [Snippet("Go (github.com/segmentio/analytics-go/v3)", "go", f"""// go get github.com/segmentio/analytics-go/v3
package main

import analytics "github.com/segmentio/analytics-go/v3"

func main() {{
	client, _ := analytics.NewWithConfig("{write_key}", analytics.Config{{Endpoint: "{base_url}"}})
	defer client.Close()

	client.Enqueue(analytics.Identify{{UserId: "user-123", Traits: analytics.NewTraits().SetEmail("ada@example.com")}})
	client.Enqueue(analytics.Track{{UserId: "user-123", Event: "Order Completed",
		Properties: analytics.NewProperties().Set("total", 42.5)}})
}}""")]


def _http(write_key: str, base_url: str) -> list[Snippet]:
    return [Snippet("HTTP API (curl)", "shell", f"""# The write key is the Basic auth user name; the password is empty.
curl -X POST "{base_url}/v1/track" \\
  -u "{write_key}:" \\
  -H "Content-Type: application/json" \\
  -d '{{"userId": "user-123", "event": "Order Completed", "properties": {{"total": 42.5}}}}'

# Many events in one request:
curl -X POST "{base_url}/v1/batch" \\
  -u "{write_key}:" \\
  -H "Content-Type: application/json" \\
  -d '{{"batch": [{{"type": "identify", "userId": "user-123", "traits": {{"email": "ada@example.com"}}}}]}}'""",
        note="Every call answers HTTP 200 {\"success\": true} once the events are stored.")]


def _mobile(kind: str, write_key: str, base_url: str) -> list[Snippet]:
    api_host = f"{urlsplit(base_url).netloc}{urlsplit(base_url).path}/v1"
    cdn_host = f"{urlsplit(base_url).netloc}{urlsplit(base_url).path}/v1"
    if kind == SourceKind.IOS:
        return [Snippet("iOS (Swift, Analytics-Swift)", "swift", f"""let configuration = Configuration(writeKey: "{write_key}")
    .apiHost("{api_host}")
    .cdnHost("{cdn_host}")
    .trackApplicationLifecycleEvents(true)
let analytics = Analytics(configuration: configuration)

analytics.identify(userId: "user-123", traits: ["email": "ada@example.com"])
analytics.track(name: "Order Completed", properties: ["total": 42.5])""")]
    if kind == SourceKind.ANDROID:
        return [Snippet("Android (Kotlin, analytics-kotlin)", "kotlin", f"""val analytics = Analytics("{write_key}", applicationContext) {{
    apiHost = "{api_host}"
    cdnHost = "{cdn_host}"
    trackApplicationLifecycleEvents = true
}}

analytics.identify("user-123", buildJsonObject {{ put("email", "ada@example.com") }})
analytics.track("Order Completed", buildJsonObject {{ put("total", 42.5) }})""")]
    if kind == SourceKind.REACT_NATIVE:
        return [Snippet("React Native (@segment/analytics-react-native)", "javascript", f"""import {{ createClient }} from "@segment/analytics-react-native";

export const analytics = createClient({{
  writeKey: "{write_key}",
  proxy: "{base_url}/v1/b",
  cdnProxy: "{base_url}/v1",
  trackAppLifecycleEvents: true,
}});

analytics.identify("user-123", {{ email: "ada@example.com" }});
analytics.track("Order Completed", {{ total: 42.5 }});""")]
    return [Snippet("Flutter (analytics_flutter)", "dart", f"""import 'package:segment_analytics/client.dart';
import 'package:segment_analytics/state.dart';

final analytics = createClient(Configuration("{write_key}",
    apiHost: "{api_host}",
    cdnHost: "{cdn_host}",
    trackApplicationLifecycleEvents: true));

analytics.identify(userId: "user-123", userTraits: UserTraits(email: "ada@example.com"));
analytics.track("Order Completed", properties: {{"total": 42.5}});""")]


def instructions(source: Source, base_url: str, *, write_key: str | None = None) -> list[Snippet]:
    """The snippets for this source's kind, filled with its write key (or `write_key`, e.g. a placeholder
    for readers who may not see it) and `base_url`."""
    key = source.write_key if write_key is None else write_key
    kind = source.kind
    if kind == SourceKind.JAVASCRIPT:
        return [Snippet("JavaScript snippet", "html", javascript_snippet(key, base_url),
                        note="Paste it into the <head> of every page of your website.")]
    if kind == SourceKind.PYTHON:
        return _python(key, base_url)
    if kind == SourceKind.NODE:
        return _node(key, base_url)
    if kind == SourceKind.GO:
        return _go(key, base_url)
    if kind in (SourceKind.IOS, SourceKind.ANDROID, SourceKind.REACT_NATIVE, SourceKind.FLUTTER):
        return _mobile(kind, key, base_url)
    if kind == SourceKind.WEBHOOK:
        return [Snippet("Incoming webhook URL", "text", f"{base_url}/v1/batch", note=(
            f"Have the service POST Segment-format JSON there with HTTP Basic auth user “{key}” and an "
            "empty password."))] + _http(key, base_url)
    if kind == SourceKind.JOURNEYS_TRACK_API:
        return track_api_instructions(source, base_url, api_key="YOUR_API_KEY")
    return _http(key, base_url)


def track_api_instructions(source: Source, base_url: str, *, api_key: str) -> list[Snippet]:
    """How to point a Journeys Track API client at us: Basic auth site id + API key, our host."""
    site_id = source.site_id or ""
    return [
        Snippet("HTTP (curl)", "shell", f"""curl -X PUT "{base_url}/api/v1/customers/user-123" \\
  -u "{site_id}:{api_key}" \\
  -H "Content-Type: application/json" \\
  -d '{{"email": "ada@example.com", "plan": "pro"}}'

curl -X POST "{base_url}/api/v1/customers/user-123/events" \\
  -u "{site_id}:{api_key}" \\
  -H "Content-Type: application/json" \\
  -d '{{"name": "purchased", "data": {{"total": 42.5}}}}'"""),
        Snippet("Python (customerio)", "python", f"""# pip install customerio
from customerio import CustomerIO

cio = CustomerIO("{site_id}", "{api_key}")
cio.base_url = "{base_url}/api/v1"   # send to this server instead of track.customer.io
cio.identify(id="user-123", email="ada@example.com")
cio.track(customer_id="user-123", name="purchased", total=42.5)""",
                note="Any Track API client works: give it this site id and API key, and this server's "
                     "address instead of https://track.customer.io."),
    ]
