"""The /v1 tracking API seen from a client: routes, auth, validation, normalization, storage, CORS."""

from __future__ import annotations

import gzip
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from django.test import Client

from connections.models import Source
from connections.services import create_source
from ingest.models import Event
from pipelines.models import Workspace

from .conftest import TrackingClient

TRACK = {"userId": "user-1", "event": "Order Completed", "properties": {"total": 10}}


def stored(source: Source) -> list[dict]:
    return [e.payload for e in Event.objects.filter(source=source).order_by("id")]


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = orjson.loads(response.content)
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    assert response["Access-Control-Allow-Origin"] == "*"
    return body


# --- routes ---------------------------------------------------------------------------------------------

SINGLE_CALLS = [
    ("identify", {"userId": "u1", "traits": {"email": "a@example.com"}}),
    ("track", {"userId": "u1", "event": "Signed Up"}),
    ("page", {"anonymousId": "a1", "name": "Home"}),
    ("screen", {"userId": "u1", "name": "Settings"}),
    ("group", {"userId": "u1", "groupId": "g1", "traits": {"name": "Acme"}}),
    ("alias", {"previousId": "a1", "userId": "u1"}),
]


@pytest.mark.parametrize(("route", "body"), SINGLE_CALLS)
def test_each_single_call_route_stores_an_event_of_its_type(api: TrackingClient, source: Source, route, body):
    response = api.post(f"/v1/{route}", body)
    assert response.status_code == 200
    assert orjson.loads(response.content) == {"success": True}
    [event] = Event.objects.filter(source=source)
    assert event.type == route
    assert event.payload["type"] == route
    assert event.workspace_id == source.workspace_id
    for key, value in body.items():
        assert event.payload[key] == value


@pytest.mark.parametrize(("short", "type_"), [("i", "identify"), ("t", "track"), ("p", "page"), ("s", "screen"),
                                              ("g", "group"), ("a", "alias")])
def test_browser_short_routes_map_to_their_types(api: TrackingClient, source: Source, short, type_):
    body = dict(SINGLE_CALLS[[r for r, _ in SINGLE_CALLS].index(type_)][1])
    assert api.post(f"/v1/{short}", body).status_code == 200
    assert Event.objects.get(source=source).type == type_


def test_route_type_wins_over_type_in_body(api: TrackingClient, source: Source):
    assert api.post("/v1/track", {**TRACK, "type": "identify"}).status_code == 200
    assert Event.objects.get(source=source).payload["type"] == "track"


@pytest.mark.parametrize("path", ["/v1/batch", "/v1/b", "/v1/import", "/v1/import/", "/v1/batch/"])
def test_batch_routes_store_every_item(api: TrackingClient, source: Source, path):
    batch = [{"type": "identify", "userId": "u1"}, {"type": "track", "userId": "u1", "event": "E"},
             {"type": "page", "anonymousId": "a1"}]
    assert api.post(path, {"batch": batch}).status_code == 200
    assert [e["type"] for e in stored(source)] == ["identify", "track", "page"]


def test_metrics_route_accepts_and_drops(source: Source):
    response = Client().post("/v1/m", b'{"series": []}', content_type="text/plain")
    assert response.status_code == 200
    assert orjson.loads(response.content) == {"success": True}
    assert not Event.objects.exists()


def test_get_on_an_event_route_is_refused_as_json(api: TrackingClient):
    response = Client().get("/v1/track")
    body = assert_error(response, 405, "method_not_allowed")
    assert body["message"]


# --- write keys -----------------------------------------------------------------------------------------

def test_write_key_as_bearer_token(source: Source):
    api = TrackingClient(None)
    response = api.post("/v1/track", TRACK, auth_header=f"Bearer {source.write_key}")
    assert response.status_code == 200
    assert Event.objects.filter(source=source).count() == 1


def test_write_key_in_batch_body(source: Source):
    api = TrackingClient(None)
    response = api.post("/v1/batch", {"writeKey": source.write_key, "batch": [{**TRACK, "type": "track"}]},
                        auth_header=None)
    assert response.status_code == 200
    assert stored(source)[0]["event"] == "Order Completed"


