"""The mapping editor in a real browser: a Customer.io Track Event mapping built with the pickers only (no
JSON typed), saved, and the exact request shown by *Test action*; the page at desktop and phone sizes."""

from __future__ import annotations

import json
import re
from typing import Any

from django.utils import timezone
from playwright.sync_api import Page, expect

from connections import services
from connections.models import Destination, SourceKind
from ingest.models import Event
from pipelines.models import Workspace
from tests.e2e.conftest import SCREENSHOTS

RECENT = {
    "type": "track", "event": "Order Completed", "userId": "user-42", "anonymousId": "anon-9",
    "messageId": "01HZX3V4W5Y6Z7A8B9C0D1E2F3", "timestamp": "2024-06-01T10:00:00.000Z",
    "properties": {"order_id": "A-7", "total": 99.5, "plan": "pro"},
    "context": {"traits": {"email": "grace@example.com"}},
}


def _customerio(workspace: Workspace) -> Destination:
    source = services.create_source(workspace, name="Shop", kind=SourceKind.JAVASCRIPT)[0]
    Event.objects.create(workspace=workspace, source=source, message_id=RECENT["messageId"], type="track",
                         payload=RECENT, received_at=timezone.now())
    return services.create_destination(
        workspace, name="Customer.io", kind="customerio",
        settings={"site_id": "site-1", "api_key": "key-123456789"}, sources=[source],
    )


def test_a_mapping_built_with_pickers_only_is_saved_and_sent_as_shown_in_test_action(
    logged_in: Page, live_server: Any, workspace: Workspace, shot: Any
) -> None:
    destination = _customerio(workspace)
    action = destination.actions.get(kind="track_event")
    page = logged_in
    page.set_viewport_size({"width": 1366, "height": 900})
    # the actions list says each trigger in words; the exact trigger is one click away
    page.goto(f"{live_server.url}/w/acme/destinations/{destination.pk}/actions/")
    row = page.get_by_role("row", name=re.compile("^Track Event"))
    expect(row).to_contain_text("Track events except “Application Installed”, “Application Opened”, "
                                "“Application Uninstalled” and 9 other events")
    expect(row.locator("code.trigger")).to_be_hidden()
    row.locator("summary", has_text="Trigger").click()
    expect(row.locator("code.trigger")).to_contain_text('event not in ["Application Installed"')
    shot("mapping-0-actions-1366")
    page.set_viewport_size({"width": 390, "height": 844})
    expect(row).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # rows stack on a phone
    shot("mapping-0-actions-390")
    page.set_viewport_size({"width": 1366, "height": 900})
    page.get_by_role("link", name="Track Event", exact=True).click()

    # The defaults open in the picker: Email is the catalog's "first that exists" chain of three fields
    email = page.get_by_label("Email: event field", exact=True)
    expect(email).to_have_value("$.context.traits.email")
    expect(page.get_by_label("Email: if missing, event field", exact=True)).to_have_count(2)
    expect(page.locator("#id_map__email")).to_be_hidden()
    expect(page.locator(".field", has=email).get_by_role("button", name="Use the default")).to_be_hidden()
    shot("mapping-1-defaults-1366")

    # Person ID: a field of the recent event (its example value shown), then a fallback if it is missing
    person = page.get_by_label("Person ID: event field", exact=True)
    expect(person.locator("option", has_text="properties.plan — pro")).to_have_count(1)
    person.select_option("$.context.traits.email")
    page.locator(".field", has=person).get_by_role("button", name="Add a fallback if missing").click()
    page.get_by_label("Person ID: if missing, event field", exact=True).select_option("$.userId")

    # Email and Anonymous ID: not mapped ("Not mapped" drops the fallbacks too); "Use the default" undoes it
    email.select_option("")
    expect(page.get_by_label("Email: if missing, event field", exact=True)).to_have_count(0)
    anonymous = page.locator(".field", has=page.locator("#id_map__anonymous_id"))
    expect(anonymous.get_by_role("button", name="Use the default")).to_be_hidden()
    page.get_by_label("Anonymous ID: event field").select_option("")
    anonymous.get_by_role("button", name="Use the default").click()
    expect(page.get_by_label("Anonymous ID: event field")).to_have_value("$.anonymousId")
    page.get_by_label("Anonymous ID: event field").select_option("")

    # Event name: a template, built with the autocomplete after "{{" and the "Insert a field" picker
    name_field = page.locator(".field", has=page.locator("#id_map__name"))
    name_field.get_by_text("Template", exact=True).click()
    template = page.get_by_label("Event name: template")
    template.press_sequentially("Order {{prop")
    suggestions = name_field.get_by_role("listbox")
    expect(suggestions).to_be_visible()
    expect(suggestions.get_by_role("option", name="properties.order_id")).to_be_visible()
    template.press_sequentially("erties.or")  # narrows the list as you type
    expect(suggestions.get_by_role("option")).to_have_text(["properties.order_id"])
    expect(suggestions.get_by_role("option", selected=True)).to_have_text("properties.order_id")
    template.press("Enter")
    expect(suggestions).to_be_hidden()
    template.press_sequentially(" by ")
    page.get_by_label("Event name: insert a field into the template").select_option("userId")
    expect(template).to_have_value("Order {{properties.order_id}} by {{userId}}")

    # Timestamp: a fixed value
    time_field = page.locator(".field", has=page.locator("#id_map__timestamp"))
    time_field.get_by_text("Fixed value", exact=True).click()
    page.get_by_label("Timestamp: fixed value").fill("2024-06-01T00:00:00Z")

    # Attributes: the Advanced toggle shows the JSON the picker wrote; back to the picker, unchanged
    attributes = page.locator(".field", has=page.locator("#id_map__attributes"))
    attributes.get_by_role("button", name="Advanced (JSON)").click()
    expect(page.locator("#id_map__attributes")).to_have_value('{"@path": "$.properties"}')
    attributes.get_by_role("button", name="Advanced (JSON)").click()
    expect(page.get_by_label("Event attributes: event field")).to_have_value("$.properties")
    shot("mapping-2-built-1366")

    page.get_by_role("button", name="Save action").click()
    expect(page.get_by_role("status")).to_contain_text("Saved “Track Event”")
    action.refresh_from_db()
    assert action.mapping == {
        "person_id": {"@if": {"exists": {"@path": "$.context.traits.email"},
                              "then": {"@path": "$.context.traits.email"}, "else": {"@path": "$.userId"}}},
        "name": {"@template": "Order {{properties.order_id}} by {{userId}}"},
        "event_id": {"@path": "$.messageId"},
        "timestamp": "2024-06-01T00:00:00Z",
        "attributes": {"@path": "$.properties"},
    }
    # the saved mapping opens in the picker again, as it was built
    expect(page.get_by_label("Person ID: if missing, event field", exact=True)).to_have_value("$.userId")
    expect(page.get_by_label("Event name: template")).to_have_value("Order {{properties.order_id}} by {{userId}}")
    expect(page.get_by_label("Timestamp: fixed value")).to_have_value("2024-06-01T00:00:00Z")
    expect(page.get_by_label("Email: event field", exact=True)).to_have_value("")

    # Test action on the recent event: the exact request that would be sent
    page.get_by_label("Use a recent event").select_option(index=1)
    page.get_by_role("button", name="Load").click()
    page.get_by_role("button", name="Test action").click()
    expect(page.locator(".test-output")).to_contain_text("The trigger matches this event.")
    request = page.locator("[data-test-request]").inner_text()
    head, _, body = request.partition("\n\n")
    assert head.splitlines()[0] == "POST https://track.customer.io/api/v2/batch"
    # the person is identified by the email-shaped value Person ID read first; the fixed timestamp is sent
    # as unix seconds; no anonymous_id attribute, since Anonymous ID is not mapped
    assert json.loads(body) == {"batch": [{
        "type": "person", "action": "event", "identifiers": {"email": "grace@example.com"},
        "name": "Order A-7 by user-42", "id": "01HZX3V4W5Y6Z7A8B9C0D1E2F3", "timestamp": 1717200000,
        "attributes": {"order_id": "A-7", "total": 99.5, "plan": "pro"},
    }]}
    shot("mapping-3-tested-1366")


