"""Identify traits sent only in `context.traits` (what rudder-sdk-python 2 sends) reach destinations
through the default mappings: the identify goes in through /v1, fans out on a real worker, and the local
servers (Mixpanel, Customer.io) and the warehouse show the traits."""

from __future__ import annotations

import base64
import json
from typing import Any

import orjson
import pytest
from django.test import Client
from pytest_httpserver import HTTPServer

from connections import services
from connections.models import Source
from destinations.catalog import get_definition
from destinations.mapping import apply_fields, event_person_traits
from destinations.models import Delivery
from pipelines.models import Workspace
from tests.helpers import wait_for

from .conftest import body, query, received

pytestmark = pytest.mark.usefixtures("celery_worker")

TRAITS = {"email": "ada@example.com", "first_name": "Ada", "plan": "pro"}
# The body rudder-sdk-python 2.x sends for identify(user_id="u-ctx", traits=TRAITS): no top-level traits.
IDENTIFY = {"type": "identify", "userId": "u-ctx", "messageId": "ctx-traits-1",
            "context": {"traits": TRAITS, "library": {"name": "analytics-python", "version": "2.1.9"}},
            "timestamp": "2026-01-05T10:00:00.000+00:00", "integrations": {"All": True}, "channel": "server"}


@pytest.fixture
def source(workspace: Workspace) -> Source:
    return services.create_source(workspace, name="Backend", kind="python")[0]


def _send(source: Source, message: dict[str, Any]) -> None:
    auth = "Basic " + base64.b64encode(f"{source.write_key}:".encode()).decode()
    response = Client().post("/v1/batch", orjson.dumps({"batch": [message]}), content_type="application/json",
                             HTTP_AUTHORIZATION=auth)
    assert response.status_code == 200, response.content


def _delivered(n: int) -> list[Delivery]:
    def ready() -> list[Delivery] | None:
        rows = list(Delivery.objects.all())
        return rows if len(rows) == n and all(r.status == "delivered" for r in rows) else None

    return wait_for(ready, what=f"{n} delivered rows")


def test_mixpanel_and_customerio_receive_context_traits(settings: Any, workspace: Workspace, source: Source,
                                                         httpserver: HTTPServer) -> None:
    settings.DESTINATION_ENDPOINTS = {"mixpanel": httpserver.url_for("/mp"),
                                      "customerio": httpserver.url_for("/cio")}
    httpserver.expect_request("/mp/engage").respond_with_json({"status": 1, "error": None})
    httpserver.expect_request("/mp/track").respond_with_json({"status": 1, "error": None})
    httpserver.expect_request("/cio/api/v2/batch").respond_with_json({})
    httpserver.expect_request("/cio/api/v2/entity").respond_with_json({})
    services.create_destination(workspace, name="Mixpanel", kind="mixpanel", sources=[source],
                                settings={"project_token": "abc123token", "api_secret": "mp-secret-value"})
    services.create_destination(workspace, name="Customer.io", kind="customerio", sources=[source],
                                settings={"site_id": "site-1", "api_key": "key-1", "region": "us"})
    _send(source, IDENTIFY)
    _delivered(2)

    [engage] = [r for r in received(httpserver) if r.path == "/mp/engage"]
    [update] = body(engage)
    assert update["$distinct_id"] == "u-ctx"
    assert update["$set"] == {"$email": "ada@example.com", "$first_name": "Ada", "plan": "pro"}

    [cio] = [r for r in received(httpserver) if r.path.startswith("/cio/")]
    sent = json.loads(cio.get_data())
    operation = sent["batch"][0] if "batch" in sent else sent
    assert operation["identifiers"] == {"id": "u-ctx"}
    assert operation["attributes"]["email"] == "ada@example.com"
    assert operation["attributes"]["first_name"] == "Ada"
    assert operation["attributes"]["plan"] == "pro"


def test_warehouse_identifies_and_users_get_context_traits(workspace: Workspace, source: Source,
                                                           warehouse: str) -> None:
    services.create_destination(workspace, name="Warehouse", kind="postgres", sources=[source],
                                settings={"connection_url": warehouse, "schema": "backend"})
    _send(source, IDENTIFY)
    _delivered(1)
    assert query(warehouse, "SELECT email, first_name, plan FROM backend.identifies") == [("ada@example.com", "Ada",
                                                                                          "pro")]
    assert query(warehouse, "SELECT id, email FROM backend.users") == [("u-ctx", "ada@example.com")]


def test_top_level_traits_win_over_context_traits() -> None:
    event = {**IDENTIFY, "traits": {"email": "top@example.com"}}
    action = get_definition("mixpanel").action("identify_user")
    assert apply_fields(action, action.default_mapping(), event)["traits"] == {"email": "top@example.com"}
    assert event_person_traits(event) == {"email": "top@example.com"}


def test_group_traits_do_not_fall_back_to_the_users_context_traits() -> None:
    # context.traits describe the user; the group's own traits are the only group properties.
    event = {"type": "group", "userId": "u-ctx", "groupId": "acme", "context": {"traits": TRAITS}}
    action = get_definition("mixpanel").action("group_identify_user")
    assert "traits" not in apply_fields(action, action.default_mapping(), event)
