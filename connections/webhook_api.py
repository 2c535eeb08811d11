"""Management API of incoming webhook sources, under /api/workspaces/{slug}/sources/{id}/webhook/:
the mapping and signature settings, the received bodies with their reasons, re-processing, and a
preview of what a mapping makes of a body.

Reading needs the viewer role, changing (settings, re-process) the admin role (403 below it); a source
of another workspace, or one that is not a webhook source, answers 404. The shared secret is
write-only: answers show it masked.
"""

from __future__ import annotations

from typing import Any

import orjson
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from destinations.mapping import MappingError
from ingest import webhooks
from ingest.models import WebhookBody
from ingest.webhook_mapping import MappingConfig, map_body, validate_config
from pipelines import crypto
from pipelines.api_input import Id, JSONValueField
from pipelines.models import Membership
from pipelines.tenancy import get_workspace

from . import services, snippets
from .models import Source, SourceKind, WebhookEncoding, WebhookSettings, WebhookSignature

# A body is shown whole up to this size (bodies are at most 500 KB); longer ones are cut in listings.
SHOWN_BODY_CHARS = 64 * 1024


def webhook_url(request: Any, source: Source) -> str:
    """The URL a service posts to for this source (its write key in the path)."""
    return f"{snippets.public_base_url(request.build_absolute_uri('/'))}/v1/webhooks/{source.write_key}"


def webhook_source(request: Any, slug: str, pk: int, *, at_least: Membership.Role = Membership.Role.VIEWER) -> Source:
    """The webhook source `pk` of workspace `slug` if the user has `at_least` that role; 404 otherwise
    (403 for a member with a lower role)."""
    workspace = get_workspace(request.user, slug, at_least=at_least)
    source = get_object_or_404(Source, workspace=workspace, pk=pk, kind=SourceKind.WEBHOOK)
    source.workspace = workspace  # with the caller's role on it
    return source


class WebhookSettingsSerializer(serializers.Serializer):
    url = serializers.CharField(read_only=True, help_text=(
        "POST bodies here; the write key is in the path (masked for viewers)."))
    mapping = JSONValueField(required=False, help_text=(
        "Event field → mapping (destinations' directives) over {body, headers[, item, index]}: type, event, "
        "name, userId, anonymousId, groupId, previousId, properties, traits, context, timestamp, messageId."))
    array_path = serializers.CharField(required=False, allow_blank=True, max_length=500, help_text=(
        "Optional path to an array, e.g. $.body.line_items: one event per element (as $.item)."))
    signature_scheme = serializers.ChoiceField(choices=WebhookSignature.choices, required=False)
    signature_header = serializers.CharField(required=False, allow_blank=True, max_length=100)
    signature_encoding = serializers.ChoiceField(choices=WebhookEncoding.choices, required=False)
    signature_prefix = serializers.CharField(required=False, allow_blank=True, max_length=40,
                                             help_text="Text before the signature, e.g. sha256=.")
    secret = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=500,
                                   help_text="The shared secret; leave out (or empty) to keep the stored one.")
    secret_masked = serializers.CharField(read_only=True, help_text="The stored secret, masked.")
    updated_at = serializers.DateTimeField(read_only=True)


def shown_url(request: Any, source: Source, role: Membership.Role) -> str:
    """The webhook URL as `role` may see it: viewers never see a write key, so theirs is masked."""
    url = webhook_url(request, source)
    if role.includes(Membership.Role.MEMBER):
        return url
    return url.replace(source.write_key, crypto.mask(source.write_key))


def _settings_data(request: Any, source: Source, settings: WebhookSettings) -> dict[str, Any]:
    return {
        "url": shown_url(request, source, source.workspace.role), "mapping": settings.mapping, "array_path": settings.array_path,
        "signature_scheme": settings.signature_scheme, "signature_header": settings.signature_header,
        "signature_encoding": settings.signature_encoding, "signature_prefix": settings.signature_prefix,
        "secret_masked": settings.masked_secret, "updated_at": settings.updated_at,
    }


class WebhookBodySerializer(serializers.ModelSerializer):
    body = serializers.SerializerMethodField(help_text="The body as received (text; cut at 64 KB).")

    class Meta:
        model = WebhookBody
        fields = ["id", "received_at", "status", "reason", "event_count", "content_type", "headers", "body",
                  "processed_at"]

    def get_body(self, body: WebhookBody) -> str:
        return body.text[:SHOWN_BODY_CHARS]


class ReprocessSerializer(serializers.Serializer):
    processed = serializers.IntegerField(help_text="Bodies that made events this time.")
    failed = serializers.IntegerField(help_text="Bodies the mapping still cannot use.")
    bodies = WebhookBodySerializer(many=True)


class PreviewRequestSerializer(serializers.Serializer):
    mapping = JSONValueField(required=False, help_text="The mapping to try (default: the saved one).")
    array_path = serializers.CharField(required=False, allow_blank=True, max_length=500)
    body_id = Id(required=False, help_text="A received body to try it on (default: the newest).")
    body = JSONValueField(required=False, help_text="Or a JSON body to try it on.")


class PreviewSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    reason = serializers.CharField(allow_blank=True)
    events = serializers.ListField(child=serializers.DictField(), help_text="The events the mapping makes.")
    body_id = serializers.IntegerField(allow_null=True)


def _reprocessed(bodies: list[WebhookBody]) -> dict[str, Any]:
    processed = sum(1 for b in bodies if b.status == WebhookBody.Status.PROCESSED)
    return {"processed": processed, "failed": len(bodies) - processed,
            "bodies": bodies}


