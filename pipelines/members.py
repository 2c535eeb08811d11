"""Workspace members and invitations: the state changes behind the Members page and the members API.

Who may do what (views check it with pipelines.tenancy before calling in; `check_can_invite` and
`check_can_manage_invitation` hold the one rule that depends on the target role):
- everyone in the workspace sees its members; admins and owners see pending invitations;
- admins invite with roles up to admin, and revoke those invitations; only owners invite owners;
- owners change roles and remove members; anyone may leave (remove their own membership);
- a workspace always keeps an owner: the last owner can't leave, be removed or be demoted.

An invitation link carries a token signed with SECRET_KEY (django.core.signing) that names the
invitation row and its email address, and expires after INVITATION_MAX_AGE_DAYS. Accepting needs a
logged-in user whose email is the invited address.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from .models import Invitation, Membership, Workspace

Role = Membership.Role
_SALT = "pipelines.members.invitation"


def _lock(workspace: Workspace) -> None:
    """Serialize membership changes of one workspace (the last-owner rule reads, then writes)."""
    Workspace.objects.select_for_update().filter(pk=workspace.pk).first()


def _owner_count(workspace: Workspace) -> int:
    return Membership.objects.filter(workspace=workspace, role=Role.OWNER).count()


def _last_owner_error(what: str) -> ValidationError:
    return ValidationError(
        f"{what}: a workspace needs at least one owner. Make another member an owner first.",
        code="last_owner",
    )


# --- Members -------------------------------------------------------------------------------------------


@transaction.atomic
def change_role(membership: Membership, role: str) -> Membership:
    """Give the member `role`. Raises ValidationError: an unknown role (code "invalid_role"), or
    demoting the last owner (code "last_owner")."""
    if role not in Role.values:
        raise ValidationError(f"Unknown role {role!r}: choose one of {', '.join(Role.values)}.", code="invalid_role")
    _lock(membership.workspace)
    membership.refresh_from_db()
    if membership.role == Role.OWNER and role != Role.OWNER and _owner_count(membership.workspace) == 1:
        raise _last_owner_error("The last owner can't be demoted")
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def remove_member(membership: Membership) -> None:
    """Remove the membership (a member leaving, or an owner removing them). Raises ValidationError
    (code "last_owner") for the last owner."""
    _lock(membership.workspace)
    membership.refresh_from_db()
    if membership.role == Role.OWNER and _owner_count(membership.workspace) == 1:
        raise _last_owner_error("The last owner can't leave or be removed")
    membership.delete()


# --- Invitations ---------------------------------------------------------------------------------------


def check_can_invite(inviter_role: Role, role: str) -> None:
    """PermissionDenied unless a member with `inviter_role` may invite with `role` (admins up to admin,
    owners any role); ValidationError (code "invalid_role") for an unknown role."""
    if role not in Role.values:
        raise ValidationError(f"Unknown role {role!r}: choose one of {', '.join(Role.values)}.", code="invalid_role")
    if not inviter_role.includes(Role.ADMIN):
        raise PermissionDenied("Inviting members needs the admin role or above.")
    if not inviter_role.includes(role):
        raise PermissionDenied(f"Only owners can invite someone as {Role(role).label.lower()}.")


def check_can_manage_invitation(manager_role: Role, invitation: Invitation) -> None:
    """PermissionDenied unless `manager_role` may revoke `invitation` (the roles they could invite with)."""
    check_can_invite(manager_role, invitation.role)


def invitation_token(invitation: Invitation) -> str:
    """The signed, timestamped token of an invitation link."""
    return signing.dumps({"i": invitation.pk, "e": invitation.email}, salt=_SALT, compress=True)


def _max_age() -> int:
    return settings.INVITATION_MAX_AGE_DAYS * 24 * 3600


def invitation_for(token: str) -> Invitation:
    """The pending invitation a token names. Raises ValidationError: code "invitation_expired" for a
    token older than INVITATION_MAX_AGE_DAYS, "invitation_invalid" for a tampered or unknown token, or
    one whose invitation was revoked or already accepted."""
    try:
        data = signing.loads(token, salt=_SALT, max_age=_max_age())
    except signing.SignatureExpired:
        raise ValidationError("This invitation has expired: ask for a new one.", code="invitation_expired") from None
    except signing.BadSignature:
        raise ValidationError("This invitation link is not valid.", code="invitation_invalid") from None
    invitation = (Invitation.objects.select_related("workspace", "invited_by")
                  .filter(pk=data.get("i"), email=data.get("e"), accepted_at__isnull=True,
                          workspace__deleting_at__isnull=True).first())
    if invitation is None:
        raise ValidationError("This invitation is no longer valid (it was revoked or already used).",
                              code="invitation_invalid")
    return invitation


@transaction.atomic
def invite(workspace: Workspace, *, inviter: AbstractBaseUser, inviter_role: Role, email: str, role: str,
           accept_url: Any) -> Invitation:
    """Invite `email` to the workspace with `role` and email them the link (`accept_url(token)` builds it).
    Inviting an address again updates its pending invitation and sends a fresh link.

    Raises PermissionDenied (see check_can_invite) and ValidationError: a malformed address (code
    "invalid_email"), or someone already a member (code "already_member")."""
    from django.core.validators import validate_email

    check_can_invite(inviter_role, role)
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError("Enter a valid email address.", code="invalid_email") from None
    if Membership.objects.filter(workspace=workspace, user__email__iexact=email).exists():
        raise ValidationError(f"{email} is already a member of {workspace.name}.", code="already_member")
    invitation = Invitation.objects.filter(workspace=workspace, email=email, accepted_at__isnull=True).first()
    if invitation is None:
        invitation = Invitation(workspace=workspace, email=email)
    invitation.role, invitation.invited_by = role, inviter
    invitation.created_at = timezone.now()
    invitation.save()
    url = accept_url(invitation_token(invitation))
    inviter_name = inviter.get_full_name() or inviter.get_username()  # type: ignore[attr-defined]
    days = settings.INVITATION_MAX_AGE_DAYS
    # Sent after commit: a rolled-back invitation must not leave a link in someone's mailbox.
    transaction.on_commit(lambda: send_mail(
        subject=f"You are invited to {workspace.name} on Pipelines",
        message=(
            f"{inviter_name} invited you to the workspace {workspace.name} as {Role(role).label.lower()}.\n\n"
            f"Accept the invitation: {url}\n\n"
            f"The link works for {days} day{'s' if days != 1 else ''}, for an account with the email address "
            f"{email}. If you did not expect it, ignore this message.\n"
        ),
        from_email=None, recipient_list=[email],
    ))
    return invitation


@transaction.atomic
def revoke(invitation: Invitation) -> None:
    """Delete a pending invitation: its link stops working."""
    invitation.delete()


def email_matches(invitation: Invitation, user: AbstractBaseUser) -> bool:
    return (getattr(user, "email", "") or "").strip().lower() == invitation.email.lower()


@transaction.atomic
def accept(invitation: Invitation, user: AbstractBaseUser) -> Membership:
    """Make `user` a member with the invitation's role and mark it used. Someone already a member keeps
    their role. Raises ValidationError (code "wrong_email") when the user's email is not the invited one."""
    if not email_matches(invitation, user):
        raise ValidationError(
            f"This invitation is for {invitation.email}; you are logged in with a different email address. "
            "Log out and log in (or sign up) with the invited address.",
            code="wrong_email",
        )
    _lock(invitation.workspace)
    membership, _ = Membership.objects.get_or_create(user=user, workspace=invitation.workspace,
                                                     defaults={"role": invitation.role})
    Invitation.objects.filter(pk=invitation.pk).update(accepted_at=timezone.now(), accepted_by=user)
    return membership
