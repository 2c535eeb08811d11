"""Roles, route by route: every UI view and management API route has a decision in RULES (the least role
each method needs), and each route × method × role gets what the decision says: allowed (neither 403 nor
404), or 403 with our error shape and nothing changed.

The routes are enumerated from the URL configuration like the isolation tests: a route added later
without a role decision fails `test_every_route_has_a_role_decision` until it gets a line here (and in
the README's roles table).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from connections.models import Action, Destination, Source
from pipelines.models import Invitation, Membership, Workspace

from . import test_isolation
from .test_isolation import _client_for, _url

world = test_isolation.world  # the same fixture: the owner's source, destination and action in "acme"

Role = Membership.Role
VIEWER, MEMBER, ADMIN, OWNER = Role.VIEWER, Role.MEMBER, Role.ADMIN, Role.OWNER

# URL name → {method: the least role it needs}. "POST op=test" is a POST whose form field `op` is "test"
# (the action page saves with op=save, an admin's job, and tests with op=test, a member's).
RULES: dict[str, dict[str, Role]] = {
    # Management API
    "api-workspace": {"GET": VIEWER, "DELETE": OWNER},
    "api-sources": {"GET": VIEWER, "POST": ADMIN},
    "api-source": {"GET": VIEWER, "PATCH": ADMIN, "DELETE": ADMIN},
    "api-source-rotate-key": {"POST": ADMIN},
    "api-destinations": {"GET": VIEWER, "POST": ADMIN},
    "api-destination": {"GET": VIEWER, "PATCH": ADMIN, "DELETE": ADMIN},
    "api-actions": {"GET": VIEWER, "POST": ADMIN},
    "api-action": {"GET": VIEWER, "PATCH": ADMIN, "DELETE": ADMIN},
    "api-events": {"GET": VIEWER},
    "api-source-webhook": {"GET": VIEWER, "PATCH": ADMIN},
    "api-source-webhook-bodies": {"GET": VIEWER},
    "api-source-webhook-body": {"GET": VIEWER},
    "api-source-webhook-body-reprocess": {"POST": ADMIN},
    "api-source-webhook-reprocess": {"POST": ADMIN},
    "api-source-webhook-preview": {"POST": VIEWER},  # stores nothing
    "destinations-api:deliveries": {"GET": VIEWER},
    "destinations-api:delivery-stats": {"GET": VIEWER},
    "destinations-api:action-test": {"POST": MEMBER},
    "routing-api:destination-filters": {"GET": VIEWER, "PUT": ADMIN},
    "routing-api:destination-filters-preview": {"POST": VIEWER},  # stores nothing
    "members-api:members": {"GET": VIEWER},
    "members-api:member": {"GET": VIEWER, "PATCH": OWNER, "DELETE": OWNER},  # DELETE of yourself: anyone
    "members-api:invitations": {"GET": ADMIN, "POST": ADMIN},  # inviting an owner: owners only
    "members-api:invitation": {"GET": ADMIN, "DELETE": ADMIN},  # revoking an owner's invitation: owners
    "api-audit": {"GET": VIEWER},
    "retention-api:retention": {"GET": VIEWER, "PATCH": ADMIN},
    "privacy-api:delete": {"POST": ADMIN},
    "privacy-api:suppress": {"POST": ADMIN},
    "privacy-api:unsuppress": {"POST": ADMIN},
    "privacy-api:requests": {"GET": VIEWER},
    "privacy-api:suppressions": {"GET": VIEWER},
    "audiences-api:audience-list": {"GET": VIEWER, "POST": ADMIN},
    "audiences-api:audience-detail": {"GET": VIEWER, "PATCH": ADMIN, "DELETE": ADMIN},
    "audiences-api:audience-members": {"GET": VIEWER},
    "audiences-api:audience-history": {"GET": VIEWER},
    "audiences-api:audience-estimate": {"POST": VIEWER},  # evaluates a draft; stores nothing
    "audiences-api:audience-vocabulary": {"GET": VIEWER},
    "alerts-api:rule-list": {"GET": VIEWER, "POST": ADMIN},
    "alerts-api:rule-detail": {"GET": VIEWER, "PATCH": ADMIN, "DELETE": ADMIN},
    "alerts-api:incident-list": {"GET": VIEWER},
    "audience-sync-api:audience-destinations": {"GET": VIEWER, "POST": ADMIN},
    "audience-sync-api:audience-destination": {"GET": VIEWER, "PATCH": ADMIN, "DELETE": ADMIN},
    "audience-sync-api:audience-destination-sync": {"GET": VIEWER},
    "api-profiles": {"GET": VIEWER},
    "api-profile": {"GET": VIEWER},
    # Audiences UI
    "audiences:list": {"GET": VIEWER},
    "audiences:new": {"GET": ADMIN, "POST": ADMIN},
    "audiences:detail": {"GET": VIEWER, "POST": ADMIN},
    "audiences:delete": {"POST": ADMIN},
    # Alerts page
    "alerts:alerts": {"GET": VIEWER},
    "alerts:new": {"GET": ADMIN, "POST": ADMIN},
    "alerts:edit": {"GET": VIEWER, "POST": ADMIN},
    "alerts:delete": {"POST": ADMIN},
    "audience-sync:connect": {"POST": ADMIN},
    "audience-sync:change": {"POST": ADMIN},
    # Audit log and workspace settings pages
    "audit:log": {"GET": VIEWER},
    "retention:workspace-settings": {"GET": VIEWER, "POST": ADMIN, "POST op=delete": OWNER},
    "privacy:privacy": {"GET": VIEWER, "POST": ADMIN},
    # People pages
    "profiles:people": {"GET": VIEWER},
    "profiles:person": {"GET": VIEWER},
    # Members UI
    "members:list": {"GET": VIEWER, "POST": ADMIN},
    "members:role": {"POST": OWNER},
    "members:remove": {"POST": OWNER},  # leaving (removing yourself): anyone but the last owner
    "members:revoke": {"POST": ADMIN},
    # Connections UI
    "connections:connections": {"GET": VIEWER},
    "connections:add-destination-start": {"GET": ADMIN},
    "connections:add-destination-cancel": {"POST": ADMIN},
    "connections:add-destination": {"GET": ADMIN, "POST": ADMIN},
    "connections:destination": {"GET": VIEWER},
    "connections:destination-toggle": {"POST": ADMIN},
    "connections:destination-add-source": {"POST": ADMIN},
    "connections:destination-remove-source": {"POST": ADMIN},
    "connections:destination-delete": {"GET": ADMIN, "POST": ADMIN},
    "connections:destination-settings": {"GET": VIEWER, "POST": ADMIN},
    "connections:destination-actions": {"GET": VIEWER, "POST": ADMIN},
    "connections:action": {"GET": VIEWER, "POST": ADMIN, "POST op=test": MEMBER},
    "connections:action-toggle": {"POST": ADMIN},
    "connections:action-delete": {"POST": ADMIN},
    "connections:destination-delivery": {"GET": VIEWER},
    "connections:destination-filters": {"GET": VIEWER, "POST": ADMIN, "POST op=preview": VIEWER},
    "connections:add-source": {"GET": ADMIN},
    "connections:add-source-name": {"GET": ADMIN, "POST": ADMIN},
    "connections:source": {"GET": VIEWER},
    "connections:source-setup": {"GET": VIEWER},
    "connections:source-rotate": {"GET": ADMIN, "POST": ADMIN},
    "connections:source-rename": {"POST": ADMIN},
    "connections:source-toggle": {"POST": ADMIN},
    "connections:source-delete": {"GET": ADMIN, "POST": ADMIN},
    "connections:source-events": {"GET": VIEWER},
    "connections:source-webhook": {"GET": VIEWER, "POST": ADMIN, "POST op=preview": VIEWER},
    "connections:source-webhook-signature": {"POST": ADMIN},
    "connections:source-webhook-reprocess": {"POST": ADMIN},
}

# Routes that name no workspace, with why no workspace role applies to them.
UNSCOPED = {
    "login", "logout",  # before any workspace
    "favicon",  # a redirect to the static icon
    "connections:home",  # redirects to the first workspace the user is a member of
    "api-schema", "api-docs", "api-catalog", "api-catalog-entry",  # the same for every authenticated user
    "api-workspaces",  # your own workspaces; creating one makes you its owner
    "members:accept", "members-api:accept",  # an invitation: its signed token decides, for the invited email
}
# Django admin (staff only).
UNSCOPED_PREFIXES = ("admin/",)
# The tracking APIs (/v1/*, the Track API, analytics.js): authenticated by a write key or Track API
# credentials, not a user, so no workspace role applies. Recognised by the package of their views.
UNSCOPED_VIEW_PACKAGES = ("ingest.",)


def _patterns() -> list[tuple[str, str]]:
    """(route template, namespaced URL name) for every route but the tracking APIs'."""
    found: list[tuple[str, str]] = []

    def walk(patterns: list[Any], prefix: str, namespace: str) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern),
                     f"{namespace}{p.namespace}:" if p.namespace else namespace)
            elif isinstance(p, URLPattern):
                module = getattr(p.callback, "__module__", "") or ""
                if not module.startswith(UNSCOPED_VIEW_PACKAGES):
                    found.append((prefix + str(p.pattern), f"{namespace}{p.name or ''}"))

    walk(get_resolver().url_patterns, "", "")
    return found


