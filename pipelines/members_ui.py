"""The Members page (/w/<slug>/members/) and the invitation link (/invitations/<token>/).

Views translate HTTP; pipelines.members holds the rules and the state changes. Refusals by role are 403
pages (pipelines.tenancy); refusals by rule (the last owner, a wrong email) are form errors (400).
"""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from connections.views.access import render_page

from . import members
from .models import Invitation, Membership, Workspace
from .tenancy import get_workspace, require_role

Role = Membership.Role


class InviteForm(forms.Form):
    email = forms.EmailField(label="Email address", max_length=254)
    role = forms.ChoiceField(label="Invite as", choices=Role.choices, initial=Role.MEMBER)

    def __init__(self, *args: object, inviter_role: Role, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        # Offer only the roles this inviter may give (admins: up to admin).
        self.fields["role"].choices = [(v, label) for v, label in Role.choices if inviter_role.includes(v)]


class SignupForm(UserCreationForm):
    """A new account for an invited address (the email comes from the invitation)."""

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username",)


def invitation_link_builder(request: HttpRequest) -> Callable[[str], str]:
    """token → the absolute URL of the invitation page, on the host this request came to."""

    def build(token: str) -> str:
        return request.build_absolute_uri(reverse("members:accept", kwargs={"token": token}))

    return build


def _page(request: HttpRequest, workspace: Workspace, *, invite_form: InviteForm | None = None,
          error: str = "", status: int = 200) -> HttpResponse:
    memberships = (Membership.objects.filter(workspace=workspace).select_related("user")
                   .order_by("created_at", "id"))
    can_invite = workspace.role.includes(Role.ADMIN)
    invitations = (list(Invitation.objects.filter(workspace=workspace, accepted_at__isnull=True)
                        .select_related("invited_by")) if can_invite else [])
    for invitation in invitations:
        invitation.revocable = workspace.role.includes(invitation.role)  # type: ignore[attr-defined]
    return render_page(request, workspace, "members/members.html", {
        "memberships": memberships, "invitations": invitations, "roles": Role.choices,
        "invite_form": invite_form or (InviteForm(inviter_role=workspace.role) if can_invite else None),
        "error": error, "nav": "members", "invitation_days": settings.INVITATION_MAX_AGE_DAYS,
    }, status=status)


@login_required
def members_page(request: HttpRequest, slug: str) -> HttpResponse:
    """GET: the members, their roles, pending invitations. POST: invite someone (admin or owner)."""
    at_least = Role.VIEWER if request.method in ("GET", "HEAD") else Role.ADMIN
    workspace = get_workspace(request.user, slug, at_least=at_least)
    if request.method != "POST":
        return _page(request, workspace)
    form = InviteForm(request.POST, inviter_role=workspace.role)
    if form.is_valid():
        try:
            invitation = members.invite(workspace, inviter=request.user, inviter_role=workspace.role,  # type: ignore[arg-type]
                                        email=form.cleaned_data["email"], role=form.cleaned_data["role"],
                                        accept_url=invitation_link_builder(request))
        except ValidationError as exc:
            form.add_error("email", exc)
        else:
            messages.success(request, f"Invited {invitation.email} as {invitation.get_role_display().lower()}: "
                                      "the link is on its way by email.")
            return redirect("members:list", slug=slug)
    return _page(request, workspace, invite_form=form, status=400)


@login_required
@require_POST
def change_role(request: HttpRequest, slug: str, member_id: int) -> HttpResponse:
    workspace = get_workspace(request.user, slug, at_least=Role.OWNER)
    membership = get_object_or_404(Membership.objects.select_related("user", "workspace"), workspace=workspace,
                                   pk=member_id)
    try:
        members.change_role(membership, request.POST.get("role", ""))
    except ValidationError as exc:
        return _page(request, workspace, error=exc.messages[0], status=400)
    messages.success(request, f"{membership.user.get_username()} is now {membership.get_role_display().lower()}.")
    return redirect("members:list", slug=slug)


@login_required
@require_POST
def remove_member(request: HttpRequest, slug: str, member_id: int) -> HttpResponse:
    """Owners remove anyone; anyone may remove themself (leave the workspace)."""
    workspace = get_workspace(request.user, slug)
    membership = get_object_or_404(Membership.objects.select_related("user", "workspace"), workspace=workspace,
                                   pk=member_id)
    leaving = membership.user_id == request.user.pk
    if not leaving:
        require_role(workspace, Role.OWNER)
    try:
        members.remove_member(membership)
    except ValidationError as exc:
        return _page(request, workspace, error=exc.messages[0], status=400)
    if leaving:
        messages.success(request, f"You left {workspace.name}.")
        return redirect("connections:home")
    messages.success(request, f"Removed {membership.user.get_username()} from {workspace.name}.")
    return redirect("members:list", slug=slug)


@login_required
@require_POST
def revoke_invitation(request: HttpRequest, slug: str, invitation_id: int) -> HttpResponse:
    workspace = get_workspace(request.user, slug, at_least=Role.ADMIN)
    invitation = get_object_or_404(Invitation, workspace=workspace, pk=invitation_id, accepted_at__isnull=True)
    members.check_can_manage_invitation(workspace.role, invitation)
    members.revoke(invitation)
    messages.success(request, f"Revoked the invitation of {invitation.email}.")
    return redirect("members:list", slug=slug)


def accept_invitation(request: HttpRequest, token: str) -> HttpResponse:
    """The link of an invitation email. Logged in with the invited address: Accept (POST). Logged out:
    log in (an account with that address exists) or sign up (none does), then accept."""
    try:
        invitation = members.invitation_for(token)
    except ValidationError as exc:
        return render(request, "members/accept.html", {"invalid": exc.messages[0]}, status=400)
    context: dict[str, object] = {"invitation": invitation, "token": token,
                                  "login_url": f"{reverse('login')}?{urlencode({'next': request.path})}"}
    user = request.user
    if user.is_authenticated:
        if not members.email_matches(invitation, user):
            context["error"] = (f"This invitation is for {invitation.email}, but you are logged in as "
                                f"{user.get_username()} with another email address. Log out, then open the link "
                                "again to log in or sign up with the invited address.")
            return render(request, "members/accept.html", context, status=400 if request.method == "POST" else 200)
        if request.method == "POST":
            members.accept(invitation, user)  # type: ignore[arg-type]
            messages.success(request, f"Welcome to {invitation.workspace.name}.")
            return redirect("connections:connections", slug=invitation.workspace.slug)
        return render(request, "members/accept.html", context)
    has_account = get_user_model().objects.filter(email__iexact=invitation.email).exists()
    context["has_account"] = has_account
    form = SignupForm(request.POST or None) if not has_account else None
    if request.method == "POST" and form is not None and form.is_valid():
        new_user = form.save(commit=False)
        new_user.email = invitation.email
        new_user.save()
        login(request, new_user, backend="django.contrib.auth.backends.ModelBackend")
        members.accept(invitation, new_user)
        messages.success(request, f"Welcome to {invitation.workspace.name}.")
        return redirect("connections:connections", slug=invitation.workspace.slug)
    context["form"] = form
    return render(request, "members/accept.html", context,
                  status=400 if request.method == "POST" else 200)
