"""`python -m pipelines.devserver` (what `make run` starts): the whole product in one command.

On embedded defaults (SQLite in WAL mode at var/db.sqlite3, Celery's filesystem transport under
var/broker; PIPELINES_VAR_DIR moves var/), it migrates, bootstraps the demo workspace and admin user
(pipelines/management/commands/bootstrap.py), prints how to log in, then runs three children:

- the web server: granian (WSGI) on 127.0.0.1:$PORT, static files served by whitenoise;
- a Celery worker consuming the queues celery, deliveries and retries (threads pool);
- Celery beat (the outbox sweep and due retries).

Ctrl-C or SIGTERM stops all of them; if any child dies, the others are stopped and the exit code is
non-zero. DATABASE_URL / CELERY_BROKER_URL, when set, are used instead of the embedded defaults.

SECRET_KEY has no default (settings.py refuses to start without one). Unless it is set, the first start
generates a random key into var/secret-key (mode 0600) and every later start reuses it. A demo database
from an earlier version may hold destination secrets encrypted under the key derived from the old public
development SECRET_KEY; they are re-encrypted under the new key (`rotate_secrets --public-development-key`).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import threading
from io import StringIO
from pathlib import Path
from types import FrameType

STOP_TIMEOUT = 15.0
ROOT = Path(__file__).resolve().parent.parent


def _prepare_environment() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pipelines.settings")
    # The demo sends webhooks to loopback test servers (e.g. `python -m http.server`).
    os.environ.setdefault("OUTBOUND_ALLOW_PRIVATE", "true")
    if not os.environ.get("SECRET_KEY", "").strip():
        # The same var/ as settings.VAR_DIR (settings cannot be read before there is a key).
        var_dir = Path(os.environ.get("PIPELINES_VAR_DIR") or ROOT / "var")
        os.environ["SECRET_KEY"] = demo_secret_key(var_dir / "secret-key")


def demo_secret_key(path: Path) -> str:
    """The key kept in `path`: read when the file exists, else generated and written there with mode
    0600. The file appears whole or not at all (written aside, then hard-linked into place), so two
    starts at once agree on one key and a crash never leaves an empty key behind."""
    try:
        key = path.read_text().strip()
    except FileNotFoundError:
        pass
    else:
        if key:
            return key
        raise SystemExit(f"devserver: {path} is empty; delete it to generate a new SECRET_KEY.")
    path.parent.mkdir(parents=True, exist_ok=True)
    aside = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(50) + "\n")
        try:
            os.link(aside, path)
        except FileExistsError:
            pass  # another start won the race: use its key
    finally:
        aside.unlink(missing_ok=True)
    return path.read_text().strip()


def _setup_django() -> Path:
    import django
    from django.conf import settings

    django.setup()
    var_dir = Path(settings.VAR_DIR)
    static_root = Path(settings.STATIC_ROOT)  # whitenoise warns when it is missing
    for folder in (var_dir, var_dir / "broker" / "queue", var_dir / "broker" / "processed",
                   var_dir / "broker" / "control", static_root):
        folder.mkdir(parents=True, exist_ok=True)
    return var_dir


def _migrate_and_bootstrap() -> dict[str, object]:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    _reencrypt_public_key_secrets()
    out = StringIO()
    call_command("bootstrap", "--json", stdout=out)
    return json.loads(out.getvalue())


def _reencrypt_public_key_secrets() -> None:
    """Move destination secrets stored under the old public development key to the current key."""
    from django.core.management import CommandError, call_command

    from connections.models import Destination
    from pipelines import crypto

    tokens = Destination.objects.exclude(secrets_encrypted="").values_list("secrets_encrypted", flat=True)
    if all(crypto.can_decrypt(token) for token in tokens):
        return
    try:
        call_command("rotate_secrets", public_development_key=True, stdout=StringIO())
    except CommandError as exc:
        # Secrets under some other key (a SECRET_KEY changed by hand): the demo still starts.
        print(f"devserver: {exc}", file=sys.stderr)
    else:
        print("devserver: destination secrets re-encrypted under the current key.", file=sys.stderr)


def _children(port: str, var_dir: Path) -> dict[str, list[str]]:
    from django.conf import settings

    py = sys.executable
    return {
        "web": [
            py, "-m", "granian", "--interface", "wsgi", "--host", "127.0.0.1", "--port", port,
            "--workers", "1", "--blocking-threads", os.environ.get("WEB_THREADS", str(max(2, os.cpu_count() or 1))),
            "--no-ws",
            "pipelines.wsgi:application",
        ],
        "worker": [
            py, "-m", "celery", "-A", "pipelines", "worker", "-Q", settings.CELERY_WORKER_QUEUES,
            "--pool", "threads", "--concurrency", os.environ.get("WORKER_CONCURRENCY", "4"),
            "--hostname", f"devserver-{os.getpid()}@%h", "--loglevel", "INFO",
        ],
        "beat": [
            py, "-m", "celery", "-A", "pipelines", "beat", "--loglevel", "INFO",
            "--schedule", str(var_dir / "celerybeat-schedule"), "--pidfile", "",
        ],
    }


def _die_with_parent() -> None:
    """In a child: get SIGTERM if the dev server itself is killed, so nothing is left running."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _banner(port: str, creds: dict[str, object]) -> str:
    base = f"http://127.0.0.1:{port}"
    return "\n".join([
        "",
        "Pipelines is starting (web server, Celery worker, Celery beat). Ctrl-C stops everything.",
        "",
        f"  Admin:        {base}/admin/   user {creds['username']}   password {creds['password']}",
        f"  Web UI:       {base}/",
        f"  API docs:     {base}/api/docs/",
        f"  API token:    {creds['api_token']}   (Authorization: Token {creds['api_token']})",
        f"  Workspace:    {creds['workspace']}",
        f"  Write key:    {creds['write_key']}   (source #{creds['source_id']}, kind http)",
        "",
        "  Send an event:",
        f"    curl -u '{creds['write_key']}:' -H 'Content-Type: application/json' \\",
        f"      -d '{{\"userId\": \"user-1\", \"event\": \"Signed Up\"}}' {base}/v1/track",
        "",
    ])


