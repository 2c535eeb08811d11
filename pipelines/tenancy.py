"""Workspace-scoped access. Every user-facing query goes through these helpers, so an object of a
workspace the user is not a member of is simply not found (404), never forbidden (which would leak
that it exists)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet
from django.http import Http404

from .models import Workspace


def workspaces_for(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Workspace]:
    if not user.is_authenticated:
        return Workspace.objects.none()
    return Workspace.objects.filter(memberships__user=user)


def get_workspace(user: AbstractBaseUser | AnonymousUser, slug: str) -> Workspace:
    """The workspace with this slug if `user` is a member of it; Http404 otherwise."""
    try:
        return workspaces_for(user).get(slug=slug)
    except Workspace.DoesNotExist:
        raise Http404("No such workspace") from None
