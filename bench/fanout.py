"""Fan-out and delivery benchmark (not a test): `make bench-fanout` or `python bench/fanout.py`.

Against PostgreSQL + Redis + N Celery worker processes on this machine and a local sink server (a small
asyncio HTTP/1.1 server in its own process), it measures:
1. deliveries/s to a one-event-per-request destination (a webhook with batch size 1);
2. events/s to a batching destination (a webhook with batch size 100: one JSON array per request);
3. end-to-end latency from acknowledgement (Event.received_at, i.e. the moment ingest committed) to
   arrival at the sink, p50/p95/p99, while events arrive at half the peak single-delivery rate;
4. the sink's own ceiling (wrk hammering it), so the delivery rate can be read as a fraction of it.
Events enter through ingest.services.store_events (the same INSERT + on-commit dispatch as /v1/batch),
100 per call, with the Procfile's INGEST_DISPATCH_WINDOW_MS=10 (hand-offs of 10 ms go to fan-out
together). A fifth measure, the backlog drain, stores events first and then hands them over, so
delivery runs without ingest on the same cores. Environment: BENCH_DATABASE_URL (default postgres://root@127.0.0.1:5432/pipelines_fanout_bench,
created if missing), BENCH_BROKER_URL (default redis://127.0.0.1:6379/14), --workers (Celery prefork
processes). The whole run stays under ~3 minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://root@127.0.0.1:5432/pipelines_fanout_bench")
BROKER_URL = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/14")
ENV = {
    **os.environ,
    "DATABASE_URL": DATABASE_URL,
    "CELERY_BROKER_URL": BROKER_URL,
    "OUTBOUND_ALLOW_PRIVATE": "true",
    "SECRET_KEY": os.environ.get("SECRET_KEY") or "bench-only-secret-key-" + "b" * 40,
    "LOG_LEVEL": "WARNING",
    "DJANGO_SETTINGS_MODULE": "pipelines.settings",
    # as the Procfile's web process: hand-offs gathered for 10 ms go to fan-out together
    "INGEST_DISPATCH_WINDOW_MS": os.environ.get("INGEST_DISPATCH_WINDOW_MS", "10"),
}
os.environ.update(ENV)

# --- the sink -------------------------------------------------------------------------------------------

_MESSAGE_ID = re.compile(rb'"messageId":"([^"]+)"')


def _sink_main(port: int, ready: multiprocessing.synchronize.Event) -> None:  # type: ignore[name-defined]
    state = {"requests": 0, "events": 0, "record": False}
    arrivals: dict[str, float] = {}

    class Sink(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport
            self.buf = b""

        def data_received(self, data: bytes) -> None:
            self.buf += data
            while True:
                head_end = self.buf.find(b"\r\n\r\n")
                if head_end < 0:
                    return
                head = self.buf[:head_end]
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip())
                end = head_end + 4 + length
                if len(self.buf) < end:
                    return
                body = self.buf[head_end + 4:end]
                self.buf = self.buf[end:]
                self.handle(head.split(b" ", 2), body)

        def reply(self, body: bytes) -> None:
            self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "  # type: ignore[attr-defined]
                                 + str(len(body)).encode() + b"\r\n\r\n" + body)

        def handle(self, request_line: list[bytes], body: bytes) -> None:
            path = request_line[1] if len(request_line) > 1 else b"/"
            if path.startswith(b"/deliver"):
                now = time.time()
                state["requests"] += 1
                if state["record"]:
                    ids = _MESSAGE_ID.findall(body)
                    state["events"] += len(ids)
                    for mid in ids:
                        arrivals.setdefault(mid.decode(), now)
                else:
                    state["events"] += body.count(b'"messageId"')
                self.reply(b"{}")
            elif path == b"/stats":
                self.reply(json.dumps({k: v for k, v in state.items()}).encode())
            elif path == b"/arrivals":
                self.reply(json.dumps(arrivals).encode())
            elif path.startswith(b"/reset"):
                state.update(requests=0, events=0, record=path.endswith(b"record"))
                arrivals.clear()
                self.reply(b"{}")
            else:  # /ceiling and anything else: the cheapest possible answer
                self.reply(b"{}")

    async def serve() -> None:
        server = await asyncio.get_running_loop().create_server(Sink, "127.0.0.1", port, backlog=1024)
        ready.set()
        await server.serve_forever()

    asyncio.run(serve())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


# --- set-up ---------------------------------------------------------------------------------------------

def _ensure_database() -> None:
    import psycopg

    name = DATABASE_URL.rsplit("/", 1)[1]
    admin = DATABASE_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin.replace("postgres://", "postgresql://"), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def _setup(sink: str) -> dict:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from connections import services
    from pipelines.models import Workspace

    Workspace.objects.filter(slug="bench").delete()  # cascades to sources, destinations, events, deliveries
    ws = Workspace.objects.create(name="Bench", slug="bench")
    single_src, _ = services.create_source(ws, name="single", kind="python")
    batch_src, _ = services.create_source(ws, name="batch", kind="python")
    latency_src, _ = services.create_source(ws, name="latency", kind="python")
    services.create_destination(ws, name="single", kind="webhook", settings={"url": f"{sink}/deliver/single"},
                                sources=[single_src, latency_src])
    services.create_destination(ws, name="batch", kind="webhook",
                                settings={"url": f"{sink}/deliver/batch", "batch_size": 100}, sources=[batch_src])
    return {"single": single_src, "batch": batch_src, "latency": latency_src}


def _fresh_tables() -> None:
    """Start from empty, vacuumed tables (this is the benchmark's own database). Between phases only
    VACUUM ANALYZE: it stands in for autovacuum, which some servers here run with turned off (the header
    prints the setting); without it every phase pays for the dead row versions of the ones before."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE destinations_delivery, destinations_deliverycount, destinations_destinationcircuit, "
                       "ingest_event")
    _vacuum()


