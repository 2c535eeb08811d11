"""/v1/* takes a short way through Django (ingest.middleware.TrackingAPIShortcut): what still applies
there must still hold, and the rest of the site keeps the full middleware stack."""

from __future__ import annotations

from typing import Any

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
