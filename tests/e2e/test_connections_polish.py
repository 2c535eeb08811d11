"""In a real browser, the Polish points of issue #14 on the Connections pages: the data-flow picture, the
catalog cards, "Add a destination" from a source, the review step in words, the debugger rows and the danger
zones; and screenshots of those pages at 1366×900 and 390×844 (under tests/e2e/screenshots/)."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta
from typing import Any

from django.utils import timezone
from playwright.sync_api import Browser, Page, expect
from pytest_httpserver import HTTPServer

from connections import services
from connections.models import Destination, Source, SourceKind
from destinations import fanout
from destinations.models import DestinationCircuit
from ingest.models import Event
from ingest.services import store_events
from pipelines.models import Workspace
from tests.e2e.conftest import SCREENSHOTS
from tests.helpers import send_queued

SIZES = ((1366, 900), (390, 844))


def _login(browser: Browser, live_server: Any, width: int = 1366, height: int = 900) -> Page:
    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("alice-password-1")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/w/acme/connections/")
    return page


def _fits(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def _source(workspace: Workspace, name: str = "Production Javascript",
            kind: str = SourceKind.JAVASCRIPT) -> Source:
    return services.create_source(workspace, name=name, kind=kind)[0]


def _send(source: Source, *messages: dict[str, Any]) -> None:
    """Store messages as ingest does, fan them out and send the first attempts, as a worker would."""
    ids = store_events(source, [{"timestamp": "2024-05-01T12:00:00.000Z", **m} for m in messages], timezone.now())
    fanout.fan_out(ids)
    send_queued()


# --- the data-flow picture ------------------------------------------------------------------------------

STROKES = {"healthy": "rgb(43, 138, 62)", "failing": "rgb(201, 42, 42)", "circuit_open": "rgb(201, 42, 42)",
           "retrying": "rgb(208, 135, 0)", "disabled": "rgb(167, 175, 189)"}


def _five_states(workspace: Workspace, settings: Any, httpserver: HTTPServer) -> dict[str, Any]:
    """_world's healthy, failing and disabled destinations, plus one retrying and one with its circuit open,
    each brought there by real deliveries to the local server."""
    world = _world(workspace, settings, httpserver)
    httpserver.expect_request("/busy").respond_with_data("busy", status=503)
    httpserver.expect_request("/down").respond_with_data("down", status=502)
    retrying = services.create_destination(workspace, name="Busy hook", kind="webhook",
                                           settings={"url": httpserver.url_for("/busy")}, sources=[world["backend"]])
    tripped = services.create_destination(workspace, name="Down hook", kind="webhook",
                                          settings={"url": httpserver.url_for("/down")}, sources=[world["backend"]])
    _send(world["backend"], {"type": "track", "event": "Invoice Paid", "userId": "u-2", "messageId": "b-1"})
    DestinationCircuit.objects.filter(destination=retrying).delete()  # its retries alone, no open breaker
    assert DestinationCircuit.objects.get(destination=tripped).open_until > timezone.now()  # tripped for real
    # held open for the length of the test (the breaker's own pause is shorter than two page sizes take)
    DestinationCircuit.objects.filter(destination=tripped).update(open_until=timezone.now() + timedelta(hours=1))
    return {**world, "retrying": retrying, "tripped": tripped}


def _link_ends(page: Page) -> list[dict[str, Any]]:
    """Each curve's state and where its two ends are on screen, with the middles of the nodes it joins."""
    return page.locator("[data-flow-link]").evaluate_all("""paths => paths.map(p => {
        const m = p.getScreenCTM(), len = p.getTotalLength();
        const at = d => { const q = p.getPointAtLength(d); return new DOMPoint(q.x, q.y).matrixTransform(m); };
        const box = sel => { const r = document.querySelector(sel).getBoundingClientRect();
                             return {left: r.left, right: r.right, middle: r.top + r.height / 2}; };
        return {state: p.dataset.state, stroke: getComputedStyle(p).stroke, start: at(0), end: at(len),
                source: box(`[data-flow-source="${p.dataset.source}"]`),
                destination: box(`[data-flow-destination="${p.dataset.destination}"]`)};
    })""")