def test_write_key_in_event_body_is_used_and_not_stored(source: Source):
    api = TrackingClient(None)
    response = api.post("/v1/t", {**TRACK, "writeKey": source.write_key}, auth_header=None,
                        content_type="text/plain")
    assert response.status_code == 200
    [payload] = stored(source)
    assert "writeKey" not in payload


def test_write_key_on_batch_item_is_used(source: Source):
    api = TrackingClient(None)
    item = {**TRACK, "type": "track", "writeKey": source.write_key}
    assert api.post("/v1/b", {"batch": [item]}, auth_header=None).status_code == 200
    assert "writeKey" not in stored(source)[0]


def test_header_key_wins_over_body_key(source: Source, workspace: Workspace):
    other = create_source(workspace, name="Other", kind="node")[0]
    api = TrackingClient(source.write_key)
    assert api.post("/v1/track", {**TRACK, "writeKey": other.write_key}).status_code == 200
    assert Event.objects.get().source_id == source.id


def test_missing_write_key_is_401(db):
    response = TrackingClient(None).post("/v1/track", TRACK, auth_header=None)
    assert_error(response, 401, "unauthorized")


def test_unknown_write_key_is_401(db):
    assert_error(TrackingClient("nope").post("/v1/track", TRACK), 401, "unauthorized")
    # the miss is remembered; still refused
    assert_error(TrackingClient("nope").post("/v1/batch", {"batch": []}), 401, "unauthorized")


def test_unknown_bearer_and_body_keys_are_401(db):
    assert_error(TrackingClient(None).post("/v1/track", TRACK, auth_header="Bearer nope"), 401, "unauthorized")
    response = TrackingClient(None).post("/v1/track", {**TRACK, "writeKey": "nope"}, auth_header=None)
    assert_error(response, 401, "unauthorized")


def test_disabled_source_is_401(source: Source):
    Source.objects.filter(pk=source.pk).update(enabled=False)
    assert_error(TrackingClient(source.write_key).post("/v1/track", TRACK), 401, "unauthorized")
    assert not Event.objects.exists()


def test_garbage_authorization_header_is_401(db):
    response = TrackingClient(None).post("/v1/track", TRACK, auth_header="Basic %%%not-base64")
    assert_error(response, 401, "unauthorized")


# --- body decoding --------------------------------------------------------------------------------------

@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8", "text/plain",
                                          "application/x-www-form-urlencoded"])
def test_json_is_parsed_whatever_the_content_type(api: TrackingClient, source: Source, content_type):
    assert api.post("/v1/track", TRACK, content_type=content_type).status_code == 200
    assert stored(source)[0]["event"] == "Order Completed"


