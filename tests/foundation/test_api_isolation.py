"""Workspace isolation in the management API: another workspace's objects answer 404 on every route."""

from __future__ import annotations

import pytest

from connections import services
from connections.models import Action, Destination, Source
from ingest.models import Event


@pytest.fixture
def acme_objects(workspace, http_source, webhook):
    action = webhook.actions.first()
    event = Event.objects.create(
        workspace=workspace, source=http_source, message_id="m-1", type="track",
        payload={"type": "track", "event": "Signed Up"}, received_at="2026-01-01T00:00:00Z",
    )
    return {"source": http_source, "destination": webhook, "action": action, "event": event}


def _object_routes(slug, o):
    s, d, a = o["source"].id, o["destination"].id, o["action"].id
    base = f"/api/workspaces/{slug}"
    return [
        ("get", f"{base}/", None),
        ("get", f"{base}/sources/", None),
        ("post", f"{base}/sources/", {"name": "Sneaky", "kind": "http"}),
        ("get", f"{base}/sources/{s}/", None),
        ("patch", f"{base}/sources/{s}/", {"name": "Renamed"}),
        ("delete", f"{base}/sources/{s}/", None),
        ("post", f"{base}/sources/{s}/rotate-key/", None),
        ("get", f"{base}/destinations/", None),
        ("post", f"{base}/destinations/", {"kind": "webhook", "settings": {"url": "https://93.184.216.34/hook"}}),
        ("get", f"{base}/destinations/{d}/", None),
        ("patch", f"{base}/destinations/{d}/", {"enabled": False}),
        ("delete", f"{base}/destinations/{d}/", None),
        ("get", f"{base}/destinations/{d}/actions/", None),
        ("post", f"{base}/destinations/{d}/actions/", {"kind": "send"}),
        ("get", f"{base}/destinations/{d}/actions/{a}/", None),
        ("patch", f"{base}/destinations/{d}/actions/{a}/", {"enabled": False}),
        ("delete", f"{base}/destinations/{d}/actions/{a}/", None),
        ("get", f"{base}/events/", None),
    ]


def _assert_untouched(o):
    source = Source.objects.get(id=o["source"].id)
    assert source.name == o["source"].name and source.write_key == o["source"].write_key
    assert Destination.objects.get(id=o["destination"].id).enabled is True
    assert Action.objects.get(id=o["action"].id).enabled is True
    assert Source.objects.filter(name="Sneaky").count() == 0


def test_outsider_gets_404_on_every_route_of_another_workspace(outsider_api, acme_objects):
    for method, url, body in _object_routes("acme", acme_objects):
        response = getattr(outsider_api, method)(url, body, format="json")
        assert response.status_code == 404, (method, url, response.status_code)
        assert response.json()["code"] == "not_found"
    _assert_untouched(acme_objects)


def test_outsider_gets_404_for_foreign_ids_under_their_own_workspace(outsider_api, acme_objects):
    s, d, a = acme_objects["source"].id, acme_objects["destination"].id, acme_objects["action"].id
    base = "/api/workspaces/globex"
    routes = [
        ("get", f"{base}/sources/{s}/", None),
        ("patch", f"{base}/sources/{s}/", {"name": "Renamed"}),
        ("delete", f"{base}/sources/{s}/", None),
        ("post", f"{base}/sources/{s}/rotate-key/", None),
        ("get", f"{base}/destinations/{d}/", None),
        ("patch", f"{base}/destinations/{d}/", {"enabled": False}),
        ("delete", f"{base}/destinations/{d}/", None),
        ("get", f"{base}/destinations/{d}/actions/", None),
        ("post", f"{base}/destinations/{d}/actions/", {"kind": "send"}),
        ("get", f"{base}/destinations/{d}/actions/{a}/", None),
        ("patch", f"{base}/destinations/{d}/actions/{a}/", {"enabled": False}),
        ("delete", f"{base}/destinations/{d}/actions/{a}/", None),
    ]
    for method, url, body in routes:
        response = getattr(outsider_api, method)(url, body, format="json")
        assert response.status_code == 404, (method, url, response.status_code)
    _assert_untouched(acme_objects)


def test_action_of_another_destination_is_not_found_under_this_one(owner_api, workspace, webhook):
    other = services.create_destination(workspace, name="Other", kind="webhook",
                                         settings={"url": "https://93.184.216.34/hook"})
    foreign_action = other.actions.first()
    url = f"/api/workspaces/acme/destinations/{webhook.id}/actions/{foreign_action.id}/"
    assert owner_api.get(url).status_code == 404


def test_lists_show_only_the_callers_objects(outsider_api, owner_api, acme_objects, other_workspace):
    services.create_source(other_workspace, name="Globex backend", kind="python")
    services.create_destination(other_workspace, name="Globex hook", kind="webhook",
                                settings={"url": "https://93.184.216.34/hook"})

    workspaces = outsider_api.get("/api/workspaces/").json()["results"]
    assert [w["slug"] for w in workspaces] == ["globex"]
    sources = outsider_api.get("/api/workspaces/globex/sources/").json()["results"]
    assert [s["name"] for s in sources] == ["Globex backend"]
    destinations = outsider_api.get("/api/workspaces/globex/destinations/").json()["results"]
    assert [d["name"] for d in destinations] == ["Globex hook"]
    assert outsider_api.get("/api/workspaces/globex/events/").json()["results"] == []

    assert [w["slug"] for w in owner_api.get("/api/workspaces/").json()["results"]] == ["acme"]
    assert [s["name"] for s in owner_api.get("/api/workspaces/acme/sources/").json()["results"]] == ["Backend"]


def test_another_workspaces_source_cannot_be_connected(outsider_api, acme_objects):
    response = outsider_api.post("/api/workspaces/globex/destinations/", {
        "kind": "webhook", "settings": {"url": "https://93.184.216.34/hook"},
        "source_ids": [acme_objects["source"].id],
    }, format="json")
    assert response.status_code == 400
    assert "source_ids" in response.json()["errors"]
    assert not Destination.objects.filter(workspace__slug="globex").exists()


def test_another_workspaces_source_cannot_filter_events(outsider_api, acme_objects):
    response = outsider_api.get(f"/api/workspaces/globex/events/?source={acme_objects['source'].id}")
    assert response.status_code == 400
    assert "m-1" not in response.content.decode()


def test_anonymous_requests_are_refused(client, acme_objects):
    assert client.get("/api/workspaces/").status_code == 401
    assert client.get("/api/workspaces/acme/sources/").status_code == 401