def _assert_names_whole(page: Page, width: int) -> None:
    """No node's name is cut off by an ellipsis or a line clamp, nor its state."""
    cut = page.locator("[data-flow] .flow-name, [data-flow] .flow-destinations .flow-detail").evaluate_all(
        "names => names.filter(n => n.scrollWidth > n.clientWidth || n.scrollHeight > n.clientHeight + 1)"
        ".map(n => n.textContent)")
    assert cut == [], (width, cut)


def _assert_drawn(page: Page, width: int) -> None:
    """Curves start at their source's right edge and end at their destination's left edge, level with the
    nodes' middles; no two nodes overlap; nothing scrolls sideways."""
    ends = _link_ends(page)
    assert ends, width
    for e in ends:
        assert abs(e["start"]["y"] - e["source"]["middle"]) < 2 and abs(e["end"]["y"] - e["destination"]["middle"]) < 2, e
        assert abs(e["start"]["x"] - e["source"]["right"]) < 4 and abs(e["end"]["x"] - e["destination"]["left"]) < 4, e
        assert e["stroke"] == STROKES[e["state"]], e
    for column in (".flow-sources", ".flow-destinations"):
        boxes = page.locator(f"{column} .flow-node").evaluate_all(
            "nodes => nodes.map(n => { const r = n.getBoundingClientRect(); return [r.top, r.bottom, r.width]; })")
        boxes.sort()
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(boxes)), (column, width)
        assert all(b[2] > 100 for b in boxes), (column, width)  # wide enough to read a name
    assert _fits(page), width


def test_the_data_flow_shows_every_connection_coloured_by_health_and_links_to_its_ends(
    browser: Browser, live_server: Any, owner: Any, workspace: Workspace, settings: Any, httpserver: HTTPServer
) -> None:
    world = _five_states(workspace, settings, httpserver)
    for width, height in SIZES:
        page = _login(browser, live_server, width, height)
        flow = page.locator("[data-flow]")
        expect(flow.get_by_role("heading", name="Data flow")).to_be_visible()
        expect(flow.get_by_role("list", name="Sources").get_by_role("link")).to_have_count(3)
        expect(flow.get_by_role("list", name="Destinations").get_by_role("link")).to_have_count(5)
        states = {name: flow.locator(f'[data-flow-destination="{world[key].id}"]') for key, name in (
            ("healthy", "healthy"), ("failing", "failing"), ("off", "disabled"), ("retrying", "retrying"),
            ("tripped", "circuit_open"))}
        for state, node in states.items():
            expect(node).to_have_attribute("data-state", state)
        expect(states["failing"]).to_contain_text("Failing")
        expect(states["retrying"]).to_contain_text("Retrying 1 event")
        expect(states["circuit_open"]).to_contain_text("Circuit open")
        expect(states["disabled"]).to_contain_text("Disabled")
        expect(states["healthy"]).to_contain_text("Healthy")
        expect(states["healthy"]).to_have_accessible_description("Receives from Backend, Production Javascript")
        # a curve per connection, in its destination's state; the legend names the colours shown
        links = {(e["source"]["middle"], e["destination"]["middle"]): e["state"] for e in _link_ends(page)}
        assert sorted(links.values()) == sorted(
            ["healthy", "healthy", "failing", "disabled", "retrying", "circuit_open"])
        legend = flow.get_by_role("list", name="Colours").get_by_role("listitem").all_inner_texts()
        assert legend == ["Healthy", "Retrying", "Failing", "Circuit open", "Disabled"]
        _assert_drawn(page, width)
        _assert_names_whole(page, width)
        page.screenshot(path=str(SCREENSHOTS / f"polish-flow-states-{width}.png"), full_page=False)
        # hovering a source lights its curves only
        page.locator(f'[data-flow-source="{world["web"].id}"]').hover()
        lit = page.locator("[data-flow-link].is-lit")
        expect(lit).to_have_count(2)
        assert {lit.nth(i).get_attribute("data-source") for i in range(2)} == {str(world["web"].id)}
        # and each node is a link to its page
        flow.get_by_role("link", name=re.compile("^CRM hook")).click()
        expect(page.get_by_role("heading", name="CRM hook", level=1)).to_be_visible()
        page.go_back()
        page.locator("[data-flow]").get_by_role("link", name=re.compile("^Backend")).click()
        expect(page.get_by_role("heading", name="Backend", level=1)).to_be_visible()
        page.context.close()


