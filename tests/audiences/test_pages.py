"""The Audiences pages: list, new, detail (chart, latest changes, definition), role-checked."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

from audiences import services
from audiences.models import Audience

from .conftest import NOW, hours_ago


def login(client: Client, user: Any) -> Client:
    client.force_login(user)
    return client


def test_list_and_detail_show_size_chart_and_latest(client: Client, owner: Any, workspace: Any, person: Any,
                                                    settings: Any) -> None:
    settings.AUDIENCES_FROZEN_NOW = NOW
    audience = services.create_audience(workspace, name="Cart Abandon | 0-24h", key="cart",
                                        definition={"event": "Product Added", "within": "24h"})
    p = person(events={"Product Added": [hours_ago(1)]})
    services.compute(audience.pk, audience.generation, now=NOW)
    login(client, owner)
    page = client.get("/w/acme/audiences/")
    assert page.status_code == 200
    assert b"Cart Abandon | 0-24h" in page.content and b'href="/w/acme/audiences/"' in page.content
    page = client.get(f"/w/acme/audiences/{audience.pk}/").content.decode()
    assert "<svg class=\"chart\"" in page
    assert f"#{p.pk}" in page and "Entered" in page
    assert "Product Added" in page  # the definition in the form


def test_create_from_the_form_and_errors_are_shown(client: Client, owner: Any, workspace: Any) -> None:
    login(client, owner)
    r = client.post("/w/acme/audiences/new/", {"name": "Recent buyers", "key": "recent-buyers", "enabled": "on",
                                                "definition": json.dumps({"event": "Order Completed", "within": "7"})})
    assert r.status_code == 400
    assert "within: expected a duration" in r.content.decode()
    r = client.post("/w/acme/audiences/new/", {"name": "Recent buyers", "key": "recent-buyers", "enabled": "on",
                                                "definition": json.dumps({"event": "Order Completed", "within": "7d"})})
    audience = Audience.objects.get(key="recent-buyers")
    assert r.status_code == 302 and r["Location"] == f"/w/acme/audiences/{audience.pk}/"


def test_members_read_but_cannot_change(client: Client, teammate: Any, outsider: Any, workspace: Any) -> None:
    audience = services.create_audience(workspace, name="Pro", key="pro", definition={"trait": "plan", "op": "exists"})
    login(client, teammate)
    assert client.get(f"/w/acme/audiences/{audience.pk}/").status_code == 200
    assert client.get("/w/acme/audiences/new/").status_code == 403
    assert client.post(f"/w/acme/audiences/{audience.pk}/", {"name": "X", "key": "pro",
                                                             "definition": "{}"}).status_code == 403
    assert client.post(f"/w/acme/audiences/{audience.pk}/delete/").status_code == 403
    login(client, outsider)
    assert client.get(f"/w/acme/audiences/{audience.pk}/").status_code == 404
    assert Audience.objects.get().name == "Pro"


def test_the_person_page_and_profiles_api_show_the_audiences_with_entered_at(
        client: Client, owner: Any, owner_api: Any, workspace: Any, person: Any) -> None:
    audience = services.create_audience(workspace, name="Pro plan", key="pro",
                                        definition={"trait": "plan", "op": "=", "value": "pro"})
    p = person(traits={"plan": "pro"})
    services.compute(audience.pk, audience.generation, now=NOW)
    login(client, owner)
    page = client.get(f"/w/acme/people/{p.pk}/").content.decode()
    assert f'href="/w/acme/audiences/{audience.pk}/"' in page and "Pro plan" in page
    assert NOW.strftime("%Y-%m-%d %H:%M") in page
    body = owner_api.get(f"/api/workspaces/acme/profiles/{p.pk}/").json()
    assert [(a["key"], a["entered_at"][:16]) for a in body["audiences"]] == [("pro", NOW.isoformat()[:16])]
    detail = client.get(f"/w/acme/audiences/{audience.pk}/").content.decode()
    assert f'href="/w/acme/people/{p.pk}/"' in detail
