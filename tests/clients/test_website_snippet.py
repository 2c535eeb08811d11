"""A website installs our JavaScript source exactly as the Add Source instructions say, and it works.

The page holds the snippet the UI shows for a JavaScript source (byte for byte), on another origin than
our server. Everything the library needs must come from us: the script at
/analytics.js/v1/<key>/analytics.min.js, its lazy-loaded chunks at /analytics-next/bundles/, the
settings, the events. Any request leaving this machine is blocked and recorded, and must not happen.
"""

from __future__ import annotations

import html
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from django.contrib.auth.models import User
from django.test import Client

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make between browser
# steps are ordinary blocking calls, which Django would otherwise refuse inside a running loop.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from playwright.sync_api import Browser, Page, Request
from playwright.sync_api import Error as PlaywrightError

from connections.models import Source
from connections.snippets import instructions
from ingest.models import Event
from tests.helpers import wait_for

from .static_site import StaticSite


@pytest.fixture(scope="module")
def website(analytics_js_build: Path) -> Iterator[StaticSite]:
    """The customer's website, on its own origin. The page must ask it for nothing but the page itself."""
    site = StaticSite(analytics_js_build).start()
    yield site
    site.stop()


class Recorder:
    """Every request the page made (with its outcome), the ones blocked for leaving this machine, and
    console errors."""

    def __init__(self) -> None:
        self.finished: list[Request] = []
        self.failed: list[str] = []
        self.external: list[str] = []
        self.console: list[str] = []

    def paths(self, origin: str) -> list[tuple[str, str, int]]:
        return [(r.method, urlsplit(r.url).path, r.response().status if r.response() else 0)
                for r in self.finished if r.url.startswith(origin + "/")]

    def summary(self) -> str:
        lines = [f"{r.method} {r.url} -> {r.response().status if r.response() else '?'}" for r in self.finished]
        return "\n".join(lines + self.failed + self.external + self.console)


@pytest.fixture
def tab(browser: Browser) -> Iterator[tuple[Page, Recorder]]:
    context = browser.new_context()
    recorder = Recorder()

    def only_this_machine(route: Any) -> None:
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:  # Segment's CDN, api.segment.io, a polyfill CDN...: the snippet must need none of them
            recorder.external.append(f"external: {route.request.method} {route.request.url}")
            route.abort()

    context.route("**/*", only_this_machine)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.on("requestfinished", lambda r: recorder.finished.append(r))
    page.on("requestfailed", lambda r: recorder.failed.append(f"failed: {r.method} {r.url}: {r.failure}"))
    page.on("console", lambda m: recorder.console.append(f"console.{m.type}: {m.text}")
            if m.type == "error" else None)
    page.on("pageerror", lambda e: recorder.console.append(f"pageerror: {e}"))
    yield page, recorder
    context.close()


def _snippet_shown_in_the_ui(live_server: Any, owner: User, source: Source) -> str:
    """The JavaScript snippet, rendered for this source against the live server, after checking that the
    source's Installation instructions page (served by the live server) shows exactly that text."""
    (snippet,) = instructions(source, live_server.url)
    client = Client()
    client.force_login(owner)
    response = requests.get(f"{live_server.url}/w/acme/sources/{source.id}/setup/", timeout=10,
                            cookies={"sessionid": client.cookies["sessionid"].value})
    assert response.status_code == 200
    assert html.escape(snippet.code) in response.text
    return snippet.code


def _stored(source: Source, count: int) -> list[Event]:
    def enough() -> list[Event] | None:
        events = list(Event.objects.filter(source=source).order_by("id"))
        return events if len(events) >= count else None

    return wait_for(enough, what=f"{count} stored events")


def test_website_with_the_ui_snippet_loads_everything_from_us_and_its_calls_are_stored(
    tab: tuple[Page, Recorder], website: StaticSite, live_server: Any, owner: User, web_source: Source,
    analytics_js_build: Path, settings: Any,
):
    settings.ANALYTICS_JS_DIR = analytics_js_build  # whatever the environment says, serve the pinned build
    page, recorder = tab
    snippet = _snippet_shown_in_the_ui(live_server, owner, web_source)
    website.pages["/shop.html"] = (
        f"<!doctype html>\n<html><head><title>Shop</title>\n{snippet}\n</head>"
        "<body><h1>Spring sale</h1></body></html>"
    )

    page.goto(f"{website.url}/shop.html?utm_source=newsletter")
    # The standalone build replaces the snippet's queue with the running library once it has loaded.
    try:
        page.wait_for_function("() => window.analytics && window.analytics.initialized === true")
    except PlaywrightError as exc:
        pytest.fail(f"the library never started on the page: {exc}\n{recorder.summary()}")
    sent = page.evaluate("""async () => {
        const a = window.analytics;
        const identify = await a.identify('web-u1', {email: 'ada@example.com'});
        const track = await a.track('Coupon Applied', {code: 'SPRING'});
        const page = await a.page('Shop', 'Spring sale');
        return {identify: identify.event.messageId, track: track.event.messageId,
                page: page.event.messageId, anonymousId: a.user().anonymousId()};
    }""")

    # The snippet's own analytics.page() (queued before the library arrived) plus the three calls.
    events = _stored(web_source, 4)
    assert sorted(e.type for e in events) == ["identify", "page", "page", "track"], recorder.summary()
    by_id = {e.message_id: e.payload for e in events}
    assert by_id[sent["identify"]]["traits"] == {"email": "ada@example.com"}
    assert by_id[sent["identify"]]["userId"] == "web-u1"
    assert (by_id[sent["track"]]["event"], by_id[sent["track"]]["properties"]) == (
        "Coupon Applied", {"code": "SPRING"})
    assert (by_id[sent["page"]]["category"], by_id[sent["page"]]["name"]) == ("Shop", "Spring sale")
    for payload in by_id.values():
        assert payload["anonymousId"] == sent["anonymousId"]
        assert payload["context"]["page"]["url"] == f"{website.url}/shop.html?utm_source=newsletter"
        assert payload["context"]["library"]["name"] == "analytics.js"
        assert payload["context"]["campaign"] == {"source": "newsletter"}

    # The library, its chunks and its settings came from us, answered 200; the website served only its page.
    ours = recorder.paths(live_server.url)
    key = web_source.write_key
    assert ("GET", f"/analytics.js/v1/{key}/analytics.min.js", 200) in ours, recorder.summary()
    assert ("GET", f"/v1/projects/{key}/settings", 200) in ours, recorder.summary()
    chunks = [(m, p, s) for m, p, s in ours if p.startswith("/analytics-next/bundles/")]
    assert chunks and all(s == 200 for _, _, s in chunks), recorder.summary()
    assert [p for _, p, _ in recorder.paths(website.url)] == ["/shop.html"]
    assert all(s == 200 for m, _, s in ours if m == "POST"), recorder.summary()
    assert (recorder.external, recorder.failed, recorder.console) == ([], [], []), recorder.summary()
    assert Event.objects.filter(source=web_source).count() == 4
