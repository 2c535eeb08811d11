"""Workspace isolation across every UI view and management API route.

The routes are enumerated from the URL configuration, so a view added later is covered without editing
this file. For each route that names a workspace: an outsider (a member of another workspace) gets 404
for the owner's workspace, and also for the owner's objects addressed through the outsider's own
workspace slug (the classic "change the id in the URL" attack). A member of another workspace can't
connect its source to your destination, through the API, the UI or the services.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from connections import services
from connections.models import Connection, Destination, Source
from pipelines.models import Invitation, Membership, Workspace
from profiles.models import Person

ARGUMENT_FREE_SKIPS = {"login", "logout"}


def _routes() -> list[tuple[str, Any]]:
    """(route template, pattern) for every URL whose path takes a workspace slug."""
    found: list[tuple[str, Any]] = []

    def walk(patterns: list[Any], prefix: str) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                route = prefix + str(p.pattern)
                if "<slug:slug>" in route:
                    found.append((route, p))

    walk(get_resolver().url_patterns, "")
    return found


ROUTES = _routes()


@pytest.fixture
def world(owner: User, outsider: User, workspace: Workspace, other_workspace: Workspace) -> dict[str, Any]:
    """The owner's source, destination and action in "acme"; the outsider's own in "globex"."""
    source, _ = services.create_source(workspace, name="Acme backend", kind="python")
    destination = services.create_destination(workspace, name="Acme hook", kind="webhook",
                                              settings={"url": "https://8.8.8.8/hook"}, sources=[source])
    their_source, _ = services.create_source(other_workspace, name="Globex backend", kind="python")
    their_destination = services.create_destination(other_workspace, name="Globex hook", kind="webhook",
                                                    settings={"url": "https://1.1.1.1/hook"})
    dave = User.objects.create_user("dave", "dave@example.com", "dave-password-1")
    member = Membership.objects.create(user=dave, workspace=workspace, role=Membership.Role.MEMBER)
    invitation = Invitation.objects.create(workspace=workspace, email="erin@example.com", invited_by=owner)
    person = Person.objects.create(workspace=workspace, traits={"name": "Acme person"})
    hook, _ = services.create_source(workspace, name="Acme webhook", kind="webhook")
    from django.utils import timezone

    from ingest.models import WebhookBody

    now = timezone.now()
    body = WebhookBody.objects.create(workspace=workspace, source=hook, received_at=now, raw=b'{"a": 1}',
                                      status=WebhookBody.Status.FAILED, reason="no mapping", processed_at=now)
    from audiences.models import Audience

    audience = Audience.objects.create(workspace=workspace, name="Acme pro", key="pro",
                                       definition={"trait": "plan", "op": "exists"})
    from audience_sync import services as audience_sync

    audience_sync.connect(audience, destination)  # the audience's destination routes name it
    return {"source": source, "destination": destination, "action": destination.actions.first(),
            "audience": audience,
            "their_source": their_source, "their_destination": their_destination,
            "member": member, "invitation": invitation, "webhook_source": hook, "webhook_body": body,
            "person": person}


def _url(route: str, slug: str, world: dict[str, Any]) -> str:
    """Fill a route template with the owner's objects (whatever the slug)."""
    values = {
        "<slug:slug>": slug,
        "<int:destination_id>": str(world["destination"].id),
        "<int:action_id>": str(world["action"].id),
        "<int:source_id>": str(world["source"].id),
        "<str:kind>": "python",
        "<str:step>": "configure",
        "<int:member_id>": str(world["member"].id),
        "<int:invitation_id>": str(world["invitation"].id),
        "<int:person_id>": str(world["person"].id),
        "<int:body_id>": str(world["webhook_body"].id),
    }
    pk = world["source"].id if "sources/<int:pk>" in route else world["destination"].id
    if "actions/<int:pk>" in route:
        pk = world["action"].id
    if "members/<int:pk>" in route:
        pk = world["member"].id
    if "invitations/<int:pk>" in route:
        pk = world["invitation"].id
    if "sources/<int:pk>/webhook/" in route:  # the webhook routes answer 404 for other kinds of source
        pk = world["webhook_source"].id
    if "audiences/<int:pk>" in route:
        pk = world["audience"].id
    if "profiles/<int:pk>" in route:
        pk = world["person"].id
    values["<int:pk>"] = str(pk)
    url = route
    for placeholder, value in values.items():
        url = url.replace(placeholder, value)
    assert "<" not in url, f"route parameter not covered by the isolation test: {route}"
    return "/" + url.lstrip("^").rstrip("$")


def _client_for(user: User, url: str) -> Any:
    if url.startswith("/api/"):
        from rest_framework.authtoken.models import Token
        from rest_framework.test import APIClient

        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
        return api
    client = Client()
    client.force_login(user)
    return client


def test_every_workspace_route_is_enumerated() -> None:
    routes = {r for r, _ in ROUTES}
    assert len(routes) >= 25, sorted(routes)
    assert any(r.startswith("api/") for r in routes) and any(r.startswith("w/") for r in routes)
    assert any("deliveries" in r for r in routes)
    assert {"api/workspaces/<slug:slug>/privacy/delete/", "w/<slug:slug>/privacy/"} <= routes


# Every route under the owner's slug; routes naming an object id also under the outsider's own slug.
CASES = [(r, "acme") for r, _ in ROUTES] + [(r, "globex") for r, _ in ROUTES if "<int:" in r]


