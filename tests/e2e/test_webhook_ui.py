"""The Webhook tab in a browser: pick paths from a received body, preview, save, re-process."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from connections.services import create_source
from ingest.models import Event
from pipelines.models import Workspace
from tests.webhooks.conftest import STRIPE_EVENT, HookClient


def test_build_a_mapping_from_a_received_body(logged_in: Page, live_server: Any, workspace: Workspace,
                                              shot: Any) -> None:
    hook = create_source(workspace, name="Stripe", kind="webhook")[0]
    assert HookClient(hook).post(STRIPE_EVENT).status_code == 202
    page = logged_in
    page.goto(f"{live_server.url}/w/{workspace.slug}/sources/{hook.id}/webhook/")
    expect(page.locator("[data-body-reason]").first).to_contain_text("no mapping yet")
    page.select_option("#pick-id_map__event", "$.body.type")
    page.select_option("#pick-id_map__userId", "$.body.data.object.customer")
    page.select_option("#pick-id_map__messageId", "$.body.id")
    page.get_by_role("button", name="Preview on the body below").click()
    expect(page.locator("[data-preview-events]")).to_contain_text('"event": "charge.succeeded"')
    shot("webhook-tab-preview")
    page.get_by_role("button", name="Save mapping").click()
    expect(page.locator(".messages")).to_contain_text("Saved the mapping")
    page.get_by_role("button", name="Re-process 1 not mapped").click()
    expect(page.locator(".messages")).to_contain_text("Re-processed 1 bodies")
    assert Event.objects.filter(source=hook, message_id=STRIPE_EVENT["id"]).exists()
