"""The fault harness: private PostgreSQL and Redis, the app as real processes, recording HTTP sinks.

Nothing here touches the machine's shared PostgreSQL (5432) or Redis (6379): every service a fault test
breaks is started by this module on a free port in a temporary directory and stopped by it.

- `PrivatePostgres`: a throw-away cluster (`initdb` as the `postgres` OS user, trust auth, superuser
  `root`), startable, stoppable (`immediate` = a crash) and restartable on the same port.
- `PrivateRedis`: `redis-server` without persistence, so a restart loses every queued message, which is
  the harshest broker failure.
- `Stack`: the web server (granian, WSGI, two workers), a main Celery worker (fan-out and first attempts),
  a retries worker and Celery beat, each a subprocess in its own process group (so SIGKILL reaches the
  pool children too), watched by a supervisor thread that restarts what exits on its own.
- `Sink`: a threaded HTTP server standing in for a destination; it records every request and can be
  switched between answering 200, an error status (with Retry-After), hanging past the read timeout,
  or answering slowly.
- `send_events`: the official Segment Python client (`segment.analytics.Client`, retries on) sending a
  known set of track events; the messageIds it reports as acknowledged are the ones that must arrive.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg

from tests.helpers import wait_for

REPO = Path(__file__).resolve().parents[2]
PG_BIN = Path("/usr/lib/postgresql/15/bin")
PYTHON = sys.executable
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    """A TCP port nobody listens on right now (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# --- Private PostgreSQL -------------------------------------------------------------------------------


class PrivatePostgres:
    """A PostgreSQL cluster of our own in `base`, owned by the `postgres` OS user, trust auth."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.data = base / "pgdata"
        self.sockets = base / "pgsock"
        self.log = base / "postgres.log"
        self.port = free_port()
        self.dbname = "pipelines"

    @property
    def url(self) -> str:
        return f"postgres://root@127.0.0.1:{self.port}/{self.dbname}"

    def _as_postgres(self, *args: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *args], check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        os.chmod(self.base, 0o755)
        for d in (self.data, self.sockets):
            d.mkdir()
            shutil.chown(d, "postgres", "postgres")
        self.log.touch()
        shutil.chown(self.log, "postgres", "postgres")
        self._as_postgres(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "root",
                          "--no-sync", "-E", "UTF8")
        self.start()
        with psycopg.connect(f"postgres://root@127.0.0.1:{self.port}/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.dbname}"')

    def start(self) -> None:
        # fsync off: a killed server loses nothing (the OS still has the pages); only a machine crash
        # would, and that is not what these tests simulate.
        opts = f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", opts, "-l", str(self.log), "-w",
                          "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the cluster; mode "immediate" is a crash (no checkpoint, clients cut off)."""
        if (self.data / "postmaster.pid").exists():
            self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.url, autocommit=True)


# --- Private Redis ------------------------------------------------------------------------------------


