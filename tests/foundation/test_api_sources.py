"""Sources through the management API: write keys (unique, rotatable) and Track API credentials."""

from __future__ import annotations

from connections.models import Source
from pipelines.models import Membership


def test_creating_a_source_returns_its_write_key(owner_api, workspace):
    response = owner_api.post("/api/workspaces/acme/sources/", {"name": "Backend", "kind": "python"}, format="json")
    assert response.status_code == 201
    body = response.json()
    source = Source.objects.get(id=body["id"])
    assert body["write_key"] == source.write_key and len(body["write_key"]) >= 32
    assert body["kind"] == "python" and body["client_side"] is False and source.workspace == workspace
    assert owner_api.get(f"/api/workspaces/acme/sources/{source.id}/").json()["write_key"] == source.write_key


def test_write_keys_are_unique_across_sources(owner_api, outsider_api, workspace):
    keys = [
        owner_api.post("/api/workspaces/acme/sources/", {"name": f"S{i}", "kind": "http"}, format="json")
        .json()["write_key"]
        for i in range(5)
    ]
    keys.append(outsider_api.post("/api/workspaces/globex/sources/", {"name": "G", "kind": "http"},
                                  format="json").json()["write_key"])
    assert len(set(keys)) == 6


def test_rotating_the_key_replaces_it(owner_api, http_source):
    old = http_source.write_key
    response = owner_api.post(f"/api/workspaces/acme/sources/{http_source.id}/rotate-key/")
    assert response.status_code == 200
    new = response.json()["write_key"]
    assert new != old and len(new) >= 32
    assert Source.objects.get(id=http_source.id).write_key == new
    assert not Source.objects.filter(write_key=old).exists()


def test_teammates_see_the_workspace_sources_and_admins_manage_them(teammate, teammate_api, http_source):
    listed = teammate_api.get("/api/workspaces/acme/sources/").json()["results"]
    assert [s["id"] for s in listed] == [http_source.id]
    assert listed[0]["write_key"] == http_source.write_key  # members see write keys (viewers don't)
    change = {"name": "Renamed", "enabled": False}
    url = f"/api/workspaces/acme/sources/{http_source.id}/"
    refused = teammate_api.patch(url, change, format="json")
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"
    Membership.objects.filter(user=teammate).update(role=Membership.Role.ADMIN)
    assert teammate_api.patch(url, change, format="json").status_code == 200
    source = Source.objects.get(id=http_source.id)
    assert (source.name, source.enabled) == ("Renamed", False)


def test_track_api_source_shows_its_api_key_only_on_creation_and_rotation(owner_api):
    created = owner_api.post("/api/workspaces/acme/sources/", {"name": "Journeys", "kind": "journeys_track_api"},
                             format="json").json()
    source = Source.objects.get(id=created["id"])
    assert created["site_id"] == source.site_id and created["site_id"]
    assert source.check_track_api_key(created["api_key"])
    assert created["api_key"] not in str(Source.objects.filter(id=source.id).values().first())

    detail = owner_api.get(f"/api/workspaces/acme/sources/{source.id}/").json()
    assert detail["site_id"] == source.site_id
    assert "api_key" not in detail and created["api_key"] not in str(detail)
    listed = owner_api.get("/api/workspaces/acme/sources/").json()["results"]
    assert created["api_key"] not in str(listed)

    rotated = owner_api.post(f"/api/workspaces/acme/sources/{source.id}/rotate-key/").json()
    assert rotated["site_id"] == source.site_id and rotated["api_key"] != created["api_key"]
    source.refresh_from_db()
    assert source.check_track_api_key(rotated["api_key"]) and not source.check_track_api_key(created["api_key"])


def test_unknown_source_kind_is_a_400_with_a_reason(owner_api):
    response = owner_api.post("/api/workspaces/acme/sources/", {"name": "X", "kind": "cobol"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_request" and "kind" in body["errors"] and body["message"].startswith("kind:")


def test_missing_name_is_a_400(owner_api):
    response = owner_api.post("/api/workspaces/acme/sources/", {"kind": "http"}, format="json")
    assert response.status_code == 400 and "name" in response.json()["errors"]


def test_kind_of_a_source_cannot_change(owner_api, http_source):
    response = owner_api.patch(f"/api/workspaces/acme/sources/{http_source.id}/", {"kind": "javascript"},
                               format="json")
    assert response.status_code == 400 and "kind" in response.json()["errors"]
    assert Source.objects.get(id=http_source.id).kind == "http"


def test_deleting_a_source(owner_api, http_source):
    assert owner_api.delete(f"/api/workspaces/acme/sources/{http_source.id}/").status_code == 204
    assert not Source.objects.filter(id=http_source.id).exists()
