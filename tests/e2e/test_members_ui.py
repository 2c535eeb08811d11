"""The Members page in a browser: an owner invites by email, the invited person follows the emailed link,
signs up and lands in the workspace with the invited role (a viewer: no buttons that change things), and
can leave again."""

from __future__ import annotations

import re
from typing import Any

from django.contrib.auth.models import User
from django.core import mail
from playwright.sync_api import Browser, Page, expect

from pipelines.models import Membership, Workspace


def test_invite_sign_up_through_the_link_and_leave(logged_in: Page, browser: Browser, live_server: Any,
                                                   workspace: Workspace, shot: Any) -> None:
    page = logged_in
    page.get_by_role("link", name="Members").click()
    expect(page.get_by_role("heading", name="Members", exact=True)).to_be_visible()
    page.get_by_label("Email address").fill("erin@example.com")
    page.get_by_label("Invite as").select_option("viewer")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_role("status")).to_contain_text("Invited erin@example.com as viewer")
    expect(page.get_by_text("Pending invitations")).to_be_visible()
    shot("members-1-invited")
    assert len(mail.outbox) == 1
    link = re.search(r"https?://\S+/invitations/\S+/", mail.outbox[0].body).group(0)  # type: ignore[union-attr]

    context = browser.new_context(viewport={"width": 390, "height": 844})  # on a phone, say
    erin = context.new_page()
    erin.set_default_timeout(15_000)
    erin.goto(link)
    expect(erin.get_by_role("heading", name="Join Acme")).to_be_visible()
    erin.get_by_label("Username").fill("erin")
    erin.locator("#id_password1").fill("erin-password-1")
    erin.locator("#id_password2").fill("erin-password-1")
    erin.get_by_role("button", name="Sign up and join").click()
    erin.wait_for_url(f"{live_server.url}/w/acme/connections/")
    expect(erin.get_by_role("status")).to_contain_text("Welcome to Acme")
    expect(erin.get_by_role("link", name="Add New")).to_have_count(0)  # a viewer changes nothing
    assert Membership.objects.get(user__username="erin").role == "viewer"
    assert User.objects.get(username="erin").email == "erin@example.com"

    erin.get_by_role("link", name="Members").click()
    assert erin.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    erin.on("dialog", lambda dialog: dialog.accept())
    erin.get_by_role("button", name="Leave workspace").click()
    expect(erin.get_by_role("heading", name="You are not in a workspace yet")).to_be_visible()
    assert not Membership.objects.filter(user__username="erin").exists()
    context.close()