class PrivateRedis:
    """redis-server on a free port, no persistence: a restart comes back empty."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.port = free_port()
        self.log = base / "redis.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.base), "--logfile", str(self.log)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        wait_for(lambda: _port_open(self.port), timeout=15, what="private redis to listen")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None
        wait_for(lambda: not _port_open(self.port), timeout=10, what="private redis to close its port")


# --- App processes ------------------------------------------------------------------------------------


class Process:
    """A subprocess in its own session (process group), logging to a file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log: Path, *, cwd: Path = REPO,
                 shell: bool = False) -> None:
        self.name = name
        self.args = args
        self.env = env
        self.log = log
        self.cwd = cwd
        self.shell = shell  # args is one shell command line (a Procfile entry)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log, "ab") as out:
            out.write(f"\n--- start {self.name}: {' '.join(self.args)}\n".encode())
            out.flush()
            args = ["/bin/sh", "-c", "exec " + self.args[0]] if self.shell else self.args
            self.proc = subprocess.Popen(args, env=self.env, cwd=self.cwd, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole process group: the parent and every pool child die mid-task."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)
        self.proc = None

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM the group, SIGKILL it if it is still there after `timeout` seconds."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=timeout)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            pass
        self.kill()

    def log_tail(self, lines: int = 40) -> str:
        return _tail(self.log, lines)


# --- Sinks (stand-in destinations) --------------------------------------------------------------------


@dataclass
class Received:
    at: float
    path: str
    status: int
    message_ids: list[str]
    headers: dict[str, str]
    body: bytes


def message_ids_in(body: bytes) -> list[str]:
    """The messageIds in a webhook body: one event object, a JSON array of them, or {"batch": [...]}."""
    try:
        doc = json.loads(body or b"null")
    except ValueError:
        return []
    items = doc if isinstance(doc, list) else doc.get("batch", [doc]) if isinstance(doc, dict) else []
    return [str(i["messageId"]) for i in items if isinstance(i, dict) and "messageId" in i]


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A sender hanging up (timeout, killed worker) is expected here, not worth a traceback."""


class Sink:
    """A local HTTP endpoint that records every request and answers as told.

    Behaviours (switch any time with `behave`): "ok" (200), "status" (answer `status`, with Retry-After
    when `retry_after` is set), "hang" (hold the request `hang_seconds`, longer than the sender's read
    timeout, then answer 200 to nobody), "slow" (wait `delay` seconds, then 200).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.lock = threading.Lock()
        self.requests: list[Received] = []
        self.mode = "ok"
        self.status = 200
        self.retry_after: str | None = None
        self.delay = 0.0
        self.hang_seconds = 5.0
        self._closing = threading.Event()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                mode, status, retry_after, delay, hang = sink._behaviour()
                if mode == "hang":
                    sink._closing.wait(hang)
                    status = 200
                elif mode == "slow":
                    sink._closing.wait(delay)
                    status = 200
                elif mode == "ok":
                    status = 200
                with sink.lock:
                    sink.requests.append(Received(time.monotonic(), self.path, status if mode != "hang" else 0,
                                                  message_ids_in(body), dict(self.headers), body))
                payload = b'{"ok": true}' if status < 400 else b'{"error": "sink says no"}'
                try:
                    self.send_response(status)
                    if retry_after and status in (429, 503):
                        self.send_header("Retry-After", retry_after)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:  # the sender gave up (timeout): that is the point of "hang"
                    pass

            do_PUT = do_POST
            do_PATCH = do_POST

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, name=f"sink-{name}", daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{self.name}"

    def _behaviour(self) -> tuple[str, int, str | None, float, float]:
        with self.lock:
            return self.mode, self.status, self.retry_after, self.delay, self.hang_seconds

    def behave(self, mode: str, *, status: int = 200, retry_after: str | None = None, delay: float = 0.0,
               hang_seconds: float = 5.0) -> None:
        with self.lock:
            self.mode, self.status, self.retry_after = mode, status, retry_after
            self.delay, self.hang_seconds = delay, hang_seconds

    def delivered(self) -> Counter[str]:
        """messageId → how many times it was received and answered 2xx."""
        with self.lock:
            return Counter(m for r in self.requests if 200 <= r.status < 300 for m in r.message_ids)

    def attempts(self) -> Counter[str]:
        """messageId → how many requests carried it, whatever the answer."""
        with self.lock:
            return Counter(m for r in self.requests for m in r.message_ids)

    def first_arrival(self) -> dict[str, float]:
        """messageId → monotonic time of its first 2xx arrival."""
        out: dict[str, float] = {}
        with self.lock:
            for r in self.requests:
                if 200 <= r.status < 300:
                    for m in r.message_ids:
                        out.setdefault(m, r.at)
        return out

    def close(self) -> None:
        self._closing.set()
        self.server.shutdown()
        self.server.server_close()


# --- The app --------------------------------------------------------------------------------------------


FAULT_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "fault-tests-secret-key-" + "k" * 40,
    "OUTBOUND_ALLOW_PRIVATE": "true",
    "OUTBOX_GRACE_SECONDS": "2",
    "OUTBOX_SWEEP_INTERVAL": "1",
    "OUTBOUND_CONNECT_TIMEOUT": "1",
    "OUTBOUND_READ_TIMEOUT": "1.5",
    # A task taken by a worker that then dies is handed out again after this long.
    "CELERY_VISIBILITY_TIMEOUT": "8",
    "CELERY_BROKER_CONNECTION_TIMEOUT": "0.5",
    "CELERY_PREFETCH": "1",
    # The delivery sweep runs every second; a task presumed lost (killed worker, wiped broker) is re-sent
    # after 5 s; a dead worker's lease runs out after its floor, 3 × (connect + read timeout) + 10 s.
    "DELIVERY_SWEEP_INTERVAL": "1",
    "DELIVERY_LOST_TASK_GRACE": "5",
    "DELIVERY_LEASE_SECONDS": "5",
    # The web process as the Procfile runs it: group commit and coalesced fan-out publishing.
    "INGEST_GROUP_COMMIT": "true",
    "INGEST_DISPATCH_WINDOW_MS": "10",
    # Half of the main worker's 4 processes: a hanging destination can never hold them all.
    "DELIVERY_DESTINATION_CONCURRENCY": "2",
    "LOG_LEVEL": "INFO",
    "PYTHONUNBUFFERED": "1",
}


