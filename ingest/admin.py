"""Admin for stored events: read-only, found by exact message id (the admin index links here)."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html

from .models import Event, OutboxEntry, WebhookBody


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["message_id", "type", "name", "source", "workspace", "received_at"]
    list_filter = ["type", "workspace"]
    search_fields = ["message_id"]
    search_help_text = "Exact message id. A single match opens the event."
    list_select_related = ["source", "workspace"]
    # Counting a large event table on every page costs more than it tells.
    show_full_result_count = False
    fields = ["message_id", "type", "source", "workspace", "received_at", "payload_display", "deliveries_link"]
    readonly_fields = fields

    @admin.display(description="event / name")
    def name(self, event: Event) -> str:
        payload = event.payload or {}
        return payload.get("event") or payload.get("name") or ""

    @admin.display(description="payload")
    def payload_display(self, event: Event) -> str:
        return format_html("<pre>{}</pre>", json.dumps(event.payload, indent=2, ensure_ascii=False))

    @admin.display(description="deliveries")
    def deliveries_link(self, event: Event) -> str:
        url = reverse("admin:destinations_delivery_changelist") + f"?event__id__exact={event.pk}"
        return format_html('<a href="{}">Deliveries of this event</a>', url)

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Event], search_term: str) -> Any:
        # An exact match on the indexed column: a LIKE/UPPER() search would scan the whole table.
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(message_id=term), False

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        term = request.GET.get("q", "").strip()
        if term and set(request.GET) == {"q"}:
            matches = list(Event.objects.filter(message_id=term).values_list("pk", flat=True)[:2])
            if len(matches) == 1:
                return HttpResponseRedirect(reverse("admin:ingest_event_change", args=[matches[0]]))
        return super().changelist_view(request, extra_context)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # events enter only through the ingest API

    def has_change_permission(self, request: HttpRequest, obj: Event | None = None) -> bool:
        return False


@admin.register(OutboxEntry)
class OutboxEntryAdmin(admin.ModelAdmin):
    """Stored events not yet handed to fan-out (normally empty within a second; the sweep takes over
    after OUTBOX_GRACE_SECONDS)."""

    list_display = ["id", "handed_at", "event_count"]
    fields = ["handed_at", "event_ids"]
    readonly_fields = fields

    @admin.display(description="events")
    def event_count(self, entry: OutboxEntry) -> int:
        return len(entry.ids())

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: OutboxEntry | None = None) -> bool:
        return False


@admin.register(WebhookBody)
class WebhookBodyAdmin(admin.ModelAdmin):
    """Bodies posted to /v1/webhooks/{key}, read-only (the source's Webhook tab re-processes them)."""

    list_display = ["id", "source", "workspace", "status", "event_count", "received_at"]
    list_filter = ["status", "workspace"]
    list_select_related = ["source", "workspace"]
    show_full_result_count = False
    fields = ["source", "workspace", "received_at", "status", "reason", "event_count", "content_type", "headers",
              "body_display", "processed_at"]
    readonly_fields = fields

    @admin.display(description="body")
    def body_display(self, body: WebhookBody) -> str:
        return format_html("<pre>{}</pre>", body.text[:64 * 1024])

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: WebhookBody | None = None) -> bool:
        return False
