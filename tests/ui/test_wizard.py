"""The Add Destination wizard: every step, its guards, its form errors and the credentials test."""

from __future__ import annotations

from typing import Any

from django.test import Client
from pytest_httpserver import HTTPServer

from connections.models import Action, Connection, Destination, Source
from destinations.catalog.base import DestinationDefinition

BASE = "/w/acme/destinations/new"


def test_select_step_lists_the_catalog_with_mode_and_description(owner_client: Client) -> None:
    response = owner_client.get(f"{BASE}/select/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "Webhook" in body and "Cloud mode" in body
    assert "Send events as JSON to any HTTP endpoint you run." in body
    assert 'aria-current="step"' in body


def test_select_step_search_works_without_javascript(owner_client: Client) -> None:
    assert "Webhook" in owner_client.get(f"{BASE}/select/?q=webh").content.decode()
    body = owner_client.get(f"{BASE}/select/?q=nothing-matches-this").content.decode()
    assert 'name="kind" value="webhook"' not in body
    assert "No destination matches your search." in body


def test_select_step_rejects_an_unknown_type(owner_client: Client) -> None:
    response = owner_client.post(f"{BASE}/select/", {"kind": "nope"})
    assert response.status_code == 400
    assert "Choose a destination from the catalog." in response.content.decode()


def test_steps_after_select_send_the_user_back_without_a_choice(owner_client: Client, js_source: Source) -> None:
    for step in ("sources", "configure", "review"):
        response = owner_client.get(f"{BASE}/{step}/")
        assert response.status_code == 302 and response["Location"] == f"{BASE}/select/"


def test_review_sends_the_user_back_to_configure_until_configured(owner_client: Client, js_source: Source) -> None:
    owner_client.post(f"{BASE}/select/", {"kind": "webhook"})
    response = owner_client.get(f"{BASE}/review/")
    assert response.status_code == 302 and response["Location"] == f"{BASE}/configure/"


def test_sources_step_is_skipped_when_the_workspace_has_no_sources(owner_client: Client) -> None:
    response = owner_client.post(f"{BASE}/select/", {"kind": "webhook"})
    assert response["Location"] == f"{BASE}/sources/"
    response = owner_client.get(f"{BASE}/sources/")
    assert response.status_code == 302 and response["Location"] == f"{BASE}/configure/"
    # and Back from Configure skips it too
    assert f'href="{BASE}/select/"' in owner_client.get(f"{BASE}/configure/").content.decode()


def test_whole_wizard_creates_an_enabled_destination_with_default_actions(
    owner_client: Client, js_source: Source, server_source: Source, settings: Any
) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = True
    assert owner_client.post(f"{BASE}/select/", {"kind": "webhook"})["Location"] == f"{BASE}/sources/"
    page = owner_client.get(f"{BASE}/sources/").content.decode()
    assert "Production Javascript" in page and "Backend" in page and "Back" in page and "Continue" in page
    response = owner_client.post(f"{BASE}/sources/", {"source_ids": [str(js_source.id)]})
    assert response["Location"] == f"{BASE}/configure/"
    page = owner_client.get(f"{BASE}/configure/").content.decode()
    assert 'type="password"' in page and "Webhook URL" in page and "Test connection" in page
    response = owner_client.post(f"{BASE}/configure/", {
        "name": "Orders hook", "url": "http://127.0.0.1:9999/in", "method": "PUT",
        "shared_secret": "top-secret-signing-key", "batch_size": "1",
    })
    assert response["Location"] == f"{BASE}/review/"
    review = owner_client.get(f"{BASE}/review/").content.decode()
    assert "Orders hook" in review and "Production Javascript" in review and "Enable Destination" in review
    assert "top-secret-signing-key" not in review  # secrets are masked on review
    # the secret is not in the session in clear either
    assert "top-secret-signing-key" not in str(dict(owner_client.session))

    response = owner_client.post(f"{BASE}/review/", follow=True)
    destination = Destination.objects.get(name="Orders hook")
    assert response.redirect_chain[-1][0] == f"/w/acme/destinations/{destination.id}/"
    assert "Orders hook is enabled" in response.content.decode()
    assert destination.enabled and destination.settings["method"] == "PUT"
    assert destination.settings["shared_secret"] == "top-secret-signing-key"
    assert list(Connection.objects.filter(destination=destination).values_list("source_id", flat=True)) == [js_source.id]
    assert list(Action.objects.filter(destination=destination).values_list("kind", flat=True)) == ["send"]
    # the wizard state is gone: starting again begins with an empty selection
    assert owner_client.get(f"{BASE}/review/")["Location"] == f"{BASE}/select/"


def test_configure_shows_errors_next_to_fields(owner_client: Client, settings: Any) -> None:
    owner_client.post(f"{BASE}/select/", {"kind": "webhook"})
    response = owner_client.post(f"{BASE}/configure/", {"name": "x", "url": "", "batch_size": "many"})
    body = response.content.decode()
    assert response.status_code == 400
    assert "This field is required." in body and "Must be a number." in body
    response = owner_client.post(f"{BASE}/configure/", {"name": "x", "url": "ftp://example.com"})
    assert "Enter a URL starting with http:// or https://." in response.content.decode()


def test_configure_refuses_private_urls_unless_allowed(owner_client: Client, settings: Any) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = False
    owner_client.post(f"{BASE}/select/", {"kind": "webhook"})
    response = owner_client.post(f"{BASE}/configure/", {"name": "x", "url": "http://127.0.0.1:8000/x"})
    assert response.status_code == 400
    assert "url" in response.context["form"].errors


def test_test_connection_shows_the_result_inline(owner_client: Client, httpserver: HTTPServer, settings: Any) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = True
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok", status=200)
    owner_client.post(f"{BASE}/select/", {"kind": "webhook"})
    response = owner_client.post(f"{BASE}/configure/", {
        "name": "Hook", "url": httpserver.url_for("/hook"), "method": "POST", "op": "test",
    })
    assert response.status_code == 200
    assert "The endpoint answered HTTP 200." in response.content.decode()
    assert len(httpserver.log) == 1
    # the enhanced (fetch) variant answers JSON
    response = owner_client.post(f"{BASE}/configure/", {
        "name": "Hook", "url": httpserver.url_for("/hook"), "method": "POST", "op": "test",
    }, HTTP_X_REQUESTED_WITH="fetch")
    assert response.json()["ok"] is True


def test_test_connection_reports_a_failing_endpoint(owner_client: Client, httpserver: HTTPServer, settings: Any) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = True
    httpserver.expect_request("/hook").respond_with_data("denied", status=403)
    owner_client.post(f"{BASE}/select/", {"kind": "webhook"})
    response = owner_client.post(f"{BASE}/configure/", {"name": "Hook", "url": httpserver.url_for("/hook"),
                                                        "op": "test"}, HTTP_X_REQUESTED_WITH="fetch")
    assert response.json()["ok"] is False and "403" in response.json()["message"]


def test_direct_mode_destination_disables_server_sources_with_the_reason(
    owner_client: Client, js_source: Source, server_source: Source, direct_type: DestinationDefinition
) -> None:
    owner_client.post(f"{BASE}/select/", {"kind": "browserpixel"})
    body = owner_client.get(f"{BASE}/sources/").content.decode()
    assert "Server libraries can&#x27;t send data directly to direct-mode destinations" in body
    assert f'value="{server_source.id}" id="src-{server_source.id}"  disabled' in body
    # a forged POST of the ineligible source is refused, not stored
    response = owner_client.post(f"{BASE}/sources/", {"source_ids": [str(server_source.id)]})
    assert response.status_code == 400


def test_cancel_clears_the_wizard(owner_client: Client) -> None:
    owner_client.post(f"{BASE}/select/", {"kind": "webhook"})
    response = owner_client.post(f"{BASE}/cancel/")
    assert response["Location"] == "/w/acme/connections/"
    assert owner_client.get(f"{BASE}/configure/")["Location"] == f"{BASE}/select/"


def test_unknown_step_is_404(owner_client: Client) -> None:
    assert owner_client.get(f"{BASE}/bogus/").status_code == 404


def test_configure_reports_every_wrong_field_in_one_submit_with_a_linked_summary(
    owner_client: Client, settings: Any
) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = True
    owner_client.post(f"{BASE}/select/", {"kind": "webhook"})
    response = owner_client.post(f"{BASE}/configure/", {
        "name": "", "url": "ftp://example.com/in", "headers": "not a header line", "batch_size": "0",
    })
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert set(errors) == {"name", "url", "headers", "batch_size"}, errors
    body = response.content.decode()
    assert "There are 4 problems" in body
    for field in ("name", "url", "headers", "batch_size"):
        assert f'<a href="#id_{field}" data-error-link="id_{field}">' in body
    assert "Webhook URL: Enter a URL starting with http:// or https://." in body
    assert "Batch size: Between 1 (one request per event) and" in body


def test_test_connection_answers_the_current_field_errors(owner_client: Client, settings: Any) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = True
    owner_client.post(f"{BASE}/select/", {"kind": "webhook"})
    answer = owner_client.post(f"{BASE}/configure/", {"name": "Hook", "url": "ftp://example.com/in", "op": "test"},
                               HTTP_X_REQUESTED_WITH="fetch").json()
    assert answer["ok"] is False and list(answer["errors"]) == ["url"]
    assert answer["errors"]["url"][0]["message"] == "Enter a URL starting with http:// or https://."
    answer = owner_client.post(f"{BASE}/configure/", {"name": "", "url": "http://127.0.0.1:9/in", "op": "test"},
                               HTTP_X_REQUESTED_WITH="fetch").json()
    assert list(answer["errors"]) == ["name"]  # the URL's old error is gone


def test_a_failed_test_connection_points_at_the_setting_it_failed_on(
    owner_client: Client, httpserver: HTTPServer, settings: Any
) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = True
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    owner_client.post(f"{BASE}/select/", {"kind": "webhook"})
    answer = owner_client.post(f"{BASE}/configure/", {"name": "Hook", "url": f"http://127.0.0.1:{port}/in",
                                                      "op": "test"}, HTTP_X_REQUESTED_WITH="fetch").json()
    assert answer["ok"] is False and list(answer["errors"]) == ["url"]
    assert answer["errors"]["url"][0]["message"].startswith("Connection error: Connection refused by 127.0.0.1")
    # Customer.io refusing the key points at the API key
    httpserver.expect_request("/api/v1/accounts/region").respond_with_data("Unauthorized", status=401)
    settings.DESTINATION_ENDPOINTS = {"customerio": httpserver.url_for("").rstrip("/")}
    owner_client.post(f"{BASE}/select/", {"kind": "customerio"})
    answer = owner_client.post(f"{BASE}/configure/", {"name": "CIO", "site_id": "s-1", "api_key": "wrong-key-1",
                                                      "region": "us", "op": "test"},
                               HTTP_X_REQUESTED_WITH="fetch").json()
    assert answer["message"] == "Invalid Site ID or API key" and list(answer["errors"]) == ["api_key"]
