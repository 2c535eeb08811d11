"""atomic_retrying_conflicts: a transaction PostgreSQL rolls back for a conflict runs again, nothing else does.

The conflicts are real ones from PostgreSQL: a deadlock between two connections, and serialization
failures raised by the server with their SQLSTATE (as a SERIALIZABLE transaction would get them)."""

from __future__ import annotations

import threading
from typing import Any

import psycopg
import pytest
from django.db import DataError, OperationalError, connection, transaction

from pipelines.models import Workspace
from pipelines.transactions import ATTEMPTS, atomic_retrying_conflicts
from tests.helpers import wait_for

pytestmark = pytest.mark.skipif(
    "connection.vendor != 'postgresql'",
    reason="deadlocks and serialization failures are PostgreSQL's; SQLite serializes writers and has neither")

SERIALIZATION_FAILURE = "DO $$ BEGIN RAISE EXCEPTION 'could not serialize' USING ERRCODE = 'serialization_failure'; END $$"


def _url() -> str:
    s = connection.settings_dict
    return f"postgresql://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def test_a_transaction_failing_to_serialize_runs_again_and_commits_once(transactional_db: Any):
    attempts = []

    def work() -> str:
        attempts.append(1)
        Workspace.objects.create(name="Acme", slug=f"acme-{len(attempts)}")
        if len(attempts) < 3:
            with connection.cursor() as cursor:
                cursor.execute(SERIALIZATION_FAILURE)
        return "done"

    assert atomic_retrying_conflicts(work) == "done"
    assert len(attempts) == 3
    assert list(Workspace.objects.values_list("slug", flat=True)) == ["acme-3"]  # the failed attempts left nothing


def test_a_deadlocked_transaction_runs_again(transactional_db: Any):
    """Our transaction takes lock 1 then 2, another connection 2 then 1; PostgreSQL picks ours as the
    victim (its deadlock_timeout is the shorter), and the second attempt gets both once the other commits."""
    attempts = []
    other_has_2 = threading.Event()
    other = psycopg.connect(_url())
    other.execute("SET deadlock_timeout = '10s'")

    def other_side() -> None:
        other.execute("SELECT pg_advisory_xact_lock(2)")
        other_has_2.set()
        other.execute("SELECT pg_advisory_xact_lock(1)")  # waits for our first attempt to be rolled back
        other.commit()

    def work() -> None:
        attempts.append(1)
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL deadlock_timeout = '20ms'")
            cursor.execute("SELECT pg_advisory_xact_lock(1)")
            if len(attempts) == 1:
                thread.start()
                other_has_2.wait(10)
                with psycopg.connect(_url(), autocommit=True) as watcher:
                    wait_for(lambda: watcher.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                                     "AND NOT granted").fetchone()[0] == 1, what="the other to wait")
            cursor.execute("SELECT pg_advisory_xact_lock(2)")
        Workspace.objects.create(name="Acme", slug="acme")

    thread = threading.Thread(target=other_side)
    try:
        atomic_retrying_conflicts(work)
    finally:
        thread.join(10)
        other.close()
    assert len(attempts) == 2
    assert Workspace.objects.filter(slug="acme").count() == 1


def test_a_conflict_that_persists_fails_after_the_last_attempt(transactional_db: Any):
    attempts = []

    def work() -> None:
        attempts.append(1)
        with connection.cursor() as cursor:
            cursor.execute(SERIALIZATION_FAILURE)

    with pytest.raises(OperationalError, match="could not serialize"):
        atomic_retrying_conflicts(work)
    assert len(attempts) == ATTEMPTS


def test_other_errors_are_not_run_again(transactional_db: Any):
    attempts = []

    def work() -> None:
        attempts.append(1)
        Workspace.objects.create(name="Acme", slug="acme")
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 / 0")

    with pytest.raises(DataError):
        atomic_retrying_conflicts(work)
    assert len(attempts) == 1
    assert not Workspace.objects.exists()


def test_inside_an_outer_transaction_it_runs_once_and_leaves_the_conflict_to_the_owner(transactional_db: Any):
    attempts = []

    def work() -> None:
        attempts.append(1)
        with connection.cursor() as cursor:
            cursor.execute(SERIALIZATION_FAILURE)

    with pytest.raises(OperationalError), transaction.atomic():
        atomic_retrying_conflicts(work)
    assert len(attempts) == 1
