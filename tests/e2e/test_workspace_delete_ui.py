"""Deleting a workspace in a browser: the owner opens Settings, types the slug in the danger zone (a wrong
one is refused with a form error), and lands on their remaining workspace without the deleted one."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from pipelines.models import Membership, Workspace


def test_an_owner_deletes_a_workspace_by_typing_its_slug(logged_in: Page, live_server: Any, workspace: Workspace,
                                                        other_workspace: Workspace, owner: Any, shot: Any) -> None:
    Membership.objects.create(user=owner, workspace=other_workspace, role=Membership.Role.ADMIN)
    page = logged_in
    page.get_by_role("link", name="Settings").click()
    zone = page.get_by_role("region", name="Danger zone: delete this workspace")
    expect(zone).to_be_visible()
    zone.get_by_label("Type the workspace's slug to confirm").fill("Acme")
    zone.get_by_role("button", name="Delete workspace").click()
    zone = page.get_by_role("region", name="Danger zone: delete this workspace")
    expect(zone.get_by_text("That is not this workspace's slug. Type acme to delete it.")).to_be_visible()
    shot("workspace-delete-1-wrong-slug")
    assert Workspace.objects.get(slug="acme").deleting_at is None

    zone.get_by_label("Type the workspace's slug to confirm").fill("acme")
    zone.get_by_role("button", name="Delete workspace").click()
    page.wait_for_url(f"{live_server.url}/w/globex/connections/")
    expect(page.get_by_role("status")).to_contain_text("The workspace Acme is deleted.")
    switcher = page.locator("#workspace-switcher option")
    expect(switcher).to_have_text(["Globex"])
    shot("workspace-delete-2-deleted")
    assert Workspace.objects.get(slug="acme").deleting_at is not None
    gone = page.goto(f"{live_server.url}/w/acme/connections/")
    assert gone is not None and gone.status == 404
