"""Direct mode in a real browser: a website with our snippet (or Customer.io's own snippet, host changed)
loads each connected direct destination as our plugin from our host; the plugin loads the vendor's script
(a local stand-in that records what it receives: never the internet) and gives it the calls the
destination's actions map; a destination disabled or disconnected is gone at the next page load.

The website is on its own origin (tests/clients/static_site.py), so the browser applies CORS to us for real.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page
from playwright.sync_api import Error as PlaywrightError

from connections import services
from connections.models import Destination, Source, SourceKind
from connections.snippets import instructions
from ingest.models import Event
from pipelines.models import Workspace
from tests.clients.conftest import analytics_js_build  # noqa: F401 -- the pinned browser build, a fixture
from tests.clients.static_site import StaticSite

from .vendor_standin import VendorStandIn

# Customer.io's snippet as their documentation gives it (seeds/integrate-overview.txt), verbatim.
SEED_SNIPPET = (
    '!function(){var analytics=window.analytics=window.analytics||[];if(!analytics.initialize)if(analytics.invoked)'
    'window.console&&console.error&&console.error("Snippet included twice.");else{analytics.invoked=!0;'
    'analytics.methods=["trackSubmit","trackClick","trackLink","trackForm","pageview","identify","reset","group",'
    '"track","ready","alias","debug","page","once","off","on","addSourceMiddleware","addIntegrationMiddleware",'
    '"setAnonymousId","addDestinationMiddleware"];analytics.factory=function(e){return function(){var t=Array.'
    'prototype.slice.call(arguments);t.unshift(e);analytics.push(t);return analytics}};for(var e=0;e<analytics.'
    'methods.length;e++){var key=analytics.methods[e];analytics[key]=analytics.factory(key)}analytics.load='
    'function(key,e){var t=document.createElement("script");t.type="text/javascript";t.async=!0;t.src='
    '"https://cdp.customer.io/v1/analytics-js/snippet/" + key + "/analytics.min.js";var n=document.'
    'getElementsByTagName("script")[0];n.parentNode.insertBefore(t,n);analytics._writeKey=key;analytics.'
    '_loadOptions=e};analytics.SNIPPET_VERSION="4.15.3"; analytics.load( "YOUR_API_KEY", { "integrations": { '
    '"Customer.io In-App Plugin": { siteId: "YOUR_SITE_ID" } } } ); analytics.page(); }}();'
)


@pytest.fixture(scope="module")
def website(analytics_js_build: Path) -> Iterator[StaticSite]:  # noqa: F811
    site = StaticSite(analytics_js_build).start()
    yield site
    site.stop()


@pytest.fixture(scope="module")
def vendor() -> Iterator[VendorStandIn]:
    standin = VendorStandIn().start()
    yield standin
    standin.stop()


@pytest.fixture
def direct_env(settings: Any, analytics_js_build: Path, vendor: VendorStandIn) -> VendorStandIn:  # noqa: F811
    settings.ANALYTICS_JS_DIR = analytics_js_build
    settings.DIRECT_MODE_SCRIPT_URLS = {"ga4": f"{vendor.url}/gtag/js",
                                        "customerio_in_app": f"{vendor.url}/gist.min.js"}
    vendor.reset()
    return vendor


class Tab:
    """A page whose every request leaving this machine is blocked and recorded (none may happen)."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.urls: list[tuple[str, int]] = []
        self.external: list[str] = []
        self.errors: list[str] = []
        page.on("requestfinished", lambda r: self.urls.append((r.url, r.response().status if r.response() else 0)))
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        page.on("console", lambda m: self.errors.append(f"console.{m.type}: {m.text}")
                if m.type in ("error", "warning") else None)

    def requested(self, origin: str, path_start: str) -> list[tuple[str, int]]:
        return [(u, s) for u, s in self.urls if u.startswith(origin) and urlsplit(u).path.startswith(path_start)]

    def open(self, url: str) -> None:
        self.urls.clear()
        self.page.goto(url)
        try:
            self.page.wait_for_function("() => window.analytics && window.analytics.initialized === true")
        except PlaywrightError as exc:
            pytest.fail(f"the library never started: {exc}\n{self.summary()}")

    def wait_for(self, condition: Any, what: str) -> Any:
        """tests.helpers.wait_for, but letting Playwright work between polls: the route handler that lets
        requests through runs in this thread, so a plain sleep would hold every request of the page."""
        for _ in range(300):
            result = condition()
            if result:
                return result
            self.page.wait_for_timeout(50)
        raise AssertionError(f"timed out waiting for {what}\n{self.summary()}")

    def summary(self) -> str:
        return "\n".join([f"{u} -> {s}" for u, s in self.urls] + self.external + self.errors)