def test_the_data_flow_stays_readable_with_one_and_with_twelve_destinations(
    browser: Browser, live_server: Any, owner: Any, workspace: Workspace, settings: Any, httpserver: HTTPServer
) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = True
    source = _source(workspace)
    services.create_destination(workspace, name="Only hook", kind="webhook", settings={"url": "http://127.0.0.1:9/"},
                                sources=[source])
    for width, height in SIZES:
        page = _login(browser, live_server, width, height)
        expect(page.locator("[data-flow] .flow-node")).to_have_count(2)
        _assert_drawn(page, width)
        page.screenshot(path=str(SCREENSHOTS / f"polish-flow-one-{width}.png"), full_page=False)
        page.context.close()
    backend = _source(workspace, "Backend", SourceKind.PYTHON)
    for n in range(11):
        services.create_destination(workspace, name=f"Regional warehouse hook {n + 1}", kind="webhook",
                                    settings={"url": "http://127.0.0.1:9/"}, sources=[backend] if n % 3 else
                                    [backend, source])
    for width, height in SIZES:
        page = _login(browser, live_server, width, height)
        expect(page.locator("[data-flow-destination]")).to_have_count(12)
        expect(page.locator("[data-flow-link]")).to_have_count(16)
        _assert_drawn(page, width)
        _assert_names_whole(page, width)  # the numbers that tell the hooks apart too
        page.locator("[data-flow]").screenshot(path=str(SCREENSHOTS / f"polish-flow-twelve-{width}.png"))
        page.context.close()


# --- "Add a destination" from a source page --------------------------------------------------------------

def test_add_a_destination_from_a_source_page_preselects_that_source(
    logged_in: Page, live_server: Any, workspace: Workspace
) -> None:
    page = logged_in
    source = _source(workspace)
    _source(workspace, "Backend", SourceKind.PYTHON)
    page.goto(f"{live_server.url}/w/acme/sources/{source.id}/")
    page.get_by_role("link", name="Add a destination").click()
    expect(page.locator("[data-preselected]")).to_contain_text("Data will come from Production Javascript")
    page.get_by_role("button", name=re.compile("^Webhook")).click()
    expect(page.get_by_role("heading", name="(Optional) Select the sources you want to connect")).to_be_visible()
    expect(page.get_by_label("Production Javascript")).to_be_checked()
    expect(page.get_by_label("Backend")).not_to_be_checked()
    # a source of no workspace of ours is not found
    response = page.goto(f"{live_server.url}/w/acme/destinations/new/?source=999999")
    assert response is not None and response.status == 404


# --- the review step, in words ---------------------------------------------------------------------------

def test_the_review_step_shows_labels_not_raw_values(
    logged_in: Page, live_server: Any, workspace: Workspace, shot: Any
) -> None:
    page = logged_in
    _source(workspace)
    page.goto(f"{live_server.url}/w/acme/destinations/new/select/")
    page.get_by_role("button", name=re.compile(r"^Customer\.io(?! In-App)")).click()
    page.get_by_label("Production Javascript").check()
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Site ID").fill("site-123")
    page.get_by_label("API Key").fill("track-key-abcdef987654")
    page.get_by_role("button", name="Continue").click()
    review = page.locator("[data-review]")
    expect(review).to_be_visible()

    def value(label: str) -> str:
        return review.locator("div", has=page.locator("dt", has_text=re.compile(f"^{label}$"))).locator("dd").inner_text()

    assert value("Account Region") == "US"
    assert value("Convert timestamps") == "Yes"
    assert value("Site ID") == "site-123"
    assert value("API Key") == "••••••••7654"  # masked: only the last four characters
    assert value("Sources") == "Production Javascript"
    actions = review.locator("div", has=page.locator("dt", has_text="Actions")).locator("li").all_inner_texts()
    assert len(actions) > 1 and all(a and not a.endswith(",") for a in actions)
    text = review.inner_text()
    assert "True" not in text and "us\n" not in text and ", \n" not in text and not re.search(r",\s*$", text)
    assert "track-key-abcdef987654" not in page.content()
    shot("polish-review")


