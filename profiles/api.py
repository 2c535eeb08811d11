"""GET /api/workspaces/{slug}/profiles/?q= and GET .../profiles/{id}/: the workspace's people, for any
member. `q` is what the People page's search takes (profiles.search)."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response

from pipelines.tenancy import get_workspace

from .models import Person, PersonEvent
from .search import search_people
from .serializers import PersonDetailSerializer, PersonSerializer
from .state import memberships
from .views import identifiers_of

MAX_QUERY = 200


class NewestFirst(CursorPagination):
    """Cursor pagination on the primary key: stable while people are added, no COUNT(*)."""

    ordering = ("-id",)
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 500


@extend_schema(
    tags=["profiles"],
    parameters=[
        OpenApiParameter("q", OpenApiTypes.STR, description=(
            "An email (any case), userId or anonymousId, exact or its beginning; or `key:value` for a trait "
            "(`plan:pro`, `seats:3`). At most 200 characters.")),
        OpenApiParameter("limit", OpenApiTypes.INT, description="Page size (at most 500)."),
    ],
)
class ProfileList(generics.ListAPIView):
    """The workspace's people, newest first: identifiers and traits."""

    serializer_class = PersonSerializer
    pagination_class = NewestFirst

    def get_queryset(self) -> QuerySet[Person]:
        if getattr(self, "swagger_fake_view", False):
            return Person.objects.none()
        workspace = get_workspace(self.request.user, self.kwargs["slug"])
        q = self.request.query_params.get("q", "")
        if len(q) > MAX_QUERY:
            raise serializers.ValidationError({"q": f"At most {MAX_QUERY} characters."})
        return search_people(workspace.id, q)

    def get_serializer(self, *args: Any, **kwargs: Any) -> Any:
        if args and not getattr(self, "swagger_fake_view", False):
            people = list(args[0])
            kwargs.setdefault("context", self.get_serializer_context())
            kwargs["context"]["identifiers"] = identifiers_of([p.id for p in people])
            args = (people, *args[1:])
        return super().get_serializer(*args, **kwargs)


@extend_schema(tags=["profiles"])
class ProfileDetail(generics.RetrieveAPIView):
    """One person: identifiers, traits, the audiences they are in (with `entered_at`), devices, groups
    and the compact event history."""

    serializer_class = PersonDetailSerializer
    lookup_url_kwarg = "person_id"

    def get_queryset(self) -> QuerySet[Person]:
        if getattr(self, "swagger_fake_view", False):
            return Person.objects.none()
        workspace = get_workspace(self.request.user, self.kwargs["slug"])
        # the plain history only: filtered rows (audiences' property filters) repeat the same names
        return Person.objects.filter(workspace=workspace).prefetch_related(
            "devices", "groups", Prefetch("event_stats", queryset=PersonEvent.objects.filter(filter_key="")))

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        person = self.get_object()  # 404 unless it is a person of this workspace
        context = {**self.get_serializer_context(), "identifiers": identifiers_of([person.id]),
                   "audiences": memberships(person.workspace_id, [person.id])}
        return Response(PersonDetailSerializer(person, context=context).data)
