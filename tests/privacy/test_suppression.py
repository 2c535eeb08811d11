"""Suppressed identities: their events are dropped before they are stored (plain and group-commit store
paths), counted, shown in the source's debugger as suppressed; the check costs no query per event."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from django.test import Client

from connections.models import Source
from connections.services import create_source
from ingest import group_commit
from ingest.models import Event
from pipelines.models import Workspace
from privacy import services, suppression
from privacy.models import SuppressedEvent, Suppression

BATCH = {"batch": [
    {"type": "track", "messageId": "keep-1", "userId": "u-7", "event": "Viewed"},
    {"type": "track", "messageId": "drop-1", "userId": "u-42", "event": "Viewed"},
    {"type": "identify", "messageId": "drop-2", "anonymousId": "a-1", "traits": {"email": "ADA@example.com"}},
    {"type": "page", "messageId": "drop-3", "anonymousId": "a-2", "context": {"traits": {"email": "ada@example.com"}}},
    {"type": "track", "messageId": "keep-2", "anonymousId": "a-3", "event": "Viewed"},
]}


def post_batch(source: Source, body: dict[str, Any]) -> Any:
    auth = "Basic " + base64.b64encode(f"{source.write_key}:".encode()).decode()
    return Client().post("/v1/batch", orjson.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=auth)


def _stored(source: Source) -> set[str]:
    return set(Event.objects.filter(source=source).values_list("message_id", flat=True))


def test_events_of_suppressed_identities_are_dropped_and_counted(owner_api: Any, source: Source) -> None:
    for body in ({"user_id": "u-42"}, {"email": "Ada@Example.com"}):
        response = owner_api.post("/api/workspaces/acme/privacy/suppress/", body, format="json")
        assert response.status_code == 200 and response.json()["kind"] == "suppress"

    response = post_batch(source, BATCH)

    assert response.status_code == 200 and orjson.loads(response.content) == {"success": True}
    assert _stored(source) == {"keep-1", "keep-2"}
    listed = {s["value"]: s for s in owner_api.get("/api/workspaces/acme/privacy/suppressions/").json()["results"]}
    assert listed["u-42"]["dropped"] == 1 and listed["ada@example.com"]["dropped"] == 2
    assert listed["u-42"]["kind"] == "user_id" and listed["u-42"]["created_by"] == "alice"


def test_the_source_debugger_shows_dropped_events_as_suppressed(owner: Any, source: Source) -> None:
    services.suppress(source.workspace, user_id="u-42")
    post_batch(source, BATCH)
    client = Client()
    client.force_login(owner)

    feed = client.get(f"/w/acme/sources/{source.id}/events.json").json()["events"]

    shown = {e["message_id"]: e for e in feed}
    assert set(shown) == {"keep-1", "drop-1", "drop-2", "drop-3", "keep-2"}
    assert [k for k, e in shown.items() if e["suppressed"]] == ["drop-1"]  # only u-42 is suppressed here
    assert shown["drop-1"]["payload"] is None and shown["drop-1"]["type"] == "track"
    assert "suppressed" in shown["drop-1"]["summary"] and shown["keep-1"]["suppressed"] is False
    page = client.get(f"/w/acme/sources/{source.id}/")
    assert b"badge-suppressed" in page.content and b"drop-1" in page.content
    assert b'"u-42"' not in page.content  # the dropped payload is nowhere


def test_only_the_newest_traces_are_kept(source: Source) -> None:
    services.suppress(source.workspace, user_id="u-42")
    keep = SuppressedEvent.KEEP_PER_SOURCE
    post_batch(source, {"batch": [{"type": "track", "messageId": f"d{i}", "userId": "u-42", "event": "E"}
                                  for i in range(keep + 5)]})
    assert SuppressedEvent.objects.filter(source=source).count() == keep
    assert Suppression.objects.get().dropped == keep + 5


def test_unsuppress_accepts_the_events_again(owner_api: Any, source: Source,
                                            django_capture_on_commit_callbacks: Any) -> None:
    services.suppress(source.workspace, user_id="u-42")
    assert post_batch(source, BATCH).status_code == 200 and "drop-1" not in _stored(source)

    with django_capture_on_commit_callbacks(execute=True):  # the commit drops this process's cached copy
        response = owner_api.post("/api/workspaces/acme/privacy/unsuppress/", {"user_id": "u-42"}, format="json")

    assert response.status_code == 200 and response.json()["kind"] == "unsuppress"
    assert not Suppression.objects.exists()
    post_batch(source, BATCH)
    assert "drop-1" in _stored(source)


def test_suppression_is_per_workspace(source: Source, other_workspace: Workspace) -> None:
    theirs = create_source(other_workspace, name="Globex", kind="python")[0]
    services.suppress(source.workspace, user_id="u-42")
    post_batch(theirs, BATCH)
    assert "drop-1" in _stored(theirs)


def test_the_check_costs_no_query_per_request_once_cached(source: Source, django_assert_num_queries: Any) -> None:
    messages = BATCH["batch"]
    suppression.split(source, messages, source.created_at)  # fills this process's cache for the workspace
    with django_assert_num_queries(0):
        for _ in range(50):
            assert suppression.split(source, messages, source.created_at) is messages


def test_a_change_takes_effect_at_once_in_the_process_that_made_it(
        source: Source, django_capture_on_commit_callbacks: Any) -> None:
    messages = BATCH["batch"]
    assert suppression.split(source, messages, source.created_at) is messages  # cached: nothing suppressed
    with django_capture_on_commit_callbacks(execute=True):
        services.suppress(source.workspace, user_id="u-42")
    assert [m["messageId"] for m in suppression.split(source, messages, source.created_at)] == [
        "keep-1", "drop-2", "drop-3", "keep-2"]
    with django_capture_on_commit_callbacks(execute=True):
        services.unsuppress(source.workspace, user_id="u-42")
    assert suppression.split(source, messages, source.created_at) is messages


# --- the group-commit writer ----------------------------------------------------------------------------


@pytest.fixture
def grouped_source(transactional_db: Any, workspace: Workspace, settings: Any) -> Iterator[Source]:
    settings.INGEST_GROUP_COMMIT = True
    yield create_source(workspace, name="Grouped", kind="python")[0]
    group_commit.writer.close()


def test_the_group_commit_writer_drops_suppressed_events(grouped_source: Source, owner_api: Any) -> None:
    assert group_commit.enabled()
    owner_api.post("/api/workspaces/acme/privacy/suppress/", {"user_id": "u-42", "email": "ada@example.com"},
                   format="json")

    assert post_batch(grouped_source, BATCH).status_code == 200
    only_dropped = {"batch": [m for m in BATCH["batch"] if m["messageId"].startswith("drop")]}
    assert post_batch(grouped_source, only_dropped).status_code == 200

    assert _stored(grouped_source) == {"keep-1", "keep-2"}
    assert sum(Suppression.objects.values_list("dropped", flat=True)) == 6


def test_track_api_calls_of_a_suppressed_person_are_dropped(workspace: Workspace) -> None:
    """The Customer.io Track API compatibility routes store through the same path."""
    source, api_key = create_source(workspace, name="Journeys", kind="journeys_track_api")
    auth = "Basic " + base64.b64encode(f"{source.site_id}:{api_key}".encode()).decode()
    services.suppress(workspace, email="ada@example.com")
    client = Client()

    dropped = client.put("/api/v1/customers/u-42", orjson.dumps({"email": "Ada@example.com", "plan": "pro"}),
                         content_type="application/json", HTTP_AUTHORIZATION=auth)
    kept = client.put("/api/v1/customers/u-7", orjson.dumps({"email": "bob@example.com"}),
                      content_type="application/json", HTTP_AUTHORIZATION=auth)

    assert dropped.status_code == kept.status_code == 200
    assert [e.payload.get("userId") for e in Event.objects.filter(source=source)] == ["u-7"]
    assert Suppression.objects.get().dropped == 1
