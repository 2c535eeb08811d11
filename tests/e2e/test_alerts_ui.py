"""The Alerts page in Chromium: an admin follows the nav link, creates a failure-rate rule with the form,
and after the evaluator runs on failures the delivery engine counted, sees the rule firing and the
incident with the email that went out."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core import mail
from django.utils import timezone
from playwright.sync_api import Page, expect

from alerts import tasks
from connections import services
from destinations.counts import add_counts
from pipelines.models import Workspace


def test_create_a_rule_and_see_its_incident(logged_in: Page, live_server: Any, workspace: Workspace,
                                            shot: Any) -> None:
    destination = services.create_destination(workspace, name="Warehouse hook", kind="webhook",
                                              settings={"url": "https://8.8.8.8/hook"})
    page = logged_in
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Alerts").click()
    expect(page.get_by_role("heading", name="Alerts", level=1)).to_be_visible()
    expect(page.get_by_text("No alert rules yet.")).to_be_visible()
    page.get_by_role("link", name="New alert rule").click()
    page.get_by_label("Name").fill("Warehouse failing")
    page.get_by_label("Alert when").select_option("failure_rate")
    page.get_by_label("Destination").select_option(label="Warehouse hook")
    page.get_by_label("Failure rate above (%)").fill("25")
    page.get_by_label("Email").fill("ops@example.com")
    shot("alerts-rule-form")
    page.get_by_role("button", name="Create rule").click()
    expect(page.get_by_text("Alert rule “Warehouse failing” saved.")).to_be_visible()
    row = page.locator("[data-alert-rules] tbody tr")
    expect(row).to_contain_text("Failure rate above 25% over 15 min (at least 10 attempts)")
    expect(row).to_contain_text("OK")

    minute = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=1)
    add_counts({(destination.id, minute): {"failed": 12, "delivered": 8}})
    assert tasks.evaluate() == {"opened": 1, "recovered": 0}
    page.reload()
    expect(row).to_contain_text("Firing")
    incident = page.locator("[data-alert-incidents] tbody tr")
    expect(incident).to_contain_text("60.0% of 20 attempts failed in the last 15 min")
    expect(incident).to_contain_text("opened · email to ops@example.com")
    expect(incident).to_contain_text("Open")
    assert len(mail.outbox) == 1
    shot("alerts-page")
