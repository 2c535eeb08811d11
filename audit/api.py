"""GET /api/workspaces/{slug}/audit/: the workspace's audit log, newest first, for any member."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.pagination import CursorPagination

from pipelines.tenancy import get_workspace

from .models import AuditEntry
from .serializers import AuditEntrySerializer


class NewestFirst(CursorPagination):
    """Cursor pagination: stable while new entries arrive, and no COUNT(*) over a long log."""

    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 500


@extend_schema(
    tags=["audit"],
    parameters=[
        OpenApiParameter("type", OpenApiTypes.STR, enum=AuditEntry.ObjectType.values,
                         description="Only entries about this kind of object."),
        OpenApiParameter("limit", OpenApiTypes.INT, description="Page size (at most 500)."),
    ],
)
class AuditEntryList(generics.ListAPIView):
    """Changes to the workspace's sources, destinations, connections, actions, keys and members: who
    (user and channel), what, and when. Secret values never appear."""

    serializer_class = AuditEntrySerializer
    pagination_class = NewestFirst

    def get_queryset(self) -> QuerySet[AuditEntry]:
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular inspecting the view
            return AuditEntry.objects.none()
        workspace = get_workspace(self.request.user, self.kwargs["slug"])
        entries = AuditEntry.objects.filter(workspace=workspace)
        object_type = self.request.query_params.get("type")
        if object_type:
            if object_type not in AuditEntry.ObjectType.values:
                raise serializers.ValidationError(
                    {"type": f"Must be one of: {', '.join(AuditEntry.ObjectType.values)}."}
                )
            entries = entries.filter(object_type=object_type)
        return entries
