"""Members and invitations through the management API: listing, roles, removal, the last owner, and
invitations by email (who may invite with which role, the link that arrives, accepting it)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core import mail
from rest_framework.test import APIClient

from pipelines.models import Invitation, Membership, Workspace
from tests.helpers import api_client_for

Role = Membership.Role


@pytest.fixture
def admin_user(workspace: Workspace) -> User:
    user = User.objects.create_user("dana", "dana@example.com", "dana-password-1")
    Membership.objects.create(user=user, workspace=workspace, role=Role.ADMIN)
    return user


@pytest.fixture
def admin_api(admin_user: User) -> APIClient:
    return api_client_for(admin_user)


@pytest.fixture
def invite(django_capture_on_commit_callbacks: Any) -> Any:
    """POST an invitation as `client`. The mail leaves after commit: the callbacks the request registered
    run when it returns, as a real commit would run them."""

    def post(client: APIClient, email: str, role: str | None = None) -> Any:
        data = {"email": email, **({"role": role} if role else {})}
        with django_capture_on_commit_callbacks(execute=True):
            return client.post("/api/workspaces/acme/invitations/", data, format="json")

    return post


def _link(message: mail.EmailMessage) -> str:
    found = re.search(r"https?://\S+/invitations/(\S+)/", message.body)
    assert found, message.body
    return found.group(1)


def test_every_member_sees_the_members_and_their_roles(owner: User, teammate_api: APIClient, teammate: User) -> None:
    listed = teammate_api.get("/api/workspaces/acme/members/").json()
    assert [(m["username"], m["role"], m["is_you"]) for m in listed] == [("alice", "owner", False),
                                                                         ("bob", "member", True)]
    assert listed[0]["email"] == "alice@example.com"


def test_owners_change_roles(owner_api: APIClient, teammate: User) -> None:
    membership = Membership.objects.get(user=teammate)
    response = owner_api.patch(f"/api/workspaces/acme/members/{membership.id}/", {"role": "admin"}, format="json")
    assert response.status_code == 200 and response.json()["role"] == "admin"
    assert Membership.objects.get(id=membership.id).role == "admin"
    bad = owner_api.patch(f"/api/workspaces/acme/members/{membership.id}/", {"role": "boss"}, format="json")
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_request"


def test_admins_cannot_change_roles_or_remove_others(admin_api: APIClient, owner: User, teammate: User) -> None:
    membership = Membership.objects.get(user=teammate)
    url = f"/api/workspaces/acme/members/{membership.id}/"
    for response in (admin_api.patch(url, {"role": "viewer"}, format="json"), admin_api.delete(url)):
        assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    assert Membership.objects.get(id=membership.id).role == "member"


def test_owners_remove_members_and_anyone_may_leave(owner_api: APIClient, teammate: User,
                                                    teammate_api: APIClient, admin_user: User) -> None:
    admin_membership = Membership.objects.get(user=admin_user)
    assert owner_api.delete(f"/api/workspaces/acme/members/{admin_membership.id}/").status_code == 204
    mine = Membership.objects.get(user=teammate)
    assert teammate_api.delete(f"/api/workspaces/acme/members/{mine.id}/").status_code == 204
    assert list(Membership.objects.values_list("user__username", flat=True)) == ["alice"]
    assert teammate_api.get("/api/workspaces/acme/members/").status_code == 404


def test_the_last_owner_cannot_leave_be_removed_or_be_demoted(owner: User, owner_api: APIClient) -> None:
    mine = Membership.objects.get(user=owner)
    url = f"/api/workspaces/acme/members/{mine.id}/"
    for response in (owner_api.patch(url, {"role": "admin"}, format="json"), owner_api.delete(url)):
        assert response.status_code == 400
        assert response.json()["code"] == "last_owner"
        assert "at least one owner" in response.json()["message"]
    assert Membership.objects.get(id=mine.id).role == "owner"


def test_with_a_second_owner_the_first_may_step_down(owner: User, owner_api: APIClient, teammate: User) -> None:
    Membership.objects.filter(user=teammate).update(role=Role.OWNER)
    mine = Membership.objects.get(user=owner)
    response = owner_api.patch(f"/api/workspaces/acme/members/{mine.id}/", {"role": "admin"}, format="json")
    assert response.status_code == 200
    theirs = Membership.objects.get(user=teammate)
    # Now bob is the last owner: alice, an admin, can't touch him, and he can't leave.
    assert owner_api.delete(f"/api/workspaces/acme/members/{theirs.id}/").status_code == 403
    assert api_client_for(teammate).delete(f"/api/workspaces/acme/members/{theirs.id}/").json()["code"] == "last_owner"


def test_an_admin_invites_by_email_and_the_link_arrives(admin_api: APIClient, invite: Any) -> None:
    response = invite(admin_api, "Erin@Example.com", "admin")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["email"], body["role"], body["invited_by"]) == ("erin@example.com", "admin", "dana")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["erin@example.com"] and "Acme" in message.subject
    assert "as admin" in message.body and "dana" in message.body
    assert body["accept_url"].endswith(f"/invitations/{_link(message)}/")
    assert [i["email"] for i in admin_api.get("/api/workspaces/acme/invitations/").json()] == ["erin@example.com"]


def test_only_owners_invite_owners(admin_api: APIClient, owner_api: APIClient, invite: Any) -> None:
    refused = invite(admin_api, "erin@example.com", "owner")
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"
    assert not Invitation.objects.exists() and not mail.outbox
    accepted = invite(owner_api, "erin@example.com", "owner")
    assert accepted.status_code == 201 and len(mail.outbox) == 1


def test_members_and_viewers_cannot_invite(teammate_api: APIClient, invite: Any) -> None:
    response = invite(teammate_api, "erin@example.com")
    assert response.status_code == 403 and not mail.outbox


def test_inviting_a_member_or_a_bad_address_is_a_400(owner_api: APIClient, teammate: User,
                                                     invite: Any) -> None:
    member = invite(owner_api, "BOB@example.com")
    assert member.status_code == 400 and member.json()["code"] == "already_member"
    bad = invite(owner_api, "not-an-address")
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_request"
    assert not mail.outbox


def test_inviting_again_updates_the_pending_invitation(owner_api: APIClient, invite: Any) -> None:
    for role in ("viewer", "member"):
        invite(owner_api, "erin@example.com", role)
    assert list(Invitation.objects.values_list("email", "role")) == [("erin@example.com", "member")]
    assert len(mail.outbox) == 2


def test_accepting_through_the_api_makes_a_member(owner_api: APIClient, invite: Any) -> None:
    invite(owner_api, "erin@example.com", "viewer")
    token = _link(mail.outbox[0])
    erin = User.objects.create_user("erin", "erin@example.com", "erin-password-1")
    response = api_client_for(erin).post("/api/invitations/accept/", {"token": token}, format="json")
    assert response.status_code == 200 and response.json()["workspace"] == "acme"
    assert Membership.objects.get(user=erin).role == "viewer"
    again = api_client_for(erin).post("/api/invitations/accept/", {"token": token}, format="json")
    assert again.status_code == 400 and again.json()["code"] == "invitation_invalid"


def test_accepting_someone_elses_invitation_is_refused(owner_api: APIClient, outsider: User,
                                                       invite: Any) -> None:
    invite(owner_api, "erin@example.com")
    response = api_client_for(outsider).post("/api/invitations/accept/", {"token": _link(mail.outbox[0])},
                                          format="json")
    assert response.status_code == 400 and response.json()["code"] == "wrong_email"
    assert not Membership.objects.filter(user=outsider, workspace__slug="acme").exists()


def test_revoked_invitations_stop_working(owner_api: APIClient, admin_api: APIClient,
                                          invite: Any) -> None:
    invite(owner_api, "erin@example.com", "owner")
    invitation = Invitation.objects.get()
    # An admin can't revoke an owner's invitation (they could not have made it); an owner can.
    assert admin_api.delete(f"/api/workspaces/acme/invitations/{invitation.id}/").status_code == 403
    assert owner_api.delete(f"/api/workspaces/acme/invitations/{invitation.id}/").status_code == 204
    erin = User.objects.create_user("erin", "erin@example.com", "erin-password-1")
    response = api_client_for(erin).post("/api/invitations/accept/", {"token": _link(mail.outbox[0])}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "invitation_invalid"
    assert not Membership.objects.filter(user=erin).exists()


def test_the_schema_documents_the_members_api(owner_api: APIClient) -> None:
    paths = owner_api.get("/api/schema/", HTTP_ACCEPT="application/json").json()["paths"]
    assert {"/api/workspaces/{slug}/members/", "/api/workspaces/{slug}/members/{id}/",
            "/api/workspaces/{slug}/invitations/", "/api/workspaces/{slug}/invitations/{id}/",
            "/api/invitations/accept/"} <= set(paths)
