"""Privacy management API: delete a person, suppress and unsuppress identities, list requests and
suppressions. Scoped like every management route (pipelines.tenancy): a non-member gets 404, a member
below admin gets 403 on the POST routes (listing needs viewer). State changes are in privacy.services."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from pipelines.models import Membership
from pipelines.tenancy import get_workspace

from . import services
from .models import PrivacyRequest, Suppression
from .serializers import IdentitySerializer, PrivacyRequestSerializer, SuppressionSerializer, identity_data

Role = Membership.Role


class _IdentityAction(APIView):
    """POST {user_id?, email?, anonymous_id?}: run `service` for the workspace (admin or above)."""

    service: Callable[..., PrivacyRequest]
    answer_status = status.HTTP_200_OK

    def post(self, request: Request, slug: str) -> Response:
        workspace = get_workspace(request.user, slug, at_least=Role.ADMIN)  # before reading the body: 404 / 403
        serializer = IdentitySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        record = type(self).service(workspace, request.user, **identity_data(serializer.validated_data))
        return Response(PrivacyRequestSerializer(record).data, status=self.answer_status)


@extend_schema(tags=["privacy"], request=IdentitySerializer, responses={202: PrivacyRequestSerializer})
class DeletePerson(_IdentityAction):
    """Delete a person's data in this workspace: their stored events (matched by userId, anonymousId, or
    an email in traits / context.traits), the deliveries and delivery records of those events; suppress
    their identities from now on; and forward the deletion to destinations that support one (Customer.io).
    Answers 202 with the recorded request; it runs in the background (GET privacy/requests/ shows when it
    is done and how many rows went)."""

    service = staticmethod(services.request_deletion)
    answer_status = status.HTTP_202_ACCEPTED


@extend_schema(tags=["privacy"], request=IdentitySerializer, responses={200: PrivacyRequestSerializer})
class SuppressPerson(_IdentityAction):
    """Drop the identities' future events at ingest (counted, shown as "suppressed" in the source's
    debugger); nothing already stored is deleted."""

    service = staticmethod(services.suppress)


@extend_schema(tags=["privacy"], request=IdentitySerializer, responses={200: PrivacyRequestSerializer})
class UnsuppressPerson(_IdentityAction):
    """Accept the identities' events again."""

    service = staticmethod(services.unsuppress)


class _WorkspaceList(generics.ListAPIView):
    def workspace(self) -> Any:
        return get_workspace(self.request.user, self.kwargs["slug"], at_least=Role.VIEWER)


@extend_schema(tags=["privacy"])
class PrivacyRequestList(_WorkspaceList):
    """The workspace's privacy requests, newest first: who asked, when, about whom, what was removed."""

    serializer_class = PrivacyRequestSerializer

    def get_queryset(self) -> QuerySet[PrivacyRequest]:
        if getattr(self, "swagger_fake_view", False):
            return PrivacyRequest.objects.none()
        return (PrivacyRequest.objects.filter(workspace=self.workspace()).select_related("requested_by")
                .order_by("-created_at", "-id"))


@extend_schema(tags=["privacy"])
class SuppressionList(_WorkspaceList):
    """The workspace's suppressed identities, with how many events each has dropped."""

    serializer_class = SuppressionSerializer

    def get_queryset(self) -> QuerySet[Suppression]:
        if getattr(self, "swagger_fake_view", False):
            return Suppression.objects.none()
        return Suppression.objects.filter(workspace=self.workspace()).select_related("created_by").order_by("kind",
                                                                                                           "value")
