"""Read-only admin views of the profile store (it is written only by the Profiles destination)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import Identifier, IdentityConflict, Person


class ReadOnly:
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class IdentifierInline(ReadOnly, admin.TabularInline):
    model = Identifier
    fields = ["kind", "value", "created_at"]
    readonly_fields = fields
    extra = 0


@admin.register(Person)
class PersonAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["id", "workspace", "created_at", "updated_at"]
    list_filter = ["workspace"]
    search_fields = ["identifiers__value"]
    readonly_fields = ["workspace", "traits", "trait_times", "created_at", "updated_at"]
    inlines = [IdentifierInline]


@admin.register(IdentityConflict)
class IdentityConflictAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["id", "workspace", "user_id", "email", "user_person", "email_person", "created_at"]
    list_filter = ["workspace"]
