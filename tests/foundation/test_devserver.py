"""`make run` smoke test: `python -m pipelines.devserver` on a fresh var dir serves the admin and the API,
and takes its web server, worker and beat down with it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import wait_for

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def _descendants(pid: int) -> set[int]:
    """Every process below `pid`, from /proc (children of children included)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


# What `make run` starts with: no DATABASE_URL, broker, settings module or SECRET_KEY of its own.
NOT_FROM_MAKE_RUN = ("DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE", "SECRET_KEY")


def _start_devserver(tmp_path: Path) -> tuple[int, dict[str, str], subprocess.Popen]:
    """`python -m pipelines.devserver` on a free port and a fresh var dir, with the embedded defaults."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in NOT_FROM_MAKE_RUN}
    env.update(PORT=str(port), PIPELINES_VAR_DIR=str(tmp_path / "var"), ADMIN_PASSWORD="smoke-test-pass")
    with open(tmp_path / "devserver.log", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "pipelines.devserver"], cwd=ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT)
    return port, env, proc


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_devserver_serves_admin_and_api_then_stops_all_children(tmp_path, stop_signal):
    port, _env, proc = _start_devserver(tmp_path)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: _status(f"{base}/admin/login/") == 200 and _status(f"{base}/api/schema/") == 200,
                 timeout=60, interval=0.25, what="the admin login page and the API schema")
        assert _status(f"{base}/static/admin/css/base.css") == 200
        assert _status(f"{base}/api/workspaces/") == 401  # the API answers, and wants a token

        children = wait_for(lambda: len(_descendants(proc.pid)) >= 3 and _descendants(proc.pid), timeout=30,
                            what="web, worker and beat processes")
        output = (tmp_path / "devserver.log").read_text()
        assert "password smoke-test-pass" in output and f"{base}/admin/" in output
        assert (tmp_path / "var" / "db.sqlite3").exists() and (tmp_path / "var" / "broker" / "queue").is_dir()

        proc.send_signal(stop_signal)
        assert proc.wait(timeout=40) == 0
        wait_for(lambda: not any(_alive(pid) for pid in children), timeout=20, what="children to exit")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_devserver_stops_everything_when_a_child_dies(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in NOT_FROM_MAKE_RUN}
    env.update(PORT=str(port), PIPELINES_VAR_DIR=str(tmp_path / "var"))
    proc = subprocess.Popen([sys.executable, "-m", "pipelines.devserver"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: _status(f"http://127.0.0.1:{port}/admin/login/") == 200, timeout=60, interval=0.25,
                 what="the web server")
        children = wait_for(lambda: len(_descendants(proc.pid)) >= 3 and _descendants(proc.pid), timeout=30)
        beat = next(pid for pid in children if b"beat" in Path(f"/proc/{pid}/cmdline").read_bytes())
        os.kill(beat, signal.SIGKILL)
        assert proc.wait(timeout=40) == 1
        wait_for(lambda: not any(_alive(pid) for pid in children), timeout=20, what="children to exit")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


_SETUP = """
import django, sys
django.setup()
from connections import services
from pipelines.models import Workspace
ws = Workspace.objects.create(name="Dev", slug="dev-e2e")
source, _ = services.create_source(ws, name="Site", kind="python")
services.create_destination(ws, name="Hook", kind="webhook", settings={"url": sys.argv[1], "batch_size": 10},
                            sources=[source])