@pytest.fixture
def tab(browser: Browser) -> Iterator[Tab]:
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    tab = Tab(page)

    def only_this_machine(route: Any) -> None:
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            tab.external.append(f"external: {route.request.method} {route.request.url}")
            route.abort()

    context.route("**/*", only_this_machine)
    yield tab
    context.close()


def _page_with(website: StaticSite, name: str, head: str) -> str:
    website.pages[f"/{name}.html"] = (f"<!doctype html>\n<html><head><title>{name.title()}</title>\n{head}\n"
                                      f"</head><body><h1>{name}</h1></body></html>")
    return f"{website.url}/{name}.html"


def _stored(source: Source, count: int, tab: Tab) -> list[Event]:
    def enough() -> list[Event] | None:
        events = list(Event.objects.filter(source=source).order_by("id"))
        return events if len(events) >= count else None

    return tab.wait_for(enough, what=f"{count} stored events")


def _gist_calls(vendor: VendorStandIn, count: int, tab: Tab) -> list[list[Any]]:
    return tab.wait_for(lambda: vendor.calls("gist") if len(vendor.calls("gist")) >= count else None,
                        what=f"{count} in-app calls (got {vendor.calls('gist')})")


def _gtag_events(vendor: VendorStandIn, count: int, tab: Tab) -> list[list[Any]]:
    """The gtag calls after the js/config preamble, once `count` of them arrived."""
    def enough() -> list[list[Any]] | None:
        calls = [c for c in vendor.calls("gtag") if c[0] not in ("js", "config")]
        return calls if len(calls) >= count else None

    return tab.wait_for(enough, what=f"{count} gtag calls (got {vendor.calls('gtag')})")


@pytest.fixture
def web(workspace: Workspace) -> Source:
    return services.create_source(workspace, name="Shop", kind=SourceKind.JAVASCRIPT)[0]


@pytest.fixture
def ga4(workspace: Workspace, web: Source) -> Destination:
    return services.create_destination(workspace, name="GA4", kind="ga4", sources=[web],
                                       settings={"measurement_id": "G-E2E12345"})


def test_ga4_plugin_loads_from_us_and_gtag_gets_the_mapped_calls(
    tab: Tab, website: StaticSite, live_server: Any, web: Source, ga4: Destination, direct_env: VendorStandIn,
) -> None:
    vendor = direct_env
    # The Actions tab decides: custom events only for Order Completed, with their own parameters.
    services.update_action(ga4.actions.get(kind="custom_event"), trigger='event = "Order Completed"',
                           mapping={"name": "purchase", "params": {"value": {"@path": "$.properties.total"},
                                                                   "currency": "EUR"}})
    (snippet,) = instructions(web, live_server.url)
    tab.open(_page_with(website, "shop", snippet.code) + "?utm_source=mail")
    tab.page.evaluate("""async () => {
        await window.analytics.identify('u-77', {email: 'ada@example.com', plan: 'pro'});
        await window.analytics.track('Coupon Applied', {code: 'X'});
        await window.analytics.track('Order Completed', {total: 42.5});
    }""")

    calls = _gtag_events(vendor, 4, tab)
    page_location = f"{website.url}/shop.html?utm_source=mail"
    assert calls == [
        ["event", "page_view", {"page_location": page_location, "page_title": "Shop", "page_referrer": "",
                                "send_to": ["G-E2E12345"]}],
        ["set", {"user_id": "u-77"}],
        ["set", "user_properties", {"email": "ada@example.com", "plan": "pro"}],
        ["event", "purchase", {"value": 42.5, "currency": "EUR", "send_to": ["G-E2E12345"]}],
    ], tab.summary()
    preamble = [c for c in vendor.calls("gtag") if c[0] in ("js", "config")]
    assert preamble == [["js", "<date>"], ["config", "G-E2E12345", {
        "send_page_view": False, "cookie_domain": "auto", "allow_google_signals": False,
        "allow_ad_personalization_signals": False}]]

    # Our plugin came from our host; gtag.js from where the settings point, asked with the measurement id.
    plugin = tab.requested(live_server.url, "/analytics-plugins/ga4.js")
    assert plugin and plugin[0][1] == 200 and "?v=" in plugin[0][0], tab.summary()
    assert vendor.scripts == ["/gtag/js?id=G-E2E12345"]
    # The events themselves reached us too (direct mode adds the vendor; the pipeline still stores all).
    assert sorted(e.type for e in _stored(web, 4, tab)) == ["identify", "page", "track", "track"]
    assert (tab.external, tab.errors) == ([], []), tab.summary()


