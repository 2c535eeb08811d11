"""The destination's Filters tab in a browser: preview against the recent events, a form error, save."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from playwright.sync_api import Page, expect

from connections import services
from destinations.models import DestinationFilters
from ingest.services import store_events
from pipelines.models import Workspace


def test_preview_then_save_filters(logged_in: Page, live_server: Any, workspace: Workspace, shot: Any,
                                   settings: Any) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = True
    source, _ = services.create_source(workspace, name="Website", kind="javascript")
    destination = services.create_destination(workspace, name="Growth webhook", kind="webhook",
                                              settings={"url": "http://127.0.0.1:9/in"}, sources=[source])
    messages = [{"type": "track", "messageId": f"ui-{i}", "userId": f"u-{i}", "timestamp": "2024-05-01T12:00:00Z",
                 "event": "Test Event" if i % 3 == 0 else "Order Completed", "properties": {"total": i}}
                for i in range(30)]
    store_events(source, messages, timezone.now())
    page = logged_in
    page.goto(f"{live_server.url}/w/{workspace.slug}/destinations/{destination.id}/")
    page.get_by_role("link", name="Filters").click()

    page.get_by_label("Drop events matching").fill('event = "Test Event"')
    page.get_by_role("button", name="Preview on the last 100 events").click()
    expect(page.locator("[data-filter-preview]")).to_contain_text("Would drop 10 of the last 30 events")
    expect(page.locator("[data-filter-preview]")).to_contain_text("matches the destination's drop filter")
    assert not DestinationFilters.objects.exists()

    page.get_by_label("Drop events matching").fill('event = "Test Event')
    page.get_by_role("button", name="Save filters").click()
    expect(page.locator("[data-error-summary]")).to_contain_text("column")
    assert not DestinationFilters.objects.exists()

    page.get_by_label("Drop events matching").fill('event = "Test Event"')
    page.get_by_label("Drop the listed fields").check()
    page.get_by_label("Field paths").fill("properties.total\ncontext.ip")
    page.get_by_role("button", name="Preview on the last 100 events").click()
    expect(page.locator("[data-filter-preview]")).to_contain_text("and send 20 with fields removed")
    shot("destination-filters-preview")
    page.get_by_role("button", name="Save filters").click()
    expect(page.locator(".messages")).to_contain_text("Filters saved")
    row = DestinationFilters.objects.get(destination=destination)
    assert (row.drop_if, row.fields_mode, row.fields) == ('event = "Test Event"', "block",
                                                          ["properties.total", "context.ip"])
    expect(page.get_by_label("Field paths")).to_have_value("properties.total\ncontext.ip")


def test_the_delivery_tab_lists_filtered_events_with_the_reason(logged_in: Page, live_server: Any,
                                                                workspace: Workspace, shot: Any,
                                                                settings: Any) -> None:
    from destinations.fanout import clear_routing_cache, fan_out

    settings.OUTBOUND_ALLOW_PRIVATE = True
    clear_routing_cache()
    source, _ = services.create_source(workspace, name="Website", kind="javascript")
    destination = services.create_destination(workspace, name="Growth webhook", kind="webhook",
                                              settings={"url": "http://127.0.0.1:9/in"}, sources=[source])
    ids = store_events(source, [{"type": "track", "messageId": "off-1", "userId": "u-1", "event": "Signed Up",
                                 "timestamp": "2024-05-01T12:00:00Z", "integrations": {"All": False}}],
                       timezone.now())
    fan_out(ids)
    page = logged_in
    page.goto(f"{live_server.url}/w/{workspace.slug}/destinations/{destination.id}/delivery/")
    filtered = page.locator("section[aria-labelledby=filtered-heading]")
    expect(filtered).to_contain_text("off-1")
    expect(filtered).to_contain_text("the event's integrations set All to false")
    shot("destination-delivery-filtered")
