"""The Members page: who sees what, inviting (the email and its link), changing roles, removing and
leaving, the last owner's form error, and joining through the link by signing up or logging in."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.test import Client

from pipelines.models import Invitation, Membership, Workspace
from tests.helpers import browser_for

Role = Membership.Role


@pytest.fixture
def post_invitation(django_capture_on_commit_callbacks: Any) -> Any:
    """Submit the invite form; the mail (sent after commit) leaves when the request returns."""

    def post(client: Client, email: str, role: str = "member") -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return client.post("/w/acme/members/", {"email": email, "role": role})

    return post


def test_the_members_page_lists_people_and_offers_owners_every_control(owner_client: Client, teammate: User) -> None:
    page = owner_client.get("/w/acme/members/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "alice" in html and "bob" in html and "bob@example.com" in html
    assert "Change role" in html and "Remove <span" in html and "Send invitation" in html
    assert 'href="/w/acme/members/"' in owner_client.get("/w/acme/connections/").content.decode()  # in the nav


def test_viewers_see_the_members_but_no_controls(viewer: User, owner: User) -> None:
    html = browser_for(viewer).get("/w/acme/members/").content.decode()
    assert "alice" in html and "Owner" in html
    assert "Change role" not in html and "Send invitation" not in html and "Remove <span" not in html
    assert "Leave workspace" in html  # their own row


def test_inviting_sends_a_link_that_signs_a_newcomer_up(owner_client: Client, post_invitation: Any) -> None:
    response = post_invitation(owner_client, "erin@example.com", "viewer")
    assert response.status_code == 302
    assert "Invited erin@example.com as viewer" in owner_client.get("/w/acme/members/").content.decode()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["erin@example.com"]
    link = re.search(r"http://testserver(/invitations/\S+/)", mail.outbox[0].body).group(1)  # type: ignore[union-attr]

    visitor = Client()
    page = visitor.get(link)
    assert b"Join Acme" in page.content and b"as <strong>viewer</strong>" in page.content
    assert b"Create your account" in page.content
    bad = visitor.post(link, {"username": "erin", "password1": "erin-pw-12345", "password2": "different-pw"})
    assert bad.status_code == 400 and not User.objects.filter(username="erin").exists()
    joined = visitor.post(link, {"username": "erin", "password1": "erin-pw-12345", "password2": "erin-pw-12345"})
    assert joined.status_code == 302 and joined["Location"] == "/w/acme/connections/"
    erin = User.objects.get(username="erin")
    assert erin.email == "erin@example.com"
    assert Membership.objects.get(user=erin).role == "viewer"
    assert visitor.get("/w/acme/connections/").status_code == 200  # logged in as erin


def test_an_existing_account_logs_in_then_accepts(owner_client: Client, post_invitation: Any) -> None:
    frank = User.objects.create_user("frank", "frank@example.com", "frank-password-1")
    post_invitation(owner_client, "frank@example.com", "admin")
    link = re.search(r"http://testserver(/invitations/\S+/)", mail.outbox[0].body).group(1)  # type: ignore[union-attr]
    visitor = Client()
    page = visitor.get(link).content.decode()
    assert "Log in to accept" in page
    login_url = re.search(r'href="(/login/\?next=[^"]+)"', page).group(1)  # type: ignore[union-attr]
    logged_in = visitor.post(login_url.replace("&amp;", "&"), {
        "username": "frank", "password": "frank-password-1", "next": link})
    assert logged_in.status_code == 302 and logged_in["Location"] == link
    assert b"Accept invitation" in visitor.get(link).content
    assert visitor.post(link).status_code == 302
    assert Membership.objects.get(user=frank).role == "admin"


def test_admins_invite_up_to_admin(owner: User, workspace: Workspace, post_invitation: Any) -> None:
    dana = User.objects.create_user("dana", "dana@example.com", "dana-password-1")
    Membership.objects.create(user=dana, workspace=workspace, role=Role.ADMIN)
    client = browser_for(dana)
    html = client.get("/w/acme/members/").content.decode()
    assert '<option value="admin"' in html and '<option value="owner"' not in html.split("invite-form")[1]
    refused = post_invitation(client, "erin@example.com", "owner")
    assert refused.status_code == 400 and b"Select a valid choice" in refused.content
    assert not Invitation.objects.exists() and not mail.outbox
    assert post_invitation(client, "erin@example.com", "admin").status_code == 302


def test_members_posting_an_invitation_get_the_403_page(teammate: User, post_invitation: Any) -> None:
    response = post_invitation(browser_for(teammate), "erin@example.com")
    assert response.status_code == 403 and b"needs the admin role" in response.content
    assert not mail.outbox


def test_inviting_a_member_is_a_form_error(owner_client: Client, teammate: User, post_invitation: Any) -> None:
    response = post_invitation(owner_client, "bob@example.com")
    assert response.status_code == 400 and b"already a member" in response.content


def test_owners_change_roles_and_remove_members(owner_client: Client, teammate: User) -> None:
    membership = Membership.objects.get(user=teammate)
    assert owner_client.post(f"/w/acme/members/{membership.id}/role/", {"role": "viewer"}).status_code == 302
    assert Membership.objects.get(id=membership.id).role == "viewer"
    assert owner_client.post(f"/w/acme/members/{membership.id}/remove/").status_code == 302
    assert not Membership.objects.filter(id=membership.id).exists()


def test_the_last_owner_gets_a_form_error(owner_client: Client, owner: User) -> None:
    mine = Membership.objects.get(user=owner)
    for response in (owner_client.post(f"/w/acme/members/{mine.id}/role/", {"role": "member"}),
                     owner_client.post(f"/w/acme/members/{mine.id}/remove/")):
        assert response.status_code == 400
        assert b"a workspace needs at least one owner" in response.content
    assert Membership.objects.get(id=mine.id).role == "owner"


def test_a_member_leaves_and_sees_how_to_join_again(teammate: User) -> None:
    client = browser_for(teammate)
    mine = Membership.objects.get(user=teammate)
    left = client.post(f"/w/acme/members/{mine.id}/remove/")
    assert left.status_code == 302
    assert not Membership.objects.filter(id=mine.id).exists()
    home = client.get("/")
    assert home.status_code == 200
    assert b"invites you from its <strong>Members</strong> page" in home.content
    assert b"ask an owner to invite you" not in home.content.lower()


def test_owners_revoke_invitations(owner_client: Client, owner: User, workspace: Workspace) -> None:
    invitation = Invitation.objects.create(workspace=workspace, email="erin@example.com", invited_by=owner)
    assert b"erin@example.com" in owner_client.get("/w/acme/members/").content
    assert owner_client.post(f"/w/acme/invitations/{invitation.id}/revoke/").status_code == 302
    assert not Invitation.objects.exists()
