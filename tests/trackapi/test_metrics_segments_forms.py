"""/api/v1/metrics, /api/v1/push/events, manual segments and forms: what each stores, and every request
and response checked against Customer.io's OpenAPI file (its `oneOf`s read as `anyOf`). Unknown routes
under the Track API prefixes answer 404 in the v1 error shape."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from django.test import Client

from connections.models import Source
from ingest.models import Event
from tests.customerio.openapi import errors_for, response_errors

from .conftest import stored

DELIVERY = "RPILAgUBcRhIBqSfeiIwdIYJKxTY"


def post(client: Client, path: str, body: Any, auth: dict[str, str]) -> Any:
    data = body if isinstance(body, (bytes, str)) else orjson.dumps(body)
    return client.post(path, data=data, content_type="application/json", **auth)


def call(client: Client, spec_path: str, path: str, body: Any, auth: dict[str, str]) -> Any:
    """POST, then check the answer is one the spec documents, with a body of the documented shape."""
    response = post(client, path, body, auth)
    payload = response.json() if response.content else None
    problems = response_errors(spec_path, response.status_code, payload)
    assert not problems, problems
    if response.status_code == 400:
        assert isinstance(payload["meta"]["errors"][0], str) and payload["meta"]["errors"][0]
    return response


# --- /api/v1/metrics -------------------------------------------------------------------------------------

METRICS = "/api/v1/metrics"
VALID_METRICS = [
    {"delivery_id": DELIVERY, "metric": "opened"},
    {"delivery_id": DELIVERY, "metric": "clicked", "href": "https://example.com/x", "recipient": "a@example.com",
     "timestamp": 1613063089},
    {"delivery_id": DELIVERY, "metric": "bounced", "reason": "mailbox full", "recipient": "a@example.com"},
    {"delivery_id": DELIVERY, "metric": "delivered", "recipient": 15551234567},  # SMS: a phone number
    {"delivery_id": DELIVERY, "metric": "spammed"},
]
INVALID_METRICS = [
    {"metric": "opened"},
    {"delivery_id": DELIVERY},
    {"delivery_id": DELIVERY, "metric": "read"},
    {"delivery_id": 42, "metric": "opened"},
    {"delivery_id": DELIVERY, "metric": "opened", "timestamp": "1613063089"},
    {"delivery_id": DELIVERY, "metric": "clicked", "href": 7},
]


@pytest.mark.parametrize("body", VALID_METRICS)
def test_metric_the_spec_allows_is_stored(client: Client, auth: dict[str, str], track_source: tuple[Source, str],
                                          body: dict[str, Any]) -> None:
    assert errors_for(METRICS, body) == []
    response = call(client, METRICS, METRICS, body, auth)
    assert (response.status_code, response.json()) == (200, {})
    [p] = stored(track_source[0])
    assert (p["type"], p["event"]) == ("track", "Report Delivery Event")
    assert p["properties"]["deliveryId"] == DELIVERY
    assert p["properties"]["metric"] == body["metric"]
    assert p["properties"].get("recipient") == body.get("recipient")
    assert p["properties"].get("href") == body.get("href")
    assert p["properties"].get("reason") == body.get("reason")
    assert "userId" not in p and "anonymousId" not in p
    if "timestamp" in body:
        assert p["timestamp"] == "2021-02-11T17:04:49.000Z"


@pytest.mark.parametrize("body", INVALID_METRICS)
def test_metric_the_spec_refuses_is_400(client: Client, auth: dict[str, str], body: dict[str, Any]) -> None:
    assert errors_for(METRICS, body) != []
    assert call(client, METRICS, METRICS, body, auth).status_code == 400
    assert not Event.objects.exists()


def test_metric_recipient_must_be_text_or_a_phone_number(client: Client, auth: dict[str, str]) -> None:
    # The Slack and webhook alternatives declare no recipient, so the file lets any value through.
    body = {"delivery_id": DELIVERY, "metric": "opened", "recipient": ["a"]}
    assert errors_for(METRICS, body) == []
    assert call(client, METRICS, METRICS, body, auth).status_code == 400


def test_metric_without_credentials_is_401(client: Client, track_source: tuple[Source, str]) -> None:
    # Customer.io takes metrics without credentials; we need them to know whose source this is.
    response = call(client, METRICS, METRICS, VALID_METRICS[0], {})
    assert response.status_code == 401
    assert not Event.objects.exists()


# --- /api/v1/push/events (and /push/events) ---------------------------------------------------------------

PUSH = "/api/v1/push/events"


@pytest.mark.parametrize("path", [PUSH, "/push/events"])
def test_push_metric_is_a_report_delivery_event_with_the_device(client: Client, auth: dict[str, str],
                                                                track_source: tuple[Source, str], path: str) -> None:
    body = {"delivery_id": DELIVERY, "event": "opened", "device_id": "device-token-1", "timestamp": 1613063089}
    assert errors_for(PUSH, body) == []
    response = call(client, PUSH, path, body, auth)
    assert response.status_code == 200
    [p] = stored(track_source[0])
    assert p["event"] == "Report Delivery Event"
    assert p["properties"] == {"deliveryId": DELIVERY, "metric": "opened", "recipient": "device-token-1"}
    assert p["context"]["device"] == {"token": "device-token-1"}
    assert p["timestamp"] == "2021-02-11T17:04:49.000Z"


@pytest.mark.parametrize("body", [
    {"delivery_id": DELIVERY, "event": "clicked", "device_id": "t"},  # not a push metric
    {"delivery_id": DELIVERY, "event": "opened", "device_id": 5},
    {"delivery_id": DELIVERY, "event": "opened", "timestamp": "soon"},
])
def test_push_metric_the_spec_refuses_is_400(client: Client, auth: dict[str, str], body: dict[str, Any]) -> None:
    assert errors_for(PUSH, body) != []
    assert call(client, PUSH, PUSH, body, auth).status_code == 400


@pytest.mark.parametrize("body", [{"event": "opened", "device_id": "t"}, {"delivery_id": DELIVERY}])
def test_push_metric_needs_a_delivery_id_and_a_metric(client: Client, auth: dict[str, str],
                                                      body: dict[str, Any]) -> None:
    # Stricter than the file, which marks nothing required: such a report could not mean anything.
    assert errors_for(PUSH, body) == []
    assert call(client, PUSH, PUSH, body, auth).status_code == 400


# --- manual segments ---------------------------------------------------------------------------------------

ADD = "/api/v1/segments/{segment_id}/add_customers"
REMOVE = "/api/v1/segments/{segment_id}/remove_customers"


def test_add_customers_stores_one_event_per_person(client: Client, auth: dict[str, str],
                                                   track_source: tuple[Source, str]) -> None:
    body = {"ids": ["u1", "u2"]}
    assert errors_for(ADD, body) == []
    response = call(client, ADD, "/api/v1/segments/12/add_customers", body, auth)
    assert (response.status_code, response.json()) == (200, {})
    events = stored(track_source[0])
    assert [(p["event"], p["userId"]) for p in events] == [("Added to Manual Segment", "u1"),
                                                           ("Added to Manual Segment", "u2")]
    assert all(p["properties"] == {"segment_id": 12, "id_type": "id"} for p in events)


def test_remove_customers_by_email_ignores_values_that_are_not_emails(
    client: Client, auth: dict[str, str], track_source: tuple[Source, str]
) -> None:
    body = {"ids": ["Ann@Example.com", "not-an-email", ""]}
    response = call(client, REMOVE, "/api/v1/segments/7/remove_customers?id_type=email", body, auth)
    assert response.status_code == 200
    [p] = stored(track_source[0])
    assert (p["event"], p["userId"]) == ("Removed from Manual Segment", "ann@example.com")
    assert p["context"]["traits"] == {"email": "Ann@Example.com"}
    assert p["properties"] == {"segment_id": 7, "id_type": "email"}


def test_segment_by_cio_id(client: Client, auth: dict[str, str], track_source: tuple[Source, str]) -> None:
    call(client, ADD, "/api/v1/segments/7/add_customers?id_type=cio_id", {"ids": ["a1b2"]}, auth)
    [p] = stored(track_source[0])
    assert (p["userId"], p["context"]["cio_id"]) == ("cio_a1b2", "a1b2")


@pytest.mark.parametrize("body", [{}, {"ids": []}, {"ids": "u1"}, {"ids": [1, 2]}, {"ids": ["u"] * 1001}])
def test_segment_body_the_spec_refuses_is_400(client: Client, auth: dict[str, str], body: dict[str, Any]) -> None:
    assert errors_for(ADD, body) != []
    assert call(client, ADD, "/api/v1/segments/7/add_customers", body, auth).status_code == 400
    assert not Event.objects.exists()


@pytest.mark.parametrize("path", ["/api/v1/segments/abc/add_customers", "/api/v1/segments/99999999999/add_customers",
                                  "/api/v1/segments/7/add_customers?id_type=phone"])
def test_bad_segment_id_or_id_type_is_400(client: Client, auth: dict[str, str], path: str) -> None:
    response = call(client, ADD, path, {"ids": ["u1"]}, auth)
    assert response.status_code == 400
    assert not Event.objects.exists()


# --- forms ---------------------------------------------------------------------------------------------------

FORM = "/api/v1/forms/{form_id}/submit"


def test_form_submission_by_email_is_form_submitted(client: Client, auth: dict[str, str],
                                                    track_source: tuple[Source, str]) -> None:
    body = {"data": {"email": "Cool.Person@example.com", "first_name": "cool", "fav_food": "pizza",
                     "form_name": "ignored"}}
    assert errors_for(FORM, body) == []
    response = call(client, FORM, "/api/v1/forms/signup%2Fnewsletter/submit", body, auth)
    assert (response.status_code, response.content) == (204, b"")
    [p] = stored(track_source[0])
    assert (p["type"], p["event"], p["userId"]) == ("track", "Form Submitted", "cool.person@example.com")
    assert p["properties"] == {"form_id": "signup/newsletter",
                               "data": {"email": "Cool.Person@example.com", "first_name": "cool",
                                        "fav_food": "pizza"}}
    assert p["context"]["traits"] == {"email": "Cool.Person@example.com"}


def test_form_submission_by_id(client: Client, auth: dict[str, str], track_source: tuple[Source, str]) -> None:
    body = {"data": {"id": "42", "plan": "pro"}}
    assert call(client, FORM, "/api/v1/forms/f1/submit", body, auth).status_code == 204
    [p] = stored(track_source[0])
    assert (p["userId"], p["properties"]) == ("42", {"form_id": "f1", "data": {"id": "42", "plan": "pro"}})


@pytest.mark.parametrize("body", [
    {}, {"data": "x"}, {"data": {"first_name": "a"}}, {"data": {"email": "a@example.com", "age": 3}},
    {"data": {"id": 42}},
])
def test_form_the_spec_refuses_is_400(client: Client, auth: dict[str, str], body: dict[str, Any]) -> None:
    assert errors_for(FORM, body) != []
    assert call(client, FORM, "/api/v1/forms/f1/submit", body, auth).status_code == 400
    assert not Event.objects.exists()


def test_form_with_a_null_identifier_is_400(client: Client, auth: dict[str, str]) -> None:
    # The file lets email be null; a submission must still say who sent it.
    body = {"data": {"email": None, "first_name": "a"}}
    assert errors_for(FORM, body) == []
    assert call(client, FORM, "/api/v1/forms/f1/submit", body, auth).status_code == 400


# --- unknown routes ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "path"), [
    ("post", "/api/v1/nope"), ("get", "/api/v1/segments/7"), ("post", "/api/v1/segments/7/members"),
    ("post", "/api/v1"), ("put", "/api/v2/people"), ("post", "/api/v2"), ("post", "/push/other"),
    ("post", "/api/v1/forms/f1"), ("delete", "/api/v1/customers/"),
])
def test_unknown_track_api_route_is_404_in_the_v1_shape(client: Client, auth: dict[str, str], method: str,
                                                        path: str) -> None:
    response = client.generic(method.upper(), path, b"{}", content_type="application/json", **auth)
    assert response.status_code == 404
    body = response.json()
    assert list(body) == ["meta"]
    assert body["meta"]["errors"] and "no such Track API route" in body["meta"]["errors"][0]


def test_known_route_with_wrong_method_is_405(client: Client, auth: dict[str, str]) -> None:
    response = client.get("/api/v1/metrics", **auth)
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response.json()["meta"]["errors"]
