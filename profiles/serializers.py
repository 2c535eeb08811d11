from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .models import Device, GroupMembership, Person, PersonEvent


class IdentifiersSerializer(serializers.Serializer):
    user_id = serializers.ListField(child=serializers.CharField(), help_text="userIds (case-sensitive).")
    email = serializers.ListField(child=serializers.CharField(), help_text="Emails, lower-cased.")
    anonymous_id = serializers.ListField(child=serializers.CharField(), help_text="anonymousIds merged into the person.")


class AudienceMembershipSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="The audience's key.")
    name = serializers.CharField()
    entered_at = serializers.DateTimeField(help_text="When the person entered the audience (this time).")


class PersonSerializer(serializers.ModelSerializer):
    identifiers = serializers.SerializerMethodField()
    traits = serializers.JSONField(read_only=True, help_text="The merged traits (last write wins by event time).")

    class Meta:
        model = Person
        fields = ["id", "identifiers", "traits", "created_at", "updated_at"]
        read_only_fields = fields

    @extend_schema_field(IdentifiersSerializer)
    def get_identifiers(self, person: Person) -> dict[str, list[str]]:
        found = self.context.get("identifiers", {}).get(person.id, {})
        return {kind: list(found.get(kind, [])) for kind in ("user_id", "email", "anonymous_id")}


class DeviceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Device
        fields = ["device_id", "platform", "attributes", "last_seen_at"]


class GroupSerializer(serializers.ModelSerializer):
    class Meta:
        model = GroupMembership
        fields = ["group_id", "traits", "first_seen_at", "last_seen_at"]


class EventStatSerializer(serializers.ModelSerializer):
    per_day = serializers.JSONField(help_text='{"YYYY-MM-DD": count} (UTC days inside the history window).')

    class Meta:
        model = PersonEvent
        fields = ["name", "per_day", "first_at", "last_at", "last_properties"]


class PersonDetailSerializer(PersonSerializer):
    audiences = serializers.SerializerMethodField(
        help_text="The audiences the person is in now, with when they entered (empty until the audiences "
                  "feature is enabled).")
    devices = DeviceSerializer(many=True, read_only=True)
    groups = GroupSerializer(many=True, read_only=True)
    events = EventStatSerializer(many=True, read_only=True, source="event_stats",
                                 help_text="The compact event history: one entry per track event name.")

    class Meta(PersonSerializer.Meta):
        fields = [*PersonSerializer.Meta.fields, "audiences", "devices", "groups", "events"]
        read_only_fields = fields

    @extend_schema_field(AudienceMembershipSerializer(many=True))
    def get_audiences(self, person: Person) -> list[dict[str, Any]]:
        items = self.context.get("audiences", {}).get(person.id, [])
        return [{"key": a.get("key", ""), "name": a.get("name", ""), "entered_at": a.get("entered_at")}
                for a in items]
