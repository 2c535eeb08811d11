"""End to end in a real browser: log in, add a Webhook destination through every wizard step, edit and test
an action, add a JavaScript source, and watch an event arrive in the live debugger."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import requests
from django.utils import timezone
from playwright.sync_api import Page, expect
from pytest_httpserver import HTTPServer

from connections import services
from connections.models import Destination, Source, SourceKind
from destinations.models import DeliveryCount
from pipelines.models import Workspace
from tests.helpers import wait_for


def test_add_webhook_destination_through_the_wizard_then_edit_and_test_an_action(
    logged_in: Page, live_server: Any, workspace: Workspace, httpserver: HTTPServer, settings: Any, shot: Any
) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = True
    httpserver.expect_request("/hook").respond_with_json({"ok": True})
    source = services.create_source(workspace, name="Production Javascript", kind=SourceKind.JAVASCRIPT)[0]
    services.create_source(workspace, name="Backend", kind=SourceKind.PYTHON)
    page = logged_in
    page.reload()
    shot("0-connections-empty")

    # Connections → Add New under Destinations
    page.locator("section", has=page.get_by_role("heading", name="Destinations")).get_by_role(
        "link", name="Add New").click()

    # 1. Select destination (the search filters as you type)
    expect(page.get_by_role("heading", name="Select the destination you want")).to_be_visible()
    page.get_by_label("Search destinations").fill("webh")
    expect(page.get_by_role("button", name=re.compile("^Webhook"))).to_be_visible()
    shot("1-select-destination")
    page.get_by_role("button", name=re.compile("^Webhook")).click()

    # 2. (Optional) Select sources
    expect(page.locator('[aria-current="step"]')).to_contain_text("Select sources")
    page.get_by_label(re.compile("Production Javascript")).check()
    shot("2-select-sources")
    page.get_by_role("button", name="Continue").click()

    # 3. Configure, with the credentials test shown inline
    expect(page.locator('[aria-current="step"]')).to_contain_text("Configure")
    page.get_by_label("Destination name").fill("Order hook")
    page.get_by_label("Webhook URL").fill(httpserver.url_for("/hook"))
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("[data-test-result]")).to_contain_text("The endpoint answered HTTP 200.")
    assert len(httpserver.log) == 1
    shot("3-configure")
    page.get_by_role("button", name="Continue").click()

    # 4. Review → Enable Destination
    expect(page.locator('[aria-current="step"]')).to_contain_text("Review")
    expect(page.locator(".review")).to_contain_text("Production Javascript")
    shot("4-review")
    page.get_by_role("button", name="Enable Destination").click()
    expect(page.get_by_role("status")).to_contain_text("Order hook is enabled")
    shot("5-destination-overview")
    destination = Destination.objects.get(name="Order hook")
    assert list(destination.sources.all()) == [source]

    # It is listed, enabled, on the Connections page
    page.get_by_role("link", name="Data Pipelines").click()
    node = page.locator(".node", has=page.get_by_role("link", name="Order hook"))
    expect(node.locator("[data-health]")).to_have_text("Healthy")
    expect(node).to_contain_text("← Production Javascript")
    shot("6-connections")

    # Actions tab: add an action, edit it with the condition builder and the path picker
    page.get_by_role("link", name="Order hook", exact=True).click()
    page.get_by_role("link", name="Actions").click()
    expect(page.locator("table")).to_contain_text("Send")
    page.get_by_role("button", name="Add action").click()
    expect(page.get_by_role("heading", name="Edit action")).to_be_visible()
    page.get_by_label("Name").fill("Orders to webhook")
    # build two conditions joined by "and" (whatever the builder read from the default trigger goes)
    rows = page.locator(".builder-row")
    expect(rows.first).to_be_visible()
    while rows.count() > 0:
        rows.last.get_by_role("button", name="Remove condition").click()
    page.get_by_role("button", name="Add condition").click()
    page.get_by_role("button", name="Add condition").click()
    page.get_by_label("Match").select_option("and")
    page.get_by_label("Field 1").fill("event")
    page.get_by_label("Operator 1").select_option("=")
    page.get_by_label("Value 1").fill("Order Completed")
    page.get_by_label("Field 2").fill("properties.total")
    page.get_by_label("Operator 2").select_option(">")
    page.get_by_label("Value 2").fill("10")
    # the builder writes the trigger as it changes: no separate step before "Save action"
    expect(page.get_by_label("Trigger")).to_have_value('event = "Order Completed" and properties.total > 10')
    page.get_by_label("Data: event field").select_option("$.properties")
    expect(page.locator("#id_map__data")).to_have_value('{"@path": "$.properties"}')
    shot("7-action-edit")
    page.get_by_role("button", name="Save action").click()
    expect(page.get_by_role("status")).to_contain_text("Saved “Orders to webhook”")
    action = destination.actions.get(name="Orders to webhook")
    assert action.trigger == 'event = "Order Completed" and properties.total > 10'
    assert action.mapping == {"data": {"@path": "$.properties"}}

    # Test it: the request first, then the real send on demand
    page.get_by_role("button", name="Test action").click()
    expect(page.locator(".test-output")).to_contain_text("The trigger matches this event.")
    expect(page.locator("[data-test-request]")).to_contain_text(f"POST {httpserver.url_for('/hook')}")
    assert len(httpserver.log) == 1
    page.get_by_role("button", name="Send test event").click()
    expect(page.locator("[data-test-response]")).to_contain_text("HTTP 200")
    shot("8-action-test")
    assert len(httpserver.log) == 2
    assert json.loads(httpserver.log[1][0].data) == {"order_id": "A-1001", "total": 42.5, "currency": "USD"}

    # Event delivery: the chart of the last 24 hours and the latest failures
    now = timezone.now().replace(second=0, microsecond=0)
    for hours_ago, delivered, failed in ((0, 12, 2), (2, 30, 0), (5, 8, 5)):
        DeliveryCount.objects.create(destination=destination, minute=now - timedelta(hours=hours_ago),
                                     delivered=delivered, retrying=1, failed=failed)
    page.get_by_role("link", name="Event delivery").click()
    expect(page.locator("svg.chart rect.bar-delivered")).to_have_count(3)
    expect(page.locator(".legend")).to_contain_text("Delivered 50")
    shot("9-event-delivery")


def test_add_javascript_source_and_watch_an_event_in_the_live_debugger(
    logged_in: Page, live_server: Any, workspace: Workspace, shot: Any
) -> None:
    page = logged_in
    page.locator("section", has=page.get_by_role("heading", name="Sources")).get_by_role(
        "link", name="Add New").click()
    page.get_by_role("link", name="JavaScript (website)").click()
    page.get_by_label("Name").fill("Production Javascript")
    shot("10-source-name")
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_role("heading", name="Installation Instructions")).to_be_visible()
    source = Source.objects.get(name="Production Javascript")
    snippet = page.locator("#snippet-1")
    expect(snippet).to_contain_text(f'analytics.load("{source.write_key}"')
    expect(snippet).to_contain_text(f'analytics._cdn = "{live_server.url}";')
    shot("11-source-snippet")

    page.get_by_role("link", name="Go to the source and its live debugger").click()
    expect(page.locator("[data-debugger-state]")).to_have_text("Live")
    expect(page.locator("[data-debugger-empty]")).to_be_visible()

    response = requests.post(f"{live_server.url}/v1/track", auth=(source.write_key, ""), timeout=10, json={
        "userId": "user-42", "event": "Checkout Started", "properties": {"cart": 3},
    })
    assert response.status_code == 200 and response.json() == {"success": True}

    event = page.locator(".event", has_text="Checkout Started")
    expect(event).to_be_visible(timeout=10_000)
    event.locator("summary").click()
    expect(event.locator("pre")).to_contain_text('"userId": "user-42"')
    shot("12-debugger")
    wait_for(lambda: source.events.filter(payload__event="Checkout Started").exists())


def test_write_key_is_revealed_copied_and_rotated_with_confirmation(
    logged_in: Page, live_server: Any, workspace: Workspace
) -> None:
    source = services.create_source(workspace, name="Site", kind=SourceKind.JAVASCRIPT)[0]
    page = logged_in
    page.goto(f"{live_server.url}/w/acme/sources/{source.id}/")
    expect(page.locator("#write-key")).to_be_hidden()
    page.get_by_role("button", name="Reveal").click()
    expect(page.locator("#write-key")).to_have_text(source.write_key)
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied!")).to_be_visible()
    page.get_by_role("link", name="Rotate write key…").click()
    page.get_by_role("button", name="Rotate write key").click()
    expect(page.get_by_role("status")).to_contain_text("The write key was rotated")
    old = source.write_key
    source.refresh_from_db()
    assert source.write_key != old


def test_pages_fit_a_phone_screen(
    browser: Any, live_server: Any, owner: Any, workspace: Workspace, settings: Any
) -> None:
    """At 390 px wide nothing scrolls sideways: the columns stack."""
    settings.OUTBOUND_ALLOW_PRIVATE = True
    source = services.create_source(workspace, name="Production Javascript", kind=SourceKind.JAVASCRIPT)[0]
    services.create_destination(workspace, name="Order hook", kind="webhook",
                                settings={"url": "http://127.0.0.1:9/in"}, sources=[source])
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("alice-password-1")
    page.get_by_role("button", name="Log in").click()
    for path in ("/w/acme/connections/", "/w/acme/destinations/new/select/", f"/w/acme/sources/{source.id}/"):
        page.goto(f"{live_server.url}{path}")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), path
    page.goto(f"{live_server.url}/w/acme/connections/")
    page.screenshot(path=str(Path(__file__).parent / "screenshots" / "13-phone-connections.png"), full_page=True)
    context.close()
