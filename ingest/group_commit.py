"""Group commit for the tracking API (opt-in: INGEST_GROUP_COMMIT=true).

With one transaction per request, single-event throughput is bounded by how many commits PostgreSQL can
do (a WAL flush each) and by a round trip per statement. Here each server process has one writer thread:
request threads hand it their normalized messages and wait; it takes every submission waiting, inserts
them all with one INSERT, commits once, then wakes each request with its outcome. A request still gets
its 200 only after its rows are committed: durability is unchanged, only the commit is shared.

Failure isolation: if the shared INSERT is refused for data reasons (e.g. a NUL character jsonb refuses),
the group is retried one submission per savepoint so only the culprit fails. A database outage fails every
waiting request with OperationalError, which the view answers with 503.

The writer uses its own database connection, so rows must reference committed sources (always true in
production; tests use transactional_db) and the caller's transaction does not apply.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import DataError, InterfaceError, OperationalError, connection, transaction

from connections.models import Source
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
        DataError when PostgreSQL refuses these messages' content. Messages of a suppressed identity are
        dropped here, before they join a group (privacy.suppression).
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
                except DataError as exc:  # a lone submission PostgreSQL refuses: its request answers 400
                    group[0].error = exc
                except (OperationalError, InterfaceError) as exc:
                    connection.close()  # reconnect for the next group
                    for submission in group:
                        submission.error = exc
                except Exception as exc:  # a bug must not leave requests waiting forever
                    log.exception("group commit failed")
                    for submission in group:
                        submission.error = exc
                finally:
                    for submission in group:
                        submission.done.set()
                for new_ids, entry in entries:
                    hand_off(new_ids, entry)
        finally:
            connection.close()

    def _write(self, group: list[_Submission]) -> list[tuple[list[int], int]]:
        """Store the group; return its (new event ids, outbox entry) pairs to hand off once committed."""
        by_key: dict[tuple[int, str], _Submission] = {}
        for submission in group:
            for m in submission.messages:
                by_key.setdefault((submission.source.id, m["messageId"]), submission)
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                rows, entry = insert_rows(cursor, [(s.source, s.messages, s.received_at) for s in group])
            written = [(rows, entry)]
        except DataError:
            if len(group) == 1:
                raise
            written = self._write_one_by_one(group)
        for rows, _entry in written:
            for event_id, source_id, message_id in rows:
                by_key[(source_id, message_id)].ids.append(event_id)
        return [([row[0] for row in rows], entry) for rows, entry in written if entry is not None]

    def _write_one_by_one(self, group: list[_Submission]) -> list[tuple[list[tuple[int, int, str]], int | None]]:
        written: list[tuple[list[tuple[int, int, str]], int | None]] = []
        with transaction.atomic(), connection.cursor() as cursor:
            for submission in group:
                try:
                    with transaction.atomic():  # a savepoint: only this submission fails
                        written.append(insert_rows(cursor, [(submission.source, submission.messages,
                                                             submission.received_at)]))
                except DataError as exc:
                    submission.error = exc
        return written


writer = GroupWriter()


def enabled() -> bool:
    """On for PostgreSQL when INGEST_GROUP_COMMIT is set (the Procfile's web process sets it); SQLite has
    one writer at a time anyway."""
    return bool(getattr(settings, "INGEST_GROUP_COMMIT", False)) and connection.vendor == "postgresql"

