"""Retention benchmark: `make bench-retention` (or `.venv/bin/python bench/retention.py`).

What does deleting a large backlog of expired events cost the ingest path? On a database of its own:
stores BENCH_EVENTS (default 1,000,000) events received 40 days ago (past the default 30-day window),
starts the app as bench/ingest.py does (granian, 2 WSGI workers, PostgreSQL, Redis broker, no worker), and
measures with wrk, also as bench/ingest.py does:
1. single-event /v1/track req/s and /v1/batch x100 events/s with nothing else running;
2. the same while `retention.purge.purge_expired()` deletes the backlog (batches of RETENTION_PURGE_BATCH
   rows, one short transaction each, RETENTION_PURGE_PAUSE between them, as the beat task does) in another
   process;
and prints the ingest figures during the purge as a ratio of those without it, and the purge's own rate.

Environment: BENCH_DATABASE_URL (default postgres://root@127.0.0.1:5432/pipelines_bench_retention; dropped
and recreated), BENCH_BROKER_URL (default redis://127.0.0.1:6379/7; its "celery" queue is purged at the end),
BENCH_SECONDS per wrk run (default 8), BENCH_EVENTS, BENCH_CONNECTIONS (default 32). Not part of the tests.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson
import psycopg

os.environ.setdefault("BENCH_DATABASE_URL", "postgres://root@127.0.0.1:5432/pipelines_bench_retention")
os.environ.setdefault("BENCH_BROKER_URL", "redis://127.0.0.1:6379/7")
os.environ.setdefault("BENCH_SECONDS", "8")

# bench/ingest.py's server, wrk and database helpers (loaded by path: "ingest" is also the app's name)
_spec = importlib.util.spec_from_file_location("bench_ingest", Path(__file__).with_name("ingest.py"))
assert _spec is not None and _spec.loader is not None
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

EVENTS = int(os.environ.get("BENCH_EVENTS", "1000000"))
SECONDS = bench.SECONDS

PURGE = (
    "import time; from retention.purge import purge_expired; from django.conf import settings; "
    "t = time.monotonic(); r = purge_expired(batch=settings.RETENTION_PURGE_BATCH, "
    "pause=settings.RETENTION_PURGE_PAUSE); "
    "print(r.events, round(time.monotonic() - t, 2))"
)


def seed_expired(n: int) -> float:
    """Store `n` events received 40 days ago, the way ingest stores them (same columns, same payload);
    returns the seconds it took."""
    payload = orjson.dumps({**bench.TRACK, "messageId": "x", "receivedAt": "2024-05-01T12:00:00.200Z"}).decode()
    started = time.monotonic()
    with psycopg.connect(bench.DATABASE_URL, autocommit=True) as conn:
        workspace_id, source_id = conn.execute("SELECT workspace_id, id FROM connections_source").fetchone()
        step = 200_000
        for first in range(0, n, step):
            conn.execute(
                "INSERT INTO ingest_event (workspace_id, source_id, message_id, type, payload, received_at) "
                "SELECT %s, %s, 'expired-' || g, 'track', %s::jsonb, "
                "now() - interval '40 days' + g * interval '1 millisecond' FROM generate_series(%s::bigint, %s::bigint) AS g",
                [workspace_id, source_id, payload, first + 1, min(n, first + step)])
        conn.execute("VACUUM ANALYZE ingest_event")
    return time.monotonic() - started


def ingest_figures(single: Path, batch: Path) -> dict[str, float]:
    track = bench.run_wrk("/v1/track", single, SECONDS)
    batched = bench.run_wrk("/v1/batch", batch, SECONDS)
    failures = track["non2xx"] + batched["non2xx"]
    return {"track_rps": track["rps"], "track_p99": track["p99"], "batch_eps": batched["rps"] * bench.BATCH,
            "batch_p99": batched["p99"], "failures": failures}


def main() -> None:
    started = time.monotonic()
    print(f"preparing {bench.DATABASE_URL} ...", flush=True)
    write_key = bench.prepare_database()
    print(f"storing {EVENTS:,} expired events ...", flush=True)
    seeded = seed_expired(EVENTS)
    print(f"  {seeded:.0f}s", flush=True)
    server = bench.start_server(0, False)
    purge: subprocess.Popen | None = None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            single, batch = Path(tmp) / "single.lua", Path(tmp) / "batch.lua"
            bench._lua(single, orjson.dumps({k: v for k, v in bench.TRACK.items() if k != "type"}), write_key)
            bench._lua(batch, orjson.dumps({"batch": [bench.TRACK] * bench.BATCH, "sentAt": bench.TRACK["sentAt"]}),
                       write_key)
            bench.run_wrk("/v1/track", single, 2)  # warm-up
            print("ingest alone ...", flush=True)
            alone = ingest_figures(single, batch)
            print("ingest while the purge runs ...", flush=True)
            purge_started = time.monotonic()
            purge = subprocess.Popen([sys.executable, "manage.py", "shell", "-c", PURGE], cwd=bench.ROOT,
                                     env=bench._env(), stdout=subprocess.PIPE, text=True)
            time.sleep(1)
            during = ingest_figures(single, batch)
            overlapped = purge.poll() is None
            out, _ = purge.communicate(timeout=3600)
            purge_wall = time.monotonic() - purge_started
    finally:
        if purge is not None and purge.poll() is None:
            purge.kill()
        bench.stop_server(server)
        bench.purge_broker()
    deleted_s, seconds_s = out.split()[-2:]
    deleted, purge_seconds = int(deleted_s), float(seconds_s)
    with psycopg.connect(bench.DATABASE_URL) as conn:
        left = conn.execute("SELECT count(*) FROM ingest_event WHERE message_id LIKE 'expired-%'").fetchone()[0]

    print()
    print(f"granian 2 WSGI workers; wrk -t2 -c{bench.CONNECTIONS} -d{SECONDS}s; {os.cpu_count()} CPUs; PostgreSQL "
          f"+ Redis on the same machine; load average at the end {os.getloadavg()[0]:.1f}")
    print(f"{'':34}{'alone':>12}{'during purge':>14}{'ratio':>8}")
    for label, key in (("/v1/track req/s", "track_rps"), ("/v1/track p99 ms", "track_p99"),
                       ("/v1/batch x100 events/s", "batch_eps"), ("/v1/batch p99 ms", "batch_p99")):
        print(f"{label:34}{alone[key]:>12.1f}{during[key]:>14.1f}{during[key] / alone[key]:>8.2f}")
    print(f"non-2xx responses: alone {alone['failures']:.0f}, during {during['failures']:.0f}")
    print(f"purge (RETENTION_PURGE_PAUSE={os.environ.get('RETENTION_PURGE_PAUSE', 'default')}): {deleted:,} expired events deleted in {purge_seconds:.1f}s ({deleted / purge_seconds:,.0f}/s, "
          f"{purge_wall:.0f}s wall), {left:,} left; "
          + ("it ran through both measurements" if overlapped else "WARNING: it ended before the measurement did"))
    print(f"\ntotal bench time {time.monotonic() - started:.0f}s")


if __name__ == "__main__":
    main()