def test_the_review_step_lists_webhook_headers_one_a_line_masked(
    logged_in: Page, live_server: Any, workspace: Workspace, settings: Any
) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = True
    page = logged_in
    page.goto(f"{live_server.url}/w/acme/destinations/new/select/")
    page.get_by_role("button", name=re.compile("^Webhook")).click()
    page.get_by_label("Webhook URL").fill("http://127.0.0.1:9/in")
    page.get_by_label("Headers").fill("X-Team: growth-team-token\nX-Env: production-env-token")
    page.get_by_role("button", name="Continue").click()
    review = page.locator("[data-review]")
    headers = review.locator("div", has=page.locator("dt", has_text="Headers")).locator("li").all_inner_texts()
    assert headers == ["X-Team: ••••••••oken", "X-Env: ••••••••oken"]
    shared = review.locator("div", has=page.locator("dt", has_text="Shared secret")).locator("dd")
    expect(shared).to_have_text("Not set")
    expect(review.locator("div", has=page.locator("dt", has_text="HTTP method")).locator("dd")).to_have_text("POST")


# --- the debugger ----------------------------------------------------------------------------------------

def test_debugger_rows_show_user_delivery_status_and_one_relative_time_format(
    logged_in: Page, live_server: Any, workspace: Workspace, settings: Any, httpserver: HTTPServer
) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = True
    page = logged_in
    source = _source(workspace)
    services.create_destination(workspace, name="Order hook", kind="webhook",
                                settings={"url": httpserver.url_for("/hook")}, sources=[source])
    httpserver.expect_request("/hook").respond_with_data("ok")
    _send(source, {"type": "track", "event": "Order Completed", "userId": "u-1", "messageId": "m-1"},
          {"type": "identify", "anonymousId": "anon-5f2a91c4d3", "traits": {"email": "ann@example.com"},
           "messageId": "m-2"})
    httpserver.clear()
    httpserver.expect_request("/hook").respond_with_data("Unauthorized", status=401)
    _send(source, {"type": "page", "name": "Pricing", "anonymousId": "anon-77c0ffee11", "messageId": "m-3"})
    three_minutes_ago = timezone.now() - timedelta(minutes=3)
    Event.objects.filter(message_id="m-1").update(received_at=three_minutes_ago)

    page.goto(f"{live_server.url}/w/acme/sources/{source.id}/")
    rows = page.locator("[data-debugger-list] > li")
    expect(rows).to_have_count(3)
    order = rows.filter(has_text="Order Completed")
    expect(order.locator("[data-event-user]")).to_have_text("u-1")
    expect(order.locator("[data-event-delivery]")).to_have_text("Delivered")
    time = order.locator("time")
    expect(time).to_have_text("3 min ago")
    assert time.get_attribute("datetime").startswith(three_minutes_ago.strftime("%Y-%m-%dT%H:%M"))
    assert time.get_attribute("title") == three_minutes_ago.strftime("%Y-%m-%d %H:%M:%S UTC")
    identify = rows.filter(has=page.locator(".badge-type", has_text="identify"))
    expect(identify.locator("[data-event-user]")).to_have_text("ann@example.com")
    assert "anonymousId: anon-5f2a91c4d3" in identify.locator("[data-event-user]").get_attribute("title")
    pricing = rows.filter(has_text="Pricing")
    expect(pricing.locator("[data-event-user]")).to_have_text("Anonymous anon-77c")
    expect(pricing.locator("[data-event-delivery]")).to_have_text("Failed")
    expect(pricing.locator("time")).to_have_text("just now")
    # every time on the page is in the one format: relative words, the exact time on hover
    for t in page.locator("[data-debugger-list] time").all():
        assert re.fullmatch(r"just now|\d+ (min|h|d) ago", t.inner_text()), t.inner_text()
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", t.get_attribute("title") or "")

    # a live event comes in with the same row shape, and its status follows its delivery
    httpserver.clear()
    httpserver.expect_request("/hook").respond_with_data("ok")
    ids = store_events(source, [{"type": "track", "event": "Cart Viewed", "userId": "u-9", "messageId": "m-4"}],
                       timezone.now())
    fanout.fan_out(ids)
    live = rows.filter(has_text="Cart Viewed")
    expect(live.locator("[data-event-user]")).to_have_text("u-9")
    expect(live.locator("[data-event-delivery]")).to_have_text("Queued")
    expect(live.locator("time")).to_have_text("just now")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", live.locator("time").get_attribute("title") or "")
    send_queued()
    expect(live.locator("[data-event-delivery]")).to_have_text("Delivered")


