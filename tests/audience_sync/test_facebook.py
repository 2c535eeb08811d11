"""Facebook Custom Audiences: the exact Marketing API requests a local stand-in receives (schema, hashed
rows, session, POST to add and DELETE to remove, batch limit), errors classified, and an audience synced
end to end (the audience created at Meta on first connect; no raw identifier stored anywhere)."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
import pytest
from pytest_httpserver import HTTPServer

from audience_sync import services
from audience_sync.models import AudienceDestination
from connections import services as connection_services
from destinations.catalog import get_definition
from destinations.errors import DeliveryError, PayloadError
from destinations.mapping import apply_fields
from destinations.models import Delivery, DeliveryExchange
from ingest.models import Event
from tests.helpers import wait_for

from .conftest import make_audience, set_plan

FB = get_definition("facebook_custom_audiences")
SETTINGS = {"ad_account_id": "act_1234567890", "access_token": "EAAB-secret-token", "phone_region": "GB",
            "api_version": "v24.0"}
SCHEMA = ["EXTERN_ID", "EMAIL", "PHONE", "FN", "LN", "CT", "ST", "ZIP", "COUNTRY", "MADID"]
USERS_ANSWER = {"audience_id": "6001", "session_id": 1, "num_received": 2, "num_invalid_entries": 0,
                "invalid_entry_samples": {}}


def h(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@pytest.fixture(autouse=True)
def meta_at(settings: Any, httpserver: HTTPServer) -> None:
    settings.DESTINATION_ENDPOINTS = {"facebook": httpserver.url_for("/")}


def _event(user_id: str, event: str = "Audience Entered", **traits: Any) -> dict[str, Any]:
    return {"type": "track", "event": event, "userId": user_id, "messageId": f"m-{user_id}",
            "properties": {"audience_key": "cart"},
            "context": {"traits": traits, "personas": {"external_audience_id": "6001"}}}


def _mapped(action: str, event: dict[str, Any]) -> dict[str, Any]:
    a = FB.action(action)
    return apply_fields(a, a.default_mapping(), event)


def _requests(httpserver: HTTPServer, path: str) -> list[Any]:
    return [r for r, _ in httpserver.log if r.path == path]


def test_add_posts_the_multi_key_schema_with_hashed_rows_and_a_session(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/v24.0/6001/users", method="POST").respond_with_json(USERS_ANSWER)
    ada = _mapped("add_to_audience", _event("user-ada", email=" Ada@Example.com ", phone="020 7946 0958",
                                            first_name="Ada", last_name="Lovelace",
                                            address={"city": "London", "country": "GB", "postal_code": "SW1A 1AA"}))
    bob = _mapped("add_to_audience", _event("user-bob", email="bob@example.com", phone="+0000000000"))
    nobody = _mapped("add_to_audience", {**_event("x", email="not-an-email"), "userId": None})
    result = FB.action("add_to_audience").perform_batch(SETTINGS, [ada, bob, nobody])
    (request,) = _requests(httpserver, "/v24.0/6001/users")
    assert request.method == "POST"
    assert request.headers["Authorization"] == "Bearer EAAB-secret-token"
    body = orjson.loads(request.get_data())
    assert body["payload"]["schema"] == SCHEMA
    assert body["payload"]["data"] == [
        ["user-ada", h("ada@example.com"), h("442079460958"), h("ada"), h("lovelace"), h("london"), "",
         h("sw1a1aa"), h("gb"), ""],
        ["user-bob", h("bob@example.com"), "", "", "", "", "", "", "", ""],  # the invalid phone dropped, not sent
    ]
    session = body["session"]
    assert isinstance(session["session_id"], int) and session["session_id"] > 0
    assert (session["batch_seq"], session["last_batch_flag"], session["estimated_num_total"]) == (1, True, 2)
    assert set(result.item_errors) == {2} and isinstance(result.item_errors[2], PayloadError)
    assert "EAAB-secret-token" not in str(result.exchange.request_headers)
    assert result.exchange.json()["num_received"] == 2


def test_remove_is_a_delete_with_the_same_shape(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/v24.0/6001/users", method="DELETE").respond_with_json(USERS_ANSWER)
    FB.action("remove_from_audience").perform(SETTINGS, _mapped("remove_from_audience",
                                                                _event("user-ada", "Audience Exited")))
    (request,) = _requests(httpserver, "/v24.0/6001/users")
    assert request.method == "DELETE"
    assert orjson.loads(request.get_data())["payload"]["data"] == [["user-ada"] + [""] * 9]


def test_batches_hold_at_most_10000_people() -> None:
    assert FB.action("add_to_audience").batch_size <= 10_000
    with pytest.raises(PayloadError):
        FB.action("add_to_audience").perform_batch(SETTINGS, [{"external_audience_id": "1", "external_id": "u"}]
                                                   * 10_001)


def test_expired_token_asks_to_reconnect_and_rate_limits_retry(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/v24.0/6001/users").respond_with_json(
        {"error": {"message": "Error validating access token", "type": "OAuthException", "code": 190}}, status=400)
    httpserver.expect_ordered_request("/v24.0/6001/users").respond_with_json(
        {"error": {"message": "User request limit reached", "code": 80003}}, status=400)
    payload = _mapped("add_to_audience", _event("user-ada"))
    with pytest.raises(DeliveryError) as expired:
        FB.action("add_to_audience").perform(SETTINGS, payload)
    assert not expired.value.retryable and "reconnect" in expired.value.message
    with pytest.raises(DeliveryError) as limited:
        FB.action("add_to_audience").perform(SETTINGS, payload)
    assert limited.value.retryable and limited.value.retry_after >= 60


def test_credentials_test_reads_the_ad_account(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/v24.0/act_1234567890", query_string="fields=name").respond_with_json(
        {"name": "Shop ads", "id": "act_1234567890"})
    assert FB.check_credentials(SETTINGS) == (True, "Connected to the ad account Shop ads.")
    assert _requests(httpserver, "/v24.0/act_1234567890")[0].headers["Authorization"] == "Bearer EAAB-secret-token"
    errors = FB.validate({**SETTINGS, "ad_account_id": "my account", "phone_region": "Britain"})
    assert set(errors) == {"ad_account_id", "phone_region"}


@pytest.mark.usefixtures("celery_worker")
def test_an_audience_is_created_at_meta_backfilled_and_kept_in_sync(
        settings: Any, workspace: Any, person: Any, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/v24.0/act_1234567890/customaudiences", method="POST").respond_with_json(
        {"id": "6001"})
    httpserver.expect_request("/v24.0/6001/users").respond_with_json(USERS_ANSWER)
    ada = person(user_id="user-ada", email="Ada@Example.com", plan="pro", phone="+44 20 7946 0958",
                 first_name="Ada")
    person(anonymous_id="anon-bob", plan="pro", phone="12")  # nothing usable: an invalid phone, no userId
    audience = make_audience(workspace, worker=True)
    meta = connection_services.create_destination(workspace, name="Meta ads", kind="facebook_custom_audiences",
                                                  settings=SETTINGS)
    link = services.connect(audience, meta, interval_minutes=60)
    wait_for(lambda: _requests(httpserver, "/v24.0/6001/users"), what="the backfill request")
    (create,) = _requests(httpserver, "/v24.0/act_1234567890/customaudiences")
    assert orjson.loads(create.get_data()) == {
        "name": "Cart Abandoners", "subtype": "CUSTOM", "customer_file_source": "USER_PROVIDED_ONLY",
        "description": "Pipelines audience “cart-abandoners”, kept in sync by Pipelines."}
    (add,) = _requests(httpserver, "/v24.0/6001/users")
    assert add.method == "POST"
    assert orjson.loads(add.get_data())["payload"]["data"] == [
        ["user-ada", h("ada@example.com"), h("442079460958"), h("ada"), "", "", "", "", "", ""]]
    link.refresh_from_db()
    assert link.external_audience_id == "6001"
    assert (link.sent_adds, link.skipped, link.dropped) == (1, 1, {"phone": 1})

    set_plan(ada, "free")
    services.sync(link.pk)
    removes = wait_for(lambda: [r for r in _requests(httpserver, "/v24.0/6001/users") if r.method == "DELETE"],
                       what="the DELETE")
    assert orjson.loads(removes[0].get_data())["payload"]["data"][0][:2] == ["user-ada", h("ada@example.com")]
    wait_for(lambda: Delivery.objects.filter(event__source=link.source, status="delivered").count() == 2,
             what="both deliveries recorded")

    stored = [orjson.dumps(e.payload).decode() for e in Event.objects.filter(source=link.source)]
    stored += [orjson.dumps([x.request, x.response]).decode() for x in DeliveryExchange.objects.all()]
    stored += [orjson.dumps(d.payload).decode() for d in Delivery.objects.all()]
    assert stored and not any("ada@example.com" in s.lower() or "7946" in s for s in stored)
    assert not AudienceDestination.objects.filter(last_error__gt="").exists()


def test_an_exit_removes_the_hashes_that_were_added_even_after_changes_or_deletion(
        workspace: Any, person: Any) -> None:
    from audiences import services as audience_services
    from profiles.models import Identifier, Person

    ada = person(user_id="user-ada", email="ada@example.com", plan="pro")
    cy = person(user_id="user-cy", email="cy@example.com", plan="pro")
    audience = make_audience(workspace)
    meta = connection_services.create_destination(workspace, name="Meta ads", kind="facebook_custom_audiences",
                                                  settings=SETTINGS)
    link = services.connect(audience, meta, external_audience_id="6001")
    services.sync(link.pk)
    Identifier.objects.filter(person=ada, kind="email").update(value="ada.new@example.com")
    set_plan(ada, "free")
    Person.objects.filter(pk=cy.pk).delete()  # gone from the profile store: the next computation drops cy
    audience_services.compute(audience.pk, audience.generation)
    services.sync(link.pk)
    exits = {e.payload["userId"]: e.payload["context"]["traits"] for e in
             Event.objects.filter(source=link.source, payload__event="Audience Exited")}
    assert exits == {"user-ada": {"email": h("ada@example.com")}, "user-cy": {"email": h("cy@example.com")}}
    assert not link.sent_members.exists()  # nothing is kept once removed


def test_two_audiences_in_one_batch_go_to_their_own_audience(httpserver: HTTPServer) -> None:
    """"Cart abandoners" to target and "Purchased, last 7 days" to exclude, both on one Meta destination:
    the engine may hand both audiences' people to one call; each audience gets its own request."""
    httpserver.expect_request("/v24.0/6001/users").respond_with_json(USERS_ANSWER)
    httpserver.expect_request("/v24.0/7002/users").respond_with_json(USERS_ANSWER)
    cart = _mapped("add_to_audience", _event("user-ada", email="ada@example.com"))
    bought = _mapped("add_to_audience", {**_event("user-bob", email="bob@example.com"),
                                         "context": {"traits": {"email": "bob@example.com"},
                                                     "personas": {"external_audience_id": "7002"}}})
    result = FB.action("add_to_audience").perform_batch(SETTINGS, [cart, bought])
    assert result.item_errors == {}
    rows = {r.path: orjson.loads(r.get_data())["payload"]["data"] for r, _ in httpserver.log}
    assert rows == {"/v24.0/6001/users": [["user-ada", h("ada@example.com")] + [""] * 8],
                    "/v24.0/7002/users": [["user-bob", h("bob@example.com")] + [""] * 8]}
