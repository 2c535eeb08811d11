"""Privacy API shapes."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from .models import PrivacyRequest, Suppression


class IdentitySerializer(serializers.Serializer):
    """Who: any of the three identifiers (at least one). Emails compare case-insensitively."""

    user_id = serializers.CharField(required=False, allow_blank=True, max_length=200,
                                    help_text="The userId events carry.")
    email = serializers.CharField(required=False, allow_blank=True, max_length=254,
                                  help_text="An email in traits.email or context.traits.email.")
    anonymous_id = serializers.CharField(required=False, allow_blank=True, max_length=200,
                                         help_text="The anonymousId events carry.")


class ForwardSerializer(serializers.Serializer):
    destination_id = serializers.IntegerField()
    destination = serializers.CharField()
    kind = serializers.CharField()
    status = serializers.ChoiceField(choices=["ok", "failed", "skipped"])
    status_code = serializers.IntegerField(allow_null=True)
    error = serializers.CharField(allow_blank=True)
    attempts = serializers.IntegerField(help_text="How many times it was sent.")
    retryable = serializers.BooleanField(help_text="Failed for a reason that may pass: it is sent again later.")


class PrivacyRequestSerializer(serializers.ModelSerializer):
    requested_by = serializers.SerializerMethodField()
    deleted = serializers.DictField(child=serializers.IntegerField(), read_only=True,
                                    help_text="Rows removed per table, e.g. {\"ingest.Event\": 12}; \"destinations.DeliveryExchange "
                                              "redacted\" counts shared requests kept without their bodies.")
    rows_deleted = serializers.IntegerField(read_only=True)
    forwards = ForwardSerializer(many=True, read_only=True,
                                 help_text="The deletion as forwarded to each destination that supports one.")

    class Meta:
        model = PrivacyRequest
        fields = ["id", "kind", "user_id", "email", "anonymous_id", "requested_by", "status", "created_at",
                  "finished_at", "deleted", "rows_deleted", "forwards", "error"]
        read_only_fields = fields

    def get_requested_by(self, obj: PrivacyRequest) -> str | None:
        return obj.requested_by.get_username() if obj.requested_by is not None else None


class SuppressionSerializer(serializers.ModelSerializer):
    created_by = serializers.SerializerMethodField()

    class Meta:
        model = Suppression
        fields = ["id", "kind", "value", "created_at", "created_by", "dropped", "last_dropped_at"]
        read_only_fields = fields

    def get_created_by(self, obj: Suppression) -> str | None:
        return obj.created_by.get_username() if obj.created_by is not None else None


def identity_data(data: Any) -> dict[str, Any]:
    """The identity fields of a validated IdentitySerializer."""
    return {k: data.get(k, "") for k in ("user_id", "email", "anonymous_id")}
