"""The deletion runs as a Celery task through the real broker, and is forwarded to destinations that can
delete a person: Customer.io receives a v2 person delete; a webhook receives nothing."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest
from pytest_httpserver import HTTPServer

from connections import services as connection_services
from destinations.catalog import get_definition
from ingest.models import Event
from pipelines.models import Workspace
from privacy.models import PrivacyRequest
from tests.helpers import wait_for

SITE_ID, API_KEY = "site-7f3a", "key-9c1e55aa0b"
BASIC_AUTH = "Basic " + base64.b64encode(f"{SITE_ID}:{API_KEY}".encode()).decode()


# Not connected to any source: what the server receives is the deletion only, never an event's delivery.
@pytest.fixture
def customerio(workspace: Workspace, httpserver: HTTPServer, settings: Any) -> Any:
    settings.DESTINATION_ENDPOINTS = {"customerio": httpserver.url_for("/cio").rstrip("/")}
    return connection_services.create_destination(workspace, name="Customer.io", kind="customerio",
                                                  settings={"site_id": SITE_ID, "api_key": API_KEY})


@pytest.fixture
def unconnected_webhook(workspace: Workspace, httpserver: HTTPServer) -> Any:
    return connection_services.create_destination(workspace, name="Hook", kind="webhook",
                                                  settings={"url": httpserver.url_for("/hook")})


def _finished(request_id: int) -> PrivacyRequest | None:
    return PrivacyRequest.objects.filter(id=request_id, status__in=["done", "failed"]).first()


@pytest.mark.usefixtures("celery_worker")
def test_the_deletion_runs_in_a_worker_and_reaches_customerio(
        owner_api: Any, customerio: Any, unconnected_webhook: Any, httpserver: HTTPServer, store: Any,
        settings: Any) -> None:
    settings.PRIVACY_SUPPRESSION_CACHE_SECONDS = 0  # the final pass follows at once
    httpserver.expect_request("/cio/api/v2/entity", method="POST").respond_with_json({})
    hers = store({"userId": "u-42", "event": "Order Completed"})

    response = owner_api.post("/api/workspaces/acme/privacy/delete/",
                              {"user_id": "u-42", "email": "ada@example.com"}, format="json")

    assert response.status_code == 202
    done = wait_for(lambda: _finished(response.json()["id"]), what="the deletion task")
    assert done.status == "done", done.error
    assert not Event.objects.filter(id=hers[0].id).exists()
    deletes = [r for r, _ in httpserver.log if r.path == "/cio/api/v2/entity"]
    assert len(deletes) == 1
    assert deletes[0].headers["Authorization"] == BASIC_AUTH
    assert orjson.loads(deletes[0].get_data()) == {"type": "person", "identifiers": {"id": "u-42"}, "action": "delete"}
    assert [r.path for r, _ in httpserver.log] == ["/cio/api/v2/entity"]  # a webhook has no deletion hook
    assert done.forwards == [{"destination_id": customerio.id, "destination": "Customer.io", "kind": "customerio",
                              "status": "ok", "status_code": 200, "error": "", "attempts": 1, "retryable": False}]
    assert API_KEY not in str(done.forwards)


def test_a_person_known_by_email_only_is_deleted_by_email(httpserver: HTTPServer, settings: Any) -> None:
    settings.DESTINATION_ENDPOINTS = {"customerio": httpserver.url_for("/").rstrip("/")}
    httpserver.expect_request("/api/v2/entity", method="POST").respond_with_json({})
    exchange = get_definition("customerio").delete_person({"site_id": SITE_ID, "api_key": API_KEY},
                                                          {"email": "ada@example.com", "anonymous_id": "a-1"})
    assert exchange is not None and exchange.status == 200
    assert orjson.loads(httpserver.log[0][0].get_data())["identifiers"] == {"email": "ada@example.com"}


def test_an_anonymous_only_person_sends_nothing_to_customerio(httpserver: HTTPServer, settings: Any) -> None:
    settings.DESTINATION_ENDPOINTS = {"customerio": httpserver.url_for("/").rstrip("/")}
    assert get_definition("customerio").delete_person({"site_id": SITE_ID, "api_key": API_KEY},
                                                      {"anonymous_id": "a-1"}) is None
    assert httpserver.log == []


def test_a_refused_forward_is_recorded_as_failed(owner_api: Any, customerio: Any, httpserver: HTTPServer) -> None:
    from privacy import services

    httpserver.expect_request("/cio/api/v2/entity").respond_with_json({"meta": {"errors": ["bad"]}}, status=401)
    request = services.run_deletion(owner_api.post("/api/workspaces/acme/privacy/delete/", {"user_id": "u-42"},
                                                   format="json").json()["id"])
    assert request is not None and request.status == "done"
    [forward] = request.forwards
    assert forward["status"] == "failed" and forward["status_code"] == 401
    assert "credentials" in forward["error"] and forward["retryable"] is False


def test_a_forward_that_failed_retryably_is_sent_again(owner_api: Any, customerio: Any, httpserver: HTTPServer) -> None:
    from privacy import services

    httpserver.expect_ordered_request("/cio/api/v2/entity").respond_with_data("busy", status=503)
    httpserver.expect_ordered_request("/cio/api/v2/entity").respond_with_json({})
    request = services.run_deletion(owner_api.post("/api/workspaces/acme/privacy/delete/", {"user_id": "u-42"},
                                                   format="json").json()["id"])
    assert request is not None
    [first] = request.forwards
    assert first["status"] == "failed" and first["status_code"] == 503 and first["retryable"] is True

    retried = services.retry_forwards(request.id, 1)  # what the scheduled task runs

    assert retried is not None
    [forward] = retried.forwards
    assert forward["status"] == "ok" and forward["attempts"] == 2
    assert [r.path for r, _ in httpserver.log] == ["/cio/api/v2/entity"] * 2
    assert services.retry_forwards(request.id, 2).forwards == [forward]  # nothing left to send
    assert len(httpserver.log) == 2


def test_only_customerio_declares_a_deletion_hook() -> None:
    from destinations.catalog import all_definitions

    assert {d.key for d in all_definitions() if d.delete_person is not None} == {"customerio"}
    assert get_definition("customerio").to_dict()["supports_deletion"] is True


@pytest.mark.usefixtures("celery_worker")
def test_a_deletion_whose_task_was_lost_is_run_by_the_sweep(owner: Any, workspace: Workspace, store: Any) -> None:
    from django.utils import timezone

    from privacy import services

    hers = store({"userId": "u-42"})
    # recorded, but its task never reached the broker (as when the broker was down)
    request = PrivacyRequest.objects.create(workspace=workspace, kind="delete", user_id="u-42", requested_by=owner)
    PrivacyRequest.objects.filter(id=request.id).update(created_at=timezone.now() - timezone.timedelta(minutes=6))
    fresh = PrivacyRequest.objects.create(workspace=workspace, kind="delete", user_id="u-9", requested_by=owner)

    assert services.sweep_pending() == 1  # not the fresh one: its task may just be waiting in the queue

    done = wait_for(lambda: _finished(request.id), what="the swept deletion")
    assert done.status == "done" and done.deleted == {"ingest.Event": 1}
    assert not Event.objects.filter(id=hers[0].id).exists()
    assert PrivacyRequest.objects.get(id=fresh.id).status == "pending"