def test_delete_lives_in_a_danger_zone_away_from_disable_and_asks_first(
    logged_in: Page, live_server: Any, workspace: Workspace, settings: Any
) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = True
    page = logged_in
    source = _source(workspace)
    destination = services.create_destination(workspace, name="Order hook", kind="webhook",
                                              settings={"url": "http://127.0.0.1:9/in"}, sources=[source])
    # the source page: Disable in Manage, Delete alone in the danger zone, the last section of the page
    page.goto(f"{live_server.url}/w/acme/sources/{source.id}/")
    manage = page.locator("section", has=page.get_by_role("heading", name="Manage"))
    expect(manage.get_by_role("button", name="Disable source")).to_be_visible()
    expect(manage.get_by_role("link", name=re.compile("Delete"))).to_have_count(0)
    danger = page.locator("section.card").last
    expect(danger.get_by_role("heading")).to_have_text("Danger zone")
    expect(danger.get_by_role("button", name=re.compile("Disable"))).to_have_count(0)
    danger.get_by_role("link", name="Delete source…").click()
    expect(page.get_by_role("heading", name="Delete Production Javascript?")).to_be_visible()
    page.get_by_role("link", name="Keep it").click()
    assert Source.objects.filter(id=source.id).exists()

    # the destination: Disable on Overview, Delete at the bottom of Settings
    page.goto(f"{live_server.url}/w/acme/destinations/{destination.id}/")
    expect(page.get_by_role("button", name="Disable destination")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("Delete destination"))).to_have_count(0)
    page.get_by_role("navigation", name="Destination").get_by_role("link", name="Settings").click()
    danger = page.locator("section.card").last
    expect(danger.get_by_role("heading")).to_have_text("Danger zone")
    settings_box = page.locator("section.card", has=page.get_by_role("heading", name="Settings", exact=True))
    assert settings_box.bounding_box()["y"] < danger.bounding_box()["y"]
    danger.get_by_role("link", name="Delete destination…").click()
    page.get_by_role("button", name="Delete destination").click()
    expect(page.get_by_role("status")).to_contain_text("was deleted")
    assert not Destination.objects.filter(id=destination.id).exists()


# --- the catalogs ----------------------------------------------------------------------------------------

def test_both_catalogs_are_cards_you_click_with_monograms_and_aligned_titles(
    logged_in: Page, live_server: Any, workspace: Workspace
) -> None:
    page = logged_in
    _source(workspace)
    # the source catalog: the text says what to do, and doing it (by keyboard) works
    page.goto(f"{live_server.url}/w/acme/sources/new/")
    expect(page.locator("#catalog-help")).to_contain_text("Click one to name it")
    expect(page.get_by_text("select one, then click Add Source", exact=False)).to_have_count(0)
    cards = page.locator(".catalog-button")
    assert cards.count() == len(SourceKind.choices)
    expect(page.get_by_role("link", name="Add Source", exact=False)).to_have_count(0)  # no second control per card
    js = page.get_by_role("link", name="JavaScript (website)")
    expect(js.locator(".monogram")).to_have_text("JS")
    expect(js).to_have_accessible_description(re.compile("^Identify people and track events on your website"))
    _titles_align(page, 1366)
    js.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_label("Name")).to_be_visible()

    # the destination catalog: the same card, a button that chooses the type and moves on
    page.goto(f"{live_server.url}/w/acme/destinations/new/select/")
    expect(page.locator("#catalog-help")).to_contain_text("Click a destination to set it up")
    webhook = page.get_by_role("button", name="Webhook", exact=True)
    expect(webhook.locator(".monogram")).to_have_text("Wh")
    expect(webhook).to_contain_text("Cloud mode")
    tiles = page.locator(".catalog-button .monogram")
    colours = {tiles.nth(i).evaluate("e => getComputedStyle(e).backgroundColor") for i in range(tiles.count())}
    assert len(colours) == tiles.count()  # a colour per type
    _titles_align(page, 1366)
    webhook.focus()
    page.keyboard.press("Space")
    expect(page.get_by_role("heading", name="(Optional) Select the sources you want to connect")).to_be_visible()


