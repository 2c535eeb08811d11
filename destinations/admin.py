"""Admin for delivery records and per-minute counts (read-only views of what the workers did) and for
destination filters (validated as the Filters tab and the API validate them)."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from .models import Delivery, DeliveryCount, DestinationFilters
from .routing_controls import FilterError


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ["message_id", "destination", "action", "status", "attempts", "last_status_code", "updated_at"]
    list_filter = ["status", "destination__kind", "workspace"]
    search_fields = ["message_id"]
    search_help_text = "Exact message id."
    list_select_related = ["destination", "action"]
    show_full_result_count = False
    fields = ["message_id", "event_link", "workspace", "destination", "action", "status", "attempts",
              "last_status_code", "last_error", "next_attempt_at", "request_display", "response_display",
              "created_at", "updated_at"]
    readonly_fields = fields

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Delivery], search_term: str) -> Any:
        term = search_term.strip()
        return (queryset.filter(message_id=term) if term else queryset), False

    @admin.display(description="event")
    def event_link(self, delivery: Delivery) -> str:
        return format_html('<a href="{}">{}</a>', reverse("admin:ingest_event_change", args=[delivery.event_id]),
                           delivery.message_id)

    @admin.display(description="last request (secrets redacted)")
    def request_display(self, delivery: Delivery) -> str:
        return format_html("<pre>{}</pre>", json.dumps(delivery.request, indent=2, ensure_ascii=False))

    @admin.display(description="last response")
    def response_display(self, delivery: Delivery) -> str:
        return format_html("<pre>{}</pre>", json.dumps(delivery.response, indent=2, ensure_ascii=False))


@admin.register(DeliveryCount)
class DeliveryCountAdmin(ReadOnlyAdmin):
    list_display = ["destination", "minute", "delivered", "retrying", "failed", "filtered"]
    list_filter = ["destination__workspace", "destination__kind"]
    search_fields = ["destination__name"]
    list_select_related = ["destination"]
    date_hierarchy = "minute"
    fields = list_display
    readonly_fields = fields


class DestinationFiltersForm(forms.ModelForm):
    class Meta:
        model = DestinationFilters
        fields = ["destination", "keep_if", "drop_if", "sample_percent", "fields_mode", "fields"]

    def clean(self) -> dict[str, Any]:
        from .destination_filters import check

        data = super().clean()
        if not self.errors:
            try:
                clean, _ = check(data)
            except FilterError as exc:
                self.add_error(exc.field if exc.field in self.fields else None, exc.message)
            else:
                data.update(clean)
        return data


@admin.register(DestinationFilters)
class DestinationFiltersAdmin(admin.ModelAdmin):
    form = DestinationFiltersForm
    list_display = ["destination", "fields_mode", "sample_percent", "updated_at"]
    list_select_related = ["destination"]
    raw_id_fields = ["destination"]
