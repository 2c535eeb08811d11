"""Management API of audiences (mounted under /api/workspaces/{slug}/audiences/). Members with the viewer
role read; creating, changing and deleting needs the admin role."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from pipelines import timeranges
from pipelines.models import Membership as WorkspaceMembership
from pipelines.models import Workspace
from pipelines.tenancy import get_workspace

from . import clock, services
from .models import Audience, HourlyCount, Membership, MembershipEvent

ADMIN = WorkspaceMembership.Role.ADMIN


def _workspace(request: Request, slug: str, *, edit: bool = False) -> Workspace:
    try:
        return get_workspace(request.user, slug, at_least=ADMIN if edit else WorkspaceMembership.Role.VIEWER)
    except PermissionDenied as exc:  # DRF's own class, so the body says "permission_denied"
        raise exceptions.PermissionDenied(str(exc)) from None


class AudienceSerializer(serializers.ModelSerializer):
    key = serializers.SlugField(max_length=100, help_text="A slug, unique in the workspace (used by other "
                                "audiences' {\"audience\": key} conditions and by destinations).")
    definition = serializers.JSONField(required=False, help_text=(
        "The condition tree (see docs/audiences.md); required for kind \"rules\". A manual audience's is "
        "{\"segment\": segment_id}, kept by the server."))
    kind = serializers.ChoiceField(choices=Audience.Kind.choices, default=Audience.Kind.RULES, help_text=(
        "\"rules\": members are the people matching the definition; \"manual\": the people the Track API's "
        "POST /api/v1/segments/{segment_id}/add_customers added (and remove_customers did not remove since)."))
    segment_id = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=2**31 - 1,
                                          help_text="Manual audiences: the Track API segment id (required).")
    progress = serializers.SerializerMethodField(help_text="Background computation: done / total people.")

    class Meta:
        model = Audience
        fields = ("id", "name", "key", "kind", "segment_id", "definition", "enabled", "size", "status", "progress", "computed_at",
                  "created_at", "updated_at")
        read_only_fields = ("id", "size", "status", "progress", "computed_at", "created_at", "updated_at")

    @extend_schema_field(inline_serializer("AudienceProgress", fields={
        "done": serializers.IntegerField(), "total": serializers.IntegerField()}))
    def get_progress(self, obj: Audience) -> dict[str, int]:
        return {"done": obj.progress_done, "total": obj.progress_total}

    def validate_key(self, value: str) -> str:
        return value.lower()


class AudienceMemberSerializer(serializers.ModelSerializer):
    class Meta:
        model = Membership
        fields = ("person_id", "entered_at")


class MemberPages(CursorPagination):
    ordering = ("-entered_at", "-id")
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 500


HistorySerializer = inline_serializer("AudienceHistory", fields={
    "hours": serializers.ListField(required=False, help_text="With ?hours= (the default).",
                                   child=inline_serializer("AudienceHour", fields={
        "hour": serializers.DateTimeField(), "size": serializers.IntegerField(),
        "entered": serializers.IntegerField(), "exited": serializers.IntegerField()})),
    "range": serializers.ChoiceField(choices=list(timeranges.RANGES), required=False),
    "bucket_minutes": serializers.IntegerField(required=False),
    "buckets": serializers.ListField(required=False, help_text="With ?range=: size at the end of each bucket.",
                                     child=inline_serializer("AudienceBucket", fields={
        "start": serializers.DateTimeField(), "size": serializers.IntegerField(),
        "entered": serializers.IntegerField(), "exited": serializers.IntegerField()})),
    "latest": serializers.ListField(child=inline_serializer("AudienceChange", fields={
        "person_id": serializers.IntegerField(), "kind": serializers.ChoiceField(choices=["enter", "exit"]),
        "at": serializers.DateTimeField()})),
})

EstimateSerializer = inline_serializer("AudienceEstimate", fields={
    "estimate": serializers.IntegerField(), "matched": serializers.IntegerField(),
    "sampled": serializers.IntegerField(), "total": serializers.IntegerField()})


@extend_schema(tags=["audiences"])
class AudienceList(APIView):
    """GET: the workspace's audiences with their size. POST {name, key, definition, enabled}: create one
    (admin role); it is computed over all existing people in the background (status, progress)."""

    serializer_class = AudienceSerializer

    @extend_schema(responses=AudienceSerializer(many=True))
    def get(self, request: Request, slug: str) -> Response:
        workspace = _workspace(request, slug)
        return Response(AudienceSerializer(Audience.objects.filter(workspace=workspace), many=True).data)

    @extend_schema(request=AudienceSerializer, responses={201: AudienceSerializer})
    def post(self, request: Request, slug: str) -> Response:
        workspace = _workspace(request, slug, edit=True)
        serializer = AudienceSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        audience = services.create_audience(workspace, **serializer.validated_data)  # ValidationError → 400
        return Response(AudienceSerializer(audience).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["audiences"])
class AudienceDetail(APIView):
    """One audience. PATCH (admin) with a new definition recomputes it in the background; DELETE (admin)
    is refused (400) while other audiences reference it."""

    serializer_class = AudienceSerializer
    http_method_names = ("get", "patch", "delete", "head", "options")

    def _get(self, request: Request, slug: str, pk: int, edit: bool = False) -> Audience:
        return get_object_or_404(Audience, workspace=_workspace(request, slug, edit=edit), pk=pk)

    @extend_schema(responses=AudienceSerializer)
    def get(self, request: Request, slug: str, pk: int) -> Response:
        return Response(AudienceSerializer(self._get(request, slug, pk)).data)

    @extend_schema(request=AudienceSerializer, responses=AudienceSerializer)
    def patch(self, request: Request, slug: str, pk: int) -> Response:
        audience = self._get(request, slug, pk, edit=True)
        serializer = AudienceSerializer(audience, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        audience = services.update_audience(audience, serializer.validated_data)
        return Response(AudienceSerializer(audience).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, slug: str, pk: int) -> Response:
        services.delete_audience(self._get(request, slug, pk, edit=True))
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["audiences"], parameters=[
    OpenApiParameter("limit", OpenApiTypes.INT, description="Page size (at most 500).")])
class AudienceMembers(APIView):
    """The audience's current members, most recently entered first (cursor-paginated)."""

    serializer_class = AudienceMemberSerializer

    @extend_schema(responses=AudienceMemberSerializer(many=True))
    def get(self, request: Request, slug: str, pk: int) -> Response:
        audience = get_object_or_404(Audience, workspace=_workspace(request, slug), pk=pk)
        paginator = MemberPages()
        rows: QuerySet[Membership] = Membership.objects.filter(audience=audience)
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(AudienceMemberSerializer(page, many=True).data)


