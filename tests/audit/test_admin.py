"""Django admin: changes made there are attributed to the admin user; the log is shown read-only."""

from __future__ import annotations

from django.urls import reverse

from audit.models import AuditEntry
from pipelines.models import Membership

from .conftest import last_entry, stored_entries_text


def test_changing_a_member_role_in_admin_is_attributed_to_the_admin(admin_client, admin_user, teammate, workspace):
    membership = Membership.objects.get(user=teammate, workspace=workspace)
    response = admin_client.post(reverse("admin:pipelines_membership_change", args=[membership.pk]), {
        "user": teammate.pk, "workspace": workspace.pk, "role": "admin",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    entry = last_entry(object_type="membership", object_id=membership.pk)
    assert (entry.action, entry.actor, entry.actor_label, entry.channel) == ("updated", admin_user, "admin:admin",
                                                                             "admin")
    assert entry.object_name == "bob" and entry.changes == {"role": {"before": "member", "after": "admin"}}

    response = admin_client.post(reverse("admin:pipelines_membership_delete", args=[membership.pk]), {"post": "yes"})
    assert response.status_code == 302
    removed = last_entry(object_type="membership", object_id=membership.pk)
    assert removed.action == "deleted" and removed.actor_label == "admin:admin"


def test_adding_a_member_is_recorded(admin_client, workspace, outsider):
    admin_client.post(reverse("admin:pipelines_membership_add"), {
        "user": outsider.pk, "workspace": workspace.pk, "role": "viewer",
    })
    entry = last_entry(object_type="membership", workspace=workspace)
    assert entry.action == "created" and entry.object_name == "charlie"
    assert entry.changes == {"role": {"before": None, "after": "viewer"}}


def test_rotating_keys_in_admin_is_attributed_and_keeps_keys_out(admin_client, js_source):
    old_key = js_source.write_key
    admin_client.post(reverse("admin:connections_source_changelist"), {
        "action": "rotate_keys", "_selected_action": [js_source.pk],
    })
    js_source.refresh_from_db()
    entry = last_entry(object_type="source", object_id=js_source.pk)
    assert entry.action == "rotated" and entry.actor_label == "admin:admin"
    assert old_key not in stored_entries_text() and js_source.write_key not in stored_entries_text()


def test_the_admin_shows_every_workspace_log_read_only(admin_client, webhook, outsider, other_workspace):
    from connections import services

    services.create_source(other_workspace, name="Globex site", kind="http")
    changelist = admin_client.get(reverse("admin:audit_auditentry_changelist"))
    assert changelist.status_code == 200
    html = changelist.content.decode()
    assert "My webhook" in html and "Globex site" in html
    assert reverse("admin:audit_auditentry_add") not in html
    entry = AuditEntry.objects.filter(object_type="destination").first()
    detail = admin_client.get(reverse("admin:audit_auditentry_change", args=[entry.pk])).content.decode()
    assert "settings.url" in detail and 'name="object_name"' not in detail
    assert admin_client.post(reverse("admin:audit_auditentry_delete", args=[entry.pk]),
                             {"post": "yes"}).status_code == 403
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_deleting_a_user_in_admin_records_their_memberships_removed(admin_client, admin_user, teammate, workspace):
    admin_client.post(reverse("admin:auth_user_delete", args=[teammate.pk]), {"post": "yes"})
    entry = last_entry(object_type="membership", workspace=workspace)
    assert entry.action == "deleted" and entry.object_name == "bob" and entry.actor == admin_user


def test_an_admin_deleting_their_own_account_keeps_the_entry_without_the_user(admin_client, admin_user, workspace):
    Membership.objects.create(user=admin_user, workspace=workspace, role=Membership.Role.OWNER)
    response = admin_client.post(reverse("admin:auth_user_delete", args=[admin_user.pk]), {"post": "yes"})
    assert response.status_code == 302
    entry = last_entry(object_type="membership", workspace=workspace, action="deleted")
    assert entry.actor is None and entry.actor_label == "admin:admin"