print(source.write_key)
"""

_STATUSES = """
import django
django.setup()
from destinations.models import Delivery
print(sorted((d.message_id, d.status, d.attempts, (d.response or {}).get("status")) for d in Delivery.objects.all()))
"""


def test_devserver_delivers_events_end_to_end_on_its_embedded_defaults(tmp_path, httpserver):
    """SQLite and the filesystem broker: events posted to /v1 reach a webhook, and the delivery records
    (leased claims, the exchange stored once for the batch) are written."""
    import base64
    import json

    httpserver.expect_request("/hook").respond_with_data("ok")
    port, env, proc = _start_devserver(tmp_path)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: _status(f"{base}/admin/login/") == 200, timeout=60, interval=0.25, what="the dev server")
        script_env = {**env, "DJANGO_SETTINGS_MODULE": "pipelines.settings", "OUTBOUND_ALLOW_PRIVATE": "true",
                      "SECRET_KEY": (tmp_path / "var" / "secret-key").read_text().strip()}
        write_key = subprocess.run([sys.executable, "-c", _SETUP, httpserver.url_for("/hook")], cwd=ROOT,
                                   env=script_env, check=True, capture_output=True, text=True).stdout.strip()
        body = json.dumps({"batch": [{"type": "track", "userId": "u1", "event": "Signed Up", "messageId": f"dev-{i}"}
                                     for i in range(3)]}).encode()
        request = urllib.request.Request(f"{base}/v1/batch", data=body, method="POST", headers={
            "Content-Type": "application/json",
            "Authorization": "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200

        def delivered() -> list | None:
            out = subprocess.run([sys.executable, "-c", _STATUSES], cwd=ROOT, env=script_env, check=True,
                                 capture_output=True, text=True).stdout
            rows = eval(out)  # our own script's repr of a list of tuples
            return rows if len(rows) == 3 and all(r[1] == "delivered" for r in rows) else None

        rows = wait_for(delivered, timeout=60, interval=1, what="three delivered rows")
        assert rows == [(f"dev-{i}", "delivered", 1, 200) for i in range(3)]
        sent = [m["messageId"] for r, _ in httpserver.log for m in json.loads(r.data)]
        assert sorted(sent) == ["dev-0", "dev-1", "dev-2"]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


_OLD_DEMO = """
import django
django.setup()
import orjson
from cryptography.fernet import Fernet
from django.core.management import call_command
from connections import services
from connections.models import Destination
from pipelines import crypto
from pipelines.models import Workspace
call_command("migrate", verbosity=0)
ws = Workspace.objects.create(name="Old", slug="old-demo")
dest = services.create_destination(ws, name="Hook", kind="webhook",
                                   settings={"url": "http://127.0.0.1:9/hook", "shared_secret": "kept-secret-1"})
# What an earlier version stored: encrypted under the key derived from its public default SECRET_KEY.
public = Fernet(crypto.derived_key("dev-insecure-change-me-" + "x" * 40).encode())
Destination.objects.filter(id=dest.id).update(
    secrets_encrypted=public.encrypt(orjson.dumps({"shared_secret": "kept-secret-1"})).decode())
"""

_READ_SECRET = """
import django
django.setup()
from connections.models import Destination
print(Destination.objects.get(workspace__slug="old-demo").secret_values["shared_secret"])
"""


def _run_until_serving_then_stop(tmp_path: Path) -> None:
    port, _env, proc = _start_devserver(tmp_path)
    try:
        wait_for(lambda: _status(f"http://127.0.0.1:{port}/admin/login/") == 200, timeout=60, interval=0.25,
                 what="the dev server")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_devserver_generates_its_secret_key_once_and_moves_old_demo_secrets_under_it(tmp_path):
    """`make run` has no SECRET_KEY: the first start writes a random one to var/secret-key (0600) and
    re-encrypts the secrets an earlier version stored under the public development key; the next start
    reuses the same key and has nothing left to re-encrypt."""
    var = tmp_path / "var"
    var.mkdir()
    script_env = {k: v for k, v in os.environ.items() if k not in NOT_FROM_MAKE_RUN}
    script_env.update(PIPELINES_VAR_DIR=str(var), DJANGO_SETTINGS_MODULE="pipelines.settings",
                      OUTBOUND_ALLOW_PRIVATE="true")
    subprocess.run([sys.executable, "-c", _OLD_DEMO], cwd=ROOT, check=True, capture_output=True, text=True,
                   env={**script_env, "SECRET_KEY": "key-of-the-script-that-made-the-old-database-0123456789"})

    _run_until_serving_then_stop(tmp_path)
    key_file = var / "secret-key"
    key = key_file.read_text().strip()
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert len(key) >= 50 and key != "dev-insecure-change-me-" + "x" * 40
    read = subprocess.run([sys.executable, "-c", _READ_SECRET], cwd=ROOT, check=True, capture_output=True,
                          text=True, env={**script_env, "SECRET_KEY": key})
    assert read.stdout.strip() == "kept-secret-1"

    inode = key_file.stat().st_ino
    _run_until_serving_then_stop(tmp_path)
    assert key_file.read_text().strip() == key and key_file.stat().st_ino == inode
    log = (tmp_path / "devserver.log").read_text()
    assert log.count("destination secrets re-encrypted") == 1
