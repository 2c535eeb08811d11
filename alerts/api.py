"""Management API of alerts (under /api/workspaces/{slug}/alerts/). Viewers read rules and incidents;
creating, changing and deleting rules needs the admin role. The Slack URL is write-only: answers show
it masked, and sending the masked value back keeps the stored one."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from connections.models import Destination, Source
from pipelines.models import Membership, Workspace
from pipelines.tenancy import get_workspace

from . import services
from .models import AlertIncident, AlertRule, RuleKind

ADMIN = Membership.Role.ADMIN


def _workspace(request: Request, slug: str, *, edit: bool = False) -> Workspace:
    try:
        return get_workspace(request.user, slug, at_least=ADMIN if edit else Membership.Role.VIEWER)
    except PermissionDenied as exc:  # DRF's own class, so the body says "permission_denied"
        raise exceptions.PermissionDenied(str(exc)) from None


class AlertRuleSerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(choices=RuleKind.choices)
    destination = serializers.PrimaryKeyRelatedField(queryset=Destination.objects.none(), required=False,
                                                     allow_null=True, help_text="Destination rules: its id.")
    source = serializers.PrimaryKeyRelatedField(queryset=Source.objects.none(), required=False, allow_null=True,
                                                help_text="Source volume rules: its id.")
    window_minutes = serializers.IntegerField(required=False, min_value=1, max_value=services.MAX_WINDOW_MINUTES)
    threshold_percent = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=100)
    min_events = serializers.IntegerField(required=False, min_value=1)
    min_volume = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    max_volume = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    emails = serializers.ListField(child=serializers.EmailField(), required=False, max_length=services.MAX_EMAILS,
                                   help_text="Who gets the email when the rule fires and recovers.")
    slack_url = serializers.CharField(required=False, allow_blank=True, allow_null=True, write_only=True,
                                      max_length=2000, help_text="A Slack-compatible incoming-webhook URL "
                                      "(write-only; empty or null clears it, the masked value keeps it).")
    slack_url_masked = serializers.CharField(source="masked_slack_url", read_only=True)
    open_incident = serializers.SerializerMethodField()

    class Meta:
        model = AlertRule
        fields = ("id", "name", "kind", "destination", "source", "window_minutes", "threshold_percent",
                  "min_events", "min_volume", "max_volume", "emails", "slack_url", "slack_url_masked", "enabled",
                  "open_incident", "created_at", "updated_at")
        read_only_fields = ("id", "created_at", "updated_at")

    def __init__(self, *args: Any, workspace: Workspace | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if workspace is not None:  # only this workspace's objects can be named
            self.fields["destination"].queryset = Destination.objects.filter(workspace=workspace)
            self.fields["source"].queryset = Source.objects.filter(workspace=workspace)

    def get_open_incident(self, obj: AlertRule) -> int | None:
        return obj.incidents.filter(recovered_at__isnull=True).values_list("id", flat=True).first()


class AlertIncidentSerializer(serializers.ModelSerializer):
    rule_name = serializers.CharField(source="rule.name", read_only=True)
    notifications = serializers.ListField(child=serializers.DictField(), read_only=True)

    class Meta:
        model = AlertIncident
        fields = ("id", "rule", "rule_name", "opened_at", "recovered_at", "summary", "recovery_summary",
                  "notifications")


@extend_schema(tags=["alerts"])
class AlertRuleList(APIView):
    """GET: the workspace's alert rules. POST: create one (admin role)."""

    serializer_class = AlertRuleSerializer

    @extend_schema(responses=AlertRuleSerializer(many=True))
    def get(self, request: Request, slug: str) -> Response:
        workspace = _workspace(request, slug)
        return Response(AlertRuleSerializer(AlertRule.objects.filter(workspace=workspace), many=True).data)

    @extend_schema(request=AlertRuleSerializer, responses={201: AlertRuleSerializer})
    def post(self, request: Request, slug: str) -> Response:
        workspace = _workspace(request, slug, edit=True)
        serializer = AlertRuleSerializer(data=request.data, workspace=workspace)
        serializer.is_valid(raise_exception=True)
        rule = services.create_rule(workspace, dict(serializer.validated_data))  # ValidationError → 400
        return Response(AlertRuleSerializer(rule).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["alerts"])
class AlertRuleDetail(APIView):
    """One alert rule. PATCH and DELETE need the admin role; deleting it deletes its incidents."""

    serializer_class = AlertRuleSerializer
    http_method_names = ("get", "patch", "delete", "head", "options")

    def _get(self, request: Request, slug: str, pk: int, edit: bool = False) -> AlertRule:
        return get_object_or_404(AlertRule, workspace=_workspace(request, slug, edit=edit), pk=pk)

    @extend_schema(responses=AlertRuleSerializer)
    def get(self, request: Request, slug: str, pk: int) -> Response:
        return Response(AlertRuleSerializer(self._get(request, slug, pk)).data)

    @extend_schema(request=AlertRuleSerializer, responses=AlertRuleSerializer)
    def patch(self, request: Request, slug: str, pk: int) -> Response:
        rule = self._get(request, slug, pk, edit=True)
        serializer = AlertRuleSerializer(rule, data=request.data, partial=True, workspace=rule.workspace)
        serializer.is_valid(raise_exception=True)
        return Response(AlertRuleSerializer(services.update_rule(rule, dict(serializer.validated_data))).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, slug: str, pk: int) -> Response:
        services.delete_rule(self._get(request, slug, pk, edit=True))
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["alerts"])
class AlertIncidentList(APIView):
    """The workspace's incidents, newest first (the latest 200): when each opened and recovered, what
    fired and which notifications were sent (or failed, with the error)."""

    serializer_class = AlertIncidentSerializer

    @extend_schema(responses=AlertIncidentSerializer(many=True))
    def get(self, request: Request, slug: str) -> Response:
        workspace = _workspace(request, slug)
        incidents = AlertIncident.objects.filter(rule__workspace=workspace).select_related("rule")[:200]
        return Response(AlertIncidentSerializer(incidents, many=True).data)
