"""Admin: privacy requests and suppressions, read-only (changes go through the API or the Privacy page,
which record who asked)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import PrivacyRequest, Suppression


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(PrivacyRequest)
class PrivacyRequestAdmin(_ReadOnly):
    list_display = ["kind", "user_id", "email", "anonymous_id", "workspace", "requested_by", "status", "created_at"]
    list_filter = ["kind", "status", "workspace"]
    list_select_related = ["workspace", "requested_by"]


@admin.register(Suppression)
class SuppressionAdmin(_ReadOnly):
    list_display = ["kind", "value", "workspace", "dropped", "last_dropped_at", "created_at"]
    list_filter = ["kind", "workspace"]
    search_fields = ["value"]
    list_select_related = ["workspace"]
