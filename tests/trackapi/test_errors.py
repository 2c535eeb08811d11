"""Credentials, validation and limits: Customer.io's status codes and error shapes, never a 500."""

from __future__ import annotations

import gzip
from typing import Any

import orjson
import pytest
from django.test import Client

from connections.models import Source
from connections.services import create_source, rotate_source_key
from ingest.models import Event
from pipelines.models import Workspace

from .conftest import basic, stored


def put(client: Client, path: str, body: Any, auth: dict[str, str], **extra: Any) -> Any:
    data = body if isinstance(body, (bytes, str)) else orjson.dumps(body)
    return client.put(path, data=data, content_type="application/json", **auth, **extra)


def post(client: Client, path: str, body: Any, auth: dict[str, str], **extra: Any) -> Any:
    data = body if isinstance(body, (bytes, str)) else orjson.dumps(body)
    return client.post(path, data=data, content_type="application/json", **auth, **extra)


# --- credentials ---------------------------------------------------------------------------------------


def test_missing_credentials_are_401(client: Client, track_source: tuple[Source, str]) -> None:
    response = put(client, "/api/v1/customers/u1", {"a": 1}, {})
    assert response.status_code == 401
    assert response.json() == {"meta": {"errors": [
        "Unauthorized request. Make sure that you provided the right credentials."]}}
    assert response["WWW-Authenticate"].startswith("Basic")


@pytest.mark.parametrize("header", [
    "Bearer abc", "Basic !!!not-base64", "Basic " + "dXNlcm9ubHk=",  # "useronly": no password
])
def test_malformed_authorization_is_401(client: Client, track_source: tuple[Source, str], header: str) -> None:
    assert put(client, "/api/v1/customers/u1", {}, {"HTTP_AUTHORIZATION": header}).status_code == 401


def test_wrong_key_and_unknown_site_are_401(client: Client, track_source: tuple[Source, str]) -> None:
    source, api_key = track_source
    assert put(client, "/api/v1/customers/u1", {}, {"HTTP_AUTHORIZATION": basic(source.site_id, "nope")}
               ).status_code == 401
    assert put(client, "/api/v1/customers/u1", {}, {"HTTP_AUTHORIZATION": basic("unknown-site", api_key)}
               ).status_code == 401
    assert not Event.objects.exists()


def test_v2_unauthorized_uses_the_v2_error_shape(client: Client, track_source: tuple[Source, str]) -> None:
    response = post(client, "/api/v2/entity", {}, {"HTTP_AUTHORIZATION": basic("x", "y")})
    assert response.status_code == 401
    assert response.json()["errors"][0]["reason"] == "unauthorized"


def test_disabled_source_is_401(client: Client, workspace: Workspace) -> None:
    source, api_key = create_source(workspace, name="Old", kind="journeys_track_api")
    source.enabled = False
    source.save()
    response = client.get("/api/v1/accounts/region", HTTP_AUTHORIZATION=basic(source.site_id, api_key))
    assert response.status_code == 401


def test_rotated_key_works_at_once_and_old_key_is_refused(client: Client, track_source: tuple[Source, str]) -> None:
    source, old_key = track_source
    assert client.get("/api/v1/accounts/region", HTTP_AUTHORIZATION=basic(source.site_id, old_key)).status_code == 200
    new_key = rotate_source_key(source)
    assert client.get("/api/v1/accounts/region", HTTP_AUTHORIZATION=basic(source.site_id, new_key)).status_code == 200
    assert client.get("/api/v1/accounts/region", HTTP_AUTHORIZATION=basic(source.site_id, old_key)).status_code == 401


def test_write_key_sources_cannot_use_the_track_api(client: Client, workspace: Workspace) -> None:
    source, _ = create_source(workspace, name="Site", kind="javascript")
    response = put(client, "/api/v1/customers/u1", {}, {"HTTP_AUTHORIZATION": basic(source.write_key, "")})
    assert response.status_code == 401


def test_region_reports_public_url_when_configured(
    client: Client, auth: dict[str, str], track_source: tuple[Source, str], settings: Any
) -> None:
    settings.PUBLIC_URL = "https://cdp.example.com/"
    response = client.get("/api/v1/accounts/region", **auth)
    assert response.json() == {"url": "https://cdp.example.com", "region": "us",
                               "environment_id": track_source[0].workspace_id}