def main() -> int:
    _prepare_environment()
    port = os.environ.get("PORT", "8000")
    var_dir = _setup_django()
    creds = _migrate_and_bootstrap()
    print(_banner(port, creds), flush=True)

    stopping = threading.Event()
    received: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    procs: dict[str, subprocess.Popen[bytes]] = {}
    exit_code = 0
    try:
        for name, argv in _children(port, var_dir).items():
            # Each child leads its own process group: a terminal's Ctrl-C reaches only this process, which
            # then stops every child in order, and a group can be killed whole (granian forks workers).
            # preexec_fn is safe here: this process has started no threads of its own.
            procs[name] = subprocess.Popen(
                argv, start_new_session=True, preexec_fn=_die_with_parent  # noqa: PLW1509
            )
        while not stopping.wait(0.25):
            dead = {name: p.returncode for name, p in procs.items() if p.poll() is not None}
            if dead:
                for name, code in dead.items():
                    print(f"devserver: {name} exited with code {code}; stopping the others.", file=sys.stderr)
                exit_code = 1
                break
    finally:
        _stop_all(procs)
    if received and exit_code == 0:
        return 0
    return exit_code


def _stop_all(procs: dict[str, subprocess.Popen[bytes]]) -> None:
    """SIGTERM every child still running (warm shutdown for Celery), wait, then SIGKILL each child's
    process group so nothing it forked outlives it."""
    for p in procs.values():
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
    for p in procs.values():
        try:
            p.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pass
        # Whatever is left in the child's group (a forked server worker, a stuck child) goes now.
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        p.wait()


if __name__ == "__main__":
    sys.exit(main())