def test_gzip_body_is_accepted(api: TrackingClient, source: Source):
    raw = gzip.compress(orjson.dumps({"batch": [{**TRACK, "type": "track"}] * 1}))
    response = api.post("/v1/batch", None, raw=raw, HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 200
    assert stored(source)[0]["properties"] == {"total": 10}


def test_bad_gzip_is_400(api: TrackingClient):
    response = api.post("/v1/batch", None, raw=b"not gzip at all", HTTP_CONTENT_ENCODING="gzip")
    assert_error(response, 400, "invalid_encoding")


def test_truncated_gzip_is_400(api: TrackingClient):
    raw = gzip.compress(orjson.dumps({"batch": [TRACK]}))[:-12]
    assert_error(api.post("/v1/batch", None, raw=raw, HTTP_CONTENT_ENCODING="gzip"), 400, "invalid_encoding")


def test_gzip_bomb_is_stopped_at_the_request_limit(api: TrackingClient):
    raw = gzip.compress(b'{"batch": [' + b" " * (5 * 1024 * 1024) + b"]}")
    assert len(raw) < 100_000
    assert_error(api.post("/v1/batch", None, raw=raw, HTTP_CONTENT_ENCODING="gzip"), 400, "payload_too_large")


@pytest.mark.parametrize("raw", [b"", b"{", b"not json", b'{"userId": "u1",}', b"\xff\xfe"])
def test_malformed_json_is_400(api: TrackingClient, raw):
    assert_error(api.post("/v1/track", None, raw=raw), 400, "invalid_json")


@pytest.mark.parametrize("raw", [b"[]", b'"track"', b"42", b"null"])
def test_body_that_is_not_an_object_is_400(api: TrackingClient, raw):
    assert_error(api.post("/v1/track", None, raw=raw), 400, "invalid_json")


def test_malformed_json_with_only_a_body_key_is_400_not_401(db):
    assert_error(TrackingClient(None).post("/v1/track", None, raw=b"{oops", auth_header=None), 400, "invalid_json")


# --- validation -----------------------------------------------------------------------------------------

INVALID_SINGLE = [
    ("track", {"event": "E"}, "userId"),
    ("track", {"userId": None, "anonymousId": None, "event": "E"}, "userId"),
    ("track", {"userId": "u1"}, "event"),
    ("track", {"userId": "u1", "event": ""}, "event"),
    ("track", {"userId": "u1", "event": 12}, "event"),
    ("track", {"userId": "u1", "event": "E", "properties": [1, 2]}, "properties"),
    ("identify", {"userId": "u1", "traits": "vip"}, "traits"),
    ("identify", {"userId": {"id": 1}}, "userId"),
    ("identify", {"anonymousId": ["a"]}, "anonymousId"),
    ("identify", {"userId": "u1", "context": "web"}, "context"),
    ("identify", {"userId": "u1", "integrations": True}, "integrations"),
    ("group", {"userId": "u1"}, "groupId"),
    ("group", {"userId": "u1", "groupId": {"x": 1}}, "groupId"),
    ("alias", {"userId": "u1"}, "previousId"),
    ("alias", {"previousId": "a1"}, "userId"),
    ("page", {"userId": "u1", "name": 5}, "name"),
    ("page", {"userId": "u1", "category": {}}, "category"),
    ("track", {"userId": "u1", "event": "E", "timestamp": 1700000000}, "timestamp"),
    ("track", {"userId": "u1", "event": "E", "originalTimestamp": {}}, "originalTimestamp"),
    ("track", {"userId": "u1", "event": "E", "sentAt": 1700000000}, "sentAt"),
    ("track", {"userId": "u1", "event": "E", "messageId": {"a": 1}}, "messageId"),
    ("track", {"userId": "u1", "event": "E", "messageId": "m" * 201}, "messageId"),
]


@pytest.mark.parametrize(("route", "body", "field"), INVALID_SINGLE)
def test_invalid_single_message_is_400_naming_the_field(api: TrackingClient, route, body, field):
    body_out = assert_error(api.post(f"/v1/{route}", body), 400, "invalid_request")
    assert field in [e["field"] for e in body_out["errors"]]
    assert not Event.objects.exists()


def test_nulls_are_accepted_for_absent_optional_fields(api: TrackingClient, source: Source):
    body = {"userId": "u1", "anonymousId": None, "name": None, "category": None, "properties": None,
            "context": None, "integrations": None, "timestamp": None, "messageId": None}
    assert api.post("/v1/page", body).status_code == 200
    assert stored(source)[0]["userId"] == "u1"


def test_numeric_user_id_is_accepted_and_stored_as_string(api: TrackingClient, source: Source):
    assert api.post("/v1/identify", {"userId": 42}).status_code == 200
    assert stored(source)[0]["userId"] == "42"


def test_batch_with_bad_events_is_rejected_whole_listing_each(api: TrackingClient):
    batch = [
        {"type": "track", "userId": "u1", "event": "ok"},
        {"type": "track", "userId": "u1"},
        {"type": "bogus", "userId": "u1"},
        {"userId": "u1"},
        "not an object",
        {"type": "alias", "userId": "u1"},
        {"type": "identify"},
    ]
    body = assert_error(api.post("/v1/batch", {"batch": batch}), 400, "invalid_request")
    assert {(e["index"], e["field"]) for e in body["errors"]} == {
        (1, "event"), (2, "type"), (3, "type"), (4, ""), (5, "previousId"), (6, "userId"),
    }
    assert "6 of 7" in body["message"]
    assert not Event.objects.exists()


@pytest.mark.parametrize(("body", "field"), [
    ({}, "batch"),
    ({"batch": {"type": "track"}}, "batch"),
    ({"batch": [], "context": "x"}, "context"),
    ({"batch": [], "integrations": []}, "integrations"),
    ({"batch": [], "sentAt": 1700000000}, "sentAt"),
])
def test_bad_batch_envelope_is_400(api: TrackingClient, body, field):
    out = assert_error(api.post("/v1/batch", body), 400, "invalid_request")
    assert out["errors"][0]["field"] == field


def test_batch_over_2500_events_is_400(api: TrackingClient):
    batch = [{"type": "identify", "userId": "u"}] * 2501
    out = assert_error(api.post("/v1/batch", {"batch": batch}), 400, "invalid_request")
    assert "2500" in out["message"]
    assert not Event.objects.exists()


def test_batch_of_2500_events_is_accepted(api: TrackingClient, source: Source):
    batch = [{"type": "identify", "userId": f"u{i}"} for i in range(2500)]
    assert api.post("/v1/batch", {"batch": batch}).status_code == 200
    assert Event.objects.filter(source=source).count() == 2500


def test_event_over_32kb_in_a_batch_is_400_with_its_index(api: TrackingClient):
    big = {"type": "track", "userId": "u1", "event": "E", "properties": {"blob": "x" * 33_000}}
    out = assert_error(api.post("/v1/batch", {"batch": [{**TRACK, "type": "track"}, big]}), 400, "invalid_request")
    assert [e["index"] for e in out["errors"]] == [1]
    assert not Event.objects.exists()


def test_single_call_over_32kb_is_400(api: TrackingClient):
    big = {**TRACK, "properties": {"blob": "x" * 33_000}}
    assert_error(api.post("/v1/track", big), 400, "payload_too_large")


def test_request_over_500kb_is_400(api: TrackingClient):
    batch = [{"type": "track", "userId": "u", "event": "E", "properties": {"blob": "x" * 30_000}}] * 18
    assert_error(api.post("/v1/batch", {"batch": batch}), 400, "payload_too_large")
    assert not Event.objects.exists()


def test_nul_character_that_postgresql_refuses_is_400_not_500(api: TrackingClient):
    response = api.post("/v1/track", {**TRACK, "properties": {"note": "a\u0000b"}})
    assert_error(response, 400, "invalid_request")


# --- normalization --------------------------------------------------------------------------------------

def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_message_id_is_assigned_when_missing(api: TrackingClient, source: Source):
    api.post("/v1/track", TRACK)
    api.post("/v1/track", TRACK)
    ids = [p["messageId"] for p in stored(source)]
    assert len(set(ids)) == 2
    for value in ids:  # random UUIDs, in their canonical text form
        parsed = uuid.UUID(value)
        assert str(parsed) == value and parsed.version == 4 and parsed.variant == uuid.RFC_4122
    assert [e.message_id for e in Event.objects.order_by("id")] == ids


def test_same_message_id_is_acknowledged_and_stored_once(api: TrackingClient, source: Source):
    body = {**TRACK, "messageId": "dup-1"}
    assert api.post("/v1/track", body).status_code == 200
    assert api.post("/v1/track", body).status_code == 200
    batch = [{**body, "type": "track"}, {**TRACK, "type": "track", "messageId": "dup-2"}]
    assert api.post("/v1/batch", {"batch": batch}).status_code == 200
    assert sorted(Event.objects.values_list("message_id", flat=True)) == ["dup-1", "dup-2"]


def test_batch_keeps_message_order_and_the_first_of_a_repeated_message_id(api: TrackingClient, source: Source):
    """Rows are inserted sorted by messageId (a lock order, see ingest/services.py), yet fan-out's id
    order stays the request's order and a messageId repeated in the batch keeps its first payload."""
    batch = [{"type": "identify", "userId": "u1", "messageId": "z-identify"},
             {"type": "track", "userId": "u1", "event": "First", "messageId": "m-track"},
             {"type": "page", "userId": "u1", "messageId": "a-page"},
             {"type": "track", "userId": "u1", "event": "Second", "messageId": "m-track"}]
    assert api.post("/v1/batch", {"batch": batch}).status_code == 200
    assert [(e["messageId"], e.get("event")) for e in stored(source)] == [
        ("z-identify", None), ("m-track", "First"), ("a-page", None)]


def test_same_message_id_in_two_sources_is_two_events(api: TrackingClient, source: Source, workspace):
    other = create_source(workspace, name="Other", kind="node")[0]
    body = {**TRACK, "messageId": "shared"}
    assert api.post("/v1/track", body).status_code == 200
    assert TrackingClient(other.write_key).post("/v1/track", body).status_code == 200
    assert Event.objects.filter(message_id="shared").count() == 2


def test_clock_skew_is_corrected_from_event_sent_at(api: TrackingClient, source: Source):
    # The device clock runs one hour behind: it says the event happened 5 s before it was sent.
    device_now = datetime.now(UTC) - timedelta(hours=1)
    body = {**TRACK, "timestamp": _iso(device_now - timedelta(seconds=5)), "sentAt": _iso(device_now)}
    before = datetime.now(UTC)
    api.post("/v1/track", body)
    after = datetime.now(UTC)
    [payload] = stored(source)
    received = _parse(payload["receivedAt"])
    assert before - timedelta(milliseconds=1) <= received <= after
    assert payload["originalTimestamp"] == body["timestamp"]
    assert _parse(payload["timestamp"]) == received - timedelta(seconds=5)
    assert payload["sentAt"] == body["sentAt"]


def test_clock_skew_is_corrected_from_batch_sent_at(api: TrackingClient, source: Source):
    body = {"sentAt": "2020-01-01T00:00:10.000+00:00",
            "batch": [{**TRACK, "type": "track", "timestamp": "2020-01-01T00:00:07.500Z"},
                      {**TRACK, "type": "track", "timestamp": "2020-01-01T00:00:09.750000+00:00",
                       "sentAt": "2020-01-01T00:00:11Z"}]}
    api.post("/v1/batch", body)
    first, second = stored(source)
    assert _parse(first["receivedAt"]) - _parse(first["timestamp"]) == timedelta(seconds=2.5)
    assert first["originalTimestamp"] == "2020-01-01T00:00:07.500Z"
    assert first["sentAt"] == "2020-01-01T00:00:10.000Z"
    # an event's own sentAt wins over the batch's
    assert _parse(second["receivedAt"]) - _parse(second["timestamp"]) == timedelta(seconds=1.25)


def test_timestamp_without_sent_at_is_kept(api: TrackingClient, source: Source):
    api.post("/v1/track", {**TRACK, "timestamp": "2019-06-01T10:00:00+02:00"})
    [payload] = stored(source)
    assert payload["timestamp"] == "2019-06-01T08:00:00.000Z"
    assert payload["originalTimestamp"] == "2019-06-01T08:00:00.000Z"


def test_no_timestamp_means_received_at(api: TrackingClient, source: Source):
    api.post("/v1/track", TRACK)
    [payload] = stored(source)
    assert payload["timestamp"] == payload["receivedAt"]
    assert payload["receivedAt"].endswith("Z") and len(payload["receivedAt"]) == 24
    assert "originalTimestamp" not in payload


def test_unparsable_client_times_are_ignored(api: TrackingClient, source: Source):
    body = {**TRACK, "timestamp": "yesterday", "originalTimestamp": "2015-02-23T22:28:55.111Z,", "sentAt": "soon"}
    assert api.post("/v1/track", body).status_code == 200
    [payload] = stored(source)
    assert payload["timestamp"] == payload["receivedAt"]
    assert "originalTimestamp" not in payload and "sentAt" not in payload


def test_reporting_events_need_no_person(api: TrackingClient, source: Source):
    body = {"event": "Report Delivery Event", "properties": {"deliveryId": "d1", "metric": "opened"}}
    assert api.post("/v1/track", body).status_code == 200
    assert_error(api.post("/v1/track", {"event": "Other", "properties": {}}), 400, "invalid_request")


def test_track_event_may_belong_to_a_group_alone(api: TrackingClient, source: Source):
    assert api.post("/v1/track", {"event": "Plan Changed", "groupId": "acme"}).status_code == 200
    assert stored(source)[0]["groupId"] == "acme"


def test_client_received_at_is_replaced_by_ours(api: TrackingClient, source: Source):
    api.post("/v1/track", {**TRACK, "receivedAt": "2001-01-01T00:00:00Z"})
    assert not stored(source)[0]["receivedAt"].startswith("2001")


def test_batch_context_and_integrations_merge_into_items(api: TrackingClient, source: Source):
    body = {
        "context": {"library": {"name": "batcher"}, "locale": "en-US"},
        "integrations": {"All": True, "Mixpanel": False},
        "batch": [
            {**TRACK, "type": "track", "context": {"locale": "fr-FR"}, "integrations": {"Mixpanel": True}},
            {**TRACK, "type": "track"},
        ],
    }
    api.post("/v1/batch", body)
    first, second = stored(source)
    assert first["context"]["locale"] == "fr-FR"
    assert first["context"]["library"] == {"name": "batcher"}
    assert first["integrations"] == {"All": True, "Mixpanel": True}
    assert second["context"]["locale"] == "en-US"
    assert second["integrations"] == {"All": True, "Mixpanel": False}


def test_context_ip_is_filled_from_the_peer(api: TrackingClient, source: Source):
    api.post("/v1/track", TRACK, REMOTE_ADDR="203.0.113.9")
    assert stored(source)[0]["context"]["ip"] == "203.0.113.9"


def test_given_context_ip_is_kept(api: TrackingClient, source: Source):
    api.post("/v1/track", {**TRACK, "context": {"ip": "198.51.100.1"}}, REMOTE_ADDR="203.0.113.9")
    assert stored(source)[0]["context"]["ip"] == "198.51.100.1"


def test_forwarded_for_is_ignored_from_untrusted_peer(api: TrackingClient, source: Source, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    api.post("/v1/track", TRACK, REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="1.2.3.4")
    assert stored(source)[0]["context"]["ip"] == "203.0.113.9"


def test_forwarded_for_is_honoured_from_trusted_proxy(api: TrackingClient, source: Source, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8", "192.0.2.7"]
    api.post("/v1/track", TRACK, REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR="6.6.6.6, 1.2.3.4, 192.0.2.7")
    # the right-most address that is not one of our proxies; what is left of it is client-supplied
    assert stored(source)[0]["context"]["ip"] == "1.2.3.4"


# --- CORS -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/v1/t", "/v1/batch", "/v1/m"])
def test_cors_preflight_is_answered(db, path):
    response = Client().options(path, HTTP_ORIGIN="https://shop.example",
                                HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
                                HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization,content-type")
    assert response.status_code in (200, 204)
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "POST" in response["Access-Control-Allow-Methods"]
    assert "OPTIONS" in response["Access-Control-Allow-Methods"]
    assert response["Access-Control-Allow-Headers"] == "authorization,content-type"
    assert int(response["Access-Control-Max-Age"]) > 0


def test_cors_header_on_success(api: TrackingClient):
    response = api.post("/v1/t", TRACK, HTTP_ORIGIN="https://shop.example")
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"


# --- rate limit -----------------------------------------------------------------------------------------

def test_rate_limit_answers_429_with_retry_after(api: TrackingClient, source: Source, settings):
    settings.INGEST_RATE_LIMIT = 2
    # A 1-second window: at most 2 accepted before the counter resets, so 5 quick calls see a 429
    # unless the window rolls over between them, and then at most 4 are accepted.
    statuses = [api.post("/v1/track", TRACK).status_code for _ in range(5)]
    assert 429 in statuses
    assert statuses.count(200) <= 4
    limited = next(r for r in (api.post("/v1/track", TRACK) for _ in range(3)) if r.status_code == 429)
    assert_error(limited, 429, "rate_limited")
    assert int(limited["Retry-After"]) >= 1
    assert int(limited["X-RateLimit-Reset"]) > datetime.now(UTC).timestamp() - 1
    assert Event.objects.filter(source=source).count() == statuses.count(200) + 0


def test_rate_limit_is_per_source(source: Source, workspace, settings):
    settings.INGEST_RATE_LIMIT = 0.001  # one request per ~17 minutes
    other = create_source(workspace, name="Other", kind="node")[0]
    assert TrackingClient(source.write_key).post("/v1/track", TRACK).status_code == 200
    assert TrackingClient(source.write_key).post("/v1/track", TRACK).status_code == 429
    assert TrackingClient(other.write_key).post("/v1/track", TRACK).status_code == 200


def test_rate_limit_off_by_default(api: TrackingClient, source: Source):
    assert all(api.post("/v1/track", TRACK).status_code == 200 for _ in range(20))


# --- browser settings -----------------------------------------------------------------------------------

def test_browser_settings_point_at_this_host(web_source: Source, settings):
    settings.ALLOWED_HOSTS = ["cdp.example.test"]
    response = Client().get(f"/v1/projects/{web_source.write_key}/settings", HTTP_HOST="cdp.example.test:8443",
                            HTTP_ORIGIN="https://shop.example")
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    body = orjson.loads(response.content)
    expected = {"apiKey": web_source.write_key, "apiHost": "cdp.example.test:8443/v1", "protocol": "http"}
    assert body["integrations"]["Segment.io"] == expected
    assert body["integrations"]["Customer.io Data Pipelines"] == expected
    assert body["metrics"]["sampleRate"] == 0


def test_browser_settings_use_public_url(web_source: Source, settings):
    settings.PUBLIC_URL = "https://cdp.example.com/"
    body = orjson.loads(Client().get(f"/v1/projects/{web_source.write_key}/settings").content)
    assert body["integrations"]["Segment.io"]["apiHost"] == "cdp.example.com/v1"
    assert body["integrations"]["Segment.io"]["protocol"] == "https"


def test_browser_settings_unknown_key_is_404(db):
    response = Client().get("/v1/projects/nope/settings")
    assert_error(response, 404, "not_found")


def test_browser_settings_preflight(db):
    response = Client().options("/v1/projects/anything/settings", HTTP_ACCESS_CONTROL_REQUEST_HEADERS="x-a")
    assert "GET" in response["Access-Control-Allow-Methods"]
    assert response["Access-Control-Allow-Origin"] == "*"


@pytest.fixture
def pixel_definition() -> Iterator[Any]:
    """A direct-mode catalog entry (the catalog's own entries may not include one yet), registered for
    the duration of the test."""
    from destinations.catalog import _registry
    from destinations.catalog.base import DestinationDefinition, SettingField

    definition = DestinationDefinition(
        key="test_pixel", name="Test Pixel", category="Advertising", mode="direct", description="",
        settings=(SettingField("pixelId", "Pixel ID", required=True),
                  SettingField("token", "Token", secret=True)),
        actions=(),
        browser_settings=lambda s: {"pixelId": s["pixelId"], "hasToken": bool(s.get("token"))},  # never True
        browser_integration="Test Pixel",
    )
    _registry()[definition.key] = definition
    yield definition
    del _registry()[definition.key]


def test_browser_settings_list_connected_direct_destinations(web_source: Source, workspace, pixel_definition):
    from connections.services import create_destination

    other_web = create_source(workspace, name="Blog", kind="javascript")[0]
    create_destination(workspace, name="Pixel", kind="test_pixel",
                       settings={"pixelId": "px-1", "token": "s3cret"}, sources=[web_source])
    create_destination(workspace, name="Blog pixel", kind="test_pixel", settings={"pixelId": "px-2"},
                       sources=[other_web])
    body = orjson.loads(Client().get(f"/v1/projects/{web_source.write_key}/settings").content)
    # built from the non-secret settings only: the token (even whether there is one) stays private
    assert body["integrations"]["Test Pixel"] == {"pixelId": "px-1", "hasToken": False}
    assert set(body["integrations"]) == {"Segment.io", "Customer.io Data Pipelines", "Test Pixel"}


def test_browser_settings_skip_disabled_destinations_and_connections(web_source: Source, workspace,
                                                                   pixel_definition):
    from connections.models import Connection
    from connections.services import create_destination

    disabled = create_destination(workspace, name="Off", kind="test_pixel", settings={"pixelId": "px-1"},
                                  sources=[web_source], enabled=False)
    assert disabled.pk
    path = f"/v1/projects/{web_source.write_key}/settings"
    assert "Test Pixel" not in orjson.loads(Client().get(path).content)["integrations"]
    live = create_destination(workspace, name="On", kind="test_pixel", settings={"pixelId": "px-3"},
                              sources=[web_source])
    assert orjson.loads(Client().get(path).content)["integrations"]["Test Pixel"]["pixelId"] == "px-3"
    Connection.objects.filter(destination=live).update(enabled=False)
    assert "Test Pixel" not in orjson.loads(Client().get(path).content)["integrations"]
