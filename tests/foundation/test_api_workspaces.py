"""Workspaces and the destination catalog through the management API."""

from __future__ import annotations

from pipelines.models import Membership, Workspace


def test_listing_my_workspaces_with_my_role(owner_api, teammate_api, workspace):
    assert owner_api.get("/api/workspaces/").json()["results"] == [
        {"id": workspace.id, "name": "Acme", "slug": "acme", "role": "owner",
         "created_at": owner_api.get("/api/workspaces/acme/").json()["created_at"]}
    ]
    assert teammate_api.get("/api/workspaces/").json()["results"][0]["role"] == "member"


def test_creating_a_workspace_makes_me_its_owner(teammate_api, teammate):
    response = teammate_api.post("/api/workspaces/", {"name": "Side Project"}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["slug"] == "side-project" and body["role"] == "owner"
    assert Membership.objects.get(workspace__slug="side-project").user == teammate
    slugs = [w["slug"] for w in teammate_api.get("/api/workspaces/").json()["results"]]
    assert sorted(slugs) == ["acme", "side-project"]


def test_taken_or_malformed_slug_is_a_400(owner_api, workspace):
    taken = owner_api.post("/api/workspaces/", {"name": "Again", "slug": "acme"}, format="json")
    assert taken.status_code == 400 and "slug" in taken.json()["errors"]
    bad = owner_api.post("/api/workspaces/", {"name": "Bad", "slug": "Not A Slug"}, format="json")
    assert bad.status_code == 400
    assert Workspace.objects.count() == 1


def test_catalog_lists_types_with_settings_and_default_triggers(owner_api):
    catalog = owner_api.get("/api/catalog/destinations/").json()
    webhook = next(d for d in catalog if d["key"] == "webhook")
    assert webhook["name"] == "Webhook" and webhook["mode"] == "cloud" and webhook["category"]
    fields = {f["key"]: f for f in webhook["settings"]}
    assert fields["url"]["required"] and fields["shared_secret"]["secret"]
    assert webhook["actions"][0]["key"] == "send" and '"track"' in webhook["actions"][0]["default_trigger"]
    assert owner_api.get("/api/catalog/destinations/webhook/").json()["key"] == "webhook"
    assert owner_api.get("/api/catalog/destinations/nope/").status_code == 404