def _vacuum() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for table in ("ingest_event", "destinations_delivery", "destinations_deliverycount"):
            cursor.execute(f"VACUUM (ANALYZE) {table}")


def _autovacuum() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW autovacuum")
        return cursor.fetchone()[0]


def _events(n: int, prefix: str) -> list[dict]:
    base = uuid.uuid4().hex[:8]
    return [{"type": "track", "event": "Order Completed", "messageId": f"{prefix}-{base}-{i}", "userId": f"user-{i}",
             "anonymousId": "a6b1c0de", "timestamp": "2024-05-01T12:00:00.000Z",
             "properties": {"total": 42.5, "currency": "EUR", "order_id": f"o-{i}", "items": 3},
             "context": {"ip": "203.0.113.9", "library": {"name": "analytics-python", "version": "2.3.3"}}}
            for i in range(n)]


def _store(source: object, messages: list[dict], per_call: int = 100) -> None:
    from django.utils import timezone

    from ingest.services import store_events

    for i in range(0, len(messages), per_call):
        store_events(source, messages[i:i + per_call], timezone.now())  # type: ignore[arg-type]


def _drain(sink: str, expected: int, timeout: float) -> float:
    """Wait until the sink has seen `expected` events; return the time it took from now."""
    start = time.monotonic()
    while True:
        seen = _get(f"{sink}/stats")["events"]
        if seen >= expected:
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise SystemExit(f"timed out: the sink saw {seen} of {expected} events")
        time.sleep(0.05)


def _throughput(sink: str, source: object, n: int) -> tuple[float, int]:
    _vacuum()
    _get(f"{sink}/reset")
    messages = _events(n, "tp")
    start = time.monotonic()
    _store(source, messages)
    stored = time.monotonic() - start
    elapsed = stored + _drain(sink, n, timeout=90)
    print(f"  {n} events: stored in {stored:.1f} s (ingest alone: {n / stored:,.0f}/s), all delivered after "
          f"{elapsed:.1f} s", flush=True)
    return n / elapsed, _get(f"{sink}/stats")["requests"]


def _backlog(sink: str, source: object, n: int) -> tuple[float, int]:
    """Delivery alone: store n events (100 per request) without handing them over, then hand them to
    fan-out as the outbox sweep and the web process's coalescing dispatcher do (whole requests, up to 500
    events per task) and time until the sink has them all. This is the drain rate of a backlog (workers
    or the broker back after an outage), with no ingest competing for the cores."""
    from django.db import connection, transaction
    from django.utils import timezone

    from ingest.services import dispatch_entries, insert_rows

    _get(f"{sink}/reset")
    messages = _events(n, "bl")
    chunks = []
    for i in range(0, n, 100):
        with transaction.atomic(), connection.cursor() as cursor:
            rows, entry = insert_rows(cursor, [(source, messages[i:i + 100], timezone.now())])
            chunks.append(([r[0] for r in rows], entry))
    _vacuum()
    print(f"  {n} events stored; handing them over", flush=True)
    start = time.monotonic()
    dispatch_entries([(ids, entry) for ids, entry in chunks])
    elapsed = _drain(sink, n, timeout=90)
    print(f"  {n} stored events handed over: all delivered after {elapsed:.1f} s", flush=True)
    return n / elapsed, _get(f"{sink}/stats")["requests"]


