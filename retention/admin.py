from django.contrib import admin

from .models import RetentionPolicy


@admin.register(RetentionPolicy)
class RetentionPolicyAdmin(admin.ModelAdmin):
    list_display = ("workspace", "events_days", "deliveries_days", "counts_days", "counts_rollup_days", "updated_at")
    search_fields = ("workspace__slug", "workspace__name")
    readonly_fields = ("updated_at",)
