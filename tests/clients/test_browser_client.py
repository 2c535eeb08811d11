"""@segment/analytics-next, unchanged, in headless Chromium on a page of another origin, pointed at us."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make between browser
# steps are ordinary blocking calls, which Django would otherwise refuse inside a running loop.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from playwright.sync_api import Browser, Page, Request
from playwright.sync_api import Error as PlaywrightError

from connections.models import Source
from ingest.models import Event
from tests.helpers import wait_for

from .static_site import StaticSite


@pytest.fixture(scope="module")
def site(node_modules: Path) -> Iterator[StaticSite]:
    site = StaticSite(node_modules / "@segment" / "analytics-next" / "dist" / "umd").start()
    yield site
    site.stop()


class Traffic:
    """What the page did: requests that completed (with their responses), requests that failed, requests
    that tried to leave this machine (blocked), and console errors."""

    def __init__(self) -> None:
        self.finished: list[Request] = []
        self.failed: list[str] = []
        self.external: list[str] = []
        self.console: list[str] = []

    def to(self, origin: str, method: str | None = None) -> list[Request]:
        return [r for r in self.finished if r.url.startswith(origin) and (method is None or r.method == method)]

    def wait_for_posts(self, page: Page, origin: str, count: int) -> list[Request]:
        """The POSTs to `origin` once `count` of them have completed."""
        def enough() -> list[Request] | None:
            page.evaluate("() => true")  # lets Playwright deliver the network events it has queued
            posts = self.to(origin, "POST")
            return posts if len(posts) >= count or self.failed else None

        return wait_for(enough, what=f"{count} POSTs to {origin}")

    def summary(self) -> str:
        lines = [f"{r.method} {r.url} -> {r.response().status if r.response() else '?'}" for r in self.finished]
        return "\n".join(lines + self.failed + self.external + self.console)


@pytest.fixture
def page(browser: Browser) -> Iterator[tuple[Page, Traffic]]:
    context = browser.new_context()
    traffic = Traffic()

    def block_the_internet(route: Any) -> None:
        host = urlsplit(route.request.url).hostname
        if host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:  # e.g. Segment's CDN or api.segment.io: pointed at us, the library must not need them
            traffic.external.append(f"external: {route.request.method} {route.request.url}")
            route.abort()

    context.route("**/*", block_the_internet)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.on("requestfinished", lambda request: traffic.finished.append(request))
    page.on("requestfailed", lambda request: traffic.failed.append(
        f"failed: {request.method} {request.url}: {request.failure}"))
    page.on("console", lambda message: traffic.console.append(f"console.{message.type}: {message.text}")
            if message.type in ("error", "warning") else None)
    page.on("pageerror", lambda error: traffic.console.append(f"pageerror: {error}"))
    yield page, traffic
    context.close()


def _umd_page(write_key: str, api_url: str, init_options: dict[str, Any]) -> str:
    """A shop page that loads the library's UMD build from its own origin and starts it the documented
    way, `AnalyticsBrowser.load({writeKey, cdnURL}, options)`, with cdnURL = our server."""
    settings = {"writeKey": write_key, "cdnURL": api_url}
    return f"""<!doctype html>
<html><head><title>Checkout</title>
<script>
  // Where this site hosts the library's lazy-loaded chunks (the UMD build reads analytics._cdn when it
  // starts; without it, it fetches them from Segment's CDN).
  window.analytics = {{ _cdn: location.origin }};
</script>
<script src="/analytics-next/bundles/index.js"></script>
<script>
  window.analyticsReady = AnalyticsNext.AnalyticsBrowser.load({json.dumps(settings)}, {json.dumps(init_options)})
    .then(function (loaded) {{ window.analytics = loaded[0]; return true; }});
