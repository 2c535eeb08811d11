"""The People pages and the profiles API: search, the person page's blocks, workspace scoping."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import pytest
from django.test import Client

from profiles.models import Identifier, Person

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(feed: Any) -> dict[str, Person]:
    feed({"type": "identify", "userId": "user-ann", "anonymousId": "anon-ann",
          "traits": {"email": "Ann@Example.com", "name": "Ann Lee", "plan": "pro", "seats": 3}},
         {"type": "track", "userId": "user-ann", "event": "Order Completed", "properties": {"total": 42}},
         {"type": "group", "userId": "user-ann", "groupId": "acme-inc", "traits": {"name": "Acme Inc"}},
         {"type": "track", "userId": "user-ann", "event": "Application Opened",
          "context": {"device": {"id": "device-77", "type": "ios"}}},
         {"type": "identify", "userId": "user-bob", "traits": {"email": "bob@example.com", "plan": "free"}})
    return {v: Identifier.objects.get(kind="user_id", value=v).person for v in ("user-ann", "user-bob")}


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _listed(response: Any) -> list[str]:
    return [row["person"].identifiers.get(kind="user_id").value for row in response.context["people"]]


def test_people_list_searches_email_user_id_and_traits(people: Any, teammate: Any) -> None:
    client = _client(teammate)
    url = "/w/acme/people/"
    response = client.get(url)
    assert response.status_code == 200
    assert _listed(response) == ["user-bob", "user-ann"]
    assert b"Ann Lee" in response.content and b'aria-current="page">People' in response.content
    assert _listed(client.get(url, {"q": "ANN@example.COM"})) == ["user-ann"]
    assert _listed(client.get(url, {"q": "user-b"})) == ["user-bob"]
    assert _listed(client.get(url, {"q": "plan:pro"})) == ["user-ann"]
    assert _listed(client.get(url, {"q": "seats:3"})) == ["user-ann"]
    response = client.get(url, {"q": "nobody@example.com"})
    assert _listed(response) == [] and b"Nobody matches" in response.content


def test_people_list_pages_without_counting(people: Any, owner: Any, monkeypatch: Any) -> None:
    from profiles import views

    monkeypatch.setattr(views, "PAGE_SIZE", 1)
    client = _client(owner)
    first = client.get("/w/acme/people/")
    assert _listed(first) == ["user-bob"]
    before = first.context["next_before"]
    second = client.get("/w/acme/people/", {"before": before})
    assert _listed(second) == ["user-ann"] and second.context["next_before"] is None


def test_person_page_shows_every_block(people: Any, teammate: Any) -> None:
    ann = people["user-ann"]
    response = _client(teammate).get(f"/w/acme/people/{ann.id}/")
    assert response.status_code == 200
    body = response.content.decode()
    for text in ("Ann Lee", "user-ann", "ann@example.com", "anon-ann", "plan", "Order Completed",
                 "device-77", "acme-inc", "In no audience."):
        assert text in body, text
    assert [e["label"] for e in response.context["events"]] == [
        "Application Opened", "acme-inc", "Order Completed", ""]  # newest first; identify has no label


def test_person_page_shows_the_audiences_it_is_given(people: Any, teammate: Any) -> None:
    from datetime import datetime

    from profiles import state

    ann = people["user-ann"]

    def lookup(workspace_id: int, person_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
        return {pid: [{"key": "buyers", "name": "Buyers | 7d", "entered_at": datetime(2026, 12, 1, tzinfo=UTC)}]
                for pid in person_ids}

    state.register_memberships(lookup)
    try:
        body = _client(teammate).get(f"/w/acme/people/{ann.id}/").content.decode()
        data = _api(teammate).get(f"/api/workspaces/acme/profiles/{ann.id}/").json()
    finally:
        state._membership_lookups.remove(lookup)
    assert "Buyers | 7d" in body and "2026-12-01 00:00" in body
    assert data["audiences"] == [{"key": "buyers", "name": "Buyers | 7d", "entered_at": "2026-12-01T00:00:00Z"}]


def test_person_page_shows_a_conflict(feed: Any, owner: Any) -> None:
    feed({"type": "identify", "userId": "u1", "traits": {"email": "one@example.com"}},
         {"type": "identify", "userId": "u2", "traits": {"email": "two@example.com"}})
    feed({"type": "identify", "userId": "u1", "traits": {"email": "two@example.com"}})
    one = Identifier.objects.get(value="u1").person
    body = _client(owner).get(f"/w/acme/people/{one.id}/").content.decode()
    assert "Identity conflicts" in body and "two@example.com" in body


def test_pages_are_scoped_to_the_workspace(people: Any, outsider: Any) -> None:
    client = _client(outsider)
    assert client.get("/w/acme/people/").status_code == 404
    assert client.get(f"/w/acme/people/{people['user-ann'].id}/").status_code == 404
    # their own workspace does not show our people either
    assert client.get(f"/w/globex/people/{people['user-ann'].id}/").status_code == 404
    assert client.get("/w/globex/people/").context["people"] == []


def _api(user: Any) -> Any:
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def test_api_lists_and_searches(people: Any, teammate_api: Any) -> None:
    response = teammate_api.get("/api/workspaces/acme/profiles/")
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["identifiers"]["user_id"] for r in results] == [["user-bob"], ["user-ann"]]
    ann = teammate_api.get("/api/workspaces/acme/profiles/", {"q": "ann@EXAMPLE.com"}).json()["results"]
    assert len(ann) == 1
    assert ann[0]["identifiers"] == {"user_id": ["user-ann"], "email": ["ann@example.com"],
                                     "anonymous_id": ["anon-ann"]}
    assert ann[0]["traits"]["plan"] == "pro"
    page = teammate_api.get("/api/workspaces/acme/profiles/", {"limit": 1}).json()
    assert len(page["results"]) == 1 and page["next"]
    assert teammate_api.get(page["next"]).json()["results"][0]["identifiers"]["user_id"] == ["user-ann"]


def test_api_detail(people: Any, teammate_api: Any) -> None:
    ann = people["user-ann"]
    data = teammate_api.get(f"/api/workspaces/acme/profiles/{ann.id}/").json()
    assert data["id"] == ann.id and data["traits"]["name"] == "Ann Lee"
    assert data["audiences"] == []
    assert [d["device_id"] for d in data["devices"]] == ["device-77"]
    assert [g["group_id"] for g in data["groups"]] == ["acme-inc"]
    orders = [e for e in data["events"] if e["name"] == "Order Completed"]
    assert orders[0]["last_properties"] == {"total": 42} and sum(orders[0]["per_day"].values()) == 1


def test_api_unknown_or_huge_id_is_a_404(people: Any, teammate_api: Any) -> None:
    for pk in (999999, 2**70):
        response = teammate_api.get(f"/api/workspaces/acme/profiles/{pk}/")
        assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_api_bad_query_is_a_400(people: Any, teammate_api: Any) -> None:
    response = teammate_api.get("/api/workspaces/acme/profiles/", {"q": "x" * 201})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request" and "q" in response.json()["message"]


def test_api_is_scoped_to_the_workspace(people: Any, outsider_api: Any) -> None:
    ann = people["user-ann"]
    assert outsider_api.get("/api/workspaces/acme/profiles/").status_code == 404
    assert outsider_api.get(f"/api/workspaces/acme/profiles/{ann.id}/").status_code == 404
    response = outsider_api.get(f"/api/workspaces/globex/profiles/{ann.id}/")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert outsider_api.get("/api/workspaces/globex/profiles/").json()["results"] == []


def test_schema_documents_the_profiles_api(owner_api: Any) -> None:
    schema = owner_api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert "/api/workspaces/{slug}/profiles/" in schema["paths"]
    detail = schema["components"]["schemas"]["PersonDetail"]
    assert "audiences" in detail["properties"] and "entered_at" in str(schema["components"]["schemas"])
