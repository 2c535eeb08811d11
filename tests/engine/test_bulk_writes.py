"""The hot path writes in bulk: fan-out writes one chunk per task's worth of first attempts; the task that
sends it holds it with a row lock (nothing written) and, in one statement however many requests it sent,
writes every event's Delivery row with its outcome and deletes the chunk. Retries are updated in one
statement too. Per-item batch errors touch only their items."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext
from pytest_httpserver import HTTPServer

from destinations import delivery, fanout
from destinations.catalog.base import ActionDefinition, ActionField, BatchResult
from destinations.delivery import send_chunk
from destinations.errors import DeliveryError
from destinations.http import Exchange
from destinations.models import Delivery, DeliveryChunk, DeliveryExchange
from tests.helpers import send_queued

TRACK = {"type": "track", "event": "Viewed", "userId": "u-1"}


def _delivery_writes(ctx: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in ctx.captured_queries
            if any(verb in q["sql"] for verb in ("UPDATE destinations_delivery ", 'UPDATE "destinations_delivery" ',
                                                 "INSERT INTO destinations_delivery ",
                                                 'INSERT INTO "destinations_delivery" '))]


def test_five_single_requests_are_recorded_in_one_write(make_webhook: Callable[..., Any], store: Callable[..., Any],
                                                        httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook").respond_with_data("ok")
    destination = make_webhook()
    events = store(*({**TRACK, "messageId": f"bulk-{i}"} for i in range(5)))
    fanout.fan_out([e.id for e in events])
    assert not Delivery.objects.exists()  # first attempts wait in a chunk, not in rows
    [chunk] = DeliveryChunk.objects.filter(destination=destination)

    with CaptureQueriesContext(connection) as ctx:
        result = delivery.deliver_chunks([chunk.id])
    assert result.delivered == 5
    assert result.requests == 5
    assert len(httpserver.log) == 5
    writes = _delivery_writes(ctx)
    assert len(writes) == 1, writes  # one statement writing all five outcomes; the claim is a row lock
    assert "DELETE FROM destinations_deliverychunk" in writes[0]  # and the chunk goes with it
    claims = [q["sql"] for q in ctx.captured_queries if "FOR UPDATE SKIP LOCKED" in q["sql"]]
    assert len(claims) == 1, ctx.captured_queries
    assert not DeliveryChunk.objects.exists()
    ids = list(Delivery.objects.filter(destination=destination).values_list("id", flat=True))
    assert set(Delivery.objects.filter(id__in=ids).values_list("status", "attempts")) == {("delivered", 1)}
    bodies = {json.loads(r[0].data)["messageId"] for r in httpserver.log}
    assert bodies == {f"bulk-{i}" for i in range(5)}
    # five requests, five exchange records, each row pointing at its own
    rows = list(Delivery.objects.filter(id__in=ids).select_related("exchange"))
    assert len({r.exchange_id for r in rows}) == 5
    assert {json.loads(r.request["body"])["messageId"] for r in rows} == bodies
    assert all(r.response["status"] == 200 for r in rows)


def test_a_batch_stores_its_request_once_for_all_its_rows(make_webhook: Callable[..., Any],
                                                         store: Callable[..., Any], httpserver: HTTPServer) -> None:
    httpserver.expect_request("/batch").respond_with_data("ok")
    destination = make_webhook("/batch", batch_size=10)
    events = store(*({**TRACK, "messageId": f"one-{i}"} for i in range(6)))
    fanout.fan_out([e.id for e in events])
    result = send_queued()
    assert (result.delivered, result.requests) == (6, 1)
    rows = list(Delivery.objects.filter(destination=destination).order_by("id"))
    assert [r.message_id for r in rows] == [f"one-{i}" for i in range(6)]
    assert [r.event_id for r in rows] == [e.id for e in events]
    assert len({r.exchange_id for r in rows}) == 1 and rows[0].exchange_id is not None
    assert DeliveryExchange.objects.filter(destination=destination).count() == 1
    sent = json.loads(rows[0].request["body"])
    assert [m["messageId"] for m in sent] == [f"one-{i}" for i in range(6)]


def test_fan_out_writes_one_chunk_per_destination_action(make_webhook: Callable[..., Any],
                                                          store: Callable[..., Any]) -> None:
    make_webhook("/a")
    make_webhook("/b", batch_size=4)
    events = store(*({**TRACK, "messageId": f"fo-{i}"} for i in range(10)))
    with CaptureQueriesContext(connection) as ctx:
        result = fanout.fan_out([e.id for e in events])
    assert (result.events, result.pending, result.tasks) == (10, 20, 2)
    inserts = [q for q in ctx.captured_queries if "INSERT INTO destinations_deliverychunk" in q["sql"]]
    assert len(inserts) == 1  # both chunks in one statement
    assert not any("destinations_delivery " in q["sql"] for q in ctx.captured_queries)  # nothing settled yet
    assert fanout.fan_out([e.id for e in events]).events == 0
    chunks = list(DeliveryChunk.objects.order_by("id"))
    assert [c.size for c in chunks] == [10, 10]
    assert [item[1] for item in chunks[0].parsed_items()] == [f"fo-{i}" for i in range(10)]
    assert [item[0] for item in chunks[1].parsed_items()] == [e.id for e in events]


def test_a_chunk_is_sent_once_however_many_tasks_carry_it(make_webhook: Callable[..., Any],
                                                        store: Callable[..., Any], httpserver: HTTPServer) -> None:
    httpserver.expect_request("/a").respond_with_data("ok")
    make_webhook("/a")
    events = store(*({**TRACK, "messageId": f"once-{i}"} for i in range(3)))
    fanout.fan_out([e.id for e in events])
    [chunk] = DeliveryChunk.objects.all()
    assert delivery.deliver_chunks([chunk.id]).delivered == 3
    assert delivery.deliver_chunks([chunk.id]).claimed == 0  # a duplicate task: the chunk is gone
    assert len(httpserver.log) == 3
    assert Delivery.objects.count() == 3


def test_a_deleted_action_filters_its_queued_events(make_webhook: Callable[..., Any], store: Callable[..., Any],
                                                   httpserver: HTTPServer) -> None:
    destination = make_webhook("/a")
    events = store(*({**TRACK, "messageId": f"gone-{i}"} for i in range(2)))
    fanout.fan_out([e.id for e in events])
    destination.actions.all().delete()
    assert send_queued().filtered == 2
    assert len(httpserver.log) == 0
    assert set(Delivery.objects.values_list("status", "last_error")) == {("filtered", "filtered: the action was deleted")}


def _exchange() -> Exchange:
    return Exchange(method="POST", url="http://x", request_headers={}, request_body="[]", status=207)


def test_per_item_batch_errors_apply_to_their_items_only() -> None:
    failures = {1: DeliveryError("item too big", retryable=False, status=400),
                2: DeliveryError("try later", retryable=True, status=503)}
    action = ActionDefinition(
        key="batchy", title="Batchy", description="", default_trigger='type = "track"',
        fields=(ActionField("data", "Data", "object"),),
        perform=lambda settings, payload: _exchange(),
        perform_batch=lambda settings, payloads: BatchResult(exchange=_exchange(), item_errors=failures),
        batch_size=10,
    )
    outcomes = send_chunk(action, {}, [{"data": i} for i in range(4)], size=10)
    assert [o.ok for o in outcomes] == [True, False, False, True]
    assert [o.retryable for o in outcomes] == [False, False, True, False]
    assert all(o.exchange is not None and o.exchange.status == 207 for o in outcomes)


def test_a_crashing_catalog_entry_is_retried_not_lost() -> None:
    def explode(settings: dict, payload: dict) -> Exchange:
        raise KeyError("oops")

    action = ActionDefinition(key="boom", title="Boom", description="", default_trigger="", fields=(),
                              perform=explode)
    [outcome] = send_chunk(action, {}, [{}], size=1)
    assert outcome.retryable
    assert "Internal error in boom" in str(outcome.error)


def test_fan_out_claims_whole_outbox_entries_once(make_webhook: Callable[..., Any], store: Callable[..., Any]) -> None:
    from ingest.models import OutboxEntry

    make_webhook("/a")
    events = store(*({**TRACK, "messageId": f"ob-{i}"} for i in range(3)))
    [entry] = OutboxEntry.objects.all()
    assert entry.ids() == [e.id for e in events]
    # the task names the entry; every event it lists is fanned out, whatever ids the task carries
    assert fanout.fan_out([events[0].id], [entry.id]).events == 3
    assert not OutboxEntry.objects.exists()
    assert fanout.fan_out([e.id for e in events], [entry.id]).events == 0  # a repeat of the task
    assert fanout.fan_out([e.id for e in events]).events == 0
    assert DeliveryChunk.objects.get().size == 3


def test_a_task_carries_up_to_its_number_of_batch_requests(make_webhook: Callable[..., Any], store: Callable[..., Any],
                                                         httpserver: HTTPServer, settings: Any) -> None:
    settings.DELIVERY_TASK_REQUESTS = 2
    httpserver.expect_request("/b").respond_with_data("ok")
    make_webhook("/b", batch_size=2)
    events = store(*({**TRACK, "messageId": f"tr-{i}"} for i in range(9)))
    result = fanout.fan_out([e.id for e in events])
    assert result.tasks == 3
    assert [c.size for c in DeliveryChunk.objects.order_by("id")] == [4, 4, 1]
    sent = send_queued()
    assert (sent.delivered, sent.requests) == (9, 5)
    bodies = sorted((json.loads(r[0].data) for r in httpserver.log), key=lambda b: b[0]["messageId"])
    assert sorted(m["messageId"] for b in bodies for m in b) == sorted(f"tr-{i}" for i in range(9))
    assert sorted(len(b) for b in bodies) == [1, 2, 2, 2, 2]


def test_a_retry_releases_the_exchange_of_the_attempt_before(make_webhook: Callable[..., Any],
                                                           store: Callable[..., Any], httpserver: HTTPServer) -> None:
    """Every attempt keeps its request and response; the record of the attempt before goes once no row
    points at it any more (it was kept while one of the batch's rows still did)."""
    from datetime import timedelta

    from django.utils import timezone

    httpserver.expect_ordered_request("/batch").respond_with_data("busy", status=503)
    httpserver.expect_ordered_request("/batch").respond_with_data("ok")
    httpserver.expect_ordered_request("/batch").respond_with_data("ok")
    destination = make_webhook("/batch", batch_size=10)
    events = store(*({**TRACK, "messageId": f"rx-{i}"} for i in range(3)))
    fanout.fan_out([e.id for e in events])
    assert send_queued().retrying == 3
    [first] = DeliveryExchange.objects.filter(destination=destination)
    assert first.row_count == 3 and first.response["status"] == 503
    rows = list(Delivery.objects.filter(destination=destination).order_by("id"))
    Delivery.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))

    assert delivery.deliver([rows[0].id, rows[1].id]).delivered == 2  # two of the three retried
    first.refresh_from_db()
    assert first.row_count == 1  # the third row still shows it as its last attempt
    assert delivery.deliver([rows[2].id]).delivered == 1
    assert not DeliveryExchange.objects.filter(id=first.id).exists()
    assert sorted(x.row_count for x in DeliveryExchange.objects.filter(destination=destination)) == [1, 2]
    assert {r.exchange_id for r in Delivery.objects.filter(destination=destination)} == set(
        DeliveryExchange.objects.filter(destination=destination).values_list("id", flat=True))


