"""Group commit for the tracking API (opt-in: INGEST_GROUP_COMMIT=true).

With one transaction per request, single-event throughput is bounded by how many commits PostgreSQL can
do (a WAL flush each) and by a round trip per statement. Here each server process has one writer thread:
request threads hand it their normalized messages and wait; it takes every submission waiting, inserts
them all with one INSERT, commits once, then wakes each request with its outcome. A request still gets
its 200 only after its rows are committed: durability is unchanged, only the commit is shared.

Failure isolation: rows go in in one global order (see services._INSERT_POSTGRES), so two processes'
groups with the same messageIds wait for each other rather than deadlock; a deadlock or serialization
failure that happens anyway runs the transaction again (pipelines.transactions). If the group's
transaction still fails for any reason but a lost connection (a DataError for a NUL character jsonb
refuses, an IntegrityError, a conflict that outlasted its retries), every submission is stored again in a
transaction of its own, so the others commit and only the one refused gets its error (the view answers
DataError and IntegrityError with 400). A lost connection (a database outage) fails every waiting
request with OperationalError, which the view answers with 503.

The writer uses its own database connection, so rows must reference committed sources (always true in
production; tests use transactional_db) and the caller's transaction does not apply.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import Any

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection

from connections.models import Source
from pipelines.transactions import atomic_retrying_conflicts, is_conflict
from privacy import suppression

from .services import hand_off, insert_rows

log = logging.getLogger(__name__)

# PostgreSQL allows 65,535 parameters per statement; a row takes 6.
MAX_ROWS_PER_STATEMENT = 5000
# How long a request waits for its group before answering 503 (clients retry; messageId dedupes).
WAIT_SECONDS = 10.0
# An idle writer closes its connection after this long.
IDLE_SECONDS = 5.0


class _Submission:
    __slots__ = ("done", "error", "ids", "messages", "received_at", "source")

    def __init__(self, source: Source, messages: Sequence[dict[str, Any]], received_at: datetime) -> None:
        self.source = source
        self.messages = messages
        self.received_at = received_at
        self.ids: list[int] = []
        self.error: BaseException | None = None
        self.done = threading.Event()


class GroupWriter:
    """One per process; `store` is called from request threads."""

    def __init__(self) -> None:
        self._pending: list[_Submission] = []
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._stop = False

    def store(self, source: Source, messages: Sequence[dict[str, Any]], received_at: datetime) -> list[int]:
        """Store like services.store_events, committed together with concurrent requests; return new ids.

        Raises OperationalError when the database is unavailable (or the group did not finish in time),
        DataError or IntegrityError when PostgreSQL refuses these messages' content. Messages of a
        suppressed identity are dropped here, before they join a group (privacy.suppression).
        """
        if not messages:
            return []
        messages = suppression.split(source, messages, received_at)
        if not messages:
            return []
        submission = _Submission(source, messages, received_at)
        with self._cond:
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._stop = False
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, daemon=True, name="ingest-group-commit")
                self._thread.start()
            self._pending.append(submission)
            self._cond.notify()
        if not submission.done.wait(WAIT_SECONDS):
            raise OperationalError("the event store did not commit in time")
        if submission.error is not None:
            raise submission.error
        return submission.ids

    def close(self) -> None:
        """Stop the writer thread and close its connection (tests call this before the database goes)."""
        with self._cond:
            self._stop = True
            self._cond.notify()
            thread = self._thread
        if thread is not None and thread.is_alive():
            thread.join(timeout=WAIT_SECONDS)
        self._thread = None

    def _take(self) -> list[_Submission] | None:
        with self._cond:
            while not self._pending and not self._stop:
                if not self._cond.wait(IDLE_SECONDS):
                    connection.close()  # idle: do not hold a connection for nothing
            if self._stop and not self._pending:
                return None
            group: list[_Submission] = []
            rows = 0
            while self._pending and (not group or rows + len(self._pending[0].messages) <= MAX_ROWS_PER_STATEMENT):
                submission = self._pending.pop(0)
                group.append(submission)
                rows += len(submission.messages)
            return group

    def _run(self) -> None:
        try:
            while (group := self._take()) is not None:
                entries: list[tuple[list[int], int]] = []
                try:
                    entries = self._write(group)
                except Exception as exc:  # a bug must not leave requests waiting forever
                    log.exception("group commit failed")
                    for submission in group:
                        if submission.error is None and not submission.ids:
                            submission.error = exc
                finally:
                    for submission in group:
                        submission.done.set()
                for new_ids, entry in entries:
                    hand_off(new_ids, entry)
        finally:
            connection.close()

    def _write(self, group: list[_Submission]) -> list[tuple[list[int], int]]:
        """Store the group, giving each submission its new ids or its error; return the (new event ids,
        outbox entry) pairs to hand off once the requests are answered."""
        try:
            rows, entry = atomic_retrying_conflicts(partial(_insert, group))
        except Exception as exc:  # noqa: BLE001 - sorted out below: a lost connection or one submission
            if len(group) == 1 or _connection_lost(exc):
                _fail(group, exc)
                return []
            # Most likely one submission's data (DataError, IntegrityError): find it, commit the others.
            return self._write_one_by_one(group)
        by_key: dict[tuple[int, str], _Submission] = {}
        for submission in group:
            for m in submission.messages:
                by_key.setdefault((submission.source.id, m["messageId"]), submission)
        for event_id, source_id, message_id in rows:
            by_key[(source_id, message_id)].ids.append(event_id)
        return [([row[0] for row in rows], entry)] if entry is not None else []

    def _write_one_by_one(self, group: list[_Submission]) -> list[tuple[list[int], int]]:
        """After the group's transaction failed: each submission in a transaction of its own (never
        savepoints in one, whose statements would lock keys out of the global order), so every other
        submission commits and only the one refused gets its error."""
        entries: list[tuple[list[int], int]] = []
        for index, submission in enumerate(group):
            try:
                rows, entry = atomic_retrying_conflicts(partial(_insert, [submission]))
            except Exception as exc:  # noqa: BLE001 - this submission's error, whatever it is
                if _connection_lost(exc):
                    _fail(group[index:], exc)
                    break
                _fail([submission], exc)
                continue
            submission.ids = [row[0] for row in rows]
            if entry is not None:
                entries.append((submission.ids, entry))
        return entries


def _insert(group: list[_Submission]) -> tuple[list[tuple[int, int, str]], int | None]:
    with connection.cursor() as cursor:
        return insert_rows(cursor, [(s.source, s.messages, s.received_at) for s in group])


def _connection_lost(exc: BaseException) -> bool:
    """True when `exc` means the database went away (not what one submission's rows caused): the
    connection is closed or no longer answers. A conflict that outlasted its retries is not a loss."""
    if isinstance(exc, InterfaceError):
        return True
    if not isinstance(exc, OperationalError) or is_conflict(exc):
        return False
    return connection.connection is None or not connection.is_usable()


def _fail(submissions: Sequence[_Submission], exc: BaseException) -> None:
    """Answer these submissions with `exc` (the view maps it to 400, 503 or, for a bug, 500)."""
    if _connection_lost(exc):
        connection.close()  # reconnect for the next group
    elif not isinstance(exc, DatabaseError):
        log.error("group commit failed for a submission of %d messages", len(submissions[0].messages),
                  exc_info=exc)
    for submission in submissions:
        submission.error = exc


writer = GroupWriter()


def enabled() -> bool:
    """On for PostgreSQL when INGEST_GROUP_COMMIT is set (the Procfile's web process sets it); SQLite has
    one writer at a time anyway."""
    return bool(getattr(settings, "INGEST_GROUP_COMMIT", False)) and connection.vendor == "postgresql"

