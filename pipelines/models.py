"""Tenancy: every object a user can see belongs to a Workspace they are a Member of."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.text import slugify


class Workspace(models.Model):
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Set when an owner deletes the workspace (retention.workspace_deletion): from then on it is gone for
    # every user and key, and a background task removes its data, then this row.
    deleting_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The lease of the task removing its data (one run at a time; a dead worker's lease runs out).
    deletion_locked_until = models.DateTimeField(null=True, blank=True, editable=False)

    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership", related_name="workspaces")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def unique_slug(name: str) -> str:
        base = slugify(name)[:50] or "workspace"
        slug, n = base, 2
        while Workspace.objects.filter(slug=slug).exists():
            slug, n = f"{base}-{n}", n + 1
        return slug


class Membership(models.Model):
    class Role(models.TextChoices):
        """What a member may do, each role including everything of the roles below it:
        viewer (read only, secrets never shown), member (also test actions, replay), admin (also sources,
        destinations, actions, keys, workspace settings), owner (also members and deleting the workspace)."""

        OWNER = "owner", "Owner"
        ADMIN = "admin", "Admin"
        MEMBER = "member", "Member"
        VIEWER = "viewer", "Viewer"

        @property
        def rank(self) -> int:
            return _ROLE_RANK[self.value]

        def includes(self, other: str) -> bool:
            """Whether this role may do what `other` may."""
            return _ROLE_RANK[self.value] >= _ROLE_RANK[str(other)]

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "workspace"], name="unique_membership")]

    def __str__(self) -> str:
        return f"{self.user} in {self.workspace} ({self.role})"


_ROLE_RANK = {"viewer": 0, "member": 1, "admin": 2, "owner": 3}


class Invitation(models.Model):
    """An invitation to join a workspace with a role, sent by email as a signed link (pipelines.members).
    The link names this row: revoking (deleting) it invalidates the link, accepting it marks it used."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=Membership.Role.choices, default=Membership.Role.MEMBER)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One pending invitation per address and workspace: inviting again updates and re-sends it.
            models.UniqueConstraint(fields=["workspace", "email"], condition=models.Q(accepted_at__isnull=True),
                                    name="one_pending_invitation_per_email"),
        ]

    def __str__(self) -> str:
        return f"{self.email} to {self.workspace} ({self.role})"
