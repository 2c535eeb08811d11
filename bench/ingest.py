"""Ingest benchmark: `make bench-ingest` (or `.venv/bin/python bench/ingest.py`).

Starts the app with production settings (DEBUG off, PostgreSQL, Redis broker) under granian (WSGI,
2 worker processes) on a database of its own, drives it with wrk, and prints side by side:
- the no-op endpoint (/v1/m: routed through the same Django stack, accepted and dropped) = HTTP ceiling;
- single-event /v1/track: req/s and p50/p99 latency, each one committed before its 200;
- /v1/batch of 100 events: events/s stored (counted in the database);
- psycopg inserting the same rows with the same statement directly = database ceiling;
- bench/lean_view.py, a lean Django view doing one INSERT ... ON CONFLICT DO NOTHING per request (no auth,
  no outbox, no publish), under the same granian settings: our figures are printed as ratios to it.

Environment: BENCH_DATABASE_URL (default postgres://root@127.0.0.1:5432/pipelines_bench; the database is
dropped and recreated), BENCH_BROKER_URL (default redis://127.0.0.1:6379/2; its "celery" queue is purged
at the end, as no worker runs), BENCH_SECONDS per run (default 15), BENCH_CONNECTIONS (default 32),
BENCH_THREADS granian blocking threads per worker (default 8). Not part of the test suite.
"""

from __future__ import annotations

import base64
import multiprocessing
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import orjson
import psycopg

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://root@127.0.0.1:5432/pipelines_bench")
BROKER_URL = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/2")
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
THREADS = int(os.environ.get("BENCH_THREADS", "8"))
PORT = int(os.environ.get("BENCH_PORT", "8765"))
BATCH = 100

# A typical server-side track call, ~550 bytes as sent by the official libraries.
TRACK = {
    "type": "track",
    "userId": "user-4f9c2a",
    "event": "Order Completed",
    "properties": {"order_id": "ord_81237", "total": 129.95, "currency": "USD", "coupon": None,
                   "products": [{"sku": "sku-1", "price": 99.95, "quantity": 1},
                                {"sku": "sku-2", "price": 30.0, "quantity": 1}]},
    "context": {"library": {"name": "analytics-python", "version": "2.3.4"}, "ip": "203.0.113.9",
                "userAgent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"},
    "timestamp": "2024-05-01T12:00:00.000+00:00",
    "sentAt": "2024-05-01T12:00:00.120+00:00",
    "integrations": {},
}


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": DATABASE_URL,
        "CELERY_BROKER_URL": BROKER_URL,
        "DEBUG": "false",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or "bench-only-secret-key-" + "b" * 40,
        "LOG_LEVEL": "WARNING",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "CONN_MAX_AGE": "600",
        "PYTHONPATH": str(ROOT),
    }


def _admin_dsn() -> tuple[str, str]:
    parts = urlsplit(DATABASE_URL)
    return parts._replace(path="/postgres").geturl(), parts.path.lstrip("/")


def prepare_database() -> str:
    """Recreate the bench database, migrate, create a workspace and source; return its write key."""
    admin, name = _admin_dsn()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run([PY, "manage.py", "migrate", "-v0"], cwd=ROOT, env=_env(), check=True)
    code = (
        "from pipelines.models import Workspace; from connections.services import create_source; "
        "ws = Workspace.objects.get_or_create(slug='bench', defaults={'name': 'Bench'})[0]; "
        "print(create_source(ws, name='Bench', kind='python')[0].write_key)"
    )
    out = subprocess.run([PY, "manage.py", "shell", "-c", code], cwd=ROOT, env=_env(), check=False,
                         capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"creating the bench source failed:\n{out.stderr}")
    return out.stdout.strip().splitlines()[-1]


