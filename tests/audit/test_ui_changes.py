"""Changes made in the Connections UI are recorded with who, what and when, and shown on the audit page."""

from __future__ import annotations

from datetime import timedelta

from django.test import Client
from django.utils import timezone

from audit.models import AuditEntry
from connections import services
from connections.models import Destination, Source

from .conftest import NEW_SECRET, SECRET, entries, last_entry, stored_entries_text


def test_creating_renaming_and_deleting_a_source_records_the_user_and_the_change(owner_client: Client, owner):
    before = timezone.now()
    owner_client.post("/w/acme/sources/new/javascript/", {"name": "Marketing site"})
    source = Source.objects.get(name="Marketing site")
    created = last_entry(object_type="source", object_id=source.id)
    assert (created.action, created.actor, created.actor_label, created.channel) == ("created", owner, "alice", "ui")
    assert created.object_name == "Marketing site" and created.workspace.slug == "acme"
    assert created.changes["name"] == {"before": None, "after": "Marketing site"}
    assert before <= created.created_at <= timezone.now() + timedelta(seconds=1)

    owner_client.post(f"/w/acme/sources/{source.id}/rename/", {"name": "Main site"})
    renamed = last_entry(object_type="source", object_id=source.id)
    assert renamed.action == "updated" and renamed.actor_label == "alice"
    assert renamed.changes == {"name": {"before": "Marketing site", "after": "Main site"}}

    owner_client.post(f"/w/acme/sources/{source.id}/delete/")
    deleted = last_entry(object_type="source", object_id=source.id)
    assert deleted.action == "deleted" and deleted.object_name == "Main site" and deleted.actor == owner
    assert source.write_key not in stored_entries_text()


def test_rotating_a_write_key_is_recorded_without_either_key(owner_client: Client, js_source: Source):
    old_key = js_source.write_key
    owner_client.post(f"/w/acme/sources/{js_source.id}/rotate/")
    js_source.refresh_from_db()
    assert js_source.write_key != old_key
    entry = last_entry(object_type="source", object_id=js_source.id)
    assert entry.action == "rotated" and entry.actor_label == "alice"
    assert entry.changes == {"write_key": "changed"}
    text = stored_entries_text()
    assert old_key not in text and js_source.write_key not in text
    page = owner_client.get("/w/acme/audit/").content.decode()
    assert "Rotated the key of source <strong>Website</strong>" in page and "write_key: changed (secret)" in page
    assert old_key not in page and js_source.write_key not in page


def test_destination_settings_changes_show_plain_values_and_only_that_a_secret_changed(
    owner_client: Client, webhook: Destination
):
    url = f"/w/acme/destinations/{webhook.id}/settings/"
    owner_client.post(url, {"name": "Renamed hook", "url": "http://127.0.0.1:9/other", "method": "POST",
                            "shared_secret": NEW_SECRET, "batch_size": "1", "op": "save"})
    webhook.refresh_from_db()
    assert webhook.settings["shared_secret"] == NEW_SECRET
    entry = last_entry(object_type="destination", object_id=webhook.id)
    assert entry.action == "updated" and entry.actor_label == "alice" and entry.channel == "ui"
    assert entry.changes["name"] == {"before": "My webhook", "after": "Renamed hook"}
    assert entry.changes["settings.url"] == {"before": "http://127.0.0.1:9/hook", "after": "http://127.0.0.1:9/other"}
    assert entry.changes["settings.shared_secret"] == "changed"
    text = stored_entries_text()
    assert SECRET not in text and NEW_SECRET not in text and SECRET[-6:] not in text

    # Saving again with the secret left empty (kept) and nothing else changed records nothing new.
    count = AuditEntry.objects.count()
    owner_client.post(url, {"name": "Renamed hook", "url": "http://127.0.0.1:9/other", "method": "POST",
                            "shared_secret": "", "batch_size": "1", "op": "save"})
    assert AuditEntry.objects.count() == count


def test_adding_editing_and_deleting_an_action_is_recorded(owner_client: Client, webhook: Destination, owner):
    url = f"/w/acme/destinations/{webhook.id}/actions/"
    owner_client.post(url, {"kind": "send"})
    action = webhook.actions.order_by("-id").first()
    created = last_entry(object_type="action", object_id=action.id)
    assert created.action == "created" and created.actor == owner and created.object_name == "My webhook: Send"
    assert created.changes["kind"] == {"before": None, "after": "send"}

    response = owner_client.post(f"{url}{action.id}/", {
        "op": "save", "name": "Orders only", "trigger": 'type = "track" and event = "Order Completed"',
        "map__data": '{"order": {"@path": "$.properties.order_id"}}', "enabled": "on",
    })
    assert response.status_code == 302
    updated = last_entry(object_type="action", object_id=action.id)
    assert updated.action == "updated"
    assert updated.changes["name"] == {"before": "Send", "after": "Orders only"}
    assert updated.changes["trigger"]["after"] == 'type = "track" and event = "Order Completed"'
    assert updated.changes["mapping"]["after"] == {"data": {"order": {"@path": "$.properties.order_id"}}}

    owner_client.post(f"{url}{action.id}/delete/")
    deleted = last_entry(object_type="action", object_id=action.id)
    assert deleted.action == "deleted" and deleted.object_name == "My webhook: Orders only"


def test_connecting_and_disconnecting_a_source_is_recorded(owner_client: Client, webhook: Destination, workspace):
    backend = services.create_source(workspace, name="Backend", kind="python")[0]
    owner_client.post(f"/w/acme/destinations/{webhook.id}/sources/add/", {"source_id": backend.id})
    added = last_entry(object_type="connection")
    assert added.action == "created" and added.object_name == "Backend → My webhook" and added.actor_label == "alice"
    owner_client.post(f"/w/acme/destinations/{webhook.id}/sources/{backend.id}/remove/")
    removed = last_entry(object_type="connection")
    assert removed.action == "deleted" and removed.object_name == "Backend → My webhook"


def test_deleting_a_destination_records_one_entry_not_one_per_action(owner_client: Client, webhook: Destination):
    action_ids = list(webhook.actions.values_list("id", flat=True))
    count = AuditEntry.objects.count()
    owner_client.post(f"/w/acme/destinations/{webhook.id}/delete/")
    new = list(AuditEntry.objects.order_by("id"))[count:]
    assert [(e.action, e.object_type, e.object_name) for e in new] == [("deleted", "destination", "My webhook")]
    assert not entries(object_type="action", action="deleted", object_id__in=action_ids)


def test_changes_outside_a_request_are_attributed_to_the_system(workspace):
    source = services.create_source(workspace, name="From a command", kind="http")[0]
    entry = last_entry(object_type="source", object_id=source.id)
    assert (entry.actor, entry.actor_label, entry.channel) == (None, "system", "system")


def test_deleting_a_workspace_deletes_its_entries_and_records_nothing(workspace, webhook, other_workspace):
    services.create_source(other_workspace, name="Theirs", kind="http")
    workspace.delete()
    assert not AuditEntry.objects.filter(workspace_id=workspace.id).exists()
    assert AuditEntry.objects.filter(workspace=other_workspace).count() == 1
