"""Destination filters: the pure rules (destinations/routing_controls.py), fan-out to a real local HTTP
server with filters saved, and the management API (GET/PUT .../filters/, POST .../filters/preview/)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from rest_framework.test import APIClient

from connections.models import Destination
from destinations import destination_filters
from destinations.models import Delivery, DestinationFilters
from destinations.routing_controls import FilterError, apply_filters, compile_filters, sampled_in
from ingest.models import Event
from tests.helpers import wait_for

ORDER = {"type": "track", "event": "Order Completed", "userId": "u-1", "messageId": "m-1",
         "properties": {"total": 42.5, "email": "a@example.com", "items": {"sku": "X", "price": 3}},
         "context": {"ip": "203.0.113.9", "locale": "de-DE"}}


def test_no_filters_send_the_event_untouched() -> None:
    assert apply_filters(ORDER, "m-1", None) == (ORDER, "")
    assert apply_filters(ORDER, "m-1", compile_filters()) == (ORDER, "")


def test_keep_only_and_drop_conditions() -> None:
    keep = compile_filters(keep_if='event = "Signed Up"')
    assert apply_filters(ORDER, "m-1", keep) == (None, "filtered: does not match the destination's keep-only filter")
    drop = compile_filters(drop_if="properties.total > 10")
    assert apply_filters(ORDER, "m-1", drop) == (None, "filtered: matches the destination's drop filter")
    assert apply_filters({**ORDER, "properties": {"total": 5}}, "m-1", drop)[1] == ""


def test_sampling_is_decided_by_message_id_alone() -> None:
    ids = [f"msg-{i}" for i in range(2000)]
    kept = [i for i in ids if sampled_in(i, 25)]
    assert 400 < len(kept) < 600
    assert kept == [i for i in ids if sampled_in(i, 25)]  # the same answer on a retry or replay
    assert set(kept) <= {i for i in ids if sampled_in(i, 50)}  # a bigger sample contains the smaller
    assert not any(sampled_in(i, 0) for i in ids) and all(sampled_in(i, 100) for i in ids)
    filters = compile_filters(sample_percent=25)
    out = ids[[sampled_in(i, 25) for i in ids].index(False)]
    assert apply_filters(ORDER, out, filters) == (None, "filtered: not in the destination's 25% sample")


def test_block_list_drops_the_paths_and_leaves_the_event_shared_by_others_alone() -> None:
    original = json.loads(json.dumps(ORDER))
    filters = compile_filters(fields_mode="block", fields=["properties.email", "properties.items.price",
                                                           "context.ip", "traits.phone"])
    sent, reason = apply_filters(ORDER, "m-1", filters)
    assert reason == ""
    assert sent == {**ORDER, "properties": {"total": 42.5, "items": {"sku": "X"}}, "context": {"locale": "de-DE"}}
    assert ORDER == original


def test_allow_list_keeps_only_the_listed_properties_and_traits() -> None:
    filters = compile_filters(fields_mode="allow", fields=["properties.total", "properties.items.sku"])
    sent, _ = apply_filters(ORDER, "m-1", filters)
    assert sent == {**ORDER, "properties": {"total": 42.5, "items": {"sku": "X"}}}  # context untouched
    identify = {"type": "identify", "userId": "u-1", "traits": {"email": "a@example.com", "plan": "pro"}}
    sent, _ = apply_filters(identify, "m-2", compile_filters(fields_mode="allow", fields=["traits.plan", "context.ip"]))
    assert sent == {"type": "identify", "userId": "u-1", "traits": {"plan": "pro"}}


@pytest.mark.parametrize(("given", "field", "message"), [
    ({"keep_if": 'event = "A'}, "keep_if", "column"),
    ({"drop_if": "properties.total >"}, "drop_if", "column"),
    ({"sample_percent": 101}, "sample_percent", "0 to 100"),
    ({"fields_mode": "some"}, "fields_mode", '"allow"'),
    ({"fields_mode": "block", "fields": ["userId"]}, "fields", "under properties, traits or context"),
    ({"fields_mode": "block", "fields": ["properties"]}, "fields", "under properties, traits or context"),
    ({"fields_mode": "allow", "fields": []}, "fields", "at least one path"),
])
def test_bad_settings_name_the_setting(given: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(FilterError) as caught:
        compile_filters(**given)
    assert caught.value.field == field
    assert message in caught.value.message


# --- fan-out with saved filters, to a real local HTTP server ------------------------------------------------


def _settled(event: Event) -> Delivery:
    def ready() -> Delivery | None:
        row = Delivery.objects.filter(event=event).first()
        return row if row and row.status != "pending" and row.locked_until is None else None

    return wait_for(ready, what=f"the delivery of {event.message_id}")


@pytest.mark.usefixtures("celery_worker")
def test_filters_drop_and_trim_what_reaches_the_destination(make_webhook: Callable[..., Destination],
                                                            store: Callable[..., list[Event]],
                                                            httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook").respond_with_data("ok")
    destination = make_webhook()
    destination_filters.save(destination, {"drop_if": 'event = "Test Event"', "fields_mode": "block",
                                           "fields": ["properties.email", "context.ip"]})
    dropped, sent = store({**ORDER, "event": "Test Event", "messageId": "f-drop"}, {**ORDER, "messageId": "f-send"})

    assert _settled(dropped).last_error == "filtered: matches the destination's drop filter"
    assert _settled(sent).status == "delivered"
    [(request, _)] = httpserver.log
    body = json.loads(request.data)
    assert body["messageId"] == "f-send"
    assert body["properties"] == {"total": 42.5, "items": {"sku": "X", "price": 3}}
    assert "ip" not in body["context"]
    stored = Event.objects.get(id=sent.id).payload
    assert stored["properties"]["email"] == "a@example.com"  # the stored event keeps everything


@pytest.mark.usefixtures("celery_worker")
def test_a_zero_sample_sends_nothing(make_webhook: Callable[..., Destination], store: Callable[..., list[Event]],
                                     httpserver: HTTPServer) -> None:
    destination = make_webhook()
    destination_filters.save(destination, {"sample_percent": 0})
    [event] = store({**ORDER, "messageId": "s-0"})

    row = _settled(event)
    assert (row.status, row.last_error) == ("filtered", "filtered: not in the destination's 0% sample")
    assert httpserver.log == []


# --- the API ---------------------------------------------------------------------------------------------


def _url(destination: Destination, tail: str = "") -> str:
    return f"/api/workspaces/{destination.workspace.slug}/destinations/{destination.id}/filters/{tail}"


def test_api_reads_the_defaults_then_saves(make_webhook: Callable[..., Destination], owner_api: APIClient) -> None:
    destination = make_webhook()
    assert owner_api.get(_url(destination)).json() == {"keep_if": "", "drop_if": "", "sample_percent": 100,
                                                       "fields_mode": "", "fields": []}
    wanted = {"keep_if": 'type = "track"', "drop_if": "", "sample_percent": 30, "fields_mode": "allow",
              "fields": ["properties.total"]}
    response = owner_api.put(_url(destination), wanted, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == wanted
    assert owner_api.get(_url(destination)).json() == wanted
    row = DestinationFilters.objects.get(destination=destination)
    assert (row.keep_if, row.sample_percent, row.fields) == ('type = "track"', 30, ["properties.total"])


@pytest.mark.parametrize(("body", "field"), [
    ({"keep_if": 'event = "A'}, "keep_if"),
    ({"sample_percent": 150}, "sample_percent"),
    ({"sample_percent": "lots"}, "sample_percent"),
    ({"fields_mode": "block", "fields": ["email"]}, "fields"),
    ({"fields": "properties.email"}, "fields"),
])
def test_api_rejects_bad_filters_with_our_error_shape(body: dict[str, Any], field: str,
                                                      make_webhook: Callable[..., Destination],
                                                      owner_api: APIClient) -> None:
    destination = make_webhook()
    response = owner_api.put(_url(destination), body, format="json")
    assert response.status_code == 400
    payload = response.json()
    assert payload["code"] == "invalid_request"
    assert payload["message"]
    assert field in payload["errors"]
    assert not DestinationFilters.objects.exists()


def test_api_preview_counts_what_would_be_dropped(make_webhook: Callable[..., Destination],
                                                  store: Callable[..., list[Event]], owner_api: APIClient) -> None:
    destination = make_webhook()
    store(*({**ORDER, "messageId": f"p-{i}", "event": "Test Event" if i % 4 == 0 else "Order Completed"}
            for i in range(20)))
    response = owner_api.post(_url(destination, "preview/"), {"drop_if": 'event = "Test Event"'}, format="json")
    assert response.status_code == 200, response.content
    result = response.json()
    assert (result["events"], result["dropped"], result["trimmed"]) == (20, 5, 0)
    assert result["reasons"] == [{"reason": "filtered: matches the destination's drop filter", "count": 5}]
    assert len(result["examples"]) == 5
    assert not DestinationFilters.objects.exists()  # a preview saves nothing


def test_the_openapi_schema_describes_the_filters_api(client: Any, db: Any) -> None:
    import yaml

    schema = yaml.safe_load(client.get("/api/schema/").content)
    filters = schema["paths"]["/api/workspaces/{slug}/destinations/{destination_id}/filters/"]
    assert {"get", "put"} <= set(filters)
    assert "post" in schema["paths"]["/api/workspaces/{slug}/destinations/{destination_id}/filters/preview/"]
    body = schema["components"]["schemas"]["DestinationFilters"]
    assert {"keep_if", "drop_if", "sample_percent", "fields_mode", "fields"} <= set(body["properties"])
    assert {"events", "dropped", "trimmed"} <= set(schema["components"]["schemas"]["DestinationFiltersPreview"]
                                                  ["properties"])


def test_django_admin_validates_filters_like_the_tab(admin_client: Any, make_webhook: Callable[..., Destination]) -> None:
    from django.urls import reverse

    destination = make_webhook()
    url = reverse("admin:destinations_destinationfilters_add")
    form = {"destination": destination.id, "keep_if": 'event = "A', "drop_if": "", "sample_percent": 100,
            "fields_mode": "", "fields": "[]"}
    response = admin_client.post(url, form)
    assert response.status_code == 200
    assert "column" in response.content.decode()
    assert not DestinationFilters.objects.exists()
    response = admin_client.post(url, {**form, "keep_if": 'type = "track"', "fields": '"properties.email"'})
    assert response.status_code == 200 and not DestinationFilters.objects.exists()  # fields must be a list
    response = admin_client.post(url, {**form, "keep_if": 'type = "track"', "fields_mode": "block",
                                       "fields": '["properties.email"]'})
    assert response.status_code == 302
    row = DestinationFilters.objects.get()
    assert (row.keep_if, row.fields) == ('type = "track"', ["properties.email"])
    assert admin_client.get(reverse("admin:destinations_destinationfilters_changelist")).status_code == 200