def app_env(database_url: str, broker_url: str, **overrides: str) -> dict[str, str]:
    """The environment the app's processes run with: this process's, less its Django, pytest, database
    and broker variables, plus FAULT_ENV (the Procfile's web settings, short timings), the two services'
    URLs and `overrides`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST", "DATABASE", "CELERY"))}
    env.update(FAULT_ENV)
    env.update({
        "DJANGO_SETTINGS_MODULE": "pipelines.settings",
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker_url,
        "PATH": f"{VENV_BIN}:{env.get('PATH', '/usr/bin:/bin')}",
    })
    env.update(overrides)
    return env


def start_web(env: dict[str, str], port: int, log: Path, *, workers: int = 2) -> Process:
    """granian serving the WSGI app on 127.0.0.1:`port` as the Procfile's `web` runs it (group commit and
    coalesced publishing come from `env`, see FAULT_ENV); returns once it listens."""
    web = Process("web", [str(VENV_BIN / "granian"), "--interface", "wsgi", "--host", "127.0.0.1", "--port", str(port),
                          "--workers", str(workers), "pipelines.wsgi:application"], env, log)
    web.start()
    wait_for(lambda: _port_open(port), timeout=30, what=f"the web server\n{web.log_tail()}")
    return web


def manage(env: dict[str, str], *args: str, timeout: float = 180) -> str:
    """Run `manage.py` with `env`; its output, or RuntimeError with it when it fails."""
    done = subprocess.run([PYTHON, "manage.py", *args], check=False, env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def bootstrap(env: dict[str, str], destinations: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Create a workspace, a Python source and webhook destinations ({name: settings}) connected to it, in
    the database of `env` (see tests/faults/bootstrap.py).

    Returns {"write_key": ..., "workspace": slug, "destinations": {name: id}}.
    """
    spec = json.dumps({"destinations": destinations})
    out = subprocess.run([PYTHON, "-m", "tests.faults.bootstrap", spec], check=False, env=env, cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise RuntimeError(f"bootstrap failed:\n{out.stdout}\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# role → (queues, concurrency)
WORKER_ROLES = {"main": ("celery,deliveries", 4), "retries": ("retries", 2)}


class Stack:
    """Private PostgreSQL + Redis, the web server, one Celery worker and beat, all started here."""

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="pipelines-faults-"))
        self.pg = PrivatePostgres(self.base)
        self.redis = PrivateRedis(self.base)
        self.web_port = free_port()
        self.env: dict[str, str] = {}
        self.web: Process | None = None
        self.worker: Process | None = None
        self.retry_worker: Process | None = None
        self.beat: Process | None = None
        self._worker_runs = 0
        # Unplanned exits the supervisor restarted, by role (see _supervise).
        self.crashes: Counter[str] = Counter()
        self._supervising = threading.Event()
        self._supervisor: threading.Thread | None = None
        # Every process ever started here, so stop() ends them all even if a restart raced a stop.
        self._started: list[Process] = []

    @property
    def host(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def start(self) -> None:
        self.pg.init()
        self.redis.start()
        self.env = app_env(self.pg.url, self.redis.url)
        self.manage("migrate", "--noinput")
        self.web = start_web(self.env, self.web_port, self.base / "web.log")
        self.start_worker("main")
        self.start_worker("retries")
        self.beat = Process("beat", [str(VENV_BIN / "celery"), "-A", "pipelines", "beat", "--loglevel", "INFO",
                                     "--schedule", str(self.base / "beat-schedule")], self.env,
                            self.base / "beat.log")
        self.beat.start()
        self._supervising.set()
        self._supervisor = threading.Thread(target=self._supervise, name="fault-supervisor", daemon=True)
        self._supervisor.start()

    def _supervise(self) -> None:
        """Restart a worker or beat that exited on its own, as systemd or a Procfile platform would.

        A Celery worker can exit on broker loss (kombu raises inside its reconnect path and the worker
        calls it unrecoverable); production runs workers under a supervisor, so the fault stack does too,
        and counts each restart in `crashes` for the report. Processes stopped on purpose (kill/stop set
        `proc` to None) are left alone.
        """
        pause = threading.Event()
        while self._supervising.is_set():
            for role, proc in (("main", self.worker), ("retries", self.retry_worker)):
                if proc is not None and proc.proc is not None and proc.proc.poll() is not None:
                    self.crashes[role] += 1
                    proc.kill()  # the leader exited; take any pool children left in its group with it
                    try:
                        self.start_worker(role)
                    except AssertionError:
                        pass  # retried on the next round
            if self.beat is not None and self.beat.proc is not None and self.beat.proc.poll() is not None:
                self.crashes["beat"] += 1
                self.beat.start()
            pause.wait(0.5)

    def manage(self, *args: str, timeout: float = 180) -> str:
        return manage(self.env, *args, timeout=timeout)

    def start_worker(self, role: str = "main") -> None:
        """Start (or restart) a Celery worker and wait until it consumes.

        The layout is the one production should run (see the Procfile): a "main" worker for fan-out and
        first attempts (queues celery, deliveries) and a "retries" worker of its own, so retries to a
        failing destination never occupy the processes that first attempts need.
        """
        self._worker_runs += 1
        queues, concurrency = WORKER_ROLES[role]
        log = self.base / f"worker-{role}.log"
        name = f"{role}{self._worker_runs}"
        worker = Process(
            f"worker-{role}",
            [str(VENV_BIN / "celery"), "-A", "pipelines", "worker", "-Q", queues, "-c", str(concurrency),
             "--loglevel", "INFO", "-n", f"{name}@%h", "--without-gossip", "--without-mingle"],
            self.env, log,
        )
        worker.start()
        self._started.append(worker)
        if role == "main":
            self.worker = worker
        else:
            self.retry_worker = worker
        wait_for(lambda: any(f"{name}@" in line and "ready." in line for line in _tail(log, 400).splitlines()),
                 timeout=60, interval=0.2, what=f"the celery worker\n{worker.log_tail()}")

    def bootstrap(self, destinations: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """Create a workspace, a Python source and webhook destinations ({name: settings}) connected to it.

        Returns {"write_key": ..., "workspace": slug, "destinations": {name: id}}.
        """
        return bootstrap(self.env, destinations)

    def stop(self) -> None:
        self._supervising.clear()
        if self._supervisor is not None:
            self._supervisor.join(timeout=70)
        for proc in (self.beat, self.worker, self.retry_worker, self.web, *self._started):
            if proc is not None:
                proc.stop()
        self.redis.stop() if self.redis.proc else None
        try:
            self.pg.stop("fast")
        except subprocess.SubprocessError:
            pass
        shutil.rmtree(self.base, ignore_errors=True)

    def logs(self) -> str:
        parts = []
        for name in ("web.log", "worker-main.log", "worker-retries.log", "beat.log", "postgres.log", "redis.log"):
            parts.append(f"===== {name}\n{_tail(self.base / name, 60)}")
        return "\n".join(parts)

    # --- Observations in the private database ---------------------------------------------------------

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with self.pg.connect() as conn:
            return list(conn.execute(sql, params).fetchall())

    def stored_message_ids(self, write_key: str) -> set[str]:
        rows = self.query(
            "SELECT e.message_id FROM ingest_event e JOIN connections_source s ON s.id = e.source_id "
            "WHERE s.write_key = %s", write_key)
        return {r[0] for r in rows}

    def delivery_statuses(self, destination_id: int) -> Counter[str]:
        rows = self.query("SELECT status, count(*) FROM destinations_delivery WHERE destination_id = %s "
                          "GROUP BY status", destination_id)
        return Counter({status: n for status, n in rows})


# --- Sending through the official client --------------------------------------------------------------


@dataclass
class SendResult:
    sent: list[str] = field(default_factory=list)
    failed: set[str] = field(default_factory=set)
    handed: dict[str, float] = field(default_factory=dict)  # messageId → monotonic time given to the client
    started: float = 0.0
    finished: float = 0.0

    @property
    def acknowledged(self) -> list[str]:
        return [m for m in self.sent if m not in self.failed]


class Sender(threading.Thread):
    """Sends `count` track events through `segment.analytics.Client` at a steady pace, then flushes.

    The client batches (up to 10 per request) and retries 5xx, 429 and connection errors with its own
    backoff; whatever it finally gives up on arrives through `on_error` and is not acknowledged.
    `progress` counts events handed to the client so far, for tests that time a fault by progress.
    """

    def __init__(self, host: str, write_key: str, count: int, *, prefix: str, pace: float = 0.01) -> None:
        super().__init__(name=f"sender-{prefix}", daemon=True)
        self.host, self.write_key, self.count, self.prefix, self.pace = host, write_key, count, prefix, pace
        self.result = SendResult()
        self.progress = 0
        self.error: BaseException | None = None
        self._lock = threading.Lock()

    def _on_error(self, exc: Exception, batch: list[dict[str, Any]]) -> None:
        with self._lock:
            self.result.failed.update(str(m.get("messageId")) for m in batch)

    def run(self) -> None:
        from segment.analytics import Client

        client = Client(self.write_key, host=self.host, upload_size=10, upload_interval=0.05, max_retries=14,
                        timeout=5, on_error=self._on_error, max_total_backoff_duration=180,
                        max_rate_limit_duration=180)
        gap = threading.Event()
        try:
            self.result.started = time.monotonic()
            for i in range(self.count):
                mid = f"{self.prefix}-{i:05d}"
                ok, _ = client.track(user_id=f"user-{i % 17}", event="Fault Test",
                                     properties={"i": i, "run": self.prefix}, message_id=mid)
                with self._lock:
                    self.result.sent.append(mid)
                    self.result.handed[mid] = time.monotonic()
                    if not ok:  # the client's queue was full: dropped before sending, never acknowledged
                        self.result.failed.add(mid)
                self.progress = i + 1
                if self.pace:
                    gap.wait(self.pace)
            client.flush()
            client.join()
            self.result.finished = time.monotonic()
        except BaseException as exc:  # noqa: BLE001 - surfaced by finish()
            self.error = exc

    def finish(self, timeout: float = 240) -> SendResult:
        self.join(timeout)
        assert not self.is_alive(), "the client did not finish sending in time"
        if self.error:
            raise self.error
        return self.result


# --- Checking and reporting -----------------------------------------------------------------------------


REPORT_PATH = REPO / "var" / "faults-report.json"


@dataclass
class Figures:
    fault: str
    sent: int
    acknowledged: int
    delivered: int
    duplicates: int
    lost: int
    drain_seconds: float
    extra: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        extra = "".join(f", {k}={v}" for k, v in self.extra.items())
        return (f"[fault] {self.fault}: sent={self.sent} acknowledged={self.acknowledged} "
                f"delivered={self.delivered} duplicates={self.duplicates} lost={self.lost} "
                f"drain={self.drain_seconds:.1f}s{extra}")


def record(figures: Figures) -> None:
    """Print the figures and keep them in var/faults-report.json (the source of docs/reliability.md)."""
    print("\n" + figures.line(), flush=True)
    REPORT_PATH.parent.mkdir(exist_ok=True)
    try:
        report = json.loads(REPORT_PATH.read_text())
    except (OSError, ValueError):
        report = {}
    report[figures.fault] = {**figures.__dict__, "recorded_at": time.strftime("%Y-%m-%d %H:%M:%S")}
    REPORT_PATH.write_text(json.dumps(report, indent=2, sort_keys=True))


def await_delivery(sinks: list[Sink], acknowledged: list[str], *, timeout: float, since: float) -> float:
    """Wait until every sink has a 2xx arrival of every acknowledged messageId; return seconds since `since`.

    On timeout the assertion names how many are missing where (a loss, unless the timeout is too short).
    """
    wanted = set(acknowledged)

    def missing() -> dict[str, int]:
        return {s.name: len(wanted - set(s.delivered())) for s in sinks}

    try:
        wait_for(lambda: not any(missing().values()), timeout=timeout, interval=0.2)
    except AssertionError:
        raise AssertionError(f"acknowledged events missing at the sinks after {timeout}s: {missing()}") from None
    return time.monotonic() - since


def duplicates(sink: Sink, acknowledged: list[str]) -> int:
    counts = sink.delivered()
    return sum(counts[m] - 1 for m in acknowledged if counts[m] > 1)


@dataclass
class Scenario:
    """What a fault test builds: the stack, its sinks and the pipeline's ids."""

    stack: Stack
    sinks: dict[str, Sink]
    pipeline: dict[str, Any]

    @property
    def write_key(self) -> str:
        return str(self.pipeline["write_key"])


@contextmanager
def scenario(stack: Stack, names: list[str], settings: Callable[[Sink], dict[str, Any]] | None = None
             ) -> Iterator[Scenario]:
    """A fresh workspace with one webhook destination per name, each pointing at its own sink."""
    sinks = {n: Sink(n) for n in names}
    try:
        make = settings or (lambda s: {"url": s.url, "method": "POST", "batch_size": 1})
        pipeline = stack.bootstrap({n: make(s) for n, s in sinks.items()})
        yield Scenario(stack, sinks, pipeline)
    finally:
        for s in sinks.values():
            s.close()
