"""Serializers of the management API. They validate shape only; every change goes through
connections.services (or pipelines.workspaces), which own the rules. Secrets never leave in full:
destination settings are rendered masked, Track API keys appear only in the create/rotate responses."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from destinations.catalog import choices as catalog_choices
from destinations.catalog import get_definition
from ingest.models import Event
from pipelines import workspaces
from pipelines.api_input import Id, JSONValueField
from pipelines.models import Membership, Workspace

from . import services
from .models import Action, Destination, Source, SourceKind, _mask_value


class WorkspaceSerializer(serializers.ModelSerializer):
    slug = serializers.SlugField(max_length=60, required=False, allow_blank=True,
                                 help_text="Derived from the name when omitted.")
    role = serializers.SerializerMethodField(help_text="Your role in this workspace: owner, admin, member or viewer.")

    class Meta:
        model = Workspace
        fields = ["id", "name", "slug", "role", "created_at"]
        read_only_fields = ["id", "created_at"]
        extra_kwargs = {"slug": {"validators": []}}  # uniqueness is the service's to report

    @extend_schema_field(serializers.ChoiceField(choices=Membership.Role.choices))
    def get_role(self, workspace: Workspace) -> str | None:
        role = getattr(workspace, "my_role", None)
        if role is None:
            user = self.context["request"].user
            role = workspace.memberships.filter(user=user).values_list("role", flat=True).first()
        return role

    def create(self, validated: dict[str, Any]) -> Workspace:
        return workspaces.create_workspace(
            self.context["request"].user, name=validated["name"], slug=validated.get("slug") or ""
        )


class WorkspaceDeletionSerializer(serializers.ModelSerializer):
    """The answer to deleting a workspace (202): it is gone for everybody now; its data goes in the background."""

    status = serializers.SerializerMethodField(help_text='Always "deleting".')
    message = serializers.SerializerMethodField()

    class Meta:
        model = Workspace
        fields = ["id", "name", "slug", "status", "deleting_at", "message"]
        read_only_fields = fields

    def get_status(self, workspace: Workspace) -> str:
        return "deleting"

    def get_message(self, workspace: Workspace) -> str:
        return (f"The workspace {workspace.name} is deleted: its pages, API routes and keys stopped working. "
                "Its events, deliveries, profiles and settings are being removed in the background.")


class SourceSerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(choices=SourceKind.choices)
    client_side = serializers.BooleanField(source="is_client_side", read_only=True,
                                           help_text="Client-side sources may feed direct-mode destinations.")
    site_id = serializers.CharField(read_only=True, allow_null=True,
                                    help_text="Track API site id (journeys_track_api sources only).")

    class Meta:
        model = Source
        fields = ["id", "name", "kind", "enabled", "write_key", "site_id", "client_side", "created_at", "updated_at"]
        read_only_fields = ["id", "write_key", "created_at", "updated_at"]

    def to_representation(self, source: Source) -> dict[str, Any]:
        data = super().to_representation(source)
        workspace = self.context.get("workspace")
        if workspace is not None and not workspace.role.includes(Membership.Role.MEMBER):
            data["write_key"] = _mask_value(data["write_key"])  # viewers never see a credential
        return data

    def validate_kind(self, kind: str) -> str:
        if self.instance is not None and kind != self.instance.kind:
            raise serializers.ValidationError("The kind of a source can't be changed; create a new source.")
        return kind

    def create(self, validated: dict[str, Any]) -> Source:
        with transaction.atomic():
            source, api_key = services.create_source(
                self.context["workspace"], name=validated["name"], kind=validated["kind"]
            )
            if validated.get("enabled") is False:
                services.update_source(source, enabled=False)
        source.issued_api_key = api_key  # shown once, in the creation response
        return source

    def update(self, source: Source, validated: dict[str, Any]) -> Source:
        return services.update_source(source, name=validated.get("name"), enabled=validated.get("enabled"))


class SourceCredentialsSerializer(SourceSerializer):
    """A source right after creation or key rotation: for Track API sources, the API key, shown once."""

    api_key = serializers.SerializerMethodField(
        help_text="journeys_track_api sources only: the Track API key. It is stored hashed and never shown again."
    )

    class Meta(SourceSerializer.Meta):
        fields = [*SourceSerializer.Meta.fields, "api_key"]

    def get_api_key(self, source: Source) -> str | None:
        return getattr(source, "issued_api_key", None)


class ActionSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Action
        fields = ["id", "kind", "name", "enabled"]


@extend_schema_field({"type": "string", "enum": [key for key, _ in catalog_choices()]},
                     component_name="DestinationKind")
class DestinationKindField(serializers.CharField):
    """A catalog key; the schema lists them, the serializer's own check gives the error that names the list."""