def test_disabled_or_disconnected_direct_destination_is_gone_at_the_next_page_load(
    tab: Tab, website: StaticSite, live_server: Any, web: Source, ga4: Destination, direct_env: VendorStandIn,
) -> None:
    vendor = direct_env
    (snippet,) = instructions(web, live_server.url)
    url = _page_with(website, "home", snippet.code)
    tab.open(url)
    _gtag_events(vendor, 1, tab)  # the page view: GA4 runs

    def loads_nothing_of_ga4() -> None:
        vendor.reset()
        tab.open(url)
        settings_requests = tab.requested(live_server.url, f"/v1/projects/{web.write_key}/settings")
        assert settings_requests and settings_requests[0][1] == 200, tab.summary()
        # a later call settles that nothing else is coming
        tab.page.evaluate("() => window.analytics.track('After Change')")
        _stored_count = Event.objects.filter(source=web, payload__event="After Change")
        tab.wait_for(_stored_count.exists, what="the later track stored")
        assert tab.requested(live_server.url, "/analytics-plugins/") == [], tab.summary()
        assert vendor.scripts == [] and vendor.calls("gtag") == []
        assert tab.page.evaluate("() => typeof window.gtag") == "undefined"

    services.update_destination(ga4, enabled=False)
    loads_nothing_of_ga4()

    services.update_destination(ga4, enabled=True)
    tab.open(url)
    _gtag_events(vendor, 1, tab)  # back

    services.disconnect(web, ga4)
    loads_nothing_of_ga4()


def test_customerio_seed_snippet_verbatim_stores_calls_and_loads_in_app(
    tab: Tab, website: StaticSite, live_server: Any, workspace: Workspace, web: Source, ga4: Destination,
    direct_env: VendorStandIn,
) -> None:
    vendor = direct_env
    services.create_destination(workspace, name="In-app", kind="customerio_in_app", sources=[web],
                                settings={"site_id": "stored-site", "region": "eu"})
    snippet = (SEED_SNIPPET.replace("https://cdp.customer.io", live_server.url)
               .replace("YOUR_API_KEY", web.write_key).replace("YOUR_SITE_ID", "snippet-site-9"))
    tab.open(_page_with(website, "landing", f"<script>{snippet}</script>"))
    tab.wait_for(lambda: vendor.calls("gist"), what="the in-app script started")
    tab.page.evaluate("() => window.analytics.identify('person-5', {email: 'grace@example.com'})")

    events = _stored(web, 2, tab)
    assert [e.type for e in events] == ["page", "identify"], tab.summary()
    assert events[1].payload["userId"] == "person-5"
    gist = _gist_calls(vendor, 3, tab)
    # the snippet's own siteId wins over the stored one, as its load options say
    assert gist == [["setup", {"siteId": "snippet-site-9", "dataCenter": "eu", "env": "prod"}],
                    ["setCurrentRoute", "/landing.html"],
                    ["setUserToken", "person-5"]], tab.summary()
    assert _gtag_events(vendor, 1, tab)[0][:2] == ["event", "page_view"]  # GA4 loads from the same settings

    library = tab.requested(live_server.url, f"/v1/analytics-js/snippet/{web.write_key}/analytics.min.js")
    assert library and library[0][1] == 200, tab.summary()
    assert tab.requested(live_server.url, "/analytics-plugins/customerio_in_app.js")[0][1] == 200
    assert sorted(vendor.scripts) == ["/gist.min.js", "/gtag/js?id=G-E2E12345"]
    assert (tab.external, tab.errors) == ([], []), tab.summary()

    # A returning visitor: the library remembers them, and the plugin tells the in-app script at load.
    vendor.reset()
    tab.open(f"{website.url}/landing.html")
    gist = _gist_calls(vendor, 3, tab)
    assert gist[:2] == [["setup", {"siteId": "snippet-site-9", "dataCenter": "eu", "env": "prod"}],
                        ["setUserToken", "person-5"]]
    # and a logout is a logout for the in-app script too
    tab.page.evaluate("() => window.analytics.reset()")
    assert _gist_calls(vendor, 4, tab)[3] == ["clearUserToken"]
