"""Management API: `GET/PATCH /api/workspaces/{slug}/retention/` (viewer reads, admin changes)."""

from __future__ import annotations

from typing import Any, ClassVar

from django.core.exceptions import PermissionDenied
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from pipelines.models import Membership
from pipelines.tenancy import get_workspace

from . import services
from .models import DEDUPE_WINDOW_DAYS, RetentionPolicy, policy_for


class RetentionPolicySerializer(serializers.ModelSerializer):
    dedupe_window_hours = serializers.SerializerMethodField(
        help_text="How long a repeated messageId is dropped as a duplicate: as long as events are kept.")

    class Meta:
        model = RetentionPolicy
        fields = ("events_days", "deliveries_days", "counts_days", "counts_rollup_days", "dedupe_window_hours",
                  "updated_at")
        read_only_fields = ("updated_at",)
        extra_kwargs: ClassVar[dict[str, Any]] = {name: {"min_value": 1} for name in services.FIELDS}

    def get_dedupe_window_hours(self, obj: RetentionPolicy) -> int:
        return max(obj.events_days, DEDUPE_WINDOW_DAYS) * 24


@extend_schema(tags=["workspaces"])
class RetentionPolicyDetail(APIView):
    """The workspace's retention windows in days (the defaults until someone changes them). Reading
    needs the viewer role, changing the admin role."""

    http_method_names = ("get", "patch", "head", "options")
    serializer_class = RetentionPolicySerializer

    @extend_schema(responses=RetentionPolicySerializer)
    def get(self, request: Request, slug: str) -> Response:
        workspace = get_workspace(request.user, slug)
        return Response(RetentionPolicySerializer(policy_for(workspace)).data)

    @extend_schema(request=RetentionPolicySerializer, responses=RetentionPolicySerializer)
    def patch(self, request: Request, slug: str) -> Response:
        try:
            workspace = get_workspace(request.user, slug, at_least=Membership.Role.ADMIN)
        except PermissionDenied as exc:  # DRF's own class, so the body says "permission_denied"
            raise exceptions.PermissionDenied(str(exc)) from None
        serializer = RetentionPolicySerializer(policy_for(workspace), data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        policy = services.update_policy(workspace, dict(serializer.validated_data))  # ValidationError → 400
        return Response(RetentionPolicySerializer(policy).data)

    def get_serializer(self, *args: Any, **kwargs: Any) -> RetentionPolicySerializer:
        return RetentionPolicySerializer(*args, **kwargs)