def _decided_routes() -> dict[str, str]:
    """URL name → route template, for the routes RULES decides."""
    return {name: route for route, name in _patterns() if name in RULES}


def test_every_route_has_a_role_decision() -> None:
    undecided = [
        (route, name) for route, name in _patterns()
        if name not in RULES and name not in UNSCOPED and not route.startswith(UNSCOPED_PREFIXES)
    ]
    assert not undecided, f"routes without a role decision (add them to RULES or UNSCOPED): {undecided}"
    scoped_unscoped = [name for route, name in _patterns() if name in UNSCOPED and "<slug:slug>" in route]
    assert not scoped_unscoped, f"routes naming a workspace must have a role decision: {scoped_unscoped}"
    stale = set(RULES) - set(_decided_routes())
    assert not stale, f"RULES names routes that no longer exist: {stale}"


@pytest.fixture
def member_of(workspace: Workspace, owner: User) -> Any:
    """A user with `role` in the owner's workspace (the owner themself for OWNER)."""

    def make(role: Role) -> User:
        if role == OWNER:
            return owner
        user = User.objects.create_user(f"{role}-user", f"{role}@example.com", "pw-123456789")
        Membership.objects.create(user=user, workspace=workspace, role=role)
        return user

    return make


CASES = [
    pytest.param(name, method, role, id=f"{name}-{method.replace(' ', '-')}-{role}")
    for name, methods in RULES.items() for method in methods for role in (VIEWER, MEMBER, ADMIN, OWNER)
]


