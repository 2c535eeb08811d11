"""Members and invitations through the management API (/api/workspaces/{slug}/members/, .../invitations/,
/api/invitations/accept/). Who may do what is pipelines.members' module docstring; the last owner's
refusal is 400 {code: "last_owner", message}."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from . import members
from .members_ui import invitation_link_builder
from .models import Invitation, Membership, Workspace
from .tenancy import get_workspace, require_role

Role = Membership.Role


def _is_schema_generation(view: APIView) -> bool:
    return getattr(view, "swagger_fake_view", False)


class MemberSerializer(serializers.ModelSerializer):
    user_id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(source="user.username", read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True)
    role = serializers.ChoiceField(choices=Role.choices)
    is_you = serializers.SerializerMethodField()

    class Meta:
        model = Membership
        fields = ["id", "user_id", "username", "email", "role", "is_you", "created_at"]
        read_only_fields = ["id", "created_at"]

    def get_is_you(self, membership: Membership) -> bool:
        return membership.user_id == self.context["request"].user.pk


class InvitationSerializer(serializers.ModelSerializer):
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=Role.choices, default=Role.MEMBER)
    invited_by = serializers.CharField(source="invited_by.username", read_only=True, allow_null=True)

    class Meta:
        model = Invitation
        fields = ["id", "email", "role", "invited_by", "created_at"]
        read_only_fields = ["id", "invited_by", "created_at"]


class CreatedInvitationSerializer(InvitationSerializer):
    accept_url = serializers.CharField(read_only=True, help_text="The link emailed to the invited address "
                                       "(shown in this response only). It works for that address's account.")

    class Meta(InvitationSerializer.Meta):
        fields = [*InvitationSerializer.Meta.fields, "accept_url"]


class AcceptedSerializer(MemberSerializer):
    workspace = serializers.SlugField(source="workspace.slug", read_only=True, help_text="The workspace you joined.")

    class Meta(MemberSerializer.Meta):
        fields = [*MemberSerializer.Meta.fields, "workspace"]


class AcceptSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="The token of the invitation link (/invitations/<token>/).")


class _WorkspaceRoute:
    request: Request
    kwargs: dict[str, Any]
    # The least role per method; a method not named here needs `default_role`.
    roles: dict[str, Role] = {}
    default_role: Role = Role.VIEWER

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        self.workspace  # noqa: B018 -- resolve (404 / 403) before the handler runs

    @cached_property
    def workspace(self) -> Workspace:
        method = self.request.method or "GET"
        return get_workspace(self.request.user, self.kwargs["slug"],
                             at_least=self.roles.get(method, self.default_role))


@extend_schema(tags=["members"])
class MemberList(_WorkspaceRoute, generics.ListAPIView):
    """The workspace's members and their roles (any member may read it)."""

    serializer_class = MemberSerializer
    pagination_class = None

    def get_queryset(self) -> QuerySet[Membership]:
        if _is_schema_generation(self):
            return Membership.objects.none()
        return Membership.objects.filter(workspace=self.workspace).select_related("user").order_by("created_at", "id")


@extend_schema(tags=["members"])
class MemberDetail(_WorkspaceRoute, generics.RetrieveUpdateDestroyAPIView):
    """GET: one member. PATCH {role}: owners only. DELETE: owners remove a member; anyone may remove
    themself (leave). The last owner can't be demoted or removed: 400 {code: "last_owner"}."""

    serializer_class = MemberSerializer
    http_method_names = ["get", "patch", "delete", "head", "options"]
    roles = {"PATCH": Role.OWNER}

    def get_queryset(self) -> QuerySet[Membership]:
        if _is_schema_generation(self):
            return Membership.objects.none()
        return Membership.objects.filter(workspace=self.workspace).select_related("user", "workspace")

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        membership = self.get_object()
        serializer = self.get_serializer(membership, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        if "role" in serializer.validated_data:
            members.change_role(membership, serializer.validated_data["role"])
        return Response(self.get_serializer(membership).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        membership = self.get_object()
        if membership.user_id != request.user.pk:  # removing someone else; leaving needs no role
            require_role(self.workspace, Role.OWNER)
        members.remove_member(membership)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["members"])
class InvitationList(_WorkspaceRoute, generics.ListCreateAPIView):
    """GET: pending invitations. POST {email, role}: invite (admins up to admin, owners any role); the
    link goes by email. Inviting an address again re-sends its invitation with the new role."""

    serializer_class = InvitationSerializer
    pagination_class = None
    default_role = Role.ADMIN

    def get_queryset(self) -> QuerySet[Invitation]:
        if _is_schema_generation(self):
            return Invitation.objects.none()
        return Invitation.objects.filter(workspace=self.workspace, accepted_at__isnull=True).select_related("invited_by")

    @extend_schema(request=InvitationSerializer, responses={201: CreatedInvitationSerializer})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = InvitationSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        links: list[str] = []
        build = invitation_link_builder(request)

        def accept_url(token: str) -> str:
            links.append(build(token))
            return links[-1]

        invitation = members.invite(self.workspace, inviter=request.user, inviter_role=self.workspace.role,
                                    email=serializer.validated_data["email"], role=serializer.validated_data["role"],
                                    accept_url=accept_url)
        invitation.accept_url = links[-1]  # type: ignore[attr-defined]
        return Response(CreatedInvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["members"])
class InvitationDetail(_WorkspaceRoute, generics.RetrieveDestroyAPIView):
    """GET: one pending invitation. DELETE: revoke it (its link stops working); admins revoke the
    invitations they could have made, owners any."""

    serializer_class = InvitationSerializer
    default_role = Role.ADMIN

    def get_queryset(self) -> QuerySet[Invitation]:
        if _is_schema_generation(self):
            return Invitation.objects.none()
        return Invitation.objects.filter(workspace=self.workspace, accepted_at__isnull=True)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        invitation = self.get_object()
        members.check_can_manage_invitation(self.workspace.role, invitation)
        members.revoke(invitation)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["members"])
class AcceptInvitation(APIView):
    """Accept an invitation as the authenticated user, whose email must be the invited address. Answers
    the workspace; 400 with code invitation_invalid, invitation_expired or wrong_email otherwise."""

    @extend_schema(request=AcceptSerializer, responses={200: AcceptedSerializer})
    def post(self, request: Request) -> Response:
        serializer = AcceptSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        invitation = members.invitation_for(serializer.validated_data["token"])
        membership = members.accept(invitation, request.user)
        membership = get_object_or_404(Membership.objects.select_related("user", "workspace"), pk=membership.pk)
        return Response(AcceptedSerializer(membership, context={"request": request}).data)
