"""A production install as an operator makes it: a clean virtualenv with `pip install .` and nothing else,
then the Procfile's own process lines (`release`, `web`, `worker`, `retries`, `beat`) on PostgreSQL with
Redis, and again with RabbitMQ, as the broker.

The test extras must not be able to hide a missing runtime dependency (they once hid `packaging`, which
kombu's Redis transport imports: every worker died at start and nothing was delivered). So the app runs
from a copy of the checkout installed into a virtualenv of its own, never from the test environment.
Events posted to /v1/batch must all reach a webhook destination within a few seconds, well inside the
outbox sweep's grace (so the live publish path, not the sweep, delivered them), and no process may log a
traceback.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.faults.harness import REPO, Process, Sink, _port_open, free_port
from tests.helpers import scratch_postgres_database, wait_for

PROCESSES = ("web", "worker", "retries", "beat")
BROKERS = {
    "redis": "redis://127.0.0.1:6379/9",
    "rabbitmq": "amqp://guest:guest@127.0.0.1:5672//",
}
# The outbox sweep re-sends what the live publish missed after this long; deliveries must beat it.
OUTBOX_GRACE_SECONDS = 30
DELIVERY_DEADLINE = 10.0
EVENTS = 300


def procfile() -> dict[str, str]:
    entries = {}
    for line in (REPO / "Procfile").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, command = line.partition(":")
            entries[name.strip()] = command.strip()
    return entries


def _ignore(directory: str, names: list[str]) -> set[str]:
    """What a clean checkout does not have: local state and build output."""
    skip = {".git", ".venv", "node_modules", "var", "build", "__pycache__", ".pytest_cache"}
    return {n for n in names if n in skip or n.endswith(".egg-info")}


@pytest.fixture(scope="module")
def bare_install(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """(checkout copy, virtualenv bin) with the project installed by `pip install .` alone."""
    base = tmp_path_factory.mktemp("bare-install")
    checkout = base / "checkout"
    shutil.copytree(REPO, checkout, ignore=_ignore)
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    done = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", "."],
                          cwd=checkout, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"pip install . failed:\n{done.stdout}\n{done.stderr}"
    yield checkout, venv / "bin"


@pytest.fixture
def database() -> Iterator[str]:
    with scratch_postgres_database("pipelines_install_") as url:
        yield url


def _run(bin_dir: Path, checkout: Path, env: dict[str, str], command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["/bin/sh", "-c", command], cwd=checkout, env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.parametrize("broker", sorted(BROKERS))
def test_bare_install_runs_the_procfile_and_delivers_every_event(bare_install, database, broker, tmp_path):
    checkout, bin_dir = bare_install
    port = free_port()
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "DATABASE_URL": database,
        "CELERY_BROKER_URL": BROKERS[broker],
        "SECRET_KEY": secrets.token_urlsafe(50),
        "PIPELINES_VAR_DIR": str(tmp_path / "var"),
        "PORT": str(port),
        "OUTBOUND_ALLOW_PRIVATE": "true",  # the webhook below listens on loopback
        "OUTBOX_GRACE_SECONDS": str(OUTBOX_GRACE_SECONDS),
        "WORKER_CONCURRENCY": "2",
        "RETRY_CONCURRENCY": "1",
        "WEB_CONCURRENCY": "2",
    }
    entries = procfile()
    assert set(PROCESSES) | {"release"} <= set(entries), f"Procfile lacks one of {PROCESSES}: {entries}"

    released = _run(bin_dir, checkout, env, entries["release"])
    assert released.returncode == 0, f"release failed:\n{released.stdout}\n{released.stderr}"
    purged = _run(bin_dir, checkout, env, "celery -A pipelines purge -f")  # queues left by an earlier run
    assert purged.returncode == 0, f"celery purge failed:\n{purged.stdout}\n{purged.stderr}"
    boot = _run(bin_dir, checkout, env, "python manage.py bootstrap --json")
    assert boot.returncode == 0, f"bootstrap failed:\n{boot.stdout}\n{boot.stderr}"
    setup = json.loads(boot.stdout.strip().splitlines()[-1])

    sink = Sink("hook")
    processes = [Process(name, [entries[name]], env, tmp_path / f"{name}.log", cwd=checkout, shell=True)
                 for name in PROCESSES]
    try:
        for process in processes:
            process.start()
        wait_for(lambda: _port_open(port), timeout=60, what="the web process")
        for name in ("worker", "retries"):
            log = tmp_path / f"{name}.log"
            wait_for(lambda log=log: " ready." in log.read_text(errors="replace"), timeout=60, interval=0.2,
                     what=f"the {name} process")

        base = f"http://127.0.0.1:{port}"
        created = requests.post(
            f"{base}/api/workspaces/{setup['workspace']}/destinations/",
            headers={"Authorization": f"Token {setup['api_token']}"},
            json={"name": "Hook", "kind": "webhook", "settings": {"url": sink.url},
                  "source_ids": [setup["source_id"]]},
            timeout=10,
        )
        assert created.status_code == 201, created.text

        sent = [f"bare-{broker}-{i}" for i in range(EVENTS)]
        for start in range(0, EVENTS, 100):
            batch = [{"type": "track", "event": "Bare Install", "userId": f"u{i % 7}", "messageId": mid,
                      "properties": {"n": i}} for i, mid in enumerate(sent[start:start + 100], start)]
            answer = requests.post(f"{base}/v1/batch", json={"batch": batch}, auth=(setup["write_key"], ""),
                                   timeout=10)
            assert answer.status_code == 200, answer.text
        posted_at = time.monotonic()

        wait_for(lambda: set(sent) <= set(sink.delivered()), timeout=DELIVERY_DEADLINE, interval=0.1,
                 what=f"{EVENTS} events at the webhook (got {len(sink.delivered())})")
        assert time.monotonic() - posted_at < OUTBOX_GRACE_SECONDS
        delivered = sink.delivered()
        assert sorted(delivered) == sorted(sent) and set(delivered.values()) == {1}  # each exactly once

        for process in processes:
            assert process.running, f"{process.name} exited:\n{process.log_tail()}"
    except AssertionError as failure:
        tails = "\n".join(f"===== {p.name}\n{p.log_tail(60)}" for p in processes)
        raise AssertionError(f"{failure}\n{tails}") from None
    finally:
        for process in processes:
            process.stop()
        sink.close()
    for process in processes:
        log = process.log.read_text(errors="replace")
        assert "Traceback" not in log, f"{process.name} logged a traceback:\n{log[-4000:]}"
        assert "ModuleNotFoundError" not in log, f"{process.name}:\n{log[-4000:]}"
