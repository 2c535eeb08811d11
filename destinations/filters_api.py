"""Management API for a destination's filters: GET/PUT .../destinations/{id}/filters/ and POST
.../filters/preview/ (what the given filters would do to the last 100 events; stores nothing).

Scoped like destinations/api.py: a destination outside the caller's workspaces is a 404; reading and
previewing need the viewer role, saving the admin role (as the destination's settings)."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from connections.models import Destination
from pipelines.models import Membership
from pipelines.tenancy import get_workspace

from . import destination_filters
from .models import FieldsMode
from .routing_controls import MAX_FIELDS, FilterError
from .triggers import MAX_LENGTH

Role = Membership.Role


def _destination(request: Request, slug: str, destination_id: int, at_least: Role = Role.VIEWER) -> Destination:
    """The destination in a workspace of the caller (404 otherwise), their role including `at_least` (403)."""
    workspace = get_workspace(request.user, slug, at_least=at_least)
    return get_object_or_404(Destination, workspace=workspace, id=destination_id)


class DestinationFiltersSerializer(serializers.Serializer):
    keep_if = serializers.CharField(required=False, allow_blank=True, max_length=MAX_LENGTH, default="",
                                    help_text='Only events matching this condition (the trigger language, e.g. '
                                              '`type = "track"`) are sent; empty: no such filter.')
    drop_if = serializers.CharField(required=False, allow_blank=True, max_length=MAX_LENGTH, default="",
                                    help_text="Events matching this condition are not sent; empty: none.")
    sample_percent = serializers.IntegerField(required=False, min_value=0, max_value=100, default=100,
                                              help_text="Send this percentage of the events, chosen by "
                                                        "messageId (the same events every time).")
    fields_mode = serializers.ChoiceField(choices=FieldsMode.choices, required=False, allow_blank=True, default="",
                                          help_text='"block": drop the listed paths; "allow": send only them '
                                                    '(under properties and traits); "": send every field.')
    fields = serializers.ListField(child=serializers.CharField(max_length=500), required=False, default=list,
                                   max_length=MAX_FIELDS,
                                   help_text='Paths under properties, traits or context, e.g. "properties.email".')


class DestinationFiltersPreviewSerializer(serializers.Serializer):
    events = serializers.IntegerField(help_text="How many recent events were looked at (at most 100).")
    dropped = serializers.IntegerField(help_text="How many of them the filters would not send.")
    trimmed = serializers.IntegerField(help_text="How many would be sent with fields removed.")
    reasons = serializers.ListField(child=serializers.DictField())
    examples = serializers.ListField(child=serializers.DictField())


def _checked(request: Request) -> tuple[dict[str, Any], Any]:
    serializer = DestinationFiltersSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    try:
        return destination_filters.check(dict(serializer.validated_data))
    except FilterError as exc:
        raise ValidationError({exc.field: [exc.message]}) from None


class DestinationFiltersView(APIView):
    """A destination's filters, applied before its actions (docs/routing.md)."""

    @extend_schema(responses={200: DestinationFiltersSerializer})
    def get(self, request: Request, slug: str, destination_id: int) -> Response:
        destination = _destination(request, slug, destination_id)
        return Response(destination_filters.settings_of(destination))

    @extend_schema(request=DestinationFiltersSerializer, responses={200: DestinationFiltersSerializer})
    def put(self, request: Request, slug: str, destination_id: int) -> Response:
        destination = _destination(request, slug, destination_id, at_least=Role.ADMIN)
        clean, _ = _checked(request)
        return Response(destination_filters.save(destination, clean))


class DestinationFiltersPreview(APIView):
    """What the given filters would do to the last 100 events of the destination's sources."""

    @extend_schema(request=DestinationFiltersSerializer, responses={200: DestinationFiltersPreviewSerializer})
    def post(self, request: Request, slug: str, destination_id: int) -> Response:
        destination = _destination(request, slug, destination_id)
        _, compiled = _checked(request)
        return Response(destination_filters.preview(destination, compiled).as_dict())