def _latency(sink: str, source: object, rate: float, seconds: float) -> list[float]:
    from django.utils import timezone

    from ingest.services import store_events

    _vacuum()
    _get(f"{sink}/reset/record")
    per_call = max(1, int(rate / 50))  # about 50 ingest requests per second
    received: dict[str, float] = {}
    total = int(rate * seconds)
    messages = _events(total, "lat")
    start = time.monotonic()
    for i in range(0, total, per_call):
        due = start + i / rate
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        chunk = messages[i:i + per_call]
        now = timezone.now()
        store_events(source, chunk, now)  # type: ignore[arg-type]
        acknowledged = time.time()  # the commit returned: this is when ingest would answer 200
        for m in chunk:
            received[m["messageId"]] = acknowledged
    _drain(sink, total, timeout=60)
    arrivals = _get(f"{sink}/arrivals")
    return sorted(max(0.0, arrivals[mid] - t) for mid, t in received.items() if mid in arrivals)


def _pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def _ceiling(sink: str) -> float:
    if not shutil.which("wrk"):
        return float("nan")
    out = subprocess.run(["wrk", "-t2", "-c32", "-d5s", f"{sink}/ceiling"], check=False,
                         capture_output=True, text=True).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return float(m.group(1)) if m else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=4, help="Celery prefork worker processes")
    parser.add_argument("--single", type=int, default=10_000, help="events for the single-request run")
    parser.add_argument("--batched", type=int, default=60_000, help="events for the batched run")
    parser.add_argument("--latency-seconds", type=float, default=15.0)
    parser.add_argument("--phases", default="single,batched,backlog,latency",
                        help="which measurements to run (comma-separated; the default runs them all)")
    args = parser.parse_args()

    _ensure_database()
    port = _free_port()
    sink = f"http://127.0.0.1:{port}"
    ready = multiprocessing.Event()
    sink_proc = multiprocessing.Process(target=_sink_main, args=(port, ready), daemon=True)
    sink_proc.start()
    ready.wait(10)
    sources = _setup(sink)
    _fresh_tables()

    from pipelines.celery import app

    app.control.purge()
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "pipelines", "worker", "-Q", "celery,deliveries,retries",
         "-P", "prefork", "-c", str(args.workers), "--loglevel=WARNING", "--without-gossip", "--without-mingle",
         "--without-heartbeat"],
        cwd=ROOT, env=ENV, start_new_session=True,
    )
    try:
        time.sleep(3)  # let the worker processes boot
        _throughput(sink, sources["single"], 500)  # warm-up: connections, routing caches
        phases = set(args.phases.split(","))
        nan = float("nan")
        single_rate, single_requests = (_throughput(sink, sources["single"], args.single)
                                        if "single" in phases else (nan, 0))
        batch_rate, batch_requests = (_throughput(sink, sources["batch"], args.batched)
                                      if "batched" in phases else (nan, 0))
        backlog_rate, backlog_requests = (_backlog(sink, sources["batch"], args.batched)
                                          if "backlog" in phases else (nan, 0))
        latencies = (_latency(sink, sources["latency"], single_rate / 2, args.latency_seconds)
                     if "latency" in phases and "single" in phases else [])
        ceiling = _ceiling(sink)
        autovacuum = _autovacuum()
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(30)
        sink_proc.terminate()

    print(f"\nfan-out benchmark: {os.cpu_count()} cores, {args.workers} Celery worker processes, "
          f"PostgreSQL {DATABASE_URL.rsplit('/', 1)[1]} (autovacuum {autovacuum}; VACUUM between phases), "
          f"broker {BROKER_URL}, INGEST_DISPATCH_WINDOW_MS={ENV['INGEST_DISPATCH_WINDOW_MS']}")
    print(f"{'measure':<48}{'result':>14}{'target':>14}")
    print(f"{'single-event deliveries/s (' + str(args.single) + ' events)':<48}{single_rate:>14,.0f}{'>= 2,000':>14}")
    print(f"{'  requests the sink received':<48}{single_requests:>14,}")
    print(f"{'batched events/s (' + str(args.batched) + ' events, batch 100)':<48}{batch_rate:>14,.0f}"
          f"{'>= 20,000':>14}")
    print(f"{'  requests the sink received':<48}{batch_requests:>14,}")
    print(f"{'batched, stored backlog handed over (delivery alone)':<48}{backlog_rate:>14,.0f}{'>= 20,000':>14}")
    print(f"{'  requests the sink received':<48}{backlog_requests:>14,}")
    rate = single_rate / 2
    print(f"{f'latency at {rate:,.0f} events/s ({len(latencies)} events)':<48}")
    for p, target in ((50, ""), (95, "<= 1 s"), (99, "<= 3 s")) if latencies else ():
        print(f"{f'  p{p} acknowledged → arrived at sink':<48}{_pct(latencies, p) * 1000:>12,.0f}ms{target:>14}")
    print(f"{'sink ceiling (wrk, requests/s)':<48}{ceiling:>14,.0f}")
    print(f"{'single deliveries / sink ceiling':<48}{single_rate / ceiling:>14.1%}")
    if latencies:
        print(f"{'  mean latency':<48}{statistics.mean(latencies) * 1000:>12,.0f}ms")


if __name__ == "__main__":
    main()