</script>
</head><body><h1>Checkout</h1></body></html>"""


# Every call type the browser library has; each returns the messageId the library gave the event.
SEND_ALL_CALLS = """async () => {
    const a = window.analytics;
    const ids = {};
    ids.identify = (await a.identify('browser-u1', {email: 'ada@example.com', plan: 'pro'})).event.messageId;
    ids.track = (await a.track('Order Completed', {total: 42.5, currency: 'EUR'})).event.messageId;
    ids.page = (await a.page('Docs', 'Checkout', {step: 2})).event.messageId;
    ids.screen = (await a.screen('Settings', {tab: 'billing'})).event.messageId;
    ids.group = (await a.group('acme', {name: 'Acme Inc'})).event.messageId;
    ids.alias = (await a.alias('browser-u2', 'browser-u1')).event.messageId;
    return {ids: ids, anonymousId: a.user().anonymousId()};
}"""
CALL_TYPES = {"identify", "track", "page", "screen", "group", "alias"}


def _load(browser_page: Page, traffic: Traffic, site: StaticSite, source: Source, api_url: str,
          init_options: dict[str, Any]) -> None:
    site.pages["/checkout.html"] = _umd_page(source.write_key, api_url, init_options)
    browser_page.goto(f"{site.url}/checkout.html?utm_source=newsletter&utm_campaign=spring")
    try:
        browser_page.evaluate("() => window.analyticsReady")
    except PlaywrightError as exc:
        pytest.fail(f"analytics-next did not load: {exc}\n{traffic.summary()}")


def _stored(source: Source, count: int) -> dict[str, Event]:
    def enough() -> dict[str, Event] | None:
        events = list(Event.objects.filter(source=source))
        return {e.type: e for e in events} if len(events) >= count else None

    return wait_for(enough, what=f"{count} stored events")


def _wire_messages(posts: list[Request]) -> dict[str, dict[str, Any]]:
    """The messages the library put on the wire, by messageId (single calls and batches alike)."""
    messages: dict[str, dict[str, Any]] = {}
    for post in posts:
        body = json.loads(post.post_data or "")
        for message in body.get("batch", [body]):
            messages[message["messageId"]] = message
    return messages


def _assert_stored_as_sent(event: Event, sent: dict[str, Any]) -> None:
    """The stored payload is the message as sent, plus only what the server adds or normalizes."""
    payload = event.payload
    ours = {"writeKey", "sentAt", "timestamp", "context", "receivedAt", "originalTimestamp"}
    assert {k: v for k, v in payload.items() if k not in ours} == {k: v for k, v in sent.items() if k not in ours}
    assert payload["context"] == {**sent["context"], "ip": "127.0.0.1"}
    assert payload["originalTimestamp"] == sent["timestamp"]


def _assert_browser_payloads(events: dict[str, Event], sent: dict[str, Any], wire: dict[str, dict[str, Any]],
                             page_url: str) -> None:
    assert set(events) == CALL_TYPES
    for type_, event in events.items():
        payload = event.payload
        _assert_stored_as_sent(event, wire[event.message_id])
        assert event.message_id == payload["messageId"] == sent["ids"][type_]
        assert payload["type"] == type_
        assert payload["anonymousId"] == sent["anonymousId"]
        assert "writeKey" not in payload
        context = payload["context"]
        assert context["library"]["name"] == "analytics.js"
        assert context["ip"] == "127.0.0.1"
        assert context["page"]["url"] == page_url
        assert context["page"]["title"] == "Checkout"
        assert context["campaign"] == {"source": "newsletter", "name": "spring"}
        assert "Chrome" in context["userAgent"]
        for field in ("receivedAt", "originalTimestamp", "timestamp"):
            assert payload[field].endswith("Z") and len(payload[field]) == 24, (field, payload[field])
    identify = events["identify"].payload
    assert (identify["userId"], identify["traits"]) == ("browser-u1", {"email": "ada@example.com", "plan": "pro"})
    track = events["track"].payload
    assert (track["userId"], track["event"]) == ("browser-u1", "Order Completed")
    assert track["properties"] == {"total": 42.5, "currency": "EUR"}
    page = events["page"].payload
    assert (page["category"], page["name"], page["properties"]["step"]) == ("Docs", "Checkout", 2)
    assert page["properties"]["url"] == page_url
    screen = events["screen"].payload
    assert (screen["name"], screen["properties"]["tab"]) == ("Settings", "billing")
    group = events["group"].payload
    assert (group["groupId"], group["traits"]) == ("acme", {"name": "Acme Inc"})
    # analytics-next 1.84 sends the current user as userId for alias(to, from); stored as it sent it.
    assert events["alias"].payload["previousId"] == "browser-u1"


def test_analytics_next_loads_settings_from_us_and_delivers_every_call_type(
    page: tuple[Page, Traffic], site: StaticSite, live_server: Any, web_source: Source
):
    browser_page, traffic = page
    _load(browser_page, traffic, site, web_source, live_server.url, {})
    sent = browser_page.evaluate(SEND_ALL_CALLS)
    events = _stored(web_source, 6)

    # Settings came from us, cross-origin (the page is on the static site's origin).
    (settings,) = traffic.to(live_server.url, "GET")
    assert settings.url == f"{live_server.url}/v1/projects/{web_source.write_key}/settings"
    assert settings.response().status == 200
    # One POST per call to the short routes, each answered 200 and readable by the page (CORS), so
    # nothing was retried; the write key travelled as Basic auth, which made each POST preflighted.
    posts = traffic.wait_for_posts(browser_page, live_server.url, 6)
    assert sorted(urlsplit(p.url).path for p in posts) == ["/v1/a", "/v1/g", "/v1/i", "/v1/p", "/v1/s", "/v1/t"]
    for post in posts:
        assert post.response().status == 200, traffic.summary()
        assert post.response().json() == {"success": True}
        assert post.headers["authorization"].startswith("Basic ")
        assert post.headers["content-type"] == "text/plain"
    assert (traffic.failed, traffic.external) == ([], []), traffic.summary()

    assert Event.objects.filter(source=web_source).count() == 6
    _assert_browser_payloads(events, sent, _wire_messages(posts), f"{site.url}/checkout.html?utm_source=newsletter&utm_campaign=spring")


def test_analytics_next_batching_strategy_delivers_through_v1_b(
    page: tuple[Page, Traffic], site: StaticSite, live_server: Any, web_source: Source
):
    browser_page, traffic = page
    # The library's batching delivery: calls are buffered and sent together to /v1/b once `size` are queued.
    batching = {"integrations": {"Segment.io": {
        "deliveryStrategy": {"strategy": "batching", "config": {"size": 6, "timeout": 10_000}},
    }}}
    _load(browser_page, traffic, site, web_source, live_server.url, batching)
    sent = browser_page.evaluate(SEND_ALL_CALLS)
    events = _stored(web_source, 6)

    (post,) = traffic.wait_for_posts(browser_page, live_server.url, 1)
    assert urlsplit(post.url).path == "/v1/b"
    assert post.response().status == 200, traffic.summary()
    assert post.response().json() == {"success": True}
    body = json.loads(post.post_data or "")
    assert body["writeKey"] == web_source.write_key and len(body["batch"]) == 6
    assert (traffic.failed, traffic.external) == ([], []), traffic.summary()

    assert Event.objects.filter(source=web_source).count() == 6
    _assert_browser_payloads(events, sent, _wire_messages([post]),
                             f"{site.url}/checkout.html?utm_source=newsletter&utm_campaign=spring")
