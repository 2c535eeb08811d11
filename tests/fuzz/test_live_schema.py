"""schemathesis against a running server, on the schema that server publishes (/api/schema/), every phase
(examples, coverage, fuzzing, and stateful: the OpenAPI links lead from each create to the read, update and
delete of what it created), once on `make run`'s SQLite and once on PostgreSQL with the Procfile's `web`.

No generated request may get a 5xx, and every 4xx must be JSON with `code` and `message`. The seed is fixed
so a failure here reproduces; `make test-fuzz` sets FUZZ_SEED=random and FUZZ_EXAMPLES higher for a wider
search. A failure prints schemathesis's own report, with a curl line per case.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.harness import REPO, Process, _port_open, free_port
from tests.helpers import scratch_postgres_database, wait_for

ST = Path(sys.executable).parent / "st"
SEED = os.environ.get("FUZZ_SEED", "20261203")
EXAMPLES = os.environ.get("FUZZ_EXAMPLES", "25")
WORKSPACE = "demo"


def _base_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    env.update({
        "SECRET_KEY": secrets.token_urlsafe(50),
        "PIPELINES_VAR_DIR": str(tmp_path / "var"),
        "OUTBOUND_ALLOW_PRIVATE": "false",  # generated webhook URLs must never reach this machine's services
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
    })
    return env


@pytest.fixture
def postgres_database() -> Iterator[str]:
    with scratch_postgres_database("pipelines_fuzz_") as url:
        yield url


def _manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _start_sqlite(tmp_path: Path, port: int) -> tuple[Process, str]:
    """`make run`'s process: the devserver on its embedded defaults (SQLite, the filesystem broker)."""
    env = _base_env(tmp_path) | {"PORT": str(port)}
    server = Process("devserver", [sys.executable, "-m", "pipelines.devserver"], env, tmp_path / "server.log")
    server.start()
    wait_for(lambda: "API token:" in server.log.read_text(errors="replace") and _port_open(port), timeout=90,
             what="the devserver")
    token = re.search(r"API token:\s+(\w+)", server.log.read_text(errors="replace"))
    assert token, server.log_tail()
    return server, token.group(1)


def _start_postgres(tmp_path: Path, port: int, database: str) -> tuple[Process, str]:
    """The Procfile's `release`, then its `web` line (granian), on PostgreSQL."""
    env = _base_env(tmp_path) | {"DATABASE_URL": database, "CELERY_BROKER_URL": "redis://127.0.0.1:6379/12",
                                 "PORT": str(port), "WEB_CONCURRENCY": "1"}
    _manage(env, "migrate", "--noinput")
    token = json.loads(_manage(env, "bootstrap", "--json").strip().splitlines()[-1])["api_token"]
    web = next(line.partition(":")[2].strip() for line in (REPO / "Procfile").read_text().splitlines()
               if line.startswith("web:"))
    server = Process("web", [web], env, tmp_path / "server.log", shell=True)
    server.start()
    wait_for(lambda: _port_open(port), timeout=60, what="the web process")
    return server, token


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_schemathesis_finds_no_server_error_in_any_phase(database: str, tmp_path: Path, request) -> None:
    port = free_port()
    if database == "sqlite":
        server, token = _start_sqlite(tmp_path, port)
    else:
        server, token = _start_postgres(tmp_path, port, request.getfixturevalue("postgres_database"))
    (tmp_path / "schemathesis.toml").write_text(f'[parameters]\nslug = "{WORKSPACE}"\n')
    env = _base_env(tmp_path) | {"SCHEMATHESIS_HOOKS": "tests.fuzz.schemathesis_hooks", "PYTHONPATH": str(REPO)}
    command = [str(ST), "run", f"http://127.0.0.1:{port}/api/schema/?format=json",
               "--header", f"Authorization: Token {token}",
               "--phases", "examples,coverage,fuzzing,stateful",
               "--checks", "not_a_server_error,error_has_code_and_message",
               "--max-examples", EXAMPLES, "--workers", "1", "--request-timeout", "10",
               "--no-color", "--warnings", "off",
               # DELETE /api/workspaces/{slug}/ would delete "demo", the workspace every other generated
               # request names, and leave the rest of the run testing 404s (tests/retention covers it)
               "--exclude-operation-id", "workspaces_destroy"]
    if SEED != "random":
        command += ["--seed", SEED]
    try:
        done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=900, check=False)
    finally:
        server.stop()
    report = done.stdout[-12000:] + done.stderr[-3000:]
    assert done.returncode == 0, f"schemathesis found failures on {database}:\n{report}"
    assert "Stateful" in done.stdout and "passed" in done.stdout, report
    log = server.log.read_text(errors="replace")
    assert "Traceback" not in log, f"the server logged a traceback:\n{log[-6000:]}"
