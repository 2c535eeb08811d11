"""Browser checks of the polish pieces of issue #14: charts labelled in the browser's time zone with a
range picker kept in the URL, the API docs inside the app's layout, the favicon, and a sweep of every page
at 1366x900 and 390x844: accessibility (aria-describedby targets, labels, keyboard focus, WCAG AA
contrast: tests/e2e/a11y.js), no overlapping text (tests/e2e/overlap.js), no sideways scrolling, and
screenshots under tests/e2e/screenshots/ to look at."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from connections import services
from connections.models import SourceKind
from destinations.models import DeliveryCount
from pipelines.models import Workspace

from .conftest import SCREENSHOTS


def _login(page: Page, live_server: Any) -> None:
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("alice-password-1")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/w/acme/connections/")


def test_delivery_chart_is_labelled_in_the_browsers_time_zone_and_keeps_its_range_in_the_url(
    browser: Browser, live_server: Any, workspace: Workspace, owner: Any, settings: Any
) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = True
    source = services.create_source(workspace, name="Website", kind=SourceKind.JAVASCRIPT)[0]
    hook = services.create_destination(workspace, name="Hook", kind="webhook",
                                       settings={"url": "http://127.0.0.1:9/hook"}, sources=[source])
    DeliveryCount.objects.create(destination=hook, minute=timezone.now() - timedelta(days=2), delivered=9)
    # India is UTC+05:30: every label of an hourly axis there ends in :30, never in UTC's :00
    context = browser.new_context(viewport={"width": 1366, "height": 900}, timezone_id="Asia/Kolkata")
    page = context.new_page()
    try:
        _login(page, live_server)
        page.goto(f"{live_server.url}/w/acme/destinations/{hook.id}/delivery/")
        # (Chromium's ICU names the zone by its older alias, Asia/Calcutta)
        expect(page.locator("[data-chart-zone]")).to_have_text(
            re.compile(r"^Times in your time zone: Asia/(Kolkata|Calcutta) \(UTC\+05:30\)$"))
        labels = page.locator("svg[data-chart] text[data-time]").all_text_contents()
        assert len(labels) == 6 and all(re.fullmatch(r"\d\d:30", text) for text in labels), labels
        assert page.get_by_text("No deliveries in the last 24 hours.").is_visible()

        page.get_by_role("navigation", name="Time range").get_by_role("link", name="7d").click()
        page.wait_for_url(re.compile(r"\?range=7d$"))
        expect(page.get_by_role("link", name="7d")).to_have_attribute("aria-current", "true")
        assert page.locator("svg[data-chart] rect.bar-delivered").count() == 1
        title = page.locator("svg[data-chart] rect.bar-delivered title").text_content() or ""
        assert re.search(r"Asia/\w+ \(UTC\+05:30\): 9 delivered$", title), title
        labels = page.locator("svg[data-chart] text[data-time]").all_text_contents()
        assert all(re.fullmatch(r"[A-Z][a-z]{2} \d\d:30", text) for text in labels), labels
        page.reload()  # the range is remembered: it lives in the URL
        expect(page.get_by_role("heading", name=re.compile("Event delivery"))).to_contain_text("last 7 days")
        # the picker works from the keyboard too
        page.get_by_role("link", name="1h").focus()
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"\?range=1h$"))
        expect(page.get_by_role("heading", name=re.compile("Event delivery"))).to_contain_text("last 1 hour")
    finally:
        context.close()


# --- every page: accessibility sweep and screenshots ---------------------------------------------------

A11Y_JS = (Path(__file__).parent / "a11y.js").read_text()
OVERLAP_JS = (Path(__file__).parent / "overlap.js").read_text()
VIEWPORTS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture
def world(workspace: Workspace, owner: Any, teammate: Any, settings: Any) -> dict[str, Any]:
    """A workspace as a marketer sees it after a few days: sources, a webhook and the Profiles destination,
    people with traits and events, an audience, a pending invitation, a privacy request."""
    from audiences import services as audience_services
    from audiences.models import Audience
    from destinations.fanout import clear_routing_cache
    from pipelines import members
    from pipelines.models import Membership
    from privacy import services as privacy_services

    from .test_audiences_ui import feed

    settings.OUTBOUND_ALLOW_PRIVATE = True
    owner.is_staff = owner.is_superuser = True
    owner.save()
    clear_routing_cache()
    web = services.create_source(workspace, name="Production Website", kind=SourceKind.JAVASCRIPT)[0]
    services.create_source(workspace, name="Backend", kind=SourceKind.PYTHON)
    hook = services.create_destination(workspace, name="Orders webhook", kind="webhook",
                                       settings={"url": "http://127.0.0.1:9/hook"}, sources=[web])
    services.create_destination(workspace, name="Profiles", kind="profiles", settings={}, sources=[web])
    feed(web, {"type": "identify", "userId": "u-1", "traits": {"email": "ada@example.com", "plan": "pro",
                                                               "first_name": "Ada"}},
         {"type": "track", "userId": "u-1", "event": "Product Added", "properties": {"sku": "A1", "price": 19.5}},
         {"type": "identify", "userId": "u-2", "traits": {"email": "grace@example.com", "plan": "free"}})
    now = timezone.now().replace(second=0, microsecond=0)
    for hours, delivered, failed in ((1, 40, 2), (5, 25, 0), (30, 60, 5)):
        DeliveryCount.objects.update_or_create(destination=hook, minute=now - timedelta(hours=hours),
                                               defaults={"delivered": delivered, "failed": failed})
    audience_services.create_audience(workspace, name="Pro plan", key="pro-plan",
                                      definition={"all": [{"trait": "plan", "op": "=", "value": "pro"}]})
    members.invite(workspace, inviter=owner, inviter_role=Membership.Role.OWNER, email="new@example.com",
                   role="member", accept_url=lambda token: f"http://testserver/invitations/{token}/")
    privacy_services.request_deletion(workspace, owner, email="gone@example.com")
    from alerts.models import AlertIncident, AlertRule
    from profiles.models import Person

    rule = AlertRule.objects.create(workspace=workspace, name="Orders webhook failing", kind="failure_rate",
                                    destination=hook, threshold_percent=5, emails=["ops@example.com"])
    AlertIncident.objects.create(rule=rule, opened_at=now - timedelta(hours=1), recovered_at=now - timedelta(minutes=40),
                                 summary="4.8% of 42 attempts failed in the last 15 min (threshold 5%).",
                                 notifications=[{"event": "opened", "channel": "email", "ok": True,
                                                 "to": "ops@example.com", "error": ""}])
    return {"source": web, "hook": hook, "audience": Audience.objects.get(key="pro-plan"), "alert_rule": rule,
            "person": Person.objects.filter(workspace=workspace).order_by("id").first()}


def _pages(world: dict[str, Any]) -> dict[str, str]:
    """name → path of every page a user can reach, in the order of the main navigation."""
    hook, source = world["hook"].id, world["source"].id
    action = world["hook"].actions.first()
    return {
        "connections": "/w/acme/connections/",
        "source": f"/w/acme/sources/{source}/",
        "destination": f"/w/acme/destinations/{hook}/",
        "destination-settings": f"/w/acme/destinations/{hook}/settings/",
        "destination-actions": f"/w/acme/destinations/{hook}/actions/",
        "action": f"/w/acme/destinations/{hook}/actions/{action.id}/",
        "destination-filters": f"/w/acme/destinations/{hook}/filters/",
        "destination-delivery": f"/w/acme/destinations/{hook}/delivery/",
        "add-destination": "/w/acme/destinations/new/select/",
        "people": "/w/acme/people/",
        "person": f"/w/acme/people/{world['person'].id}/",
        "audiences": "/w/acme/audiences/",
        "audience": f"/w/acme/audiences/{world['audience'].id}/",
        "audience-new": "/w/acme/audiences/new/",
        "alerts": "/w/acme/alerts/",
        "alert-rule": f"/w/acme/alerts/{world['alert_rule'].id}/",
        "alert-new": "/w/acme/alerts/new/",
        "settings": "/w/acme/settings/",
        "members": "/w/acme/members/",
        "privacy": "/w/acme/privacy/",
        "audit": "/w/acme/audit/",
        "api-docs": "/api/docs/?workspace=acme",
        "admin": "/admin/",
        "admin-workspaces": "/admin/pipelines/workspace/",
    }


def _ours(name: str) -> bool:
    """Django admin's own stylesheet is not ours to restyle; its pages are checked for the favicon only."""
    return not name.startswith("admin")


