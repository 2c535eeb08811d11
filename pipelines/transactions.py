"""Transactions that PostgreSQL rolls back because of a concurrent one, run again.

PostgreSQL ends a transaction with `deadlock_detected` (40P01) when it waits in a cycle with another, and
with `serialization_failure` (40001) under REPEATABLE READ / SERIALIZABLE; in both cases nothing of it
was written and the same work is expected to succeed when run again. Code that can meet either (the
ingest INSERTs, which wait on concurrent duplicates) runs its transaction through
`atomic_retrying_conflicts` rather than failing the request.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import DEFAULT_DB_ALIAS, OperationalError, connections, transaction

log = logging.getLogger(__name__)

T = TypeVar("T")

# serialization_failure, deadlock_detected
CONFLICT_SQLSTATES = frozenset({"40001", "40P01"})
# Attempts in all; the pauses between them grow from ~5 ms, so five attempts take well under a second.
ATTEMPTS = 5
FIRST_PAUSE_SECONDS = 0.005


def is_conflict(exc: BaseException) -> bool:
    """True when `exc` (a django.db error or the driver's, which Django chains as its cause) says
    PostgreSQL rolled the transaction back for a conflict with a concurrent one."""
    seen: BaseException | None = exc
    while seen is not None:
        if getattr(seen, "sqlstate", None) in CONFLICT_SQLSTATES:
            return True
        seen = seen.__cause__
    return False


def atomic_retrying_conflicts(work: Callable[[], T], *, using: str = DEFAULT_DB_ALIAS, attempts: int = ATTEMPTS) -> T:
    """Run `work()` inside `transaction.atomic(using)` and return its result; when the transaction is
    rolled back for a conflict (`is_conflict`), run it again, up to `attempts` times in all, after a short
    random pause (so two transactions that just deadlocked do not meet again at once).

    `work` must do nothing outside the database that it cannot do twice; `transaction.on_commit`
    callbacks are fine (those of a rolled-back attempt are dropped). Inside an outer atomic block there is
    no transaction of ours to run again, so `work` runs once, in a savepoint, and a conflict propagates
    to the owner of the outer transaction. Raises what the last attempt raised: OperationalError for a
    conflict that outlasted every attempt, any other error at once.
    """
    if connections[using].in_atomic_block:
        with transaction.atomic(using=using):
            return work()
    for attempt in range(1, attempts + 1):
        try:
            with transaction.atomic(using=using):
                return work()
        except OperationalError as exc:
            if attempt == attempts or not is_conflict(exc):
                raise
            log.info("transaction rolled back for a conflict, running it again (attempt %d of %d): %s",
                     attempt + 1, attempts, str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__)
            time.sleep(random.uniform(0.5, 1.5) * FIRST_PAUSE_SECONDS * 2 ** (attempt - 1))
    raise AssertionError("unreachable")  # the loop returns or raises
