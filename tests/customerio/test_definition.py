"""The catalog entry itself: settings, regions and the credentials check."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from destinations.catalog import get_definition
from destinations.catalog.customerio.transport import base_url
from destinations.errors import SettingsError

from .conftest import API_KEY, BASIC_AUTH, SITE_ID, received

CIO = get_definition("customerio")
ADDED_BY_DEFAULT = {"create_update_person", "create_update_object", "create_update_device", "delete_device",
                    "track_event", "track_page_view", "track_screen_view"}


def test_entry_declares_its_settings_and_actions():
    assert CIO.mode == "cloud" and CIO.secret_keys() == {"api_key"}
    assert {a.key for a in CIO.actions if a.default_enabled} == ADDED_BY_DEFAULT
    assert {a.key for a in CIO.actions if not a.default_enabled} == {
        "delete_person", "suppress_person", "unsuppress_person", "merge_people", "delete_object",
        "delete_relationship", "report_delivery_event"}
    for action in CIO.actions:
        assert action.perform_batch is not None and action.batch_size == 50
        assert action.title and action.description and action.default_trigger


def test_settings_default_to_the_us_region_converting_timestamps_in_batches_of_50():
    assert CIO.clean_settings({"site_id": "s", "api_key": "k"}) == {
        "site_id": "s", "api_key": "k", "region": "us", "convert_timestamps": True, "batch_size": 50}


@pytest.mark.parametrize(("values", "field"), [
    ({"api_key": "k"}, "site_id"),
    ({"site_id": "s"}, "api_key"),
    ({"site_id": "s", "api_key": "k", "region": "asia"}, "region"),
    ({"site_id": "s", "api_key": "k", "batch_size": 101}, "batch_size"),
    ({"site_id": "s", "api_key": "k", "batch_size": 0}, "batch_size"),
])
def test_bad_settings_are_refused_by_field(values: dict[str, Any], field: str):
    with pytest.raises(SettingsError) as caught:
        CIO.clean_settings(values)
    assert field in caught.value.errors


def test_region_chooses_the_track_api_host(settings: Any):
    settings.DESTINATION_ENDPOINTS = {}
    assert base_url({"region": "us"}) == "https://track.customer.io"
    assert base_url({"region": "eu"}) == "https://track-eu.customer.io"
    settings.DESTINATION_ENDPOINTS = {"customerio": "http://127.0.0.1:9000/"}
    assert base_url({"region": "eu"}) == "http://127.0.0.1:9000"


def test_credentials_check_reports_the_region(track_api: HTTPServer, cio_settings):
    track_api.expect_request("/api/v1/accounts/region", method="GET").respond_with_json(
        {"url": "https://track.customer.io", "region": "us", "environment_id": 3})
    assert CIO.check_credentials(cio_settings) == (True, "Connected to Customer.io (US region).")
    [request] = received(track_api)
    assert (request["method"], request["path"], request["auth"]) == ("GET", "/api/v1/accounts/region", BASIC_AUTH)
    assert base64.b64decode(request["auth"].split()[1]).decode() == f"{SITE_ID}:{API_KEY}"


def test_credentials_check_with_bad_credentials(track_api: HTTPServer, cio_settings):
    track_api.expect_request("/api/v1/accounts/region").respond_with_data("Unauthorized", status=401)
    assert CIO.check_credentials(cio_settings) == (False, "Invalid Site ID or API key")


def test_credentials_check_points_out_a_region_mismatch(track_api: HTTPServer, cio_settings):
    track_api.expect_request("/api/v1/accounts/region").respond_with_json(
        {"url": "https://track-eu.customer.io", "region": "eu", "environment_id": 3})
    ok, message = CIO.check_credentials(cio_settings)
    assert not ok and "EU region" in message and "change Account Region to EU" in message


def test_credentials_check_reports_other_answers(track_api: HTTPServer, cio_settings):
    track_api.expect_request("/api/v1/accounts/region").respond_with_data("down", status=503)
    assert CIO.check_credentials(cio_settings) == (False, "Customer.io answered HTTP 503 to the credentials check.")