def _photograph(page: Page, name: str) -> None:
    """A full-page screenshot; a very long page (the API reference) as its first screen and one further down."""
    viewport = page.viewport_size or {"height": 900}
    height = page.evaluate("document.documentElement.scrollHeight")
    if height <= 4 * viewport["height"]:
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
        return
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight / 3)")
    page.screenshot(path=str(SCREENSHOTS / f"{name}-further.png"))
    page.evaluate("window.scrollTo(0, 0)")


def _focus_problems(page: Page, limit: int = 40) -> list[str]:
    """Tab through the page from the top: each element that takes the focus shows a visible ring."""
    problems = []
    page.evaluate("window.scrollTo(0, 0); document.activeElement && document.activeElement.blur()")
    page.locator("body").focus()
    seen = 0
    for _ in range(limit):
        page.keyboard.press("Tab")
        info = page.evaluate("""() => {
            const n = document.activeElement;
            if (!n || n === document.body) return null;
            const s = getComputedStyle(n);
            const ring = (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2) || s.boxShadow !== 'none';
            return {ring, what: n.tagName.toLowerCase() + (n.id ? '#' + n.id : '') + ' ' + (n.textContent || n.name || '').trim().slice(0, 30)};
        }""")
        if info is None:
            break
        seen += 1
        if not info["ring"]:
            problems.append(f"no visible focus ring on {info['what']}")
    if not seen:
        problems.append("nothing takes the keyboard focus")
    return problems


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_every_page_passes_the_accessibility_sweep_and_is_photographed(
    browser: Browser, live_server: Any, world: dict[str, Any], viewport: str
) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport=VIEWPORTS[viewport])
    page = context.new_page()
    page.set_default_timeout(15_000)
    failures: dict[str, list[str]] = {}
    try:
        page.goto(f"{live_server.url}/login/")
        _photograph(page, f"page-login-{viewport}")
        failures["login"] = page.evaluate(A11Y_JS) + page.evaluate(OVERLAP_JS) + _focus_problems(page)
        _login(page, live_server)
        for name, path in _pages(world).items():
            response = page.goto(f"{live_server.url}{path}")
            assert response is not None and response.status == 200, (name, response and response.status)
            page.wait_for_load_state("networkidle")
            _photograph(page, f"page-{name}-{viewport}")
            icon = page.locator("link[rel=icon]")
            problems = [] if icon.count() == 1 else ["no favicon link"]
            if _ours(name):
                problems += page.evaluate(A11Y_JS) + page.evaluate(OVERLAP_JS) + _focus_problems(page)
                overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
                if overflow > 0:
                    problems.append(f"the page scrolls sideways by {overflow}px")
            if problems:
                failures[name] = problems
    finally:
        context.close()
    failures = {name: problems for name, problems in failures.items() if problems}
    assert not failures, "\n".join(f"{name}: {p}" for name, problems in failures.items() for p in problems)


def test_the_favicon_is_ours_served_as_svg(page: Page, live_server: Any, db: Any) -> None:
    page.goto(f"{live_server.url}/login/")
    href = page.locator("link[rel=icon]").get_attribute("href")
    assert href == "/static/img/favicon.svg" and page.locator("link[rel=icon]").get_attribute("type") == "image/svg+xml"
    icon = page.request.get(f"{live_server.url}{href}")
    assert icon.status == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    assert icon.text().lstrip().startswith("<svg") and "<title>Pipelines</title>" in icon.text()
    old_way = page.request.get(f"{live_server.url}/favicon.ico", max_redirects=0)
    assert old_way.status == 301 and old_way.headers["location"] == href