@extend_schema(tags=["audiences"], parameters=[
    OpenApiParameter("hours", OpenApiTypes.INT, description="How many hours back (default 168, at most 2160).")])
class AudienceHistory(APIView):
    """Size over time and entries/exits per hour over ?hours= (default 168; hours with no change are
    filled in), or per bucket of ?range= (1h, 24h, 7d: the charts' picker), and the latest 50 entries
    and exits."""

    @extend_schema(responses=HistorySerializer, parameters=[
        OpenApiParameter("hours", int, description="Hourly history over the last N hours (1-2160)."),
        OpenApiParameter("range", str, enum=list(timeranges.RANGES),
                         description="Bucketed history over a chart range; not together with hours."),
    ])
    def get(self, request: Request, slug: str, pk: int) -> Response:
        audience = get_object_or_404(Audience, workspace=_workspace(request, slug), pk=pk)
        if "range" in request.query_params:
            if "hours" in request.query_params:
                raise serializers.ValidationError({"range": "Give either range or hours, not both."})
            try:
                time_range = timeranges.parse_range(request.query_params["range"] or "(empty)")
            except ValueError as exc:
                raise serializers.ValidationError({"range": str(exc)}) from None
            return Response(history_by_range(audience, time_range))
        try:
            hours = int(request.query_params.get("hours", 168))
        except ValueError:
            raise serializers.ValidationError({"hours": "Expected a whole number of hours."}) from None
        if not 1 <= hours <= 2160:
            raise serializers.ValidationError({"hours": "Expected 1 to 2160 hours."})
        return Response(history(audience, hours))


