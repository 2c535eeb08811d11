"""/v1/* takes a short way through Django (ingest.middleware.TrackingAPIShortcut), and tracking POSTs an
even shorter one in the served WSGI application (TrackingWSGIShortcut): what still applies there must
still hold, and the rest of the site keeps the full stack."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from ingest.models import Event

from .conftest import TrackingClient

TRACK = {"userId": "u-1", "event": "Signed Up", "messageId": "short-1"}


def test_tracking_requests_still_get_their_json_and_headers(api: TrackingClient) -> None:
    response = api.post("/v1/track", TRACK)
    assert response.status_code == 200 and response.json() == {"success": True}
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "Set-Cookie" not in response and "X-Frame-Options" not in response  # no session, no page
    assert Event.objects.filter(message_id="short-1").count() == 1


def test_an_unknown_host_is_refused_as_before(api: TrackingClient) -> None:
    response = api.post("/v1/track", TRACK, HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert response.json()["code"] == "bad_request" and response.json()["message"]  # JSON, as every /v1 error
    assert not Event.objects.filter(message_id="short-1").exists()


def test_unmatched_v1_paths_get_the_json_404(api: TrackingClient) -> None:
    response = api.post("/v1/nope", TRACK)
    assert response.status_code == 404
    assert set(response.json()) >= {"code", "message"}


def test_other_pages_keep_the_full_stack(db: Any) -> None:
    response = Client().get("/login/")
    assert response.status_code == 200
    assert response["X-Frame-Options"] == "DENY"  # from XFrameOptionsMiddleware, skipped only under /v1/
    assert "csrftoken" in response.cookies


def test_a_batch_is_stored_with_one_insert_statement(api: TrackingClient, monkeypatch: Any) -> None:
    """The hot-path rule: one INSERT per request, however many events it carries (no per-event query)."""
    import psycopg

    executed: list[str] = []
    original = psycopg.Cursor.execute

    def counting(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        executed.append(str(query))
        return original(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", counting)
    batch = [{"type": "track", "userId": f"u-{i}", "event": "Viewed", "messageId": f"one-insert-{i}"}
             for i in range(100)]
    response = api.post("/v1/batch", {"batch": batch})
    assert response.status_code == 200
    inserts = [q for q in executed if "INSERT INTO ingest_event" in q]
    assert len(inserts) == 1
    assert Event.objects.filter(message_id__startswith="one-insert-").count() == 100


# --- the WSGI-level shortcut (pipelines.wsgi.application, what granian and gunicorn serve) ---------------

@pytest.fixture
def wsgi(transactional_db: Any) -> Any:
    from werkzeug.test import Client as WSGIClient

    from pipelines.wsgi import application

    return WSGIClient(application)


def _basic(key: str) -> dict[str, str]:
    import base64

    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode(), "Host": "localhost"}


def test_the_served_application_stores_tracking_posts(wsgi: Any, source: Any) -> None:
    response = wsgi.post("/v1/track", json={**TRACK, "messageId": "wsgi-1"}, headers=_basic(source.write_key))
    assert response.status_code == 200 and response.get_json() == {"success": True}
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert Event.objects.filter(message_id="wsgi-1").count() == 1
    batch = wsgi.post("/v1/batch", json={"batch": [{**TRACK, "type": "track", "messageId": "wsgi-2"}]},
                      headers=_basic(source.write_key))
    assert batch.status_code == 200 and Event.objects.filter(message_id="wsgi-2").count() == 1


def test_the_served_application_keeps_every_refusal_json(wsgi: Any, source: Any) -> None:
    unknown = wsgi.post("/v1/track", json=TRACK, headers=_basic("nope"))
    assert unknown.status_code == 401 and unknown.get_json()["code"] == "unauthorized"
    invalid = wsgi.post("/v1/track", data=b"{not json", headers=_basic(source.write_key))
    assert invalid.status_code == 400 and invalid.get_json()["code"] == "invalid_json"
    evil = wsgi.post("/v1/track", json=TRACK, headers={**_basic(source.write_key), "Host": "evil.example"})
    assert evil.status_code == 400 and evil.get_json()["code"] == "bad_request"
    assert not Event.objects.exists()


def test_the_served_application_answers_a_crash_with_the_json_500(wsgi: Any, source: Any, monkeypatch: Any) -> None:
    from ingest import views

    def crash(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(views, "_accept", crash)
    response = wsgi.post("/v1/track", json=TRACK, headers=_basic(source.write_key))
    assert response.status_code == 500
    assert response.get_json() == {"code": "server_error", "message": "Something went wrong on our side; retry later."}
    assert "boom" not in response.get_data(as_text=True)


def test_the_served_application_hands_everything_else_to_django(wsgi: Any, source: Any) -> None:
    preflight = wsgi.options("/v1/track", headers={"Host": "localhost", "Origin": "https://shop.example",
                                                   "Access-Control-Request-Method": "POST"})
    assert preflight.status_code in (200, 204) and preflight.headers["Access-Control-Allow-Origin"]
    missing = wsgi.post("/v1/nope", json=TRACK, headers=_basic(source.write_key))
    assert missing.status_code == 404 and set(missing.get_json()) >= {"code", "message"}
    page = wsgi.get("/login/", headers={"Host": "localhost"})
    assert page.status_code == 200 and page.headers["X-Frame-Options"] == "DENY"
