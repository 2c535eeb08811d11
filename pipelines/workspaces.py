"""Creating workspaces: the one place a Workspace and its first Membership come into being."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify

from .models import Membership, Workspace


@transaction.atomic
def create_workspace(owner: AbstractBaseUser, *, name: str, slug: str = "") -> Workspace:
    """Create a workspace with `owner` as its owner. Without a slug one is derived from the name.

    Raises ValidationError for an empty name, a malformed slug or a slug already taken."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": "A workspace needs a name."})
    if slug:
        if slugify(slug) != slug:
            raise ValidationError({"slug": "Use lowercase letters, digits and hyphens only."})
        if Workspace.objects.filter(slug=slug).exists():
            raise ValidationError({"slug": f"The slug {slug!r} is already taken."})
    else:
        slug = Workspace.unique_slug(name)
    workspace = Workspace.objects.create(name=name, slug=slug)
    Membership.objects.create(user=owner, workspace=workspace, role=Membership.Role.OWNER)
    return workspace
