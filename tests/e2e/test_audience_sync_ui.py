"""In a real browser: an audience connected to a Meta stand-in, and its sync validation panel with a
count that drifted apart from Meta's (older than Meta's 24 h delay)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect
from pytest_httpserver import HTTPServer

from profiles.models import Identifier, Person
from tests.audience_sync.test_validation import age, connected_to_meta


@pytest.fixture
def person(workspace: Any) -> Any:
    def make(user_id: str, email: str, **traits: Any) -> Person:
        p = Person.objects.create(workspace=workspace, traits={**traits, "email": email})
        Identifier.objects.create(workspace=workspace, person=p, kind="user_id", value=user_id)
        Identifier.objects.create(workspace=workspace, person=p, kind="email", value=email)
        return p
    return make


@pytest.mark.usefixtures("celery_worker")
def test_the_validation_panel_shows_a_drifting_count(settings: Any, logged_in: Page, live_server: Any,
                                                     workspace: Any, person: Any, httpserver: HTTPServer,
                                                     owner_api: Any, shot: Any) -> None:
    link = connected_to_meta(settings, workspace, person, httpserver, owner_api, lower=1000, upper=1200)
    age(link, 30)
    page = logged_in
    page.goto(f"{live_server.url}/w/{workspace.slug}/audiences/{link.audience_id}/#destinations")
    panel = page.locator("[data-sync-validation='Meta ads']")
    expect(panel).to_be_visible()
    expect(panel.locator("[data-sync-ours]")).to_have_text("3")
    expect(panel.locator("[data-sync-at-destination]")).to_have_text("3")
    expect(panel.locator("[data-sync-received]")).to_contain_text("3 · 1 invalid (Invalid email format: 1)")
    expect(panel.locator("[data-sync-platform-size]")).to_have_text("about 1000–1200")
    expect(panel.locator("[data-sync-warning]")).to_contain_text(
        "Meta reports about 1000–1200 people but the audience has 3")
    expect(page.locator("tr[data-destination='Meta ads']")).to_contain_text("Every 60 min")
    expect(panel.locator("[data-sync-match-rate]")).to_have_count(0)
    expect(panel.locator("[data-sync-last-upload]")).to_have_text("2 of 3 matched (67 %)")
    page.locator("#destinations").scroll_into_view_if_needed()
    shot("audience-sync-validation")
