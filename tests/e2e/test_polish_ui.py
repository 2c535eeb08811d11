"""Browser checks of the polish pieces of issue #14: charts labelled in the browser's time zone with a
range picker kept in the URL, the API docs inside the app's layout, the favicon, and an accessibility
sweep (aria-describedby targets, labels, keyboard focus, WCAG AA contrast) over the main pages."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from connections import services
from connections.models import SourceKind
from destinations.models import DeliveryCount
from pipelines.models import Workspace


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
    finally:
        context.close()
