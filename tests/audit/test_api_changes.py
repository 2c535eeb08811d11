"""Changes through the management API are attributed to the token's user; the log is readable there too."""

from __future__ import annotations

import yaml

from audit.models import AuditEntry
from connections.models import Destination, Source

from .conftest import NEW_SECRET, SECRET, last_entry, stored_entries_text

AUDIT = "/api/workspaces/acme/audit/"


def test_api_changes_are_attributed_to_the_token_user(owner_api, owner):
    response = owner_api.post("/api/workspaces/acme/sources/", {"name": "Backend", "kind": "http"}, format="json")
    assert response.status_code == 201
    source = Source.objects.get(id=response.json()["id"])
    entry = last_entry(object_type="source", object_id=source.id)
    assert (entry.action, entry.actor, entry.actor_label, entry.channel) == (
        "created", owner, "alice (api token)", "api")

    owner_api.patch(f"/api/workspaces/acme/sources/{source.id}/", {"enabled": False}, format="json")
    entry = last_entry(object_type="source", object_id=source.id)
    assert entry.action == "updated" and entry.changes == {"enabled": {"before": True, "after": False}}

    old_key = source.write_key
    rotated = owner_api.post(f"/api/workspaces/acme/sources/{source.id}/rotate-key/").json()
    entry = last_entry(object_type="source", object_id=source.id)
    assert entry.action == "rotated" and entry.changes == {"write_key": "changed"}
    assert old_key not in stored_entries_text() and rotated["write_key"] not in stored_entries_text()

    owner_api.delete(f"/api/workspaces/acme/sources/{source.id}/")
    assert last_entry(object_type="source", object_id=source.id).action == "deleted"


def test_track_api_key_rotation_is_recorded_without_the_key(owner_api):
    body = owner_api.post("/api/workspaces/acme/sources/", {"name": "Journeys", "kind": "journeys_track_api"},
                          format="json").json()
    rotated = owner_api.post(f"/api/workspaces/acme/sources/{body['id']}/rotate-key/").json()
    entry = last_entry(object_type="source", object_id=body["id"])
    assert entry.action == "rotated" and entry.changes == {"api_key": "changed"}
    text = stored_entries_text()
    for secret in (body["api_key"], rotated["api_key"], body["write_key"]):
        assert secret not in text


def test_destination_and_action_changes_through_the_api_never_store_secrets(owner_api, js_source, settings):
    settings.OUTBOUND_ALLOW_PRIVATE = True
    body = owner_api.post("/api/workspaces/acme/destinations/", {
        "name": "Hook", "kind": "webhook", "source_ids": [js_source.id],
        "settings": {"url": "http://127.0.0.1:9/in", "shared_secret": SECRET,
                     "headers": {"Authorization": "Bearer header-token-abcdef"}},
    }, format="json").json()
    created = last_entry(object_type="destination", object_id=body["id"])
    assert created.action == "created" and created.actor_label == "alice (api token)"
    assert created.changes["settings.url"] == {"before": None, "after": "http://127.0.0.1:9/in"}
    assert created.changes["settings.shared_secret"] == "changed"
    assert created.changes["settings.headers"] == "changed"
    assert "settings.shared_secret: set (secret)" in created.change_lines()

    owner_api.patch(f"/api/workspaces/acme/destinations/{body['id']}/",
                    {"settings": {"shared_secret": NEW_SECRET}}, format="json")
    updated = last_entry(object_type="destination", object_id=body["id"])
    assert updated.changes == {"settings.shared_secret": "changed"}
    assert Destination.objects.get(id=body["id"]).settings["shared_secret"] == NEW_SECRET

    actions = f"/api/workspaces/acme/destinations/{body['id']}/actions/"
    action = owner_api.post(actions, {"kind": "send", "name": "Second"}, format="json").json()
    owner_api.patch(f"{actions}{action['id']}/", {"trigger": 'event = "Signed Up"'}, format="json")
    entry = last_entry(object_type="action", object_id=action["id"])
    assert entry.action == "updated" and entry.actor_label == "alice (api token)"
    assert entry.changes["trigger"]["after"] == 'event = "Signed Up"'
    owner_api.delete(f"{actions}{action['id']}/")
    assert last_entry(object_type="action", object_id=action["id"]).action == "deleted"

    text = stored_entries_text() + str(owner_api.get(AUDIT).json())
    for secret in (SECRET, NEW_SECRET, "header-token-abcdef"):
        assert secret not in text


def test_the_audit_api_lists_newest_first_filters_and_pages(teammate_api, owner_api, webhook):
    owner_api.patch(f"/api/workspaces/acme/destinations/{webhook.id}/", {"name": "Hook 2"}, format="json")
    response = teammate_api.get(AUDIT)
    assert response.status_code == 200
    results = response.json()["results"]
    assert results[0]["object_name"] == "Hook 2" and results[0]["actor"] == "alice (api token)"
    assert results[0]["changes"] == {"name": {"before": "My webhook", "after": "Hook 2"}}
    assert [r["id"] for r in results] == sorted((r["id"] for r in results), reverse=True)
    assert {"created_at", "actor_id", "channel", "action", "object_type", "object_id"} <= set(results[0])

    only_actions = teammate_api.get(AUDIT, {"type": "action"}).json()["results"]
    assert only_actions and {r["object_type"] for r in only_actions} == {"action"}

    first = teammate_api.get(AUDIT, {"limit": 2}).json()
    assert len(first["results"]) == 2 and first["next"]
    second = teammate_api.get(first["next"]).json()
    assert not {r["id"] for r in second["results"]} & {r["id"] for r in first["results"]}

    bad = teammate_api.get(AUDIT, {"type": "nope"})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_request" and "type" in bad.json()["message"]


def test_another_workspace_audit_is_not_found(outsider_api, webhook):
    assert AuditEntry.objects.filter(workspace__slug="acme").exists()
    response = outsider_api.get(AUDIT)
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    theirs = outsider_api.get("/api/workspaces/globex/audit/").json()["results"]
    assert [(r["object_type"], r["object_name"]) for r in theirs] == [("membership", "charlie")]


def test_the_openapi_schema_describes_the_audit_api(client, db):
    schema = yaml.safe_load(client.get("/api/schema/").content)
    operation = schema["paths"]["/api/workspaces/{slug}/audit/"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"slug", "type", "limit", "cursor"}
    assert "AuditEntry" in schema["components"]["schemas"]


def test_filter_changes_through_the_api_are_recorded(owner_api, owner, webhook):
    url = f"/api/workspaces/acme/destinations/{webhook.id}/filters/"
    assert owner_api.put(url, {"drop_if": 'event = "Test"'}, format="json").status_code == 200
    entry = last_entry(object_type="filters")
    assert (entry.action, entry.actor, entry.channel, entry.object_name) == ("created", owner, "api",
                                                                             "My webhook: filters")
    assert entry.changes["drop_if"]["after"] == 'event = "Test"'
    owner_api.put(url, {"drop_if": 'event = "Test"', "sample_percent": 10}, format="json")
    entry = last_entry(object_type="filters")
    assert entry.action == "updated"
    assert entry.changes == {"sample_percent": {"before": 100, "after": 10}}