def start_server(dispatch_window_ms: int, group_commit: bool, *, lean: bool = False) -> subprocess.Popen:
    """granian serving the product (or, with `lean`, bench/lean_view.py) as the Procfile's web does."""
    env = {**_env(), "INGEST_DISPATCH_WINDOW_MS": str(dispatch_window_ms),
           "INGEST_GROUP_COMMIT": "true" if group_commit else "false"}
    target, cwd = "pipelines.wsgi:application", ROOT
    if lean:
        with psycopg.connect(DATABASE_URL) as conn:
            workspace_id, source_id = conn.execute("SELECT workspace_id, id FROM connections_source").fetchone()
        env.update(LEAN_WORKSPACE_ID=str(workspace_id), LEAN_SOURCE_ID=str(source_id),
                   PYTHONPATH=str(ROOT / "bench"))
        target, cwd = "lean_view:application", ROOT / "bench"
    server = subprocess.Popen(
        [PY, "-m", "granian", "--interface", "wsgi", "--workers", "2", "--blocking-threads", str(THREADS),
         "--host", "127.0.0.1", "--port", str(PORT), "--no-ws", "--log-level", "warning", target],
        cwd=cwd, env=env, start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", PORT), timeout=0.5).close()
            return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("granian did not start")


def _lua(path: Path, body: bytes, write_key: str) -> None:
    auth = base64.b64encode(f"{write_key}:".encode()).decode()
    path.write_text(
        'wrk.method = "POST"\n'
        f'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Basic {auth}"\n'
        f"wrk.body = [==[{body.decode()}]==]\n"
    )


def _ms(value: str) -> float:
    match = re.match(r"([\d.]+)(us|ms|s|m|h)$", value)
    if not match:
        raise ValueError(f"unexpected wrk latency {value!r}")
    number, unit = match.groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}[unit]


def run_wrk(path: str, script: Path, seconds: int) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", "-s", str(script),
         f"http://127.0.0.1:{PORT}{path}"],
        capture_output=True, text=True, check=True,
    ).stdout
    if not re.search(r"^\s*50%\s+\S+\s*$", out, re.M):
        raise SystemExit(f"wrk gave no latency distribution for {path}:\n{out}")
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        # the "Latency Distribution" lines: "     50%    2.14ms"
        "p50": _ms(re.search(r"^\s*50%\s+(\S+)\s*$", out, re.M).group(1)),
        "p99": _ms(re.search(r"^\s*99%\s+(\S+)\s*$", out, re.M).group(1)),
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "errors": errors.group(1) if errors else "",
    }


def count_events() -> int:
    with psycopg.connect(DATABASE_URL) as conn:
        return conn.execute("SELECT count(*) FROM ingest_event").fetchone()[0]


def _direct_insert_worker(args: tuple[int, int, float, int]) -> int:
    workspace_id, source_id, until, batch = args
    received = datetime.now(UTC)
    payload = orjson.dumps({**TRACK, "messageId": "x", "receivedAt": "2024-05-01T12:00:00.200Z"}).decode()
    sql = (
        "INSERT INTO ingest_event (workspace_id, source_id, message_id, type, payload, received_at) VALUES "
        + ",".join(["(%s,%s,%s,%s,%s::jsonb,%s)"] * batch)
        + " ON CONFLICT (source_id, message_id) DO NOTHING RETURNING id"
    )
    inserted = 0
    with psycopg.connect(DATABASE_URL) as conn:
        while time.monotonic() < until:
            rows: list = []
            for _ in range(batch):
                rows.extend((workspace_id, source_id, str(uuid.uuid4()), "track", payload, received))
            with conn.transaction():
                inserted += len(conn.execute(sql, rows).fetchall())
    return inserted


def _direct_threads(args: tuple[int, int, float, int, int]) -> int:
    *job, threads = args
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(threads) as pool:
        return sum(pool.map(_direct_insert_worker, [tuple(job)] * threads))


def direct_insert(seconds: int, batch: int, processes: int = 4, threads: int = 1) -> float:
    """Events/s for psycopg running the store's statement directly, `batch` rows per statement and commit,
    on processes x threads connections."""
    with psycopg.connect(DATABASE_URL) as conn:
        workspace_id, source_id = conn.execute("SELECT workspace_id, id FROM connections_source").fetchone()
    start = time.monotonic()
    until = start + seconds
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        jobs = [(workspace_id, source_id, until, batch, threads)] * processes
        total = sum(pool.map(_direct_threads, jobs))
    return total / (time.monotonic() - start)


def purge_broker() -> None:
    from kombu import Connection

    with Connection(BROKER_URL) as conn:
        conn.SimpleQueue("celery").clear()


def stop_server(server: subprocess.Popen) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    server.wait(timeout=20)


