"""End to end in a real browser: define an audience with the builder, then watch a person enter it after
a "Product Added" event and exit after an "Order Completed", the events going through ingest, fan-out,
the Profiles destination and the profile store exactly as a worker runs them."""

from __future__ import annotations

import itertools
import json
from typing import Any

from django.utils import timezone
from playwright.sync_api import Page, expect

from audiences import services as audience_services
from audiences.models import Audience
from connections import services
from pipelines.models import Workspace

_ids = itertools.count(1)


def feed(source: Any, *messages: dict[str, Any]) -> None:
    from destinations import fanout
    from ingest.services import store_events
    from tests.helpers import send_queued

    now = timezone.now()
    stamped = [{"messageId": f"e2e-{next(_ids)}", "timestamp": now.isoformat(), **m} for m in messages]
    fanout.fan_out(store_events(source, stamped, now))
    send_queued()


def test_define_an_audience_in_the_builder_and_watch_a_person_enter_and_exit(
    logged_in: Page, live_server: Any, workspace: Workspace, shot: Any
) -> None:
    from destinations.fanout import clear_routing_cache

    clear_routing_cache()
    source, _ = services.create_source(workspace, name="Website", kind="javascript")
    services.create_destination(workspace, name="Profiles", kind="profiles", settings={}, sources=[source])
    feed(source, {"type": "identify", "userId": "u-1", "traits": {"email": "ada@example.com", "plan": "pro"}},
         {"type": "track", "userId": "u-1", "event": "Product Viewed", "properties": {"sku": "A1"}})

    page = logged_in
    page.get_by_role("link", name="Audiences").click()
    expect(page.get_by_role("heading", name="Audiences")).to_be_visible()
    page.get_by_role("link", name="New audience").click()

    # The builder: replace the starter conditions with our own.
    page.locator("#id_name").fill("Cart Abandon | 0-24h | Excl Purch 7d")
    page.locator("#id_key").fill("cart-abandon")
    while page.get_by_role("button", name="Remove condition").count():
        page.get_by_role("button", name="Remove condition").first.click()
    page.get_by_role("button", name="+ Did an event").click()
    row = page.locator(".audience-row").nth(0)
    row.get_by_label("Event name").fill("Product Added")
    row.get_by_label("Window").select_option("within")
    row.get_by_label("Amount", exact=True).fill("24")
    row.get_by_label("Unit", exact=True).select_option("h")
    page.get_by_role("button", name="+ Did not do an event").click()
    row = page.locator(".audience-row").nth(1)
    row.get_by_label("Event name").fill("Order Completed")
    row.get_by_label("Window").select_option("within")
    row.get_by_label("Amount", exact=True).fill("7")
    page.get_by_role("button", name="+ Trait").click()
    row = page.locator(".audience-row").nth(2)
    row.get_by_label("Trait", exact=True).fill("email")
    row.get_by_label("Operator", exact=True).select_option("exists")
    # The pickers are filled from what the workspace has seen; the estimate follows the edits.
    expect(page.locator("#audience-events option[value='Product Viewed']")).to_have_count(1)
    expect(page.locator("[data-audience-estimate]")).to_contain_text("Estimated size: 0 people of 1")
    shot("audiences-1-builder")
    page.get_by_role("button", name="Create audience").click()

    expect(page.get_by_role("heading", name="Cart Abandon | 0-24h | Excl Purch 7d")).to_be_visible()
    audience = Audience.objects.get(workspace=workspace, key="cart-abandon")
    assert audience.definition == {"all": [
        {"event": "Product Added", "within": "24h"},
        {"not": {"event": "Order Completed", "within": "7d"}},
        {"trait": "email", "op": "exists"},
    ]}
    audience_services.compute(audience.pk, audience.generation)  # the background task, inline

    feed(source, {"type": "track", "userId": "u-1", "event": "Product Added", "properties": {"sku": "A1"}})
    page.reload()
    expect(page.locator("[data-audience-size]")).to_have_text("1")
    expect(page.locator("[data-audience-latest] tbody tr").first).to_contain_text("Entered")
    shot("audiences-2-entered")

    feed(source, {"type": "track", "userId": "u-1", "event": "Order Completed", "properties": {"total": 30}})
    page.reload()
    expect(page.locator("[data-audience-size]")).to_have_text("0")
    expect(page.locator("[data-audience-latest] tbody tr").first).to_contain_text("Exited")
    shot("audiences-3-exited")

    # On a phone the page (chart, builder rows) fits without scrolling sideways.
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot("audiences-4-phone")


def test_the_builder_edits_nested_groups(logged_in: Page, live_server: Any, workspace: Workspace, shot: Any) -> None:
    page = logged_in
    page.goto(f"{live_server.url}/w/{workspace.slug}/audiences/new/")
    page.locator("#id_name").fill("Viewers or pro | ever | Excl Purch 7d")
    page.locator("#id_key").fill("viewers-or-pro")
    root = page.locator("[data-audience-rows] > .audience-group")

    # A group inside the top level, filled with two conditions; then a third level, removed again.
    root.get_by_role("button", name="+ Group").last.click()
    group = root.locator("> .audience-group")
    expect(group).to_have_count(1)
    group.locator(".audience-row").nth(0).get_by_label("Event name").fill("Product Viewed")
    group.locator("> .button-row").get_by_role("button", name="+ Trait").click()
    trait = group.locator(".audience-row").nth(1)
    trait.get_by_label("Trait", exact=True).fill("plan")
    trait.get_by_label("Operator", exact=True).select_option("=")
    trait.get_by_label("Value", exact=True).fill("pro")
    group.locator("> .builder-join").get_by_label("Match").select_option("any")
    group.locator("> .button-row").get_by_role("button", name="+ Group").click()
    expect(group.locator("> .audience-group")).to_have_count(1)
    group.locator("> .audience-group > .builder-join").get_by_role("button", name="Remove group").click()
    expect(group.locator(".audience-group")).to_have_count(0)

    # Move the group above the exclusion, and drop the first starter condition.
    group.locator("> .builder-join").get_by_role("button", name="Move group up").click()
    root.locator("> .audience-row").first.get_by_role("button", name="Remove condition").click()
    expected = {"all": [
        {"any": [{"event": "Product Viewed"}, {"trait": "plan", "op": "=", "value": "pro"}]},
        {"not": {"event": "Order Completed", "within": "7d"}},
    ]}
    assert json.loads(page.locator("#id_definition").input_value()) == expected
    shot("audiences-5-nested-builder")
    page.get_by_role("button", name="Create audience").click()

    expect(page.get_by_role("heading", name="Viewers or pro | ever | Excl Purch 7d")).to_be_visible()
    assert Audience.objects.get(workspace=workspace, key="viewers-or-pro").definition == expected
    # The saved tree comes back as the same nested builder.
    group = page.locator("[data-audience-rows] > .audience-group > .audience-group")
    expect(group.locator("> .builder-join").get_by_label("Match")).to_have_value("any")
    expect(group.locator(".audience-row").nth(1).get_by_label("Trait", exact=True)).to_have_value("plan")
    # Turning the group into "none of these" wraps it in a not, and the JSON follows.
    group.locator("> .builder-join").get_by_label("Match").select_option("none")
    assert json.loads(page.locator("#id_definition").input_value())["all"][0] == {"not": {"any": expected["all"][0]["any"]}}
    shot("audiences-6-nested-saved")
