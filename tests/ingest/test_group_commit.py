"""Group commit (INGEST_GROUP_COMMIT): concurrent requests share one transaction, each still answered
only after its rows are committed, with the same dedupe, isolation of bad data and outage behaviour."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
import pytest
from django.db import connection

from connections.models import Source
from connections.services import create_source
from ingest import group_commit
from ingest.models import Event
from pipelines.models import Workspace

from .conftest import TrackingClient

TRACK = {"userId": "user-1", "event": "Order Completed"}


@pytest.fixture
def live_source(transactional_db: Any, workspace: Workspace, settings: Any) -> Iterator[Source]:
    settings.INGEST_GROUP_COMMIT = True
    yield create_source(workspace, name="Backend", kind="python")[0]
    group_commit.writer.close()


def _post_concurrently(write_key: str, bodies: list[tuple[str, Any]]) -> list[Any]:
    def post(item: tuple[str, Any]) -> Any:
        path, body = item
        return TrackingClient(write_key).post(path, body)

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(post, bodies))


def test_concurrent_requests_are_all_stored_and_acknowledged(live_source: Source):
    bodies = [("/v1/track", {**TRACK, "messageId": f"m{i}"}) for i in range(40)]
    bodies.append(("/v1/batch", {"batch": [{**TRACK, "type": "track", "messageId": f"b{i}"} for i in range(30)]}))
    responses = _post_concurrently(live_source.write_key, bodies)
    assert [r.status_code for r in responses] == [200] * 41
    assert all(orjson.loads(r.content) == {"success": True} for r in responses)
    stored = set(Event.objects.filter(source=live_source).values_list("message_id", flat=True))
    assert stored == {f"m{i}" for i in range(40)} | {f"b{i}" for i in range(30)}


def test_duplicates_across_concurrent_requests_are_stored_once(live_source: Source, workspace: Workspace):
    other = create_source(workspace, name="Other", kind="node")[0]
    bodies = [("/v1/track", {**TRACK, "messageId": "same"})] * 12
    assert [r.status_code for r in _post_concurrently(live_source.write_key, bodies)] == [200] * 12
    assert [r.status_code for r in _post_concurrently(other.write_key, bodies)] == [200] * 12
    assert Event.objects.filter(message_id="same", source=live_source).count() == 1
    assert Event.objects.filter(message_id="same", source=other).count() == 1


def test_bad_data_fails_only_its_own_request(live_source: Source):
    bodies = [("/v1/track", {**TRACK, "messageId": f"ok{i}"}) for i in range(10)]
    bodies.insert(5, ("/v1/track", {**TRACK, "messageId": "bad", "properties": {"x": "a\u0000b"}}))
    statuses = [r.status_code for r in _post_concurrently(live_source.write_key, bodies)]
    assert statuses == [200] * 5 + [400] + [200] * 5
    assert set(Event.objects.values_list("message_id", flat=True)) == {f"ok{i}" for i in range(10)}


def test_database_outage_answers_503(live_source: Source):
    api = TrackingClient(live_source.write_key)
    assert api.post("/v1/track", TRACK).status_code == 200  # key cached
    group_commit.writer.close()
    saved = connection.settings_dict["PORT"]
    connection.settings_dict["PORT"] = 1  # shared by every thread's new connections
    try:
        response = api.post("/v1/track", {**TRACK, "messageId": "during"})
    finally:
        connection.settings_dict["PORT"] = saved
        group_commit.writer.close()
    assert response.status_code == 503
    assert orjson.loads(response.content)["code"] == "unavailable"
    assert api.post("/v1/track", {**TRACK, "messageId": "after"}).status_code == 200
    assert set(Event.objects.values_list("message_id", flat=True)) >= {"after"}
    assert not Event.objects.filter(message_id="during").exists()
