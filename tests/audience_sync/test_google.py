"""Google Customer Match through the Data Manager API: the exact :ingest / :remove requests a local
stand-in receives (destinations, hashed identifiers, consent, encoding), the OAuth token exchange, 429
retried, 401 asking to reconnect, and an audience synced end to end into an existing list."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
import pytest
from pytest_httpserver import HTTPServer

from audience_sync import services
from connections import services as connection_services
from destinations.catalog import get_definition, google_customer_match
from destinations.errors import DeliveryError, PayloadError
from destinations.mapping import apply_fields
from destinations.models import Delivery, DeliveryExchange
from ingest.models import Event
from tests.helpers import wait_for

from .conftest import make_audience, set_plan

GOOGLE = get_definition("google_customer_match")
SETTINGS = {"customer_id": "123-456-7890", "refresh_token": "1//refresh-secret", "client_id": "client-1",
            "client_secret": "client-secret-value", "ad_user_data_consent": "CONSENT_GRANTED",
            "ad_personalization_consent": "CONSENT_DENIED", "phone_region": "GB"}


def h(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@pytest.fixture(autouse=True)
def google_at(settings: Any, httpserver: HTTPServer) -> None:
    settings.DESTINATION_ENDPOINTS = {"google_datamanager": httpserver.url_for("/"),
                                      "google_oauth": httpserver.url_for("/oauth")}
    google_customer_match._tokens.clear()
    httpserver.expect_request("/oauth/token", method="POST").respond_with_json(
        {"access_token": "ya29.access-token", "expires_in": 3599, "token_type": "Bearer"})


def _event(user_id: str, event: str = "Audience Entered", **traits: Any) -> dict[str, Any]:
    return {"type": "track", "event": event, "userId": user_id, "properties": {},
            "context": {"traits": traits, "personas": {"external_audience_id": "9876"}}}


def _mapped(action: str, event: dict[str, Any]) -> dict[str, Any]:
    a = GOOGLE.action(action)
    return apply_fields(a, a.default_mapping(), event)


def _requests(httpserver: HTTPServer, path: str) -> list[Any]:
    return [r for r, _ in httpserver.log if r.path == path]


def test_ingest_sends_hashed_members_with_consent_and_hex_encoding(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/v1/audienceMembers:ingest", method="POST").respond_with_json({"requestId": "r-1"})
    ada = _mapped("add_members", _event("u1", email=" Test.User+promo@GMAIL.com ", phone="020 7946 0958",
                                        first_name=" Ada ", last_name="Lovelace",
                                        address={"country": "gb", "postal_code": "SW1A 1AA"}))
    bad_phone = _mapped("add_members", _event("u2", email="bob@example.com", phone="+0000000000"))
    nothing = _mapped("add_members", _event("u3", phone="12"))
    result = GOOGLE.action("add_members").perform_batch(SETTINGS, [ada, bad_phone, nothing])
    (token,) = _requests(httpserver, "/oauth/token")
    assert token.form.to_dict() == {"grant_type": "refresh_token", "refresh_token": "1//refresh-secret",
                                    "client_id": "client-1", "client_secret": "client-secret-value"}
    (request,) = _requests(httpserver, "/v1/audienceMembers:ingest")
    assert request.headers["Authorization"] == "Bearer ya29.access-token"
    assert orjson.loads(request.get_data()) == {
        "destinations": [{"operatingAccount": {"accountType": "GOOGLE_ADS", "accountId": "1234567890"},
                          "productDestinationId": "9876"}],
        "audienceMembers": [
            {"userData": {"userIdentifiers": [
                {"emailAddress": h("testuser@gmail.com")}, {"phoneNumber": h("+442079460958")},
                {"address": {"givenName": h("ada"), "familyName": h("lovelace"), "regionCode": "GB",
                             "postalCode": "SW1A 1AA"}}]}},
            {"userData": {"userIdentifiers": [{"emailAddress": h("bob@example.com")}]}},  # bad phone dropped
        ],
        "consent": {"adUserData": "CONSENT_GRANTED", "adPersonalization": "CONSENT_DENIED"},
        "encoding": "HEX", "validateOnly": False,
    }
    assert set(result.item_errors) == {2} and isinstance(result.item_errors[2], PayloadError)
    recorded = str(result.exchange.as_record())
    assert "ya29.access-token" not in recorded and "refresh-secret" not in recorded


def test_remove_goes_to_remove_without_consent(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/v1/audienceMembers:remove", method="POST").respond_with_json({"requestId": "r-2"})
    GOOGLE.action("remove_members").perform(SETTINGS, _mapped("remove_members", _event(
        "u1", "Audience Exited", email=h("ada@example.com"))))
    body = orjson.loads(_requests(httpserver, "/v1/audienceMembers:remove")[0].get_data())
    assert "consent" not in body and body["encoding"] == "HEX"
    assert body["audienceMembers"] == [{"userData": {"userIdentifiers": [{"emailAddress": h("ada@example.com")}]}}]


def test_rate_limit_is_retried_and_401_asks_to_reconnect(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/v1/audienceMembers:ingest").respond_with_json(
        {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "Quota exceeded"}}, status=429,
        headers={"Retry-After": "30"})
    httpserver.expect_ordered_request("/v1/audienceMembers:ingest").respond_with_json(
        {"error": {"code": 401, "status": "UNAUTHENTICATED", "message": "Invalid credentials"}}, status=401)
    payload = _mapped("add_members", _event("u1", email="a@example.com"))
    bare = {"customer_id": "1234567890", "access_token": "ya29.given"}  # no token exchange in between
    with pytest.raises(DeliveryError) as limited:
        GOOGLE.action("add_members").perform(bare, payload)
    assert limited.value.retryable and limited.value.status == 429 and limited.value.retry_after == 30
    with pytest.raises(DeliveryError) as refused:
        GOOGLE.action("add_members").perform(bare, payload)
    assert not refused.value.retryable and "reconnect" in refused.value.message


def test_batches_credentials_test_and_settings(httpserver: HTTPServer) -> None:
    assert GOOGLE.action("add_members").batch_size <= 10_000
    with pytest.raises(PayloadError):
        GOOGLE.action("add_members").perform_batch(SETTINGS, [{"external_audience_id": "1"}] * 10_001)
    httpserver.expect_request("/oauth/tokeninfo").respond_with_json(
        {"scope": "https://www.googleapis.com/auth/datamanager", "expires_in": 3500})
    assert GOOGLE.check_credentials(SETTINGS)[0] is True
    assert _requests(httpserver, "/oauth/tokeninfo")[0].args["access_token"] == "ya29.access-token"
    errors = GOOGLE.validate({"customer_id": "12-34", "phone_region": "US"})
    assert set(errors) == {"customer_id", "refresh_token"}


@pytest.mark.usefixtures("celery_worker")
def test_an_audience_fills_an_existing_list_and_removes_on_exit(
        workspace: Any, person: Any, owner_api: Any, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/v1/audienceMembers:ingest").respond_with_json({"requestId": "r-1"})
    httpserver.expect_request("/v1/audienceMembers:remove").respond_with_json({"requestId": "r-2"})
    ada = person(user_id="user-ada", email="Ada.Lovelace@gmail.com", plan="pro")
    audience = make_audience(workspace, worker=True)
    google = connection_services.create_destination(workspace, name="Google Ads", kind="google_customer_match",
                                                    settings=SETTINGS)
    url = f"/api/workspaces/{workspace.slug}/audiences/{audience.pk}/destinations/"
    missing = owner_api.post(url, {"destination_id": google.pk}, format="json")
    assert missing.status_code == 400 and missing.json()["message"].startswith("external_audience_id")
    response = owner_api.post(url, {"destination_id": google.pk, "external_audience_id": "9876"}, format="json")
    assert response.status_code == 201 and response.json()["interval_minutes"] == 360  # Google: every 6 h
    (ingest,) = wait_for(lambda: _requests(httpserver, "/v1/audienceMembers:ingest"), what="the ingest")
    body = orjson.loads(ingest.get_data())
    assert body["destinations"][0]["productDestinationId"] == "9876"
    assert body["audienceMembers"] == [{"userData": {"userIdentifiers": [{"emailAddress": h("adalovelace@gmail.com")}]}}]
    set_plan(ada, "free")
    link = google.audience_links.get()
    services.sync(link.pk)
    wait_for(lambda: _requests(httpserver, "/v1/audienceMembers:remove"), what="the remove")
    wait_for(lambda: Delivery.objects.filter(event__source=link.source, status="delivered").count() == 2,
             what="both deliveries")
    stored = [orjson.dumps(e.payload).decode() for e in Event.objects.filter(source=link.source)]
    stored += [orjson.dumps([x.request, x.response]).decode() for x in DeliveryExchange.objects.all()]
    assert not any("lovelace@gmail.com" in s.lower() for s in stored)
