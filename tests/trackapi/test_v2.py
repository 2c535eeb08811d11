"""Track API v2: /api/v2/entity and /api/v2/batch posted directly (the client's batch() forces https)."""

from __future__ import annotations

from typing import Any

import orjson
import requests

from connections.models import Source
from ingest.models import Event

from .conftest import stored

ULID = "01HZY3N4M5P6Q7R8S9T0V1W2X3"


def post(live_server: Any, track_source: tuple[Source, str], path: str, body: Any) -> requests.Response:
    source, api_key = track_source
    return requests.post(live_server.url + path, json=body, auth=(source.site_id, api_key), timeout=10)


def test_entity_person_identify_with_relationships(live_server: Any, track_source: tuple[Source, str]) -> None:
    source, _ = track_source
    response = post(live_server, track_source, "/api/v2/entity", {
        "type": "person", "identifiers": {"email": "Jane@Example.com"}, "action": "identify",
        "timestamp": 1700000000,
        "attributes": {"first_name": "Jane", "anonymous_id": "anon-3"},
        "cio_relationships": [{"identifiers": {"object_type_id": "1", "object_id": "acme"},
                               "relationship_attributes": {"role": "admin"}}],
    })
    assert (response.status_code, response.json()) == (200, {})
    identify, group = stored(source)
    assert identify["type"] == "identify"
    assert identify["userId"] == "jane@example.com"
    assert identify["anonymousId"] == "anon-3"
    assert identify["traits"] == {"first_name": "Jane", "email": "Jane@Example.com"}
    assert identify["timestamp"] == "2023-11-14T22:13:20.000Z"
    assert identify["context"]["library"] == {"name": "journeys-track-api", "version": "v2"}
    assert (group["type"], group["userId"], group["groupId"]) == ("group", "jane@example.com", "acme")
    assert group["traits"] == {"object_type_id": "1"}
    assert group["context"]["relationship_attributes"] == {"role": "admin"}


def test_entity_event_with_id_is_stored_once(live_server: Any, track_source: tuple[Source, str]) -> None:
    source, _ = track_source
    body = {"type": "person", "identifiers": {"id": "42"}, "action": "event", "name": "purchase",
            "id": ULID, "attributes": {"total": 10}}
    assert post(live_server, track_source, "/api/v2/entity", body).status_code == 200
    assert post(live_server, track_source, "/api/v2/entity", body).status_code == 200
    [event] = Event.objects.filter(source=source)
    assert event.message_id == ULID
    assert event.payload["event"] == "purchase"
    assert event.payload["properties"] == {"total": 10}


def test_batch_maps_every_person_and_object_operation(live_server: Any, track_source: tuple[Source, str]) -> None:
    source, _ = track_source
    person = {"type": "person", "identifiers": {"id": "42"}}
    acme = {"type": "object", "identifiers": {"object_type_id": "1", "object_id": "acme"}}
    batch = [
        {**person, "action": "identify", "attributes": {"plan": "premium"}},
        {**person, "action": "event", "name": "purchase", "attributes": {"total": 5}},
        {**person, "action": "page", "name": "https://example.com/a", "attributes": {"path": "/a"}},
        {**person, "action": "screen", "name": "Home"},
        {**person, "action": "add_device", "device": {"token": "t1", "platform": "android", "last_used": 1700000000}},
        {**person, "action": "delete_device", "device": {"token": "t1"}},
        {**person, "action": "add_relationships",
         "cio_relationships": [{"identifiers": {"object_type_id": "1", "object_id": "acme"}}]},
        {**person, "action": "delete_relationships",
         "cio_relationships": [{"identifiers": {"cio_object_id": "obj9"}}]},
        {**person, "action": "suppress"},
        {**person, "action": "unsuppress"},
        {**person, "action": "delete"},
        {"type": "person", "action": "merge", "primary": {"id": "42"}, "secondary": {"cio_id": "abc"}},
        {**acme, "action": "identify", "attributes": {"name": "Acme", "seats": 50},
         "cio_relationships": [{"identifiers": {"id": "42"}, "relationship_attributes": {"role": "owner"}}]},
        {**acme, "action": "identify", "attributes": {"name": "Acme"}},
        {**acme, "action": "identify_anonymous", "attributes": {"name": "Acme"},
         "cio_relationships": [{"identifiers": {"anonymous_id": "anon-7"}}]},
        {**acme, "action": "add_relationships", "cio_relationships": [{"identifiers": {"email": "a@b.co"}}]},
        {**acme, "action": "delete_relationships", "cio_relationships": [{"identifiers": {"id": "42"}}]},
        {**acme, "action": "delete"},
    ]
    response = post(live_server, track_source, "/api/v2/batch", {"batch": batch})
    assert (response.status_code, response.json()) == (200, {})

    got = [(p["type"], p.get("event") or p.get("name") or p.get("groupId"), p.get("userId"), p.get("anonymousId"))
           for p in stored(source)]
    assert got == [
        ("identify", None, "42", None),
        ("track", "purchase", "42", None),
        ("page", "https://example.com/a", "42", None),
        ("screen", "Home", "42", None),
        ("track", "Device Created or Updated", "42", None),
        ("track", "Device Deleted", "42", None),
        ("group", "acme", "42", None),
        ("track", "Relationship Deleted", "42", None),
        ("track", "User Suppressed", "42", None),
        ("track", "User Unsuppressed", "42", None),
        ("track", "User Deleted", "42", None),
        ("alias", None, "42", None),
        ("group", "acme", "42", None),
        ("group", "acme", None, None),
        ("group", "acme", None, "anon-7"),
        ("group", "acme", "a@b.co", None),
        ("track", "Relationship Deleted", "42", None),
        ("track", "Object Deleted", None, None),
    ]
    payloads = stored(source)
    assert payloads[4]["properties"] == {"device_id": "t1", "platform": "android", "last_used": 1700000000}
    assert payloads[7]["properties"] == {"cio_object_id": "obj9"}
    assert payloads[11]["previousId"] == "cio_abc"
    assert payloads[12]["traits"] == {"name": "Acme", "seats": 50, "object_type_id": "1"}
    assert payloads[12]["context"]["relationship_attributes"] == {"role": "owner"}
    assert payloads[13]["traits"] == {"name": "Acme", "object_type_id": "1"}
    assert payloads[15]["context"]["traits"] == {"email": "a@b.co"}
    assert payloads[17]["properties"] == {"object_id": "acme", "object_type_id": "1"}


