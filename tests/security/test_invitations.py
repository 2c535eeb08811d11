"""Invitation links: only an untampered, unexpired token of a pending invitation, used by an account with
the invited email address, makes a member; anything else is refused with a page saying why."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core import signing
from django.test import Client

from pipelines import members
from pipelines.models import Invitation, Membership, Workspace


@pytest.fixture
def invitation(workspace: Workspace, owner: User) -> Invitation:
    return Invitation.objects.create(workspace=workspace, email="erin@example.com", role="admin", invited_by=owner)


@pytest.fixture
def erin() -> User:
    return User.objects.create_user("erin", "erin@example.com", "erin-password-1")


def _signed_days_ago(payload: dict[str, Any], days: int) -> str:
    """A token signed like members.invitation_token, but `days` ago."""

    class Then(signing.TimestampSigner):
        def timestamp(self) -> str:
            return signing.b62_encode(int(time.time()) - days * 24 * 3600)

    return Then(salt=members._SALT).sign_object(payload, compress=True)


def _accept(user: User | None, token: str) -> Any:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client.post(f"/invitations/{token}/")


def test_the_invited_user_joins_with_the_invited_role(invitation: Invitation, erin: User) -> None:
    response = _accept(erin, members.invitation_token(invitation))
    assert response.status_code == 302 and response["Location"] == "/w/acme/connections/"
    assert Membership.objects.get(user=erin).role == "admin"
    assert Invitation.objects.get(id=invitation.id).accepted_by == erin


@pytest.mark.parametrize("how", ["signature", "payload", "other-key", "garbage"])
def test_a_tampered_token_is_refused(invitation: Invitation, erin: User, how: str, settings: Any) -> None:
    token = members.invitation_token(invitation)
    if how == "signature":
        token = token[:-1] + ("A" if token[-1] != "A" else "B")
    elif how == "payload":  # another invitation's id in an otherwise well-formed token
        _body, ts, sig = token.rsplit(":", 2)
        other = signing.dumps({"i": invitation.id + 1, "e": "erin@example.com"}, salt="x", compress=True)
        token = f"{other.rsplit(':', 2)[0]}:{ts}:{sig}"
    elif how == "other-key":
        token = signing.dumps({"i": invitation.id, "e": invitation.email}, key="not-our-secret-key" * 3,
                              salt=members._SALT, compress=True)
    else:
        token = "not-a-token"
    response = _accept(erin, token)
    assert response.status_code == 400
    assert b"not valid" in response.content
    assert not Membership.objects.filter(user=erin).exists()


def test_an_expired_token_is_refused(invitation: Invitation, erin: User, settings: Any) -> None:
    settings.INVITATION_MAX_AGE_DAYS = 7
    payload = {"i": invitation.id, "e": invitation.email}
    old = _accept(erin, _signed_days_ago(payload, 8))
    assert old.status_code == 400 and b"expired" in old.content
    assert not Membership.objects.filter(user=erin).exists()
    recent = _accept(erin, _signed_days_ago(payload, 6))  # inside the window it still works
    assert recent.status_code == 302 and Membership.objects.filter(user=erin).exists()


def test_someone_with_another_email_cannot_accept(invitation: Invitation, outsider: User) -> None:
    token = members.invitation_token(invitation)
    client = Client()
    client.force_login(outsider)
    page = client.get(f"/invitations/{token}/")
    assert b"This invitation is for erin@example.com" in page.content
    assert b"Accept invitation" not in page.content
    refused = client.post(f"/invitations/{token}/")
    assert refused.status_code == 400
    assert not Membership.objects.filter(user=outsider, workspace=invitation.workspace).exists()
    assert Invitation.objects.get(id=invitation.id).accepted_at is None


def test_a_token_for_a_changed_address_is_refused(invitation: Invitation, erin: User) -> None:
    token = members.invitation_token(invitation)
    Invitation.objects.filter(id=invitation.id).update(email="frank@example.com")
    assert _accept(erin, token).status_code == 400
    assert not Membership.objects.filter(user=erin).exists()


def test_a_link_works_once(invitation: Invitation, erin: User) -> None:
    token = members.invitation_token(invitation)
    assert _accept(erin, token).status_code == 302
    Membership.objects.filter(user=erin).delete()
    again = _accept(erin, token)
    assert again.status_code == 400 and b"no longer valid" in again.content
    assert not Membership.objects.filter(user=erin).exists()


def test_a_revoked_invitation_link_is_refused(invitation: Invitation, erin: User) -> None:
    token = members.invitation_token(invitation)
    invitation.delete()
    assert _accept(erin, token).status_code == 400
    assert not Membership.objects.filter(user=erin).exists()


def test_a_visitor_cannot_sign_up_as_someone_already_registered(invitation: Invitation, erin: User) -> None:
    """When an account has the invited address, the link asks to log in: no second account is made."""
    token = members.invitation_token(invitation)
    client = Client()
    page = client.get(f"/invitations/{token}/")
    assert b"Log in to accept" in page.content and b"Sign up" not in page.content
    client.post(f"/invitations/{token}/", {"username": "mallory", "password1": "mallory-pw-123",
                                           "password2": "mallory-pw-123"})
    assert not User.objects.filter(username="mallory").exists()
    assert not Membership.objects.filter(workspace=invitation.workspace, user__email="erin@example.com").exists()
