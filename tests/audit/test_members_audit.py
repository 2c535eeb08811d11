"""The audit log records the members' side: invitations made and revoked, joining through a link, role
changes and removals on the Members page and API, each with who did it."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.test import Client

from audit.models import AuditEntry
from pipelines import members
from pipelines.models import Invitation, Membership
from tests.helpers import api_client_for

AUDIT = "/api/workspaces/acme/audit/"


def _entries(**filters: Any) -> list[tuple[str, str, str, str]]:
    return [(e.actor.get_username() if e.actor else "", e.action, e.object_type, e.object_name)
            for e in AuditEntry.objects.filter(workspace__slug="acme", **filters).select_related("actor")
            .order_by("id")]


def test_inviting_joining_and_revoking_are_recorded(owner_api: Any, owner: User,
                                                    django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        owner_api.post("/api/workspaces/acme/invitations/", {"email": "erin@example.com", "role": "viewer"},
                       format="json")
        owner_api.post("/api/workspaces/acme/invitations/", {"email": "frank@example.com"}, format="json")
    invitation = Invitation.objects.get(email="frank@example.com")
    assert owner_api.delete(f"/api/workspaces/acme/invitations/{invitation.id}/").status_code == 204
    erin = User.objects.create_user("erin", "erin@example.com", "erin-password-1")
    token = members.invitation_token(Invitation.objects.get(email="erin@example.com"))
    assert api_client_for(erin).post("/api/invitations/accept/", {"token": token}, format="json").status_code == 200

    assert _entries(object_type__in=["invitation", "membership"])[-4:] == [
        ("alice", "created", "invitation", "erin@example.com"),
        ("alice", "created", "invitation", "frank@example.com"),
        ("alice", "deleted", "invitation", "frank@example.com"),
        ("erin", "created", "membership", "erin"),
    ]
    created = AuditEntry.objects.get(object_type="invitation", object_name="erin@example.com", action="created")
    assert created.changes["role"]["after"] == "viewer"
    assert "invitation" in {r["object_type"] for r in owner_api.get(AUDIT).json()["results"]}


def test_role_changes_and_removals_on_the_members_page_are_recorded(owner: User, teammate: User) -> None:
    client = Client()
    client.force_login(owner)
    membership = Membership.objects.get(user=teammate)
    client.post(f"/w/acme/members/{membership.id}/role/", {"role": "admin"})
    client.post(f"/w/acme/members/{membership.id}/remove/")
    changed, removed = (AuditEntry.objects.filter(object_type="membership", object_id=membership.id)
                        .exclude(action="created").order_by("id"))
    assert (changed.actor, changed.action, changed.changes["role"]) == (
        owner, "updated", {"before": "member", "after": "admin"})
    assert (removed.actor, removed.action, removed.channel) == (owner, "deleted", "ui")
