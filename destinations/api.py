"""Management API for deliveries: the Event delivery log, per-minute stats, and testing an action.

Every view resolves the workspace through pipelines.tenancy (a workspace the user is not a member of,
or a destination / action outside it, is a 404) and only then touches its rows.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from connections.models import Action, Destination
from ingest.models import Event
from pipelines import timeranges
from pipelines.api_input import JSONValueField
from pipelines.models import Membership
from pipelines.tenancy import get_workspace

from .counts import bucketed_counts
from .models import Delivery, DeliveryChunk, DeliveryCount, DeliveryStatus
from .preview import preview_action

MAX_STATS_MINUTES = 24 * 60
Role = Membership.Role


def _destination(request: Request, slug: str, destination_id: int, at_least: Role = Role.VIEWER) -> Destination:
    """The destination in a workspace of the caller (404 otherwise), their role including `at_least` (403)."""
    workspace = get_workspace(request.user, slug, at_least=at_least)
    return get_object_or_404(Destination, workspace=workspace, id=destination_id)


class DeliverySerializer(serializers.ModelSerializer):
    event_id = serializers.IntegerField(read_only=True)
    action_id = serializers.IntegerField(read_only=True, allow_null=True)
    action_name = serializers.SerializerMethodField()
    payload = serializers.JSONField(read_only=True, allow_null=True,
                                    help_text="The mapped payload a retry sends, kept on retrying and failed "
                                              "records; null once delivered or filtered (see `request`).")
    request = serializers.JSONField(read_only=True, allow_null=True,
                                    help_text="The last request sent: method, url, headers, body (secrets redacted).")
    response = serializers.JSONField(read_only=True, allow_null=True,
                                     help_text="The last response: status, headers, body, duration_ms.")

    class Meta:
        model = Delivery
        fields = (
            "id", "event_id", "message_id", "action_id", "action_name", "status", "attempts", "last_status_code",
            "last_error", "payload", "request", "response", "next_attempt_at", "created_at", "updated_at",
        )
        read_only_fields = fields

    def get_action_name(self, obj: Delivery) -> str | None:
        return obj.action.name if obj.action_id and obj.action else None


class DeliveryList(ListAPIView):
    """Deliveries of one destination, newest first. Filters: ?status=, ?message_id=. An event's record
    appears with its first attempt; until then it is counted as `queued` by the delivery stats."""

    serializer_class = DeliverySerializer

    @extend_schema(parameters=[
        OpenApiParameter("status", str, enum=list(DeliveryStatus.values)),
        OpenApiParameter("message_id", str),
    ])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> Any:
        destination = _destination(self.request, self.kwargs["slug"], self.kwargs["destination_id"])
        qs = (Delivery.objects.filter(destination=destination).select_related("action", "exchange")
              .order_by("-updated_at", "-id"))
        status = self.request.query_params.get("status")
        if status:
            if status not in DeliveryStatus.values:
                raise ValidationError({"status": f"Choose one of: {', '.join(DeliveryStatus.values)}."})
            qs = qs.filter(status=status)
        message_id = self.request.query_params.get("message_id")
        if message_id:
            qs = qs.filter(message_id=message_id)
        return qs


class DeliveryStats(APIView):
    """Outcome counts of one destination, plus totals and `queued`: events waiting for their first
    attempt (they get a delivery record with it). Either ?range= (1h, 24h or 7d: the charts' picker,
    buckets of 5 min, 1 h, 6 h in `buckets`) or ?minutes= (default 60, max 1440: every minute in
    `series`), oldest first, every bucket present (zeros included)."""

    @extend_schema(parameters=[
        OpenApiParameter("minutes", int, description="Per-minute series over the last N minutes (1-1440)."),
        OpenApiParameter("range", str, enum=list(timeranges.RANGES),
                         description="Bucketed counts over a chart range; not together with minutes."),
    ], responses={200: dict})
    def get(self, request: Request, slug: str, destination_id: int) -> Response:
        destination = _destination(request, slug, destination_id)
        params = request.query_params
        if "range" in params:
            if "minutes" in params:
                raise ValidationError({"range": "Give either range or minutes, not both."})
            return self._by_range(destination, params["range"])
        raw = params.get("minutes", "60")
        try:
            minutes = int(raw)
        except ValueError:
            raise ValidationError({"minutes": "Must be a whole number of minutes."}) from None
        if not 1 <= minutes <= MAX_STATS_MINUTES:
            raise ValidationError({"minutes": f"Must be between 1 and {MAX_STATS_MINUTES}."})
        end = timezone.now().replace(second=0, microsecond=0)
        start = end - timedelta(minutes=minutes - 1)
        stored = {
            c.minute: c for c in DeliveryCount.objects.filter(destination=destination, minute__gte=start, minute__lte=end)
        }
        statuses = ("delivered", "retrying", "failed", "filtered")
        series = []
        totals = dict.fromkeys(statuses, 0)
        for i in range(minutes):
            minute = start + timedelta(minutes=i)
            row = stored.get(minute)
            point: dict[str, Any] = {"minute": minute.isoformat()}
            for s in statuses:
                point[s] = getattr(row, s) if row else 0
                totals[s] += point[s]
            series.append(point)
        return Response({"destination_id": destination.id, "minutes": minutes, "series": series, "totals": totals,
                         "queued": DeliveryChunk.queued(destination)})

    def _by_range(self, destination: Destination, raw: str) -> Response:
        try:
            time_range = timeranges.parse_range(raw or "(empty)")
        except ValueError as exc:
            raise ValidationError({"range": str(exc)}) from None
        buckets = bucketed_counts(destination.pk, time_range, timezone.now())
        totals = {s: sum(b[s] for b in buckets) for s in ("delivered", "retrying", "failed", "filtered")}
        return Response({
            "destination_id": destination.id, "range": time_range.key, "bucket_minutes": time_range.bucket_minutes,
            "buckets": [{**b, "start": b["start"].isoformat()} for b in buckets], "totals": totals,
            "queued": DeliveryChunk.queued(destination),
        })


class ActionTestSerializer(serializers.Serializer):
    event = JSONValueField(required=False, help_text="The event to run; default: the most recent "
                                                            "event from a connected source.")
    send = serializers.BooleanField(default=False, help_text="Also send the request and return the response.")

    def validate_event(self, value: Any) -> Any:
        if not isinstance(value, dict):
            raise serializers.ValidationError("The event must be a JSON object.")
        return value


class ActionTest(APIView):
    """Run an action on an event: trigger verdict, mapped payload, the exact request (and, with
    "send": true, the response). See destinations.preview.preview_action. Needs the member role."""

    @extend_schema(request=ActionTestSerializer, responses={200: dict})
    def post(self, request: Request, slug: str, destination_id: int, action_id: int) -> Response:
        destination = _destination(request, slug, destination_id, at_least=Role.MEMBER)
        action = get_object_or_404(Action, destination=destination, id=action_id)
        serializer = ActionTestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        event = serializer.validated_data.get("event")
        if event is None:
            latest = (Event.objects.filter(workspace=destination.workspace, source__in=destination.sources.all())
                      .order_by("-received_at", "-id").first())
            if latest is None:
                raise ValidationError({"event": "No event has arrived from a connected source yet: "
                                                "pass one in \"event\"."})
            event = latest.payload
        action.destination = destination
        result = preview_action(action, event, send=serializer.validated_data["send"])
        return Response({"event": event, **result})
