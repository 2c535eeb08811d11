from __future__ import annotations

from rest_framework import serializers

from .models import AuditEntry


class AuditEntrySerializer(serializers.ModelSerializer):
    actor_id = serializers.IntegerField(read_only=True, allow_null=True,
                                        help_text="The user who made the change; null for the system.")
    actor = serializers.CharField(source="actor_label", read_only=True,
                                  help_text='e.g. "alice", "alice (api token)", "admin:bob", "system".')
    changes = serializers.JSONField(
        read_only=True,
        help_text='{field: {"before": value, "after": value}}; secret fields (write keys, secret '
                  'settings) only as {field: "changed"}.',
    )

    class Meta:
        model = AuditEntry
        fields = ["id", "created_at", "actor", "actor_id", "channel", "action", "object_type", "object_id",
                  "object_name", "changes"]
        read_only_fields = fields