def _send(client: Any, method: str, url: str) -> Any:
    verb, _, op = method.partition(" op=")
    api = url.startswith("/api/")
    if verb == "GET":
        return client.get(url)
    if api:
        return getattr(client, verb.lower())(url, {}, format="json")
    return client.post(url, {"op": op, "event": "{}"} if op else {})


@pytest.mark.parametrize(("name", "method", "role"), CASES)
def test_each_route_answers_each_role_as_decided(name: str, method: str, role: Role, world: dict[str, Any],
                                                 member_of: Any) -> None:
    url = _url(_decided_routes()[name], "acme", world)
    user = member_of(role)
    response = _send(_client_for(user, url), method, url)
    needed = RULES[name][method]
    if role.includes(needed):
        assert response.status_code not in (403, 404), (url, method, role, response.status_code)
        assert response.status_code < 500
        return
    assert response.status_code == 403, (url, method, role, response.status_code)
    if url.startswith("/api/"):
        body = response.json()
        assert body["code"] == "permission_denied"
        assert f"needs the {needed.label.lower()} role" in body["message"]
    else:
        assert b"You can't do this here" in response.content
        assert f"needs the {needed.label.lower()} role".encode() in response.content
    # Refused means nothing changed.
    assert Source.objects.filter(id=world["source"].id, enabled=True, name="Acme backend").exists()
    assert Destination.objects.filter(id=world["destination"].id, enabled=True).exists()
    assert Action.objects.filter(id=world["action"].id, enabled=True).exists()
    assert Source.objects.get(id=world["source"].id).write_key == world["source"].write_key
    assert Membership.objects.filter(id=world["member"].id, role=MEMBER).exists()
    assert Invitation.objects.filter(id=world["invitation"].id).exists()


