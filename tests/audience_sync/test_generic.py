"""An audience connected to a generic destination (a Webhook on a local server): every current member
first, then only entries and exits, in Segment Engage's shape, through the destination's own actions;
nothing more once disconnected. A real Celery worker runs the syncs and deliveries."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from pytest_httpserver import HTTPServer

from audience_sync import services
from audience_sync.models import AudienceDestination
from connections.models import Connection, Destination, Source
from ingest.models import Event
from tests.helpers import wait_for

from .conftest import bodies, make_audience, set_plan

pytestmark = pytest.mark.usefixtures("celery_worker")


def _url(workspace: Any, audience: Any, rest: str = "") -> str:
    return f"/api/workspaces/{workspace.slug}/audiences/{audience.pk}/destinations/{rest}"


def _received(httpserver: HTTPServer, n: int) -> list[Any]:
    return wait_for(lambda: (found if len(found := bodies(httpserver)) >= n else None), what=f"{n} requests")


def test_connecting_backfills_members_then_sends_only_changes(
        workspace: Any, owner_api: Any, person: Any, hook: Destination, httpserver: HTTPServer) -> None:
    ada = person(user_id="user-ada", email="ada@example.com", anonymous_id="anon-ada", plan="pro")
    bob = person(anonymous_id="anon-bob", plan="pro")
    carol = person(user_id="user-carol", plan="free")
    audience = make_audience(workspace, worker=True)
    assert audience.size == 2

    response = owner_api.post(_url(workspace, audience), {"destination_id": hook.pk, "mode": "add_remove"},
                              format="json")
    assert response.status_code == 201, response.content
    assert response.json()["destination_name"] == "Journeys hook"
    assert response.json()["interval_minutes"] == 0  # generic destinations: realtime unless chosen

    sent = _received(httpserver, 4)
    by_user = {(b["type"], b.get("userId") or b.get("anonymousId")): b for b in sent}
    personas = {"computation_class": "audience", "computation_id": str(audience.pk),
                "computation_key": "cart_abandoners", "namespace": f"spa_{workspace.slug}",
                "space_id": workspace.slug}
    identify = by_user[("identify", "user-ada")]
    assert identify["traits"] == {"cart_abandoners": True, "email": "ada@example.com"}
    assert identify["context"]["personas"] == personas
    assert identify["anonymousId"] == "anon-ada"
    track = by_user[("track", "user-ada")]
    assert track["event"] == "Audience Entered"
    assert track["properties"] == {"audience_key": "cart_abandoners", "cart_abandoners": True}
    assert track["context"]["traits"] == {"email": "ada@example.com"}
    assert track["context"]["personas"] == personas
    assert by_user[("track", "anon-bob")]["properties"]["cart_abandoners"] is True
    assert ("track", "user-carol") not in by_user
    link = AudienceDestination.objects.get(audience=audience)
    assert link.backfilled_at is not None and (link.sent_adds, link.sent_removes) == (2, 0)

    set_plan(bob, "free")  # exits
    set_plan(carol, "pro")  # enters
    services.sync(link.pk)
    later = _received(httpserver, 8)[4:]
    assert sorted((b["type"], b.get("event"), b.get("userId") or b.get("anonymousId")) for b in later) == [
        ("identify", None, "anon-bob"), ("identify", None, "user-carol"),
        ("track", "Audience Entered", "user-carol"), ("track", "Audience Exited", "anon-bob")]
    exit_identify = next(b for b in later if b["type"] == "identify" and b.get("anonymousId") == "anon-bob")
    assert exit_identify["traits"] == {"cart_abandoners": False}
    exit_track = next(b for b in later if b.get("event") == "Audience Exited")
    assert exit_track["properties"] == {"audience_key": "cart_abandoners", "cart_abandoners": False}

    services.sync(link.pk)  # nothing changed since: nothing is sent again
    link.refresh_from_db()
    assert (link.sent_adds, link.sent_removes) == (3, 1)
    assert Event.objects.filter(source=link.source).count() == 8

    listing = owner_api.get(_url(workspace, audience)).json()
    assert [(r["destination_id"], r["status"], r["sent_adds"], r["sent_removes"]) for r in listing] == [
        (hook.pk, "synced", 3, 1)]

    source_id = link.source_id
    assert owner_api.delete(_url(workspace, audience, f"{hook.pk}/")).status_code == 204
    assert not Source.objects.filter(pk=source_id).exists()
    assert not Connection.objects.filter(source_id=source_id).exists()
    set_plan(ada, "free")
    assert services.due() == []
    services.sync(link.pk)  # a sync already on its way finds nothing
    assert len(bodies(httpserver)) == 8


def test_customerio_gets_the_trait_and_the_event_through_its_default_actions(
        settings: Any, workspace: Any, owner_api: Any, person: Any, httpserver: HTTPServer) -> None:
    from connections import services as connection_services

    settings.DESTINATION_ENDPOINTS = {"customerio": httpserver.url_for("/").rstrip("/")}
    httpserver.expect_request("/api/v2/batch").respond_with_json({})
    person(user_id="user-ada", email="ada@example.com", plan="pro")
    audience = make_audience(workspace, worker=True)
    cio = connection_services.create_destination(workspace, name="Journeys", kind="customerio",
                                                 settings={"site_id": "site-1", "api_key": "key-1"})
    assert owner_api.post(_url(workspace, audience), {"destination_id": cio.pk}, format="json").status_code == 201

    def operations() -> list[Any] | None:  # identify and track may travel in one request or two
        found = [i for r, _ in httpserver.log if r.path == "/api/v2/batch" for i in orjson.loads(r.get_data())["batch"]]
        return found if len(found) >= 2 else None

    items = wait_for(operations, what="both Customer.io operations")
    identify = next(i for i in items if i["action"] == "identify")
    assert identify["identifiers"] == {"id": "user-ada"}
    assert identify["attributes"]["cart_abandoners"] is True and identify["attributes"]["email"] == "ada@example.com"
    event = next(i for i in items if i["action"] == "event")
    assert event["name"] == "Audience Entered"
    assert event["attributes"]["audience_key"] == "cart_abandoners"