def test_fan_out_records_what_it_settles_at_once_and_queues_nothing_for_it(
        workspace: Any, source: Any, store: Callable[..., Any], httpserver: HTTPServer) -> None:
    """A required field missing after mapping is recorded as filtered and a broken saved mapping as
    failed, both final (no chunk, no retry, no payload); no action matching records one filtered row."""
    from connections import services
    from destinations.models import DeliveryCount

    slack = services.create_destination(workspace, name="Slack", kind="slack", sources=[source],
                                        settings={"webhook_url": httpserver.url_for("/slack")})
    action = slack.actions.get()
    services.update_action(action, mapping={"text": {"@path": "$.properties.note"}})
    services.update_action(action, trigger='event = "A"')
    broken = services.add_action(slack, kind="post_message", name="Broken", trigger='event = "B"')
    type(broken).objects.filter(id=broken.id).update(mapping={"text": {"@path": 5}})  # saved before validation
    fanout.clear_routing_cache()
    events = store({**TRACK, "event": "A", "messageId": "set-1"}, {**TRACK, "event": "B", "messageId": "set-2"},
                   {**TRACK, "event": "C", "messageId": "set-3"})
    result = fanout.fan_out([e.id for e in events])
    assert (result.events, result.pending, result.filtered, result.failed, result.tasks) == (3, 0, 2, 1, 0)
    assert not DeliveryChunk.objects.exists()
    rows = {r.message_id: r for r in Delivery.objects.filter(destination=slack)}
    assert (rows["set-1"].status, rows["set-1"].last_error, rows["set-1"].action_id) == (
        "filtered", "filtered: missing text", action.id)
    assert rows["set-2"].status == "failed" and rows["set-2"].last_error.startswith("Mapping error in 'Broken'")
    assert (rows["set-3"].status, rows["set-3"].last_error, rows["set-3"].action_id) == (
        "filtered", "filtered: no matching action", None)
    assert all(r.payload is None and r.attempts == 0 and r.next_attempt_at is None for r in rows.values())
    count = DeliveryCount.objects.get(destination=slack)
    assert (count.filtered, count.failed) == (2, 1)
    assert send_queued().claimed == 0 and httpserver.log == []


def test_a_changed_secret_is_used_by_the_very_next_task(make_webhook: Callable[..., Any], store: Callable[..., Any],
                                                        httpserver: HTTPServer) -> None:
    """Workers keep decrypted settings between tasks; a change to them is seen at once, not after a delay."""
    from connections import services

    httpserver.expect_request("/hook").respond_with_data("ok")
    destination = make_webhook(headers={"X-Token": "first-secret"})
    fanout.fan_out([e.id for e in store({**TRACK, "messageId": "sec-1"})])
    send_queued()
    services.update_destination(destination, settings={"url": httpserver.url_for("/hook"),
                                                       "headers": {"X-Token": "second-secret"}})
    fanout.fan_out([e.id for e in store({**TRACK, "messageId": "sec-2"})])
    send_queued()
    assert [r.headers["X-Token"] for r, _ in httpserver.log] == ["first-secret", "second-secret"]