def history(audience: Audience, hours: int) -> dict[str, Any]:
    end = clock.now().replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(hours=hours - 1)
    rows = {h.hour: h for h in HourlyCount.objects.filter(audience=audience, hour__gte=start)}
    before = (HourlyCount.objects.filter(audience=audience, hour__lt=start).order_by("-hour")
              .values_list("size", flat=True).first())
    size = before or 0
    out = []
    for i in range(hours):
        hour = start + timedelta(hours=i)
        row = rows.get(hour)
        if row is not None:
            size = row.size
        out.append({"hour": hour, "size": size, "entered": row.entered if row else 0,
                    "exited": row.exited if row else 0})
    if out and audience.size != out[-1]["size"] and not rows.get(end):
        out[-1]["size"] = audience.size
    latest = [{"person_id": e.person_id, "kind": e.kind, "at": e.at}
              for e in MembershipEvent.objects.filter(audience=audience).order_by("-at", "-id")[:50]]
    return {"hours": out, "latest": latest}


def history_by_range(audience: Audience, time_range: timeranges.TimeRange) -> dict[str, Any]:
    """Like `history`, cut into the buckets of `time_range`: entries and exits summed per bucket, the
    size at its end. Buckets of an hour or more read the hourly counts; shorter ones (the 1 h range)
    count the membership changes of that span and walk back from the current size."""
    now = clock.now()
    starts = time_range.buckets(now)
    buckets = {start: {"start": start, "size": 0, "entered": 0, "exited": 0} for start in starts}
    if time_range.bucket >= timedelta(hours=1):
        data = history(audience, int(time_range.span / timedelta(hours=1)))
        for hour in data["hours"]:
            bucket = buckets.get(time_range.bucket_of(hour["hour"]))
            if bucket is not None:
                bucket["entered"] += hour["entered"]
                bucket["exited"] += hour["exited"]
                bucket["size"] = hour["size"]  # hours come oldest first: the last one wins
        latest = data["latest"]
    else:
        for kind, at in MembershipEvent.objects.filter(audience=audience, at__gte=starts[0]).values_list("kind", "at"):
            bucket = buckets.get(time_range.bucket_of(at))
            if bucket is not None:
                bucket["entered" if kind == MembershipEvent.Kind.ENTER else "exited"] += 1
        size = audience.size
        for start in reversed(starts):  # the size at the end of each bucket, from now backwards
            buckets[start]["size"] = max(size, 0)
            size -= buckets[start]["entered"] - buckets[start]["exited"]
        latest = history(audience, 1)["latest"]
    return {"range": time_range.key, "bucket_minutes": time_range.bucket_minutes,
            "buckets": [buckets[start] for start in starts], "latest": latest}


@extend_schema(tags=["audiences"])
class AudienceEstimate(APIView):
    """POST {definition}: how many people it would hold now, evaluated over a sample of the most recent
    people (the builder's live estimate). Any member may ask; nothing is stored."""

    @extend_schema(request=inline_serializer("AudienceEstimateRequest", fields={
        "definition": serializers.JSONField()}), responses=EstimateSerializer)
    def post(self, request: Request, slug: str) -> Response:
        workspace = _workspace(request, slug)
        if not isinstance(request.data, dict) or "definition" not in request.data:
            raise serializers.ValidationError({"definition": "This field is required."})
        return Response(services.estimate(workspace, request.data["definition"]))


@extend_schema(tags=["audiences"])
class AudienceVocabulary(APIView):
    """The event names and trait keys seen in the workspace (the builder's pickers)."""

    @extend_schema(responses=inline_serializer("AudienceVocabulary", fields={
        "events": serializers.ListField(child=serializers.CharField()),
        "traits": serializers.ListField(child=serializers.CharField())}))
    def get(self, request: Request, slug: str) -> Response:
        return Response(services.vocabulary(_workspace(request, slug)))
