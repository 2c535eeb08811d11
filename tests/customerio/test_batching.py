"""perform_batch: one /api/v2/batch request, per-item results from a 207, whole-batch failures and their
retry classification, size limits, and anonymous events riding alongside."""

from __future__ import annotations

from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from destinations.catalog import get_definition
from destinations.catalog.customerio.operations import MAX_BATCH_BYTES
from destinations.errors import DeliveryError, PayloadError

from .conftest import BASIC_AUTH, received
from .openapi import errors_for

CIO = get_definition("customerio")
PERSON = CIO.action("create_update_person")
TRACK = CIO.action("track_event")


def people(count: int, **attributes: Any) -> list[dict[str, Any]]:
    return [{"person_id": f"user-{i}", "attributes": {"n": i, **attributes}} for i in range(count)]


def test_a_batch_goes_out_as_one_request_to_the_batch_endpoint(track_api: HTTPServer, cio_settings):
    track_api.expect_request("/api/v2/batch", method="POST").respond_with_json({})
    result = PERSON.perform_batch(cio_settings, people(3))
    assert result.item_errors == {}
    assert result.exchange is not None and result.exchange.status == 200
    assert received(track_api) == [{
        "method": "POST", "path": "/api/v2/batch", "auth": BASIC_AUTH, "content_type": "application/json",
        "json": {"batch": [
            {"type": "person", "identifiers": {"id": f"user-{i}"}, "action": "identify", "attributes": {"n": i}}
            for i in range(3)
        ]},
    }]


def test_a_207_fails_only_the_items_it_names(track_api: HTTPServer, cio_settings):
    track_api.expect_request("/api/v2/batch").respond_with_json({"errors": [
        {"batch_index": 1, "reason": "invalid", "field": "identifiers.id", "message": "id is too long"},
    ]}, status=207)
    result = PERSON.perform_batch(cio_settings, people(3))
    assert set(result.item_errors) == {1}
    error = result.item_errors[1]
    assert isinstance(error, DeliveryError) and not error.retryable and error.status == 207
    assert "identifiers.id" in error.message and "id is too long" in error.message


def test_payload_problems_are_per_item_and_the_rest_is_sent(track_api: HTTPServer, cio_settings):
    track_api.expect_request("/api/v2/batch").respond_with_json({"errors": [
        {"batch_index": 1, "reason": "invalid", "field": "name", "message": "too long"},
    ]}, status=207)
    payloads = people(3)
    payloads.insert(1, {"attributes": {"no": "identifier"}})  # index 1: never sent
    result = PERSON.perform_batch(cio_settings, payloads)
    [request] = received(track_api)
    assert [op["identifiers"]["id"] for op in request["json"]["batch"]] == ["user-0", "user-1", "user-2"]
    assert isinstance(result.item_errors[1], PayloadError)
    # the 207's batch_index 1 is the second *sent* operation: payload 2 (user-1)
    assert isinstance(result.item_errors[2], DeliveryError)
    assert set(result.item_errors) == {1, 2}


def test_batch_with_bad_credentials_fails_whole_and_is_not_retried(track_api: HTTPServer, cio_settings):
    track_api.expect_request("/api/v2/batch").respond_with_data("Unauthorized", status=401)
    with pytest.raises(DeliveryError) as caught:
        PERSON.perform_batch(cio_settings, people(2))
    assert caught.value.retryable is False and caught.value.status == 401
    assert "Site ID" in caught.value.message and "API key" in caught.value.message


@pytest.mark.parametrize("status", [429, 500, 503])
def test_rate_limits_and_server_errors_are_retryable(track_api: HTTPServer, cio_settings, status: int):
    track_api.expect_request("/api/v2/batch").respond_with_data("busy", status=status, headers={"Retry-After": "7"})
    with pytest.raises(DeliveryError) as caught:
        PERSON.perform_batch(cio_settings, people(2))
    assert caught.value.retryable is True and caught.value.status == status
    assert caught.value.retry_after == 7