class DestinationSerializer(serializers.ModelSerializer):
    kind = DestinationKindField(max_length=64, help_text="A catalog key, see /api/catalog/destinations/.")
    name = serializers.CharField(max_length=120, required=False, allow_blank=True,
                                 help_text="Defaults to the destination type's name.")
    settings = JSONValueField(
        required=False,
        help_text="Values for the type's settings fields. Secrets are masked on read; sending a secret back "
        "empty or masked keeps the stored value. On PATCH, keys you send replace those stored (null clears).",
    )
    source_ids = serializers.ListField(
        child=Id(), required=False,
        help_text="Exactly the sources connected to this destination (same workspace).",
    )
    actions = ActionSummarySerializer(many=True, read_only=True)

    class Meta:
        model = Destination
        fields = ["id", "name", "kind", "mode", "enabled", "settings", "source_ids", "actions",
                  "created_at", "updated_at"]
        read_only_fields = ["id", "mode", "created_at", "updated_at"]

    def validate_kind(self, kind: str) -> str:
        if self.instance is not None:
            if kind != self.instance.kind:
                raise serializers.ValidationError("The type of a destination can't be changed.")
            return kind
        try:
            get_definition(kind)
        except KeyError:
            raise serializers.ValidationError(
                f"Unknown destination type {kind!r}; see /api/catalog/destinations/ for the types."
            ) from None
        return kind

    def validate_settings(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise serializers.ValidationError("Settings must be a JSON object.")
        return value

    def validate_source_ids(self, ids: list[int]) -> list[Source]:
        wanted = set(ids)
        found = list(Source.objects.filter(workspace=self.context["workspace"], id__in=wanted))
        missing = sorted(wanted - {s.id for s in found})
        if missing:
            raise serializers.ValidationError(
                f"No source with id {', '.join(map(str, missing))} in this workspace."
            )
        return found

    def to_representation(self, destination: Destination) -> dict[str, Any]:
        data = super().to_representation(destination)
        data["settings"] = destination.masked_settings()
        data["source_ids"] = sorted(c.source_id for c in destination.connections.all())
        return data

    def create(self, validated: dict[str, Any]) -> Destination:
        return services.create_destination(
            self.context["workspace"],
            name=validated.get("name", ""),
            kind=validated["kind"],
            settings=validated.get("settings", {}),
            enabled=validated.get("enabled", True),
            sources=validated.get("source_ids", ()),
        )

    @transaction.atomic
    def update(self, destination: Destination, validated: dict[str, Any]) -> Destination:
        settings = None
        if "settings" in validated:
            current = destination.settings
            sent = _without_echoed_masks(destination, validated["settings"], current)
            # PATCH semantics for settings: what is sent replaces, what is not sent stays.
            settings = {**destination.config, **sent}
        services.update_destination(
            destination, name=validated.get("name"), settings=settings, enabled=validated.get("enabled")
        )
        if "source_ids" in validated:
            services.set_sources(destination, validated["source_ids"])
        return destination


def _without_echoed_masks(destination: Destination, sent: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """Drop secrets that a client sent back exactly as we displayed them (masked): they mean 'unchanged'."""
    secret_keys = destination.definition.secret_keys()
    return {
        k: v for k, v in sent.items()
        if not (k in secret_keys and k in current and v == _mask_value(current[k]))
    }


class ActionSerializer(serializers.ModelSerializer):
    kind = serializers.CharField(max_length=64, help_text="An action key of the destination's catalog type.")
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    trigger = serializers.CharField(required=False, allow_blank=False,
                                    help_text='The trigger language, e.g. type = "track" and event = "Order Completed", '
                                              'or type = "track" and event not in ["Device Deleted", "User Deleted"]')
    mapping = JSONValueField(required=False, help_text="Field → mapping directive; defaults to the "
                                    "catalog's default mapping.")

    class Meta:
        model = Action
        fields = ["id", "kind", "name", "trigger", "mapping", "enabled", "position", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]

    def validate_kind(self, kind: str) -> str:
        if self.instance is not None and kind != self.instance.kind:
            raise serializers.ValidationError("The kind of an action can't be changed; add a new action.")
        return kind

    def validate_mapping(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise serializers.ValidationError("The mapping must be a JSON object of field names to directives.")
        return value

    def create(self, validated: dict[str, Any]) -> Action:
        action = services.add_action(
            self.context["destination"], kind=validated["kind"], name=validated.get("name") or None,
            trigger=validated.get("trigger"), mapping=validated.get("mapping"),
            enabled=validated.get("enabled", True),
        )
        if "position" in validated:
            services.update_action(action, position=validated["position"])
        return action

    def update(self, action: Action, validated: dict[str, Any]) -> Action:
        changes = {k: v for k, v in validated.items() if k in ("name", "trigger", "mapping", "enabled", "position")}
        return services.update_action(action, **changes)


class EventSerializer(serializers.ModelSerializer):
    source_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = Event
        fields = ["id", "source_id", "message_id", "type", "payload", "received_at"]
        read_only_fields = fields


class CatalogSettingSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    type = serializers.CharField()
    help = serializers.CharField()
    required = serializers.BooleanField()
    secret = serializers.BooleanField()
    default = serializers.JSONField(allow_null=True)
    choices = serializers.ListField(child=serializers.DictField())


class CatalogActionSerializer(serializers.Serializer):
    key = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField()
    default_trigger = serializers.CharField()
    default_enabled = serializers.BooleanField()
    batching = serializers.BooleanField()
    batch_size = serializers.IntegerField()
    fields = serializers.ListField(child=serializers.DictField())


class CatalogDestinationSerializer(serializers.Serializer):
    """Documentation of the catalog's shape; the view renders DestinationDefinition.to_dict()."""

    key = serializers.CharField()
    name = serializers.CharField()
    category = serializers.CharField()
    mode = serializers.ChoiceField(choices=["cloud", "direct"])
    description = serializers.CharField()
    settings = CatalogSettingSerializer(many=True)
    actions = CatalogActionSerializer(many=True)
    has_credentials_test = serializers.BooleanField()
    supports_deletion = serializers.BooleanField(help_text="Whether a privacy deletion is forwarded to it.")
