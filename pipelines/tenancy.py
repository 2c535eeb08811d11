"""Workspace-scoped access. Every user-facing query goes through these helpers, so an object of a
workspace the user is not a member of is simply not found (404), never forbidden (which would leak
that it exists). A member whose role is below what an operation needs gets PermissionDenied (403: they
know the workspace exists); `Membership.Role` says what each role may do."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import F, QuerySet
from django.http import Http404

from .models import Membership, Workspace

Role = Membership.Role


def workspaces_for(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Workspace]:
    """The workspaces `user` is a member of. A workspace an owner deleted is not among them from that
    moment on, for anyone, although its data is still being removed in the background."""
    if not user.is_authenticated:
        return Workspace.objects.none()
    return Workspace.objects.filter(memberships__user=user, deleting_at__isnull=True)


def get_workspace(
    user: AbstractBaseUser | AnonymousUser, slug: str, *, at_least: Role = Role.VIEWER
) -> Workspace:
    """The workspace with this slug if `user` is a member of it; Http404 otherwise. The workspace comes
    with `role`, the user's Role in it (templates and serializers read it to offer only what is allowed).

    Raises PermissionDenied when the user's role does not include `at_least`."""
    try:
        workspace = workspaces_for(user).annotate(member_role=F("memberships__role")).get(slug=slug)
    except Workspace.DoesNotExist:
        raise Http404("No such workspace") from None
    workspace.role = Role(workspace.member_role)
    require_role(workspace, at_least)
    return workspace


def require_role(workspace: Workspace, at_least: Role) -> None:
    """PermissionDenied unless the role `get_workspace` attached to `workspace` includes `at_least`."""
    if not workspace.role.includes(at_least):
        raise PermissionDenied(
            f"This needs the {Role(at_least).label.lower()} role or above; "
            f"you are {workspace.role.label.lower()} in this workspace."
        )


def abilities(role: Role) -> dict[str, bool]:
    """What the UI offers a role (templates read it as `can`; views enforce the same with get_workspace):
    manage: change sources, destinations, actions, keys (admin); test: test actions (member);
    see_secrets: write keys and Track API details in full (member); invite: invite members up to admin
    (admin); members: change roles, remove members, invite owners (owner)."""
    return {
        "manage": role.includes(Role.ADMIN),
        "test": role.includes(Role.MEMBER),
        "see_secrets": role.includes(Role.MEMBER),
        "invite": role.includes(Role.ADMIN),
        "members": role.includes(Role.OWNER),
        "delete_workspace": role.includes(Role.OWNER),
    }