# --- What each role is shown ---------------------------------------------------------------------------


def test_viewers_never_see_a_write_key(world: dict[str, Any], member_of: Any) -> None:
    source = world["source"]
    viewer = member_of(VIEWER)
    client = Client()
    client.force_login(viewer)
    for url in (f"/w/acme/sources/{source.id}/", f"/w/acme/sources/{source.id}/setup/"):
        page = client.get(url)
        assert page.status_code == 200
        assert source.write_key.encode() not in page.content
        assert b"data-secret-toggle" not in page.content  # no Reveal button
    api = _client_for(viewer, "/api/")
    listed = api.get("/api/workspaces/acme/sources/").json()["results"]
    detail = api.get(f"/api/workspaces/acme/sources/{source.id}/").json()
    assert source.write_key not in str(listed) + str(detail)
    assert detail["write_key"].startswith("••••")


def test_members_see_write_keys_but_no_buttons_that_change_things(world: dict[str, Any], member_of: Any) -> None:
    source, destination, action = world["source"], world["destination"], world["action"]
    client = Client()
    client.force_login(member_of(MEMBER))
    page = client.get(f"/w/acme/sources/{source.id}/")
    assert source.write_key.encode() in page.content
    assert b"Rotate write key" not in page.content and b"Delete source" not in page.content
    connections = client.get("/w/acme/connections/")
    assert b"Add New" not in connections.content
    overview = client.get(f"/w/acme/destinations/{destination.id}/")
    assert b"Disable destination" not in overview.content and b"Delete destination" not in overview.content
    settings_page = client.get(f"/w/acme/destinations/{destination.id}/settings/")
    assert b"Save changes" not in settings_page.content and b"Test connection" not in settings_page.content
    assert b"Danger zone" not in settings_page.content and b"Delete destination" not in settings_page.content
    action_page = client.get(f"/w/acme/destinations/{destination.id}/actions/{action.id}/")
    assert b"Save action" not in action_page.content
    assert b"Test action" in action_page.content  # members test actions


def test_admins_get_every_button(world: dict[str, Any], member_of: Any) -> None:
    client = Client()
    client.force_login(member_of(ADMIN))
    page = client.get(f"/w/acme/sources/{world['source'].id}/")
    assert b"Rotate write key" in page.content and b"Delete source" in page.content
    settings_page = client.get(f"/w/acme/destinations/{world['destination'].id}/settings/")
    assert b"Danger zone" in settings_page.content and b"Delete destination" in settings_page.content
    action_page = client.get(f"/w/acme/destinations/{world['destination'].id}/actions/{world['action'].id}/")
    assert b"Save action" in action_page.content


def test_a_viewer_cannot_test_an_action_even_by_posting(world: dict[str, Any], member_of: Any) -> None:
    client = Client()
    client.force_login(member_of(VIEWER))
    url = f"/w/acme/destinations/{world['destination'].id}/actions/{world['action'].id}/"
    page = client.get(url)
    assert b"Test action</button>" not in page.content
    refused = client.post(url, {"op": "send", "event": "{}"})
    assert refused.status_code == 403
