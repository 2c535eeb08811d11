"""The management REST API ("Public API"): workspaces, the catalog, sources, destinations, actions, events.

Authentication is a DRF token (`Authorization: Token <key>`) or the browser session. Every object is
looked up inside a workspace the caller is a member of (pipelines.tenancy), so another workspace's
objects answer 404. Views only translate HTTP; state changes happen in connections.services, whose
Django ValidationErrors become 400 {code, message, errors} in pipelines.api_errors.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from destinations.catalog import all_definitions, get_definition
from ingest.models import Event
from pipelines.models import Membership, Workspace
from pipelines.tenancy import get_workspace, workspaces_for
from retention.workspace_deletion import request_deletion

from . import services
from .models import Action, Destination, Source
from .serializers import (
    ActionSerializer,
    CatalogDestinationSerializer,
    DestinationSerializer,
    EventSerializer,
    SourceCredentialsSerializer,
    SourceSerializer,
    WorkspaceDeletionSerializer,
    WorkspaceSerializer,
)
from .views.access import render_page


def _is_schema_generation(view: APIView) -> bool:
    """drf-spectacular instantiates views without a request user or URL kwargs to inspect them."""
    return getattr(view, "swagger_fake_view", False)


# --- Workspaces ---------------------------------------------------------------------------------------


@extend_schema(tags=["workspaces"])
class WorkspaceList(generics.ListCreateAPIView):
    """GET: the workspaces you are a member of. POST: create one; you become its owner."""

    serializer_class = WorkspaceSerializer

    def get_queryset(self) -> QuerySet[Workspace]:
        if _is_schema_generation(self):
            return Workspace.objects.none()
        role = Membership.objects.filter(workspace=OuterRef("pk"), user=self.request.user).values("role")[:1]
        return workspaces_for(self.request.user).annotate(my_role=Subquery(role)).order_by("name", "id")


@extend_schema(tags=["workspaces"])
class WorkspaceDetail(generics.RetrieveAPIView):
    """GET: the workspace. DELETE (owners only): delete it, with everything it holds."""

    serializer_class = WorkspaceSerializer

    def get_object(self) -> Workspace:
        return get_workspace(self.request.user, self.kwargs["slug"])

    @extend_schema(
        request=None, responses={202: WorkspaceDeletionSerializer},
        description="Delete the workspace (owners only). From this answer on it is gone for every member: its "
                    "pages and API routes answer 404, and its write keys and Track API credentials are refused "
                    "(401) within INGEST_KEY_CACHE_SECONDS (10 seconds by default). Its data (events, deliveries, "
                    "profiles, audiences, privacy records, audit log, settings) is removed in the background. "
                    "Not undoable.",
    )
    def delete(self, request: Request, slug: str) -> Response:
        workspace = request_deletion(get_workspace(request.user, slug, at_least=Role.OWNER))
        return Response(WorkspaceDeletionSerializer(workspace).data, status=status.HTTP_202_ACCEPTED)


Role = Membership.Role
READ_METHODS = ("GET", "HEAD", "OPTIONS")


def needed_role(method: str, change: Role = Role.ADMIN) -> Role:
    """Reading needs the viewer role; any other method `change` (admin unless a view says otherwise)."""
    return Role.VIEWER if method in READ_METHODS else change


class WorkspaceScopedMixin:
    """Resolves {slug} to a workspace of the caller before anything else happens: 404 when they are not a
    member, 403 {code: "permission_denied"} when their role is below what the method needs
    (`change_role` for writes, viewer for reads)."""

    request: Request
    kwargs: dict[str, Any]
    change_role: Role = Role.ADMIN

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        self.workspace  # noqa: B018 -- resolve (and check the role) before the handler runs

    @cached_property
    def workspace(self) -> Workspace:
        return get_workspace(self.request.user, self.kwargs["slug"],
                             at_least=needed_role(self.request.method or "GET", self.change_role))

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()  # type: ignore[misc]
        if not _is_schema_generation(self):  # type: ignore[arg-type]
            context["workspace"] = self.workspace
        return context


# --- Catalog ------------------------------------------------------------------------------------------


@extend_schema(tags=["catalog"])
class CatalogDestinationList(APIView):
    """Destination types: key, name, category, mode, settings fields and actions with default triggers."""

    @extend_schema(responses=CatalogDestinationSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response([d.to_dict() for d in all_definitions()])


@extend_schema(tags=["catalog"])
class CatalogDestinationDetail(APIView):
    @extend_schema(responses=CatalogDestinationSerializer)
    def get(self, request: Request, key: str) -> Response:
        try:
            return Response(get_definition(key).to_dict())
        except KeyError:
            raise Http404("No such destination type") from None


# --- Sources ------------------------------------------------------------------------------------------


@extend_schema(tags=["sources"])
class SourceList(WorkspaceScopedMixin, generics.ListCreateAPIView):
    """GET: the workspace's sources. POST {name, kind}: create one; the answer includes its write key
    (and for journeys_track_api sources the API key, shown only this once)."""

    serializer_class = SourceSerializer

    def get_queryset(self) -> QuerySet[Source]:
        if _is_schema_generation(self):
            return Source.objects.none()
        return Source.objects.filter(workspace=self.workspace).order_by("name", "id")

    @extend_schema(request=SourceSerializer, responses={201: SourceCredentialsSerializer})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = SourceSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        source = serializer.save()
        return Response(SourceCredentialsSerializer(source).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["sources"])
class SourceDetail(WorkspaceScopedMixin, generics.RetrieveUpdateDestroyAPIView):
    serializer_class = SourceSerializer
    http_method_names = ["get", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[Source]:
        if _is_schema_generation(self):
            return Source.objects.none()
        return Source.objects.filter(workspace=self.workspace)


@extend_schema(tags=["sources"])
class SourceRotateKey(WorkspaceScopedMixin, APIView):
    """Rotate the source's credential: its write key, or for journeys_track_api sources the API key
    (returned in this response only). The old credential stops working at once."""

    @extend_schema(request=None, responses=SourceCredentialsSerializer)
    def post(self, request: Request, slug: str, pk: int) -> Response:
        source = get_object_or_404(Source, workspace=self.workspace, pk=pk)
        secret = services.rotate_source_key(source)
        if source.kind == "journeys_track_api":
            source.issued_api_key = secret
        return Response(SourceCredentialsSerializer(source).data)


# --- Destinations -------------------------------------------------------------------------------------


@extend_schema(tags=["destinations"])
class DestinationList(WorkspaceScopedMixin, generics.ListCreateAPIView):
    """GET: the workspace's destinations (secrets masked). POST {name, kind, settings, enabled,
    source_ids}: settings are validated against the catalog type; the type's default actions are added."""

    serializer_class = DestinationSerializer

    def get_queryset(self) -> QuerySet[Destination]:
        if _is_schema_generation(self):
            return Destination.objects.none()
        return (
            Destination.objects.filter(workspace=self.workspace)
            .prefetch_related("connections", "actions")
            .order_by("name", "id")
        )

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        destination = serializer.save()
        # Re-read so the answer shows the stored state (default actions, connections).
        fresh = self.get_queryset().get(pk=destination.pk)
        return Response(self.get_serializer(fresh).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["destinations"])