# --- malformed bodies ------------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'"text"'])
def test_malformed_json_is_400_in_meta_errors_shape(client: Client, auth: dict[str, str], body: bytes) -> None:
    response = put(client, "/api/v1/customers/u1", body, auth)
    assert response.status_code == 400
    errors = response.json()["meta"]["errors"]
    assert len(errors) == 1 and errors[0].startswith("request body ")
    assert not Event.objects.exists()


def test_malformed_v2_body_is_400_in_errors_shape(client: Client, auth: dict[str, str]) -> None:
    response = post(client, "/api/v2/batch", b"{oops", auth)
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["reason"] == "invalid" and error["message"].startswith("request body is not valid JSON")


@pytest.mark.parametrize(("path", "body", "message"), [
    ("/api/v1/customers/u1/events", {}, "name is required"),
    ("/api/v1/customers/u1/events", {"name": "e", "type": "click"}, "type must be one of: event, page, screen"),
    ("/api/v1/customers/u1/events", {"name": "e", "id": "not-a-ulid"}, "id must be a valid ULID"),
    ("/api/v1/customers/u1/events", {"name": "e", "timestamp": "yesterday"},
     "timestamp must be a unix timestamp in seconds"),
    ("/api/v1/customers/u1/events", {"name": "e", "data": [1]}, "data must be an object"),
    ("/api/v1/customers/u1/events", {"name": "e" * 101}, "name is longer than 100 bytes"),
    ("/api/v1/customers/u1/events", {"name": "e", "data": {"x": "y" * 100_001}}, "data is larger than 100000 bytes"),
    ("/api/v1/events", {"data": {}}, "name is required"),
    ("/api/v1/events", {"name": "e", "anonymous_id": {"x": 1}}, "anonymous_id must be a string"),
])
def test_invalid_events_are_400(client: Client, auth: dict[str, str], path: str, body: Any, message: str) -> None:
    response = post(client, path, body, auth)
    assert response.status_code == 400
    assert response.json() == {"meta": {"errors": [message]}}


@pytest.mark.parametrize(("body", "message"), [
    ({"device": {"platform": "ios"}}, "device.id is required"),
    ({"device": {"id": "t", "platform": "web"}}, "device.platform must be one of: ios, android"),
    ({"device": {"id": "t", "platform": "ios", "last_used": "soon"}},
     "device.last_used must be a unix timestamp in seconds"),
    ({}, "device is required"),
])
def test_invalid_devices_are_400(client: Client, auth: dict[str, str], body: Any, message: str) -> None:
    response = put(client, "/api/v1/customers/u1/devices", body, auth)
    assert (response.status_code, response.json()) == (400, {"meta": {"errors": [message]}})


def test_identify_limits(client: Client, auth: dict[str, str]) -> None:
    cases = [
        ("/api/v1/customers/" + "i" * 151, {}, "identifier is longer than 150 bytes"),
        ("/api/v1/customers/u1", {"n" * 151: 1}, "is longer than 150 bytes"),
        ("/api/v1/customers/u1", {"bio": "é" * 501}, "value of attribute 'bio' is longer than 1000 bytes"),
        ("/api/v1/customers/u1", {f"a{i}": i for i in range(301)}, "body has more than 300 attributes"),
        ("/api/v1/customers/u1", {"cio_relationships": []}, "cio_relationships must be an object"),
        ("/api/v1/customers/u1", {"cio_relationships": {"relationships": [{"identifiers": {"object_id": "a"}}]}},
         ("cio_relationships.relationships[0].identifiers must contain object_type_id and object_id, "
         "or cio_object_id")),
        ("/api/v1/customers/u1", {"_update": "yes"}, "body._update must be true or false"),
    ]
    for path, body, message in cases:
        response = put(client, path, body, auth)
        assert response.status_code == 400, path
        [error] = response.json()["meta"]["errors"]
        assert message in error
    assert not Event.objects.exists()


def test_identify_at_the_limits_is_accepted(client: Client, auth: dict[str, str], track_source: tuple[Source, str]
                                            ) -> None:
    body = {f"a{i}": "v" * 1000 for i in range(300)}
    response = put(client, "/api/v1/customers/" + "i" * 150, body, auth)
    assert response.status_code == 200
    [p] = stored(track_source[0])
    assert len(p["traits"]) == 300


