"""Schema fuzzing with schemathesis, in process (WSGI transport), small example counts so it stays fast.

- Our management API, from the schema it serves at /api/schema/, called as a workspace owner (so the
  generated requests reach real objects, not only 404s).
- The tracking API, from Customer.io's own `customerio-pipelines-api.json` (the file in the shared
  reference folder), pointed at our /v1 routes with a real write key.

Whatever is generated: never a 5xx, and every 4xx is JSON with `code` and `message`.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import orjson
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from connections import services
from ingest import auth
from pipelines.wsgi import application

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
PIPELINES_SPEC = SHARED / "reference" / "openapi" / "customerio-pipelines-api.json"

FUZZ = settings(max_examples=12, deadline=None, derandomize=True,
                suppress_health_check=list(HealthCheck))


def _assert_clean_answer(response: Any, what: str) -> None:
    status = response.status_code
    assert status < 500, f"{what} → {status}: {response.text[:500]}"
    if status >= 400:
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise AssertionError(f"{what} → {status} with a non-JSON body: {response.text[:300]}") from None
        assert isinstance(body, dict) and body.get("code") and body.get("message"), (
            f"{what} → {status} without code/message: {response.text[:300]}")


@pytest.fixture(autouse=True)
def _keep_the_test_connection() -> Any:
    """Calling the WSGI app directly fires request_started/finished, which would close the database
    connection holding the test's transaction; Django's own test client unhooks the same handler."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


# --- Our management API ------------------------------------------------------------------------------


# Loaded when the module is imported (schemathesis's lazy fixture loader does not work with this pytest):
# the schema view needs no database.
management = schemathesis.openapi.from_wsgi("/api/schema/", application)


@pytest.fixture
def owner_world(owner: Any, workspace: Any) -> dict[str, str]:
    from rest_framework.authtoken.models import Token

    source, _ = services.create_source(workspace, name="Backend", kind="python")
    services.create_destination(workspace, name="Hook", kind="webhook", settings={"url": "https://8.8.8.8/h"},
                                sources=[source])
    return {"Authorization": f"Token {Token.objects.get_or_create(user=owner)[0].key}"}


@management.parametrize()
@FUZZ
def test_management_api_never_errors_and_rejects_with_code_and_message(case: Any, owner_world: dict[str, str],
                                                                       settings: Any, db: Any) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = False  # generated webhook URLs must never be called
    if "slug" in (case.path_parameters or {}):
        case.path_parameters["slug"] = "acme"
    response = case.call(app=application, headers=owner_world)
    _assert_clean_answer(response, f"{case.method} {case.formatted_path}")


# --- Customer.io's tracking API spec against our /v1 ---------------------------------------------------


tracking = schemathesis.openapi.from_path(PIPELINES_SPEC.resolve())


@pytest.fixture
def write_key(workspace: Any) -> str:
    auth.forget()
    source, _ = services.create_source(workspace, name="Fuzzed", kind="python")
    return source.write_key


@tracking.parametrize()
@FUZZ
def test_tracking_api_from_customerio_spec_never_errors(case: Any, write_key: str, db: Any) -> None:
    token = base64.b64encode(f"{write_key}:".encode()).decode()
    response = case.call(app=application, base_url="http://testserver/v1",
                         headers={"Authorization": f"Basic {token}"})
    _assert_clean_answer(response, f"{case.method} {case.formatted_path}")
    if response.status_code == 200:
        assert orjson.loads(response.content) == {"success": True}


# --- What the fuzzers found, pinned ----------------------------------------------------------------------


@pytest.mark.parametrize("event", [["Report Delivery Event"], {"name": "x"}])
def test_track_with_an_unhashable_event_and_no_user_is_a_400(client: Any, write_key: str, event: Any) -> None:
    token = base64.b64encode(f"{write_key}:".encode()).decode()
    response = client.post("/v1/track", orjson.dumps({"event": event}), content_type="application/json",
                           HTTP_AUTHORIZATION=f"Basic {token}")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"


@pytest.mark.parametrize("path", ["/api/workspaces/acme/destinations/null,null/actions/", "/api/nope/", "/v1/nope"])
def test_unmatched_api_urls_answer_json_404(client: Any, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found" and response.json()["message"]


def test_unmatched_page_urls_keep_the_html_404(client: Any) -> None:
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
