"""The events endpoint: newest first, filtered, paginated, scoped to the workspace."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connections import services
from ingest.models import Event

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _event(source, n, type_="track"):
    return Event.objects.create(
        workspace=source.workspace, source=source, message_id=f"msg-{source.id}-{n}", type=type_,
        payload={"type": type_, "messageId": f"msg-{source.id}-{n}"}, received_at=T0 + timedelta(seconds=n),
    )


def test_events_come_newest_first_and_page_by_cursor(owner_api, http_source):
    for n in range(5):
        _event(http_source, n)
    first = owner_api.get("/api/workspaces/acme/events/?limit=2").json()
    assert [e["message_id"] for e in first["results"]] == [f"msg-{http_source.id}-4", f"msg-{http_source.id}-3"]
    seen = [e["message_id"] for e in first["results"]]
    page = first
    while page["next"]:
        page = owner_api.get(page["next"]).json()
        seen += [e["message_id"] for e in page["results"]]
    assert seen == [f"msg-{http_source.id}-{n}" for n in (4, 3, 2, 1, 0)]


def test_events_filter_by_source_message_id_and_type(owner_api, workspace, http_source):
    other, _ = services.create_source(workspace, name="Site", kind="javascript")
    _event(http_source, 1)
    _event(http_source, 2, "identify")
    _event(other, 3, "page")

    by_source = owner_api.get(f"/api/workspaces/acme/events/?source={other.id}").json()["results"]
    assert [e["message_id"] for e in by_source] == [f"msg-{other.id}-3"]
    by_type = owner_api.get("/api/workspaces/acme/events/?type=identify").json()["results"]
    assert [e["message_id"] for e in by_type] == [f"msg-{http_source.id}-2"]
    by_id = owner_api.get(f"/api/workspaces/acme/events/?message_id=msg-{http_source.id}-1").json()["results"]
    assert len(by_id) == 1 and by_id[0]["payload"]["messageId"] == f"msg-{http_source.id}-1"
    assert by_id[0]["source_id"] == http_source.id


def test_bad_source_filter_is_a_400(owner_api, http_source):
    response = owner_api.get("/api/workspaces/acme/events/?source=abc")
    assert response.status_code == 400 and "source" in response.json()["errors"]
