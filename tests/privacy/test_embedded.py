"""`make run`'s embedded mode (SQLite, the filesystem broker, its own worker): a deletion posted to the API
runs on the embedded worker, removes the person's events, and their next events are dropped at ingest."""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from typing import Any

from tests.foundation.test_devserver import ROOT, _start_devserver, _status
from tests.helpers import wait_for

_SETUP = """
import django
django.setup()
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from connections import services
from pipelines.models import Membership, Workspace
ws = Workspace.objects.create(name="Privacy", slug="privacy-e2e")
user = User.objects.create_user("pat", "pat@example.com", "pat-password-1")
Membership.objects.create(user=user, workspace=ws, role="admin")
source, _ = services.create_source(ws, name="Site", kind="python")
print(source.write_key, Token.objects.create(user=user).key)
"""


def _call(url: str, *, token: str | None = None, write_key: str | None = None, body: Any = None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    if write_key:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def test_a_deletion_runs_on_the_embedded_worker(tmp_path: Any) -> None:
    port, env, proc = _start_devserver(tmp_path)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: _status(f"{base}/admin/login/") == 200, timeout=60, interval=0.25, what="the dev server")
        script_env = {**env, "DJANGO_SETTINGS_MODULE": "pipelines.settings",
                      "SECRET_KEY": (tmp_path / "var" / "secret-key").read_text().strip()}
        write_key, token = subprocess.run([sys.executable, "-c", _SETUP], cwd=ROOT, env=script_env, check=True,
                                          capture_output=True, text=True).stdout.split()
        events = f"{base}/api/workspaces/privacy-e2e/events/"
        batch = {"batch": [{"type": "track", "userId": "u-42", "event": "Viewed", "messageId": "hers-1"},
                           {"type": "identify", "userId": "u-7", "traits": {"email": "x@example.com"},
                            "messageId": "theirs-1"}]}
        assert _call(f"{base}/v1/batch", write_key=write_key, body=batch)[0] == 200
        assert {e["message_id"] for e in _call(events, token=token)[1]["results"]} == {"hers-1", "theirs-1"}

        status, created = _call(f"{base}/api/workspaces/privacy-e2e/privacy/delete/", token=token,
                                body={"user_id": "u-42"})
        assert status == 202

        def done() -> dict[str, Any] | None:
            listed = _call(f"{base}/api/workspaces/privacy-e2e/privacy/requests/", token=token)[1]["results"]
            found = [r for r in listed if r["id"] == created["id"] and r["status"] in ("done", "failed")]
            return found[0] if found else None

        finished = wait_for(done, timeout=60, interval=0.5, what="the deletion on the embedded worker")
        assert finished["status"] == "done", finished["error"]
        assert finished["deleted"] == {"ingest.Event": 1}
        assert {e["message_id"] for e in _call(events, token=token)[1]["results"]} == {"theirs-1"}

        later = {"batch": [{"type": "track", "userId": "u-42", "event": "Viewed", "messageId": "hers-2"}]}
        assert _call(f"{base}/v1/batch", write_key=write_key, body=later)[0] == 200
        assert {e["message_id"] for e in _call(events, token=token)[1]["results"]} == {"theirs-1"}
        [suppressed] = _call(f"{base}/api/workspaces/privacy-e2e/privacy/suppressions/", token=token)[1]["results"]
        assert suppressed["value"] == "u-42" and suppressed["dropped"] == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