def _titles_align(page: Page, width: int) -> None:
    """Every card of a grid row has its title, its badges and its description start at the same height."""
    boxes = page.locator(".catalog-button").evaluate_all("""cards => cards.map(c => ({
        top: c.getBoundingClientRect().top,
        name: c.querySelector('.catalog-name').getBoundingClientRect().top,
        tags: c.querySelector('.catalog-tags').getBoundingClientRect().top,
        desc: c.querySelector('.catalog-desc').getBoundingClientRect().top}))""")
    rows: dict[int, list[dict[str, float]]] = {}
    for box in boxes:
        rows.setdefault(round(box["top"]), []).append(box)
    assert any(len(r) > 1 for r in rows.values()), width  # a grid, several cards a row
    for row in rows.values():
        for part in ("name", "tags", "desc"):
            assert max(b[part] for b in row) - min(b[part] for b in row) < 1, (part, row)


# --- screenshots -----------------------------------------------------------------------------------------

def _world(workspace: Workspace, settings: Any, httpserver: HTTPServer, extra_destinations: int = 0) -> dict[str, Any]:
    """Three sources and destinations in every state: healthy, failing (401), disabled; with events."""
    settings.OUTBOUND_ALLOW_PRIVATE = True
    web = _source(workspace)
    backend = _source(workspace, "Backend", SourceKind.PYTHON)
    services.create_source(workspace, name="Legacy", kind=SourceKind.JOURNEYS_TRACK_API)
    httpserver.expect_request("/ok").respond_with_data("ok")
    httpserver.expect_request("/denied").respond_with_data("Unauthorized: bad API key", status=401)
    healthy = services.create_destination(workspace, name="Order hook", kind="webhook",
                                          settings={"url": httpserver.url_for("/ok")}, sources=[web, backend])
    failing = services.create_destination(workspace, name="CRM hook", kind="webhook",
                                          settings={"url": httpserver.url_for("/denied")}, sources=[web])
    off = services.create_destination(workspace, name="Old analytics", kind="webhook",
                                      settings={"url": httpserver.url_for("/ok")}, sources=[backend])
    services.update_destination(off, enabled=False)
    for n in range(extra_destinations):
        services.create_destination(workspace, name=f"Regional hook {n + 1}", kind="webhook",
                                    settings={"url": httpserver.url_for("/ok")}, sources=[backend])
    _send(web, {"type": "track", "event": "Order Completed", "userId": "u-1", "messageId": "m-1"},
          {"type": "identify", "anonymousId": "anon-5f2a91c4d3", "traits": {"email": "ann@example.com"},
           "messageId": "m-2"})
    return {"web": web, "backend": backend, "healthy": healthy, "failing": failing, "off": off}


def test_screenshots_of_the_polished_pages(
    browser: Browser, live_server: Any, owner: Any, workspace: Workspace, settings: Any, httpserver: HTTPServer
) -> None:
    """Every page this touches at 1366×900 and 390×844 (tests/e2e/screenshots/polish-*), none scrolling
    sideways."""
    world = _world(workspace, settings, httpserver)
    base = f"{live_server.url}/w/acme"
    pages = {
        "connections": f"{base}/connections/",
        "source": f"{base}/sources/{world['web'].id}/",
        "source-catalog": f"{base}/sources/new/",
        "destination-catalog": f"{base}/destinations/new/select/",
        "destination-overview": f"{base}/destinations/{world['failing'].id}/",
        "destination-settings": f"{base}/destinations/{world['failing'].id}/settings/",
    }
    SCREENSHOTS.mkdir(exist_ok=True)
    for width, height in SIZES:
        page = _login(browser, live_server, width, height)
        for name, url in pages.items():
            page.goto(url)
            page.screenshot(path=str(SCREENSHOTS / f"polish-{name}-{width}.png"), full_page=True)
            assert _fits(page), (name, width)
        page.goto(f"{base}/destinations/new/?source={world['web'].id}")
        page.get_by_role("button", name=re.compile(r"^Customer\.io(?! In-App)")).click()
        page.get_by_role("button", name="Continue").click()
        page.get_by_label("Site ID").fill("site-123")
        page.get_by_label("API Key").fill("track-key-abcdef987654")
        page.get_by_role("button", name="Continue").click()
        page.screenshot(path=str(SCREENSHOTS / f"polish-review-{width}.png"), full_page=True)
        assert _fits(page), ("review", width)
        page.context.close()