def test_partly_bad_batch_stores_good_items_and_answers_207(live_server: Any, track_source: tuple[Source, str]) -> None:
    source, _ = track_source
    batch = [
        {"type": "person", "identifiers": {"id": "1"}, "action": "identify", "attributes": {"a": 1}},
        {"type": "person", "identifiers": {"id": "2"}, "action": "event"},  # no name
        {"type": "person", "identifiers": {"id": "3"}, "action": "event", "name": "ok"},
        {"type": "person", "identifiers": {"id": "4", "email": "x@y.co"}, "action": "delete"},
        {"type": "person", "identifiers": {"id": "5"}, "action": "identify", "attributes": {"big": "x" * 33_000}},
        "not an object",
    ]
    response = post(live_server, track_source, "/api/v2/batch", {"batch": batch})
    assert response.status_code == 207
    assert response.json() == {"errors": [
        {"batch_index": 1, "reason": "required", "field": "name", "message": "name is required"},
        {"batch_index": 3, "reason": "invalid", "field": "identifiers",
         "message": "identifiers must contain exactly one of: id, email, phone, cio_id"},
        {"batch_index": 4, "reason": "too_large", "field": "", "message": "operation is larger than 32768 bytes"},
        {"batch_index": 5, "reason": "invalid", "field": "body", "message": "body must be an object"},
    ]}
    assert [(p["type"], p["userId"]) for p in stored(source)] == [("identify", "1"), ("track", "3")]


def test_batch_with_only_bad_items_is_rejected_with_400(live_server: Any, track_source: tuple[Source, str]) -> None:
    source, _ = track_source
    response = post(live_server, track_source, "/api/v2/batch", {"batch": [{"type": "planet", "action": "x"}]})
    assert response.status_code == 400
    assert response.json() == {"errors": [
        {"batch_index": 0, "reason": "invalid", "field": "type", "message": "type must be one of: person, object"},
    ]}
    assert not Event.objects.filter(source=source).exists()


def test_entity_rejects_bad_operation_in_v2_error_shape(live_server: Any, track_source: tuple[Source, str]) -> None:
    response = post(live_server, track_source, "/api/v2/entity", {
        "type": "person", "identifiers": {"id": "1"}, "action": "add_device", "device": {"token": "t", "platform": "web"},
    })
    assert response.status_code == 400
    assert response.json() == {"errors": [
        {"reason": "invalid", "field": "device.platform", "message": "device.platform must be one of: ios, android"},
    ]}


def test_entity_larger_than_32kb_is_rejected(live_server: Any, track_source: tuple[Source, str]) -> None:
    source, api_key = track_source
    body = orjson.dumps({"type": "person", "identifiers": {"id": "1"}, "action": "event", "name": "e",
                         "attributes": {"blob": "x" * 40_000}})
    response = requests.post(live_server.url + "/api/v2/entity", data=body, auth=(source.site_id, api_key),
                             headers={"Content-Type": "application/json"}, timeout=10)
    assert response.status_code == 400
    assert response.json()["errors"][0]["reason"] == "too_large"


def test_batch_envelope_errors(live_server: Any, track_source: tuple[Source, str]) -> None:
    for body, message in [
        ({}, "batch must be an array of operations"),
        ({"batch": []}, "batch must contain at least one operation"),
        ({"batch": {"type": "person"}}, "batch must be an array of operations"),
    ]:
        response = post(live_server, track_source, "/api/v2/batch", body)
        assert response.status_code == 400
        assert response.json()["errors"][0]["message"] == message


def test_delivery_operations_are_refused_clearly(live_server: Any, track_source: tuple[Source, str]) -> None:
    response = post(live_server, track_source, "/api/v2/entity", {
        "type": "delivery", "action": "event", "identifiers": {"id": "d1"}, "name": "opened",
        "attributes": {"device_token": "t"},
    })
    assert response.status_code == 400
    assert response.json()["errors"][0]["reason"] == "unsupported"
