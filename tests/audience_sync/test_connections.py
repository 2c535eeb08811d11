"""Connecting audiences: validation of the API and the forms, the schedule, mirror vs add/remove, and
what is stored for the destination (the internal source's events)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from audience_sync import services
from audience_sync.models import AudienceDestination
from audiences import services as audience_services
from connections import services as connection_services
from ingest.models import Event

from .conftest import make_audience, set_plan


def _url(workspace: Any, audience: Any, rest: str = "") -> str:
    return f"/api/workspaces/{workspace.slug}/audiences/{audience.pk}/destinations/{rest}"


@pytest.fixture
def audience(workspace: Any) -> Any:
    return make_audience(workspace)


def test_bad_input_is_a_400_with_code_and_message(workspace: Any, owner_api: Any, audience: Any,
                                                  hook: Any) -> None:
    for body, field in (({"destination_id": hook.pk, "mode": "sometimes"}, "mode"),
                        ({"destination_id": 999999}, "destination_id"),
                        ({"destination_id": "x"}, "destination_id"),
                        ({"destination_id": 2 ** 70}, "destination_id"),
                        ({"destination_id": hook.pk, "interval_minutes": -5}, "interval_minutes"),
                        ({}, "destination_id")):
        response = owner_api.post(_url(workspace, audience), body, format="json")
        assert response.status_code == 400, (body, response.content)
        assert response.json()["code"] and response.json()["message"].startswith(field), response.json()
    assert owner_api.post(_url(workspace, audience), {"destination_id": hook.pk}, format="json").status_code == 201
    again = owner_api.post(_url(workspace, audience), {"destination_id": hook.pk}, format="json")
    assert again.status_code == 400 and "already connected" in again.json()["message"]
    profiles = connection_services.create_destination(workspace, name="Profiles", kind="profiles", settings={})
    refused = owner_api.post(_url(workspace, audience), {"destination_id": profiles.pk}, format="json")
    assert refused.status_code == 400 and "can't receive audiences" in refused.json()["message"]


def test_another_workspaces_destination_is_not_found(workspace: Any, other_workspace: Any, owner_api: Any,
                                                     outsider_api: Any, audience: Any) -> None:
    theirs = connection_services.create_destination(other_workspace, name="Theirs", kind="webhook",
                                                    settings={"url": "https://1.1.1.1/hook"})
    response = owner_api.post(_url(workspace, audience), {"destination_id": theirs.pk}, format="json")
    assert response.status_code == 400 and "No such destination" in response.json()["message"]
    assert outsider_api.get(_url(workspace, audience)).status_code == 404


def test_patch_changes_mode_and_schedule(workspace: Any, owner_api: Any, audience: Any, hook: Any) -> None:
    owner_api.post(_url(workspace, audience), {"destination_id": hook.pk}, format="json")
    response = owner_api.patch(_url(workspace, audience, f"{hook.pk}/"), {"mode": "mirror", "interval_minutes": 60},
                               format="json")
    assert response.status_code == 200 and (response.json()["mode"], response.json()["interval_minutes"]) == (
        "mirror", 60)
    bad = owner_api.patch(_url(workspace, audience, f"{hook.pk}/"), {"interval_minutes": "soon"}, format="json")
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_request"


def _sent(link: AudienceDestination) -> list[tuple[str, str]]:
    return [(e.payload["event"], e.payload.get("userId")) for e in
            Event.objects.filter(source=link.source, type="track").order_by("id")]


def test_every_n_minutes_waits_and_add_remove_sends_every_change(workspace: Any, person: Any, audience: Any,
                                                                 hook: Any) -> None:
    link = services.connect(audience, hook, interval_minutes=30)
    p = person(user_id="user-1", plan="free")
    first = services.sync(link.pk)  # backfill: nobody yet
    assert first.events == 0
    link.refresh_from_db()
    assert link.backfilled_at is not None
    assert link.next_sync_at == link.last_sync_at + timedelta(minutes=30)
    assert link.pk not in services.due()
    assert link.pk in services.due(timezone.now() + timedelta(minutes=31))
    set_plan(p, "pro")
    set_plan(p, "free")  # entered and left again before the next sync
    services.sync(link.pk)
    assert _sent(link) == [("Audience Entered", "user-1"), ("Audience Exited", "user-1")]


def test_mirror_sends_only_where_each_person_ends_up(workspace: Any, person: Any, audience: Any, hook: Any) -> None:
    link = services.connect(audience, hook, mode="mirror")
    services.sync(link.pk)
    p = person(user_id="user-1", plan="free")
    q = person(user_id="user-2", plan="free")
    set_plan(p, "pro")
    set_plan(p, "free")
    set_plan(q, "pro")
    services.sync(link.pk)
    assert _sent(link) == [("Audience Entered", "user-2")]


def test_backfill_runs_in_batches_and_people_without_ids_are_skipped(workspace: Any, person: Any,
                                                                     hook: Any) -> None:
    for i in range(5):
        person(user_id=f"user-{i}", plan="pro")
    person(email="only-email@example.com", plan="pro")  # no userId nor anonymousId: can't be named
    audience = make_audience(workspace)
    link = services.connect(audience, hook)
    results = [services.sync(link.pk, batch=2) for _ in range(3)]
    assert [r.more for r in results] == [True, True, True]
    last = services.sync(link.pk, batch=2)
    assert not last.more
    link.refresh_from_db()
    assert link.backfilled_at is not None and (link.sent_adds, link.skipped) == (5, 1)
    assert sorted(u for _, u in _sent(link)) == [f"user-{i}" for i in range(5)]
    audience_services.compute(audience.pk, audience.generation)  # recomputing changes nobody: nothing new
    services.sync(link.pk)
    assert len(_sent(link)) == 5


def test_deleting_the_destination_or_the_audience_takes_the_internal_source_along(
        workspace: Any, audience: Any, hook: Any) -> None:
    from connections.models import Source

    link = services.connect(audience, hook)
    assert Source.objects.get(pk=link.source_id).display_name == "Audience: Cart Abandoners → Journeys hook"
    connection_services.delete_destination(hook)
    assert not Source.objects.filter(kind="audience").exists()
    other = connection_services.create_destination(workspace, name="Other", kind="webhook",
                                                   settings={"url": "https://8.8.8.8/hook"})
    services.connect(audience, other)
    audience_services.delete_audience(audience)
    assert not Source.objects.filter(kind="audience").exists()
    # deleting the source from the Connections page disconnects too
    link = services.connect(make_audience(workspace, key="again"), other)
    connection_services.delete_source(link.source)
    assert not AudienceDestination.objects.exists()


def test_audience_sources_cannot_be_made_by_hand(owner_api: Any, workspace: Any) -> None:
    response = owner_api.post(f"/api/workspaces/{workspace.slug}/sources/", {"name": "x", "kind": "audience"},
                              format="json")
    assert response.status_code == 400 and "connecting an audience" in response.json()["message"]


def test_editing_the_destinations_sources_keeps_the_audience_connected(workspace: Any, audience: Any,
                                                                      hook: Any) -> None:
    from connections.models import Connection

    link = services.connect(audience, hook)
    website, _ = connection_services.create_source(workspace, name="Website", kind="javascript")
    connection_services.set_sources(hook, [website])
    connection_services.set_sources(hook, [])
    assert list(Connection.objects.filter(destination=hook).values_list("source_id", flat=True)) == [link.source_id]


def test_removing_the_audience_source_on_the_destination_page_disconnects_the_audience(
        workspace: Any, owner: Any, audience: Any, hook: Any) -> None:
    from django.test import Client

    link = services.connect(audience, hook)
    client = Client()
    client.force_login(owner)
    response = client.post(f"/w/{workspace.slug}/destinations/{hook.pk}/sources/{link.source_id}/remove/")
    assert response.status_code == 302
    assert not AudienceDestination.objects.exists()
