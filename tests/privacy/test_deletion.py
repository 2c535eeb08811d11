"""Deleting a person: their events, deliveries, queued delivery items and unreferenced exchanges go; other
people's and other workspaces' rows stay; the identities are suppressed from then on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest
from pytest_httpserver import HTTPServer

from connections import services as connection_services
from destinations.models import Delivery, DeliveryChunk, DeliveryExchange
from ingest.models import Event
from pipelines.models import Workspace
from privacy import services
from privacy.models import PrivacyRequest, Suppression

from .conftest import deliver, fan_out

# The person to delete, named in every way an event can name them.
HERS = [
    {"userId": "u-42", "event": "Order Completed"},
    {"type": "identify", "anonymousId": "anon-9", "traits": {"email": "Ada@Example.com"}},
    {"anonymousId": "anon-other-device", "context": {"traits": {"email": "ada@example.com"}}},
    {"anonymousId": "anon-9", "event": "Viewed"},
]
THEIRS = [{"userId": "u-7", "event": "Order Completed"}, {"anonymousId": "anon-1", "event": "Viewed"}]
WHO = {"user_id": "u-42", "email": "ada@example.com", "anonymous_id": "anon-9"}


def _ids(events: list[Event]) -> set[int]:
    return {e.id for e in events}


def test_it_deletes_the_persons_events_deliveries_and_exchanges(
        owner_api: Any, store: Callable[..., Any], webhook: Any) -> None:
    hers, theirs = store(*HERS), store(*THEIRS)
    deliver(hers + theirs)
    her_exchanges = set(Delivery.objects.filter(event_id__in=_ids(hers)).values_list("exchange_id", flat=True))
    assert len(her_exchanges) == 4 and None not in her_exchanges
    # two more, left queued in a delivery chunk beside another person's event
    queued_hers, queued_theirs = store({"userId": "u-42", "event": "Later"}), store({"userId": "u-7", "event": "Later"})
    fan_out(queued_hers + queued_theirs)
    assert DeliveryChunk.objects.count() == 1

    response = owner_api.post("/api/workspaces/acme/privacy/delete/", WHO, format="json")

    assert response.status_code == 202, response.content
    body = response.json()
    assert body["kind"] == "delete" and body["status"] == "pending" and body["requested_by"] == "alice"
    request = services.run_deletion(body["id"])  # what the task runs (the Celery path: test_forwarding)
    assert request is not None and request.status == PrivacyRequest.Status.DONE

    assert not Event.objects.filter(id__in=_ids(hers + queued_hers)).exists()
    assert set(Event.objects.values_list("id", flat=True)) == _ids(theirs + queued_theirs)
    assert not Delivery.objects.filter(event_id__in=_ids(hers)).exists()
    assert Delivery.objects.filter(event_id__in=_ids(theirs)).count() == 2
    assert not DeliveryExchange.objects.filter(id__in=her_exchanges).exists()
    assert DeliveryExchange.objects.count() == 2
    chunk = DeliveryChunk.objects.get()
    assert [item[0] for item in orjson.loads(chunk.items)] == [queued_theirs[0].id] and chunk.size == 1

    listed = owner_api.get("/api/workspaces/acme/privacy/requests/").json()["results"]
    assert listed[0]["id"] == body["id"] and listed[0]["status"] == "done"
    assert listed[0]["deleted"] == {"ingest.Event": 5, "destinations.Delivery": 4,
                                    "destinations.DeliveryExchange": 4, "destinations.DeliveryChunk items": 1}
    assert listed[0]["rows_deleted"] == 14
    assert listed[0]["forwards"] == []  # a webhook has no deletion to forward
    assert {(s.kind, s.value) for s in Suppression.objects.all()} == {
        ("user_id", "u-42"), ("email", "ada@example.com"), ("anonymous_id", "anon-9")}


def test_an_exchange_shared_with_another_persons_rows_stays(
        owner_api: Any, store: Callable[..., Any], workspace: Workspace, source: Any, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/batch").respond_with_json({"ok": True})
    connection_services.create_destination(workspace, name="Batched", kind="webhook", sources=[source],
                                           settings={"url": httpserver.url_for("/batch"), "batch_size": 10})
    hers, theirs = store(HERS[0]), store(THEIRS[0])
    deliver(hers + theirs)
    shared = DeliveryExchange.objects.get()
    assert shared.row_count == 2

    services.run_deletion(owner_api.post("/api/workspaces/acme/privacy/delete/", {"user_id": "u-42"},
                                         format="json").json()["id"])

    assert "u-42" in shared.request["body"]
    shared.refresh_from_db()
    assert shared.row_count == 1  # kept for the other person's row, without the bodies that carried hers
    assert "u-42" not in str(shared.request) and shared.request["body"] == services.REDACTED_BODY
    assert shared.request["url"].endswith("/batch") and shared.response["status"] == 200
    assert list(Delivery.objects.values_list("event_id", flat=True)) == [theirs[0].id]
    assert PrivacyRequest.objects.get().deleted == {"ingest.Event": 1, "destinations.Delivery": 1,
                                                    "destinations.DeliveryExchange redacted": 1}


def test_a_different_workspace_is_untouched(
        owner_api: Any, outsider: Any, store: Callable[..., Any], other_workspace: Workspace, webhook: Any) -> None:
    their_source = connection_services.create_source(other_workspace, name="Globex app", kind="python")[0]
    mine, elsewhere = store(*HERS), store(*HERS, src=their_source)

    response = owner_api.post("/api/workspaces/acme/privacy/delete/", WHO, format="json")
    services.run_deletion(response.json()["id"])

    assert not Event.objects.filter(id__in=_ids(mine)).exists()
    assert set(Event.objects.values_list("id", flat=True)) == _ids(elsewhere)
    assert not Suppression.objects.filter(workspace=other_workspace).exists()
    # the person's new events still reach the other workspace
    assert len(store(HERS[0] | {"messageId": "globex-new"}, src=their_source)) == 1


def test_deletion_walks_the_events_in_bounded_batches(
        owner_api: Any, store: Callable[..., Any], settings: Any) -> None:
    settings.PRIVACY_SCAN_BATCH = 3
    hers = store(*[{"userId": "u-42", "messageId": f"h{i}"} for i in range(7)])
    theirs = store(*[{"userId": "u-7", "messageId": f"t{i}"} for i in range(5)])
    batches = list(services._matching_batches(hers[0].workspace_id, {"user_id": "u-42"}))
    assert all(len(ids) <= 3 for ids in batches) and sorted(i for ids in batches for i in ids) == sorted(_ids(hers))

    services.run_deletion(owner_api.post("/api/workspaces/acme/privacy/delete/", {"user_id": "u-42"},
                                         format="json").json()["id"])

    assert set(Event.objects.values_list("id", flat=True)) == _ids(theirs)
    assert PrivacyRequest.objects.get().deleted == {"ingest.Event": 7}


@pytest.mark.parametrize("body", [{}, {"user_id": ""}, {"email": "   "}])
def test_it_rejects_a_request_naming_nobody(owner_api: Any, body: dict[str, Any]) -> None:
    response = owner_api.post("/api/workspaces/acme/privacy/delete/", body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"
    assert "user_id, email or anonymous_id" in response.json()["message"]
    assert not PrivacyRequest.objects.exists() and not Suppression.objects.exists()


def test_it_rejects_bad_identifiers(owner_api: Any) -> None:
    for body, field in (({"email": "not-an-email"}, "email"), ({"user_id": ["a"]}, "user_id"),
                        ({"anonymous_id": "x" * 201}, "anonymous_id")):
        response = owner_api.post("/api/workspaces/acme/privacy/suppress/", body, format="json")
        assert response.status_code == 400, body
        assert response.json()["code"] == "invalid_request" and field in response.json()["errors"]
    assert not Suppression.objects.exists()


def test_events_deleted_before_their_fan_out_are_skipped_by_it(
        owner_api: Any, store: Callable[..., Any], webhook: Any) -> None:
    from ingest.models import OutboxEntry

    hers, theirs = store(HERS[0]), store(THEIRS[0])
    assert OutboxEntry.objects.count() == 2  # stored, not yet handed to fan-out
    services.run_deletion(owner_api.post("/api/workspaces/acme/privacy/delete/", WHO, format="json").json()["id"])

    fan_out(hers + theirs)

    [chunk] = DeliveryChunk.objects.all()
    assert [item[0] for item in orjson.loads(chunk.items)] == [theirs[0].id]
    assert not OutboxEntry.objects.exists()


def test_the_final_pass_deletes_what_a_stale_process_stored(owner_api: Any, store: Callable[..., Any]) -> None:
    from privacy import suppression

    created = owner_api.post("/api/workspaces/acme/privacy/delete/", {"user_id": "u-42"}, format="json").json()
    first = services.run_deletion(created["id"])
    assert first is not None and first.deleted == {}
    # another server process whose cached copy predates the suppression stores one more of her events
    suppression._cache[first.workspace_id] = (float("inf"), {})
    late = store({"userId": "u-42", "messageId": "late"})
    assert len(late) == 1

    final = services.run_deletion(created["id"], final_pass=True)

    assert final is not None and final.status == "done" and final.deleted == {"ingest.Event": 1}
    assert not Event.objects.filter(id=late[0].id).exists()