def test_a_400_names_customerios_reason(track_api: HTTPServer, cio_settings):
    track_api.expect_request("/api/v2/entity").respond_with_json(
        {"meta": {"errors": ["attribute names must be 150 bytes or less"]}}, status=400)
    with pytest.raises(DeliveryError) as caught:
        PERSON.perform(cio_settings, people(1)[0])
    assert caught.value.retryable is False
    assert caught.value.message == (
        "Customer.io rejected the request (HTTP 400): attribute names must be 150 bytes or less")


def test_batches_are_split_to_stay_under_500_kb(track_api: HTTPServer, cio_settings):
    track_api.expect_request("/api/v2/batch").respond_with_json({})
    payloads = people(40, blob="x" * 30_000)  # ~30 KB each: about 16 fit in one request
    result = PERSON.perform_batch(cio_settings, payloads)
    assert result.item_errors == {}
    requests = received(track_api)
    assert len(requests) == 3
    for request, _ in track_api.log:
        assert len(request.get_data()) <= MAX_BATCH_BYTES
    sent = [op["identifiers"]["id"] for r in requests for op in r["json"]["batch"]]
    assert sent == [f"user-{i}" for i in range(40)]  # all of them, in order, once


def test_a_failed_part_of_a_split_batch_fails_only_its_items(track_api: HTTPServer, cio_settings):
    track_api.expect_ordered_request("/api/v2/batch").respond_with_json({})
    track_api.expect_ordered_request("/api/v2/batch").respond_with_data("oops", status=502)
    result = PERSON.perform_batch(cio_settings, people(20, blob="x" * 30_000))
    sent_first = len(received(track_api)[0]["json"]["batch"])
    assert set(result.item_errors) == set(range(sent_first, 20))
    assert all(isinstance(e, DeliveryError) and e.retryable for e in result.item_errors.values())


def test_an_item_over_32_kb_is_rejected_alone(track_api: HTTPServer, cio_settings):
    track_api.expect_request("/api/v2/batch").respond_with_json({})
    payloads = people(3)
    payloads[2]["attributes"]["blob"] = "x" * 33_000
    result = PERSON.perform_batch(cio_settings, payloads)
    assert list(result.item_errors) == [2] and isinstance(result.item_errors[2], PayloadError)
    assert len(received(track_api)[0]["json"]["batch"]) == 2


def test_anonymous_events_in_a_batch_go_to_the_anonymous_endpoint(track_api: HTTPServer, cio_settings):
    track_api.expect_request("/api/v2/batch").respond_with_json({})
    track_api.expect_request("/api/v1/events").respond_with_json({})
    result = TRACK.perform_batch(cio_settings, [
        {"person_id": "u1", "name": "enrolled", "attributes": {"course": "cio101"}},
        {"anonymous_id": "anon-1", "name": "viewed pricing", "attributes": {}},
    ])
    assert result.item_errors == {}
    assert [(r["path"], r["auth"]) for r in received(track_api)] == [
        ("/api/v2/batch", BASIC_AUTH), ("/api/v1/events", BASIC_AUTH)]
    assert received(track_api)[1]["json"] == {"name": "viewed pricing", "anonymous_id": "anon-1", "data": {}}


def test_a_batch_with_nothing_sendable_sends_nothing(track_api: HTTPServer, cio_settings):
    result = PERSON.perform_batch(cio_settings, [{"attributes": {}}, {"attributes": {}}])
    assert result.exchange is None
    assert all(isinstance(e, PayloadError) for e in result.item_errors.values()) and len(result.item_errors) == 2
    assert received(track_api) == []


def test_the_openapi_check_catches_invalid_bodies():
    """The check every test runs on what it sent is not vacuous."""
    assert errors_for("/api/v2/entity", {"type": "person", "identifiers": {"id": "1", "email": "a@b.co"},
                                          "action": "identify"})
    assert errors_for("/api/v2/entity", {"type": "person", "identifiers": {"anonymous_id": "a"},
                                          "action": "event", "name": "x"})
    assert errors_for("/api/v2/batch", {"batch": [{"type": "person", "action": "add_device",
                                                   "identifiers": {"id": "1"}, "device": {"token": "t"}}]})
    assert errors_for("/api/v1/events", {"anonymous_id": "a"})
    assert not errors_for("/api/v2/batch", {"batch": [{"type": "person", "identifiers": {"id": "1"},
                                                       "action": "identify", "attributes": {}}]})