@pytest.mark.parametrize(("route", "slug"), CASES)
def test_outsider_gets_404_for_another_workspaces_objects(route: str, slug: str, world: dict[str, Any],
                                                          owner: User, outsider: User) -> None:
    url = _url(route, slug, world)
    owner_get = _client_for(owner, _url(route, "acme", world)).get(url.replace("/globex/", "/acme/"))
    assert owner_get.status_code != 404, f"the test built a wrong URL for the owner: {url}"
    outsider_client = _client_for(outsider, url)
    got = outsider_client.get(url)
    posted = outsider_client.post(url, {}, format="json") if url.startswith("/api/") else outsider_client.post(url)
    if owner_get.status_code == 405:  # a POST-only view: the POST must be refused as not found
        assert posted.status_code == 404, (url, posted.status_code)
    else:
        assert got.status_code == 404, (url, got.status_code)
        assert posted.status_code in (404, 405), (url, posted.status_code)
    for response in (got, posted):
        assert world["destination"].name.encode() not in response.content
        assert world["source"].write_key.encode() not in response.content
    assert Destination.objects.filter(id=world["destination"].id).exists()
    assert Source.objects.filter(id=world["source"].id, enabled=True).exists()
    assert Membership.objects.filter(id=world["member"].id, role=Membership.Role.MEMBER).exists()
    assert Invitation.objects.filter(id=world["invitation"].id).exists()


def test_api_refuses_to_connect_a_foreign_source(world: dict[str, Any], owner_api: Any, outsider_api: Any) -> None:
    mine, theirs = world["destination"], world["their_destination"]
    # The outsider puts the owner's source on its own destination: unknown source in its workspace.
    response = outsider_api.patch(f"/api/workspaces/globex/destinations/{theirs.id}/",
                                  {"source_ids": [world["source"].id]}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request" and "source_ids" in response.json()["errors"]
    # The outsider puts its source on the owner's destination: the destination is not found.
    response = outsider_api.patch(f"/api/workspaces/acme/destinations/{mine.id}/",
                                  {"source_ids": [world["their_source"].id]}, format="json")
    assert response.status_code == 404
    # And the owner cannot pull a foreign source in either.
    response = owner_api.patch(f"/api/workspaces/acme/destinations/{mine.id}/",
                               {"source_ids": [world["source"].id, world["their_source"].id]}, format="json")
    assert response.status_code == 400
    assert not Connection.objects.filter(source=world["their_source"]).exists()
    assert not Connection.objects.filter(destination=theirs, source=world["source"]).exists()


def test_ui_refuses_to_connect_a_foreign_source(world: dict[str, Any], owner: User) -> None:
    client = Client()
    client.force_login(owner)
    response = client.post(f"/w/acme/destinations/{world['destination'].id}/sources/add/",
                           {"source_id": world["their_source"].id})
    assert response.status_code == 404
    assert not Connection.objects.filter(source=world["their_source"]).exists()


def test_services_refuse_to_connect_across_workspaces(world: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        services.connect(world["their_source"], world["destination"])
    with pytest.raises(ValidationError):
        services.set_sources(world["destination"], [world["source"], world["their_source"]])
    with pytest.raises(ValidationError):
        Connection.objects.create(source=world["their_source"], destination=world["destination"])
    assert list(Connection.objects.filter(destination=world["destination"]).exclude(source__kind="audience")
                .values_list("source_id", flat=True)) == [world["source"].id]


def test_anonymous_visitors_see_nothing(world: dict[str, Any], client: Client) -> None:
    for route, _ in ROUTES:
        url = _url(route, "acme", world)
        response = client.get(url)
        assert response.status_code in (302, 401, 403, 404, 405), (url, response.status_code)
        assert world["destination"].name.encode() not in response.content


def test_privacy_requests_never_reach_another_workspace(world: dict[str, Any], owner_api: Any,
                                                        outsider_api: Any) -> None:
    """An outsider can neither delete, suppress, lift nor list the owner's people; its own deletion of
    the same identity leaves the owner's workspace alone."""
    from django.utils import timezone

    from ingest.models import Event
    from ingest.services import store_events
    from privacy import services as privacy_services
    from privacy.models import PrivacyRequest, Suppression

    person = {"type": "track", "event": "Viewed", "userId": "u-42", "messageId": "acme-1"}
    [mine] = store_events(world["source"], [person], timezone.now())
    privacy_services.suppress(world["source"].workspace, email="ada@example.com")
    for route in ("delete", "suppress", "unsuppress"):
        response = outsider_api.post(f"/api/workspaces/acme/privacy/{route}/",
                                     {"user_id": "u-42", "email": "ada@example.com"}, format="json")
        assert response.status_code == 404, route
    for listing in ("requests", "suppressions"):
        response = outsider_api.get(f"/api/workspaces/acme/privacy/{listing}/")
        assert response.status_code == 404 and b"ada@example.com" not in response.content

    theirs = outsider_api.post("/api/workspaces/globex/privacy/delete/", {"user_id": "u-42"}, format="json")
    assert theirs.status_code == 202
    privacy_services.run_deletion(theirs.json()["id"])

    assert Event.objects.filter(id=mine).exists()
    assert set(Suppression.objects.filter(workspace=world["source"].workspace).values_list("kind", "value")) == {
        ("email", "ada@example.com")}
    assert not PrivacyRequest.objects.filter(workspace=world["source"].workspace, kind="delete").exists()
    assert [r["kind"] for r in owner_api.get("/api/workspaces/acme/privacy/requests/").json()["results"]] == [
        "suppress"]