def test_merge_errors_carry_meta_error_too(client: Client, auth: dict[str, str]) -> None:
    response = post(client, "/api/v1/merge_customers", {"primary": {"id": "a"}, "secondary": {"phone": "1"}}, auth)
    assert response.status_code == 400
    message = "secondary has unknown key 'phone' (use one of: id, email, cio_id)"
    assert response.json() == {"meta": {"errors": [message], "error": message}}
    same = post(client, "/api/v1/merge_customers", {"primary": {"id": "a"}, "secondary": {"id": "a"}}, auth)
    assert same.json()["meta"]["error"] == "primary and secondary must be different people"


def test_wrong_method_is_405_and_unknown_route_404(client: Client, auth: dict[str, str]) -> None:
    response = client.get("/api/v1/customers/u1", **auth)
    assert response.status_code == 405
    assert response["Allow"] == "PUT, DELETE, POST"
    response = post(client, "/api/v1/customers/u1/devices", {}, auth)
    assert response.status_code == 405
    assert response["Allow"] == "PUT"
    response = post(client, "/api/v1/customers/u1/attributes", {}, auth)
    assert response.status_code == 404
    assert "no such Track API route" in response.json()["meta"]["errors"][0]


# --- transport details -----------------------------------------------------------------------------------


def test_raw_path_keeps_an_encoded_slash_inside_the_identifier(
    client: Client, auth: dict[str, str], track_source: tuple[Source, str]
) -> None:
    # gunicorn hands Django the undecoded path as RAW_URI: "a/events" is then an id, not a route.
    response = put(client, "/api/v1/customers/a/events", {"plan": "x"}, auth,
                   RAW_URI="/api/v1/customers/a%2Fevents")
    assert response.status_code == 200
    [p] = stored(track_source[0])
    assert (p["type"], p["userId"]) == ("identify", "a/events")


def test_gzip_bodies_are_accepted(client: Client, auth: dict[str, str], track_source: tuple[Source, str]) -> None:
    body = gzip.compress(orjson.dumps({"name": "zipped", "data": {"k": "v"}}))
    response = post(client, "/api/v1/customers/u1/events", body, auth, HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 200
    [p] = stored(track_source[0])
    assert p["event"] == "zipped"


def test_ip_comes_from_forwarded_for_only_behind_a_trusted_proxy(
    client: Client, auth: dict[str, str], track_source: tuple[Source, str], settings: Any
) -> None:
    post(client, "/api/v1/customers/u1/events", {"name": "a"}, auth, HTTP_X_FORWARDED_FOR="203.0.113.9")
    settings.TRUSTED_PROXIES = ["127.0.0.0/8"]
    post(client, "/api/v1/customers/u1/events", {"name": "b"}, auth, HTTP_X_FORWARDED_FOR="203.0.113.9, 127.0.0.2")
    first, second = stored(track_source[0])
    assert first["context"]["ip"] == "127.0.0.1"
    assert second["context"]["ip"] == "203.0.113.9"


def test_events_are_stored_on_the_credentials_source_only(client: Client, workspace: Workspace,
                                                          other_workspace: Workspace) -> None:
    mine, my_key = create_source(workspace, name="Mine", kind="journeys_track_api")
    theirs, _ = create_source(other_workspace, name="Theirs", kind="journeys_track_api")
    post(client, "/api/v1/customers/u1/events", {"name": "a"}, {"HTTP_AUTHORIZATION": basic(mine.site_id, my_key)})
    assert [e.source_id for e in Event.objects.all()] == [mine.id]
    assert Event.objects.get().workspace_id == workspace.id
    assert not Event.objects.filter(source=theirs).exists()


def test_nul_characters_are_refused_not_a_server_error(client: Client, auth: dict[str, str]) -> None:
    response = put(client, "/api/v1/customers/u1", b'{"name": "a\\u0000b"}', auth)
    assert response.status_code == 400
    assert response.json() == {"meta": {"errors": ["text must not contain NUL (\\u0000) characters"]}}
    # An escaped backslash followed by "u0000" is ordinary text.
    assert put(client, "/api/v1/customers/u1", b'{"name": "a\\\\u0000b"}', auth).status_code == 200
    response = post(client, "/api/v2/batch", b'{"batch": [{"type": "person", "identifiers": {"id": "1"}, '
                    b'"action": "event", "name": "e\\u0000"}, {"type": "person", "identifiers": {"id": "1"}, '
                    b'"action": "event", "name": "ok"}]}', auth)
    assert response.status_code == 207
    assert response.json()["errors"][0]["batch_index"] == 0
