"""The audit log in Django admin: read-only, across every workspace."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html_join

from .models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "workspace", "actor_label", "channel", "action", "object_type", "object_name"]
    list_filter = ["object_type", "action", "channel", "workspace"]
    search_fields = ["object_name", "actor_label", "workspace__slug", "workspace__name"]
    search_help_text = "Object name, who (e.g. alice, admin:bob, system) or workspace."
    list_select_related = ["workspace"]
    date_hierarchy = "created_at"
    fields = ["created_at", "workspace", "actor", "actor_label", "channel", "action", "object_type", "object_id",
              "object_name", "change_list"]
    readonly_fields = fields

    @admin.display(description="changes")
    def change_list(self, entry: AuditEntry) -> Any:
        return format_html_join("\n", "<div>{}</div>", ((line,) for line in entry.change_lines())) or "—"

    # The log is a record: nobody adds, edits or deletes entries by hand.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