def measure(write_key: str, dispatch_window_ms: int, *, group_commit: bool = False,
            with_noop: bool = False, lean: bool = False) -> dict[str, dict[str, float]]:
    """Runs against one server configuration; events stored are counted in the database."""
    results: dict[str, dict[str, float]] = {}
    server = start_server(dispatch_window_ms, group_commit, lean=lean)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            single = Path(tmp) / "single.lua"
            batch = Path(tmp) / "batch.lua"
            _lua(single, orjson.dumps({k: v for k, v in TRACK.items() if k != "type"}), write_key)
            _lua(batch, orjson.dumps({"batch": [TRACK] * BATCH, "sentAt": TRACK["sentAt"]}), write_key)
            run_wrk("/v1/track", single, 3)  # warm-up: connections, caches, imports
            if with_noop:
                results["noop"] = run_wrk("/v1/m", single, SECONDS)
            for name, path, script in (("track", "/v1/track", single), ("batch", "/v1/batch", batch)):
                before = count_events()
                t0 = time.monotonic()
                results[name] = run_wrk(path, script, SECONDS)
                results[name]["stored_per_s"] = (count_events() - before) / (time.monotonic() - t0)
    finally:
        stop_server(server)
    return results


def main() -> None:
    started = time.monotonic()
    print(f"preparing {DATABASE_URL} ...", flush=True)
    write_key = prepare_database()
    per_request = measure(write_key, 0, with_noop=True)
    coalesced = measure(write_key, 10)
    grouped = measure(write_key, 10, group_commit=True)
    lean = measure(write_key, 0, lean=True)
    ceiling = direct_insert(min(SECONDS, 10), BATCH)
    # Single-row commits from as many connections as the server has threads: what PostgreSQL alone can do.
    single_ceiling = direct_insert(min(SECONDS, 10), 1, processes=2, threads=THREADS)
    purge_broker()
    load = os.getloadavg()

    noop = per_request["noop"]
    print()
    print(f"granian --interface wsgi --workers 2 --blocking-threads {THREADS}; wrk -t2 -c{CONNECTIONS} "
          f"-d{SECONDS}s; {os.cpu_count()} CPUs; PostgreSQL + Redis on the same machine; "
          f"load average at the end {load[0]:.1f}")
    print(f"{'':44}{'req/s':>9}{'p50 ms':>8}{'p99 ms':>8}{'stored/s':>10}{'non-2xx':>8}")
    rows = [
        ("no-op /v1/m (HTTP ceiling)", noop),
        ("/v1/track, publish per request", per_request["track"]),
        ("/v1/track, publish coalesced (10 ms)", coalesced["track"]),
        ("/v1/track, coalesced + group commit", grouped["track"]),
        ("/v1/batch x100, publish per request", per_request["batch"]),
        ("/v1/batch x100, publish coalesced (10 ms)", coalesced["batch"]),
        ("/v1/batch x100, coalesced + group commit", grouped["batch"]),
        ("lean view, single INSERT per request", lean["track"]),
        ("lean view, batch x100 in one INSERT", lean["batch"]),
    ]
    for name, r in rows:
        print(f"{name:44}{r['rps']:>9.0f}{r['p50']:>8.2f}{r['p99']:>8.2f}{r.get('stored_per_s', 0):>10.0f}"
              f"{r['non2xx']:>8}  {r['errors']}")
    print()
    configs = (("per request", per_request), ("coalesced", coalesced), ("group commit", grouped))
    for label, r in configs:
        print(f"single events, {label:12} {r['track']['rps']:>8.0f} req/s = {r['track']['rps'] / noop['rps']:.0%} "
              f"of the no-op ceiling, {r['track']['stored_per_s'] / single_ceiling:.0%} of the database ceiling")
    for label, r in configs:
        eps = r["batch"]["stored_per_s"]
        print(f"batched events, {label:12} {eps:>8.0f} events/s = {eps / ceiling:.0%} of the database ceiling")
    print(f"single events, group commit vs the lean view: {grouped['track']['stored_per_s'] / lean['track']['stored_per_s']:.2f}x"
          f" (p99 {grouped['track']['p99']:.1f} ms vs {lean['track']['p99']:.1f} ms)")
    print(f"batched events, group commit vs the lean view: {grouped['batch']['stored_per_s'] / lean['batch']['stored_per_s']:.2f}x")
    print(f"single events, group commit vs psycopg's 1-row ceiling: {grouped['track']['stored_per_s'] / single_ceiling:.2f}x")
    print(f"psycopg direct, same INSERT ({BATCH} rows/statement, 4 connections): {ceiling:.0f} events/s")
    print(f"psycopg direct, same INSERT (1 row/statement, {2 * THREADS} connections): {single_ceiling:.0f} events/s")
    print(f"\ntotal bench time {time.monotonic() - started:.0f}s")


if __name__ == "__main__":
    main()
