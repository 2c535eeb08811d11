"""Routes of workspace members and invitations: the Members page and invitation links (namespace
"members"), and the members API under /api/ (namespace "members-api")."""

from django.urls import path

from . import members_api, members_ui

WS = "workspaces/<slug:slug>"

ui_patterns = [
    path("w/<slug:slug>/members/", members_ui.members_page, name="list"),
    path("w/<slug:slug>/members/<int:member_id>/role/", members_ui.change_role, name="role"),
    path("w/<slug:slug>/members/<int:member_id>/remove/", members_ui.remove_member, name="remove"),
    path("w/<slug:slug>/invitations/<int:invitation_id>/revoke/", members_ui.revoke_invitation, name="revoke"),
    path("invitations/<str:token>/", members_ui.accept_invitation, name="accept"),
]

api_patterns = [
    path(f"{WS}/members/", members_api.MemberList.as_view(), name="members"),
    path(f"{WS}/members/<int:pk>/", members_api.MemberDetail.as_view(), name="member"),
    path(f"{WS}/invitations/", members_api.InvitationList.as_view(), name="invitations"),
    path(f"{WS}/invitations/<int:pk>/", members_api.InvitationDetail.as_view(), name="invitation"),
    path("invitations/accept/", members_api.AcceptInvitation.as_view(), name="accept"),
]
