"""Admin for workspaces and memberships, and the admin site's front page (find an event by message id)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from .models import Invitation, Membership, Workspace
from .workspaces import create_workspace

admin.site.site_header = "Pipelines administration"
admin.site.site_title = "Pipelines admin"
# The index adds a message-id search box that lands on the Event list (see templates/admin/).
admin.site.index_template = "admin/pipelines_index.html"


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "member_count", "source_count", "destination_count", "created_at",
                    "deleting_at"]
    search_fields = ["name", "slug"]
    readonly_fields = ["created_at", "deleting_at"]
    inlines = [MembershipInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Workspace]:
        return super().get_queryset(request).annotate(
            n_members=Count("memberships", distinct=True),
            n_sources=Count("sources", distinct=True),
            n_destinations=Count("destinations", distinct=True),
        )

    @admin.display(description="members", ordering="n_members")
    def member_count(self, workspace: Workspace) -> int:
        return workspace.n_members

    @admin.display(description="sources", ordering="n_sources")
    def source_count(self, workspace: Workspace) -> int:
        return workspace.n_sources

    @admin.display(description="destinations", ordering="n_destinations")
    def destination_count(self, workspace: Workspace) -> int:
        return workspace.n_destinations

    def get_readonly_fields(self, request: HttpRequest, obj: Workspace | None = None) -> list[str]:
        # Slugs appear in URLs and API paths; changing one would break every client that uses it.
        return ["slug", "created_at", "deleting_at"] if obj else ["created_at"]

    def save_model(self, request: HttpRequest, obj: Workspace, form: Any, change: bool) -> None:
        if change:
            obj.save(update_fields=["name"])
            return
        created = create_workspace(request.user, name=obj.name, slug=obj.slug)  # the admin becomes its owner
        obj.pk = created.pk
        obj.refresh_from_db()
        obj._state.adding = False


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "workspace", "role", "created_at"]
    list_filter = ["role", "workspace"]
    search_fields = ["user__username", "user__email", "workspace__slug", "workspace__name"]
    list_select_related = ["user", "workspace"]
    autocomplete_fields = ["user", "workspace"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    """Invitations are made on the Members page (they need a signed link sent by email); admin shows them
    and can delete one (revoking its link)."""

    list_display = ["email", "workspace", "role", "invited_by", "created_at", "accepted_at"]
    list_filter = ["role", "workspace"]
    search_fields = ["email", "workspace__slug", "workspace__name"]
    list_select_related = ["workspace", "invited_by"]
    readonly_fields = ["workspace", "email", "role", "invited_by", "created_at", "accepted_at", "accepted_by"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
