"""Management API of audience destinations, under /api/workspaces/{slug}/audiences/{id}/destinations/.
Members with the viewer role read; connecting, changing and disconnecting needs the admin role. A
connection is addressed by its destination's id (an audience is connected to a destination once)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audiences.models import Audience
from connections.models import Destination
from pipelines.api_input import Id
from pipelines.models import Membership as WorkspaceMembership
from pipelines.tenancy import get_workspace

from . import services, validation
from .models import AudienceDestination, SyncMode

ADMIN = WorkspaceMembership.Role.ADMIN


def _audience(request: Request, slug: str, pk: int, *, edit: bool = False) -> Audience:
    try:
        workspace = get_workspace(request.user, slug, at_least=ADMIN if edit else WorkspaceMembership.Role.VIEWER)
    except PermissionDenied as exc:
        raise exceptions.PermissionDenied(str(exc)) from None
    return get_object_or_404(Audience, workspace=workspace, pk=pk)


class AudienceDestinationSerializer(serializers.ModelSerializer):
    destination_id = Id(help_text="A cloud-mode destination of the workspace.")
    destination_name = serializers.CharField(source="destination.name", read_only=True)
    destination_kind = serializers.CharField(source="destination.kind", read_only=True)
    mode = serializers.ChoiceField(choices=SyncMode.choices, default=SyncMode.ADD_REMOVE, help_text=(
        "add_remove: every entry and exit is sent; mirror: only where each person ends up at each sync "
        "(someone who entered and left again between two syncs sends nothing)."))
    interval_minutes = serializers.IntegerField(required=False, min_value=0, max_value=services.MAX_INTERVAL_MINUTES,
                                                help_text="0: realtime; otherwise changes are sent every N minutes. "
                                                "Default: 60 for Meta, 360 for Google, realtime for the others.")
    external_audience_id = serializers.CharField(required=False, allow_blank=True, max_length=100, help_text=(
        "Ad platforms: an existing audience (Meta custom audience id, Google user list id) to fill; empty: "
        "one is created on the first sync."))
    status = serializers.SerializerMethodField(help_text="backfilling until every current member was sent, "
                                               "then synced.")

    class Meta:
        model = AudienceDestination
        fields = ("destination_id", "destination_name", "destination_kind", "mode", "interval_minutes",
                  "external_audience_id", "status", "sent_adds", "sent_removes", "skipped", "dropped",
                  "last_sync_at", "next_sync_at", "last_error", "created_at")
        read_only_fields = ("sent_adds", "sent_removes", "skipped", "dropped", "last_sync_at", "next_sync_at",
                            "last_error", "created_at")

    def get_status(self, obj: AudienceDestination) -> str:
        return "backfilling" if obj.backfilled_at is None else "synced"


class UpdateSerializer(serializers.Serializer):
    mode = serializers.ChoiceField(choices=SyncMode.choices, required=False)
    interval_minutes = serializers.IntegerField(required=False, min_value=0,
                                                max_value=services.MAX_INTERVAL_MINUTES)


@extend_schema(tags=["audiences"])
class AudienceDestinationList(APIView):
    """GET: the destinations this audience is connected to, with what was sent. POST {destination_id,
    mode, interval_minutes, external_audience_id} (admin): connect it; every current member is sent
    first (backfill, in the background), then entries and exits on the chosen schedule."""

    serializer_class = AudienceDestinationSerializer

    @extend_schema(responses=AudienceDestinationSerializer(many=True))
    def get(self, request: Request, slug: str, pk: int) -> Response:
        audience = _audience(request, slug, pk)
        links = AudienceDestination.objects.filter(audience=audience).select_related("destination")
        return Response(AudienceDestinationSerializer(links, many=True).data)

    @extend_schema(request=AudienceDestinationSerializer, responses={201: AudienceDestinationSerializer})
    def post(self, request: Request, slug: str, pk: int) -> Response:
        audience = _audience(request, slug, pk, edit=True)
        serializer = AudienceDestinationSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data: dict[str, Any] = serializer.validated_data
        destination = Destination.objects.filter(workspace_id=audience.workspace_id,
                                                 pk=data["destination_id"]).first()
        if destination is None:
            raise serializers.ValidationError({"destination_id": "No such destination in this workspace."})
        link = services.connect(audience, destination, mode=data["mode"], interval_minutes=data.get("interval_minutes"),
                                external_audience_id=data.get("external_audience_id", ""))
        return Response(AudienceDestinationSerializer(link).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["audiences"])
class AudienceDestinationDetail(APIView):
    """One connection. PATCH {mode, interval_minutes} (admin); DELETE (admin) disconnects: nothing more is
    sent to that destination."""

    serializer_class = AudienceDestinationSerializer
    http_method_names = ("get", "patch", "delete", "head", "options")

    def _get(self, request: Request, slug: str, pk: int, destination_id: int, edit: bool = False
             ) -> AudienceDestination:
        audience = _audience(request, slug, pk, edit=edit)
        return get_object_or_404(AudienceDestination.objects.select_related("destination"), audience=audience,
                                 destination_id=destination_id)

    @extend_schema(responses=AudienceDestinationSerializer)
    def get(self, request: Request, slug: str, pk: int, destination_id: int) -> Response:
        return Response(AudienceDestinationSerializer(self._get(request, slug, pk, destination_id)).data)

    @extend_schema(request=UpdateSerializer, responses=AudienceDestinationSerializer)
    def patch(self, request: Request, slug: str, pk: int, destination_id: int) -> Response:
        link = self._get(request, slug, pk, destination_id, edit=True)
        serializer = UpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        link = services.update(link, **serializer.validated_data)
        return Response(AudienceDestinationSerializer(link).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, slug: str, pk: int, destination_id: int) -> Response:
        services.disconnect(self._get(request, slug, pk, destination_id, edit=True))
        return Response(status=status.HTTP_204_NO_CONTENT)


SyncReportSerializer = inline_serializer("AudienceSyncReport", fields={
    "audience_size": serializers.IntegerField(help_text="Our member count now."),
    "adds": inline_serializer("AudienceSyncAdds", fields={k: serializers.IntegerField() for k in (
        "sent", "acknowledged", "failed", "not_sent", "waiting")}),
    "removes": inline_serializer("AudienceSyncRemoves", fields={k: serializers.IntegerField() for k in (
        "sent", "acknowledged", "failed", "not_sent", "waiting")}),
    "at_destination": serializers.IntegerField(help_text="Adds minus removes the destination acknowledged."),
    "skipped": serializers.IntegerField(), "dropped": serializers.DictField(child=serializers.IntegerField()),
    "last_sync_at": serializers.DateTimeField(allow_null=True), "next_sync_at": serializers.DateTimeField(allow_null=True),
    "last_error": serializers.CharField(),
    "platform": serializers.DictField(allow_null=True, help_text=(
        "Meta: received, invalid, invalid_reasons {reason: count}, valid_share, approximate_lower/_upper, "
        "size_fetched_at.")),
    "match_rate": serializers.DictField(child=serializers.FloatField(), allow_null=True,
                                        help_text="{low, high}: the platform's size bounds over our count."),
    "platform_delay_hours": serializers.IntegerField(allow_null=True),
    "warnings": serializers.ListField(child=serializers.CharField()),
    "note": serializers.CharField(required=False),
})


@extend_schema(tags=["audiences"])
class AudienceDestinationSync(APIView):
    """Sync validation of one connection: our count, adds and removes sent and acknowledged, the
    platform's own figures (Meta: received / invalid, approximate size), a match rate, and warnings when
    the counts drift apart beyond the platform's delay."""

    @extend_schema(responses=SyncReportSerializer)
    def get(self, request: Request, slug: str, pk: int, destination_id: int) -> Response:
        audience = _audience(request, slug, pk)
        link = get_object_or_404(AudienceDestination.objects.select_related("destination", "audience"),
                                 audience=audience, destination_id=destination_id)
        return Response(validation.report(link))