@extend_schema(tags=["webhooks"])
class WebhookSettingsView(APIView):
    """The webhook source's URL, mapping and signature settings (viewer); PATCH changes them (admin)."""

    @extend_schema(responses=WebhookSettingsSerializer)
    def get(self, request: Request, slug: str, pk: int) -> Response:
        source = webhook_source(request, slug, pk)
        return Response(WebhookSettingsSerializer(_settings_data(request, source, webhooks.settings_for(source))).data)

    @extend_schema(request=WebhookSettingsSerializer, responses=WebhookSettingsSerializer)
    def patch(self, request: Request, slug: str, pk: int) -> Response:
        source = webhook_source(request, slug, pk, at_least=Membership.Role.ADMIN)
        serializer = WebhookSettingsSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        secret = changes.pop("secret", None)
        settings = services.update_webhook_settings(source, secret=secret, **changes)
        return Response(WebhookSettingsSerializer(_settings_data(request, source, settings)).data)


@extend_schema(tags=["webhooks"], parameters=[
    OpenApiParameter("status", OpenApiTypes.STR, enum=WebhookBody.Status.values,
                     description="Only bodies in this state (failed: not mapped yet)."),
    OpenApiParameter("limit", OpenApiTypes.INT, description="How many, newest first (at most 200, default 50)."),
])
class WebhookBodyList(APIView):
    """The newest bodies the source received, with their outcome and reason."""

    @extend_schema(responses=WebhookBodySerializer(many=True))
    def get(self, request: Request, slug: str, pk: int) -> Response:
        source = webhook_source(request, slug, pk)
        bodies = WebhookBody.objects.filter(source=source)
        status_ = request.query_params.get("status", "")
        if status_:
            if status_ not in WebhookBody.Status.values:
                raise serializers.ValidationError({"status": f"One of {', '.join(WebhookBody.Status.values)}."})
            bodies = bodies.filter(status=status_)
        try:
            limit = min(max(int(request.query_params.get("limit", 50)), 1), 200)
        except ValueError:
            raise serializers.ValidationError({"limit": "Must be a number."}) from None
        return Response(WebhookBodySerializer(bodies.order_by("-id")[:limit], many=True).data)


@extend_schema(tags=["webhooks"])
class WebhookBodyDetail(APIView):
    @extend_schema(responses=WebhookBodySerializer)
    def get(self, request: Request, slug: str, pk: int, body_id: int) -> Response:
        source = webhook_source(request, slug, pk)
        return Response(WebhookBodySerializer(get_object_or_404(WebhookBody, source=source, pk=body_id)).data)


@extend_schema(tags=["webhooks"])
class WebhookBodyReprocess(APIView):
    """Map this body again with the current mapping (admin); its events are stored and delivered."""

    @extend_schema(request=None, responses=ReprocessSerializer)
    def post(self, request: Request, slug: str, pk: int, body_id: int) -> Response:
        source = webhook_source(request, slug, pk, at_least=Membership.Role.ADMIN)
        body = get_object_or_404(WebhookBody, source=source, pk=body_id)
        return Response(ReprocessSerializer(_reprocessed(webhooks.reprocess(source, [body]))).data)


@extend_schema(tags=["webhooks"])
class WebhookReprocess(APIView):
    """Map every body not mapped yet again with the current mapping (admin), oldest first, at most 500
    per call (call again while `failed` bodies remain and the mapping now fits them)."""

    @extend_schema(request=None, responses=ReprocessSerializer)
    def post(self, request: Request, slug: str, pk: int) -> Response:
        source = webhook_source(request, slug, pk, at_least=Membership.Role.ADMIN)
        return Response(ReprocessSerializer(_reprocessed(webhooks.reprocess(source))).data)


@extend_schema(tags=["webhooks"])
class WebhookPreview(APIView):
    """What a mapping (default: the saved one) makes of a received body (default: the newest) or of a
    body given here. Stores nothing."""

    @extend_schema(request=PreviewRequestSerializer, responses=PreviewSerializer)
    def post(self, request: Request, slug: str, pk: int) -> Response:
        source = webhook_source(request, slug, pk)
        serializer = PreviewRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        settings = webhooks.settings_for(source)
        mapping = data.get("mapping", settings.mapping)
        array_path = data.get("array_path", settings.array_path)
        try:
            validate_config(mapping, array_path)
        except MappingError as exc:
            raise serializers.ValidationError({"mapping": str(exc)}) from None
        result = preview(source, mapping, array_path, body_id=data.get("body_id"),
                         body=data.get("body"), has_body="body" in data)
        return Response(PreviewSerializer(result).data)


def preview(source: Source, mapping: dict[str, Any], array_path: str, *, body_id: int | None = None,
            body: Any = None, has_body: bool = False) -> dict[str, Any]:
    """The events `mapping` makes of a body of `source` (by id, the newest, or `body` itself)."""
    chosen: WebhookBody | None = None
    if has_body:
        raw, content_type, headers = orjson.dumps(body), "application/json", {}
    else:
        bodies = WebhookBody.objects.filter(source=source)
        chosen = (bodies.filter(pk=body_id) if body_id is not None else bodies.order_by("-id")).first()
        if chosen is None:
            return {"ok": False, "reason": "No body received yet: send one, or give a body to try.",
                    "events": [], "body_id": None}
        raw, content_type, headers = bytes(chosen.raw), chosen.content_type, chosen.headers or {}
    outcome = map_body(MappingConfig(mapping=mapping, array_path=array_path), raw, content_type, headers,
                       chosen.received_at if chosen else timezone.now(), chosen.ip if chosen else "")
    return {"ok": not outcome.reason, "reason": outcome.reason,
            "events": outcome.messages or outcome.produced, "body_id": chosen.id if chosen else None}
