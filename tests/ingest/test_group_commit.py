"""Group commit (INGEST_GROUP_COMMIT): concurrent requests share one transaction, each still answered
only after its rows are committed, with the same dedupe, isolation of bad data and outage behaviour; and
two web processes given the same messageIds at once neither deadlock nor fail a request."""

from __future__ import annotations

import random
import shutil
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
import requests
from django.db import connection

from connections.models import Source
from connections.services import create_source
from ingest import group_commit
from ingest.models import Event
from pipelines.models import Workspace
from tests.faults.harness import (
    PrivatePostgres,
    PrivateRedis,
    Process,
    app_env,
    bootstrap,
    free_port,
    manage,
    start_web,
)
from tests.helpers import wait_for

from .conftest import TrackingClient

TRACK = {"userId": "user-1", "event": "Order Completed"}


@pytest.fixture
def live_source(transactional_db: Any, workspace: Workspace, settings: Any) -> Iterator[Source]:
    settings.INGEST_GROUP_COMMIT = True
    yield create_source(workspace, name="Backend", kind="python")[0]
    group_commit.writer.close()


def _post_concurrently(write_key: str, bodies: list[tuple[str, Any]], threads: int = 8) -> list[Any]:
    def post(item: tuple[str, Any]) -> Any:
        path, body = item
        try:
            return TrackingClient(write_key).post(path, body)
        finally:
            connection.close()  # this thread's own connection, or the test database outlives the test

    with ThreadPoolExecutor(threads) as pool:
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


def test_a_refused_request_in_a_group_fails_alone_and_the_rest_of_its_group_commits(live_source: Source):
    """Eleven requests are made to wait for one group (the writer is held on a row another connection
    inserted and has not committed); one of them carries data PostgreSQL refuses. The group's transaction
    fails, each request is stored again on its own: ten answer 200, the bad one 400 (never 503 or 500)."""
    settings = connection.settings_dict
    held = psycopg.connect(f"postgresql://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}")
    held.execute("INSERT INTO ingest_event (workspace_id, source_id, message_id, type, payload, received_at) "
                 "VALUES (%s, %s, 'held', 'track', '{}', now())", [live_source.workspace_id, live_source.id])
    api = TrackingClient(live_source.write_key)
    assert api.post("/v1/track", {**TRACK, "messageId": "warm-up"}).status_code == 200  # key cached
    bodies = [("/v1/track", {**TRACK, "messageId": f"ok{i}"}) for i in range(10)]
    bodies.insert(4, ("/v1/track", {**TRACK, "messageId": "bad", "properties": {"x": "a\u0000b"}}))
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(_post_concurrently, live_source.write_key, [("/v1/track", {**TRACK, "messageId": "held"})])
        with psycopg.connect(held.info.dsn, autocommit=True) as watcher:  # the writer waits for `held`
            wait_for(lambda: watcher.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                             "AND datname = current_database()").fetchone()[0] == 1,
                     what="the group writer to wait on the held row")
        rest = pool.submit(_post_concurrently, live_source.write_key, bodies, len(bodies))
        wait_for(lambda: len(group_commit.writer._pending) == 11, what="all eleven requests to queue for one group")
        held.rollback()
        held.close()
        assert [r.status_code for r in first.result()] == [200]
        responses = rest.result()
    assert [r.status_code for r in responses] == [200] * 4 + [400] + [200] * 6
    refused = orjson.loads(responses[4].content)
    assert refused["code"] == "invalid_request" and refused["message"].startswith("The message cannot be stored")
    assert set(Event.objects.values_list("message_id", flat=True)) == {"warm-up", "held"} | {f"ok{i}" for i in range(10)}


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


# --- Two web processes, the same messageIds at both at once ---------------------------------------------

ROUNDS = 30
KEYS_PER_ROUND = 400
THREADS_PER_WEB = 4


@pytest.fixture(scope="module")
def two_webs() -> Iterator[dict[str, Any]]:
    """A private PostgreSQL and Redis and two granian processes (one worker each, group commit on, as the
    Procfile's `web` runs them) on the same database: two group writers that never share a transaction.
    (A private cluster, so its log holds only this test's errors; under /tmp, which its OS user can enter.)"""
    base = Path(tempfile.mkdtemp(prefix="pipelines-two-webs-"))
    pg, redis = PrivatePostgres(base), PrivateRedis(base)
    webs: dict[int, Process] = {}  # port → process
    try:
        pg.init()
        redis.start()
        env = app_env(pg.url, redis.url)
        manage(env, "migrate", "--noinput")
        pipeline = bootstrap(env, {})
        for n in range(2):
            port = free_port()
            webs[port] = start_web(env, port, base / f"web{n}.log", workers=1)
        yield {"pg": pg, "webs": webs, "write_key": pipeline["write_key"]}
    finally:
        for web in webs.values():
            web.stop()
        redis.stop() if redis.proc else None
        pg.stop("fast")
        shutil.rmtree(base, ignore_errors=True)


def test_overlapping_duplicates_at_two_web_processes_are_all_acknowledged_and_stored_once(two_webs: dict[str, Any]):
    """What a client retrying after a timeout does, many times over: every round, eight threads (four per
    web process) post the same 403 messageIds (3 of them the next round's), each in its own order, at
    the same moment. While the group transactions inserted rows in request order, the two processes'
    transactions waited on each other's rows, PostgreSQL killed one ("deadlock detected") and every
    request of its group got a 503 (11 and 8 of these 240 requests in two runs)."""
    ports = list(two_webs["webs"])
    threads = THREADS_PER_WEB * len(ports)
    start = threading.Barrier(threads)
    statuses: list[tuple[int, str]] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        url = f"http://127.0.0.1:{ports[n % len(ports)]}/v1/batch"
        order = random.Random(n)
        with requests.Session() as session:
            session.auth = (two_webs["write_key"], "")
            for r in range(ROUNDS):
                # This round's ids plus a few of the next round's: consecutive groups overlap too.
                ids = [f"r{r}-{k}" for k in range(KEYS_PER_ROUND)] + [f"r{r + 1}-{k}" for k in range(3)]
                order.shuffle(ids)
                batch = [{"type": "track", "event": "Dup", "userId": f"u{n}", "messageId": m} for m in ids]
                start.wait(timeout=60)
                answer = session.post(url, json={"batch": batch}, timeout=30)
                with lock:
                    statuses.append((answer.status_code, answer.text))

    with ThreadPoolExecutor(threads) as pool:
        for done in [pool.submit(client, n) for n in range(threads)]:
            done.result()

    failed = [s for s in statuses if s[0] != 200]
    logs = {web.log.name: web.log.read_text(errors="replace") for web in two_webs["webs"].values()}
    logs["postgres.log"] = two_webs["pg"].log.read_text(errors="replace")
    assert len(statuses) == ROUNDS * threads
    deadlocks = logs["postgres.log"].count("deadlock detected")
    assert not failed, f"{len(failed)} of {len(statuses)} requests failed ({deadlocks} deadlocks), e.g. {failed[:3]}"
    with two_webs["pg"].connect() as conn:
        stored = conn.execute("SELECT message_id, count(*) FROM ingest_event GROUP BY message_id").fetchall()
    expected = {f"r{r}-{k}" for r in range(ROUNDS) for k in range(KEYS_PER_ROUND)}
    expected |= {f"r{ROUNDS}-{k}" for k in range(3)}
    assert dict(stored) == {m: 1 for m in expected}
    for name, text in logs.items():
        assert "deadlock detected" not in text, f"{name}:\n{text[-3000:]}"
        assert "Traceback" not in text, f"{name}:\n{text[-3000:]}"