class DestinationDetail(WorkspaceScopedMixin, generics.RetrieveUpdateDestroyAPIView):
    serializer_class = DestinationSerializer
    http_method_names = ["get", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[Destination]:
        if _is_schema_generation(self):
            return Destination.objects.none()
        return Destination.objects.filter(workspace=self.workspace).prefetch_related("connections", "actions")

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(self.get_object(), data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        destination = serializer.save()
        fresh = self.get_queryset().get(pk=destination.pk)
        return Response(self.get_serializer(fresh).data)


# --- Actions ------------------------------------------------------------------------------------------


class DestinationScopedMixin(WorkspaceScopedMixin):
    @cached_property
    def destination(self) -> Destination:
        return get_object_or_404(Destination, workspace=self.workspace, pk=self.kwargs["destination_id"])

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        if not _is_schema_generation(self):  # type: ignore[arg-type]
            context["destination"] = self.destination
        return context


@extend_schema(tags=["actions"])
class ActionList(DestinationScopedMixin, generics.ListCreateAPIView):
    """GET: the destination's actions in order. POST {kind, name, trigger, mapping, enabled}: add one;
    trigger and mapping default to the catalog's."""

    serializer_class = ActionSerializer

    def get_queryset(self) -> QuerySet[Action]:
        if _is_schema_generation(self):
            return Action.objects.none()
        return Action.objects.filter(destination=self.destination).order_by("position", "id")


@extend_schema(tags=["actions"])
class ActionDetail(DestinationScopedMixin, generics.RetrieveUpdateDestroyAPIView):
    serializer_class = ActionSerializer
    http_method_names = ["get", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[Action]:
        if _is_schema_generation(self):
            return Action.objects.none()
        return Action.objects.filter(destination=self.destination)


# --- Events -------------------------------------------------------------------------------------------


class NewestFirst(CursorPagination):
    """Cursor pagination: stable under concurrent inserts and no COUNT(*) over a large event table."""

    ordering = ("-received_at", "-id")
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 500


@extend_schema(
    tags=["events"],
    parameters=[
        OpenApiParameter("source", OpenApiTypes.INT, description="Only events of this source (an id)."),
        OpenApiParameter("message_id", OpenApiTypes.STR, description="Only the event(s) with this message id."),
        OpenApiParameter("type", OpenApiTypes.STR, description="track, identify, page, screen, group or alias."),
        OpenApiParameter("limit", OpenApiTypes.INT, description="Page size (at most 500)."),
    ],
)
class EventList(WorkspaceScopedMixin, generics.ListAPIView):
    """Stored events of the workspace, newest first."""

    serializer_class = EventSerializer
    pagination_class = NewestFirst

    def get_queryset(self) -> QuerySet[Event]:
        if _is_schema_generation(self):
            return Event.objects.none()
        events = Event.objects.filter(workspace=self.workspace)
        params = self.request.query_params
        if params.get("source"):
            try:
                source_id = int(params["source"])
            except ValueError:
                raise serializers.ValidationError({"source": "Must be a source id (an integer)."}) from None
            if not Source.objects.filter(workspace=self.workspace, pk=source_id).exists():
                raise serializers.ValidationError({"source": f"No source with id {source_id} in this workspace."})
            events = events.filter(source_id=source_id)
        if params.get("message_id"):
            events = events.filter(message_id=params["message_id"])
        if params.get("type"):
            events = events.filter(type=params["type"])
        return events


# --- Browsable documentation --------------------------------------------------------------------------

_METHODS = ("get", "post", "put", "patch", "delete")


@require_GET
def api_docs(request: Any) -> Any:
    """Every operation of the OpenAPI schema, grouped by tag, rendered by us inside the app's layout (no
    CDN, no third-party JS). Public; a logged-in user gets the main navigation of the workspace named by
    ?workspace= (the link in that navigation passes it), else of their first workspace."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    workspaces = workspaces_for(request.user)
    workspace = None
    if request.user.is_authenticated:
        slug = request.GET.get("workspace", "")
        workspace = (slug and workspaces.filter(slug=slug).first()) or workspaces.first()
        if workspace is not None:
            workspace = get_workspace(request.user, workspace.slug)  # with the user's role, for the layout
    operations = []
    for path, item in schema.get("paths", {}).items():
        for method in _METHODS:
            op = item.get(method)
            if not op:
                continue
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            responses = []
            for code, response in op.get("responses", {}).items():
                ref = response.get("content", {}).get("application/json", {}).get("schema", {})
                responses.append({"code": code, "schema": _schema_name(ref), "description": response.get("description", "")})
            operations.append({
                "method": method.upper(), "path": path, "tag": (op.get("tags") or [""])[0],
                "summary": op.get("summary") or "", "description": op.get("description") or "",
                "parameters": [
                    {"name": p["name"], "in": p["in"], "required": p.get("required", False),
                     "description": p.get("description", "")}
                    for p in op.get("parameters", [])
                ],
                "request": _schema_name(body), "responses": responses,
            })
    components = {
        name: [
            {"name": field, "type": _type_name(spec), "read_only": spec.get("readOnly", False),
             "required": field in component.get("required", []), "description": spec.get("description", "")}
            for field, spec in component.get("properties", {}).items()
        ]
        for name, component in sorted(schema.get("components", {}).get("schemas", {}).items())
        if component.get("type") == "object"
    }
    groups: dict[str, list[dict[str, Any]]] = {}
    for op in operations:
        groups.setdefault(op["tag"] or "other", []).append(op)
    for n, op in enumerate(operations, 1):
        op["anchor"] = f"op-{n}"
        op["short_path"] = op["path"].removeprefix("/api")  # the index is narrow: every path starts so
    context = {"info": schema.get("info", {}), "groups": groups, "components": components, "nav": "api-docs",
               "example_slug": workspace.slug if workspace else "{slug}"}
    if workspace is None:
        return render(request, "connections/api_docs.html", context)
    return render_page(request, workspace, "connections/api_docs.html", context)


def _schema_name(ref: dict[str, Any]) -> str:
    if "$ref" in ref:
        return ref["$ref"].rsplit("/", 1)[-1]
    if ref.get("type") == "array" and "$ref" in ref.get("items", {}):
        return f"list of {_schema_name(ref['items'])}"
    return ref.get("type", "")


def _type_name(spec: dict[str, Any]) -> str:
    if "$ref" in spec or spec.get("type") == "array":
        return _schema_name(spec)
    if "allOf" in spec:
        return " & ".join(_schema_name(s) for s in spec["allOf"])
    if "enum" in spec:
        return " | ".join(str(v) for v in spec["enum"])
    return spec.get("type", "any") + (f" ({spec['format']})" if "format" in spec else "")