def test_the_action_page_fits_a_phone_and_works_without_javascript(
    browser: Any, live_server: Any, owner: Any, workspace: Workspace
) -> None:
    destination = _customerio(workspace)
    action = destination.actions.get(kind="track_event")
    url = f"{live_server.url}/w/acme/destinations/{destination.pk}/actions/{action.pk}/"
    for javascript in (True, False):
        context = browser.new_context(viewport={"width": 390, "height": 844}, java_script_enabled=javascript)
        page = context.new_page()
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("Username").fill("alice")
        page.get_by_label("Password").fill("alice-password-1")
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{live_server.url}/w/acme/connections/")
        page.goto(url)
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"mapping-phone-{'js' if javascript else 'nojs'}-390.png"),
                        full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        if javascript:
            expect(page.get_by_label("Person ID: event field", exact=True)).to_be_visible()
            page.locator("#mappings-title").scroll_into_view_if_needed()
            page.screenshot(path=str(SCREENSHOTS / "mapping-phone-js-390-mappings.png"))
        else:
            # the JSON boxes are the form: edit one and save
            box = page.locator("#id_map__name")
            expect(page.locator("label[for=id_map__name]")).to_contain_text("Event name")
            expect(box).to_have_value('{"@path": "$.event"}')
            box.fill('{"@template": "Did {{event}}"}')
            page.get_by_role("button", name="Save action").click()
            expect(page.get_by_role("status")).to_contain_text("Saved")
            action.refresh_from_db()
            assert action.mapping["name"] == {"@template": "Did {{event}}"}
        context.close()


def test_a_mapping_the_picker_cannot_show_opens_as_json_untouched(
    logged_in: Page, live_server: Any, workspace: Workspace
) -> None:
    destination = _customerio(workspace)
    action = destination.actions.get(kind="track_event")
    lower = {"@case": {"operator": "lower", "value": {"@path": "$.event"}}}
    services.update_action(action, mapping={**action.mapping, "name": lower})
    page = logged_in
    page.goto(f"{live_server.url}/w/acme/destinations/{destination.pk}/actions/{action.pk}/")
    field = page.locator(".field", has=page.locator("#id_map__name"))
    box = page.locator("#id_map__name")
    expect(box).to_be_visible()
    assert json.loads(box.input_value()) == lower
    expect(field.get_by_role("button", name="Advanced (JSON)")).to_have_attribute("aria-pressed", "true")
    expect(field.get_by_role("status")).to_contain_text("cannot show")
    # leaving Advanced is refused while the JSON is beyond the picker; nothing is rewritten
    field.get_by_role("button", name="Advanced (JSON)").click()
    expect(field.get_by_role("status")).to_contain_text("Clear the box or use the default")
    assert json.loads(box.input_value()) == lower
    # saving keeps it as it was
    page.get_by_role("button", name="Save action").click()
    expect(page.get_by_role("status").first).to_contain_text("Saved")
    action.refresh_from_db()
    assert action.mapping["name"] == lower
    # "Use the default" brings the picker back
    page.locator(".field", has=page.locator("#id_map__name")).get_by_role("button", name="Use the default").click()
    expect(page.get_by_label("Event name: event field", exact=True)).to_have_value("$.event")
    expect(page.locator("#id_map__name")).to_be_hidden()
