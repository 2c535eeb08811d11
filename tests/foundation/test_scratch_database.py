"""tests.helpers.scratch_postgres_database, which the install and fuzz suites start their servers on: a
new empty database that a process can use, dropped afterwards even with a connection still open to it."""

from __future__ import annotations

import psycopg
import pytest

from tests.helpers import POSTGRES_SERVER, scratch_postgres_database


def _exists(name: str) -> bool:
    with psycopg.connect(POSTGRES_SERVER, autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def test_it_gives_an_empty_database_and_drops_it_afterwards() -> None:
    with scratch_postgres_database("pipelines_helper_") as url:
        name = url.rsplit("/", 1)[1]
        assert name.startswith("pipelines_helper_") and _exists(name)
        left_open = psycopg.connect(url.replace("postgres://", "postgresql://", 1), autocommit=True)
        tables = left_open.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
        assert tables == (0,)
        left_open.execute("CREATE TABLE t (id int)")
    assert not _exists(name)  # dropped although a connection was still open to it
    with pytest.raises(psycopg.OperationalError):
        left_open.execute("SELECT 1")
    left_open.close()


def test_each_database_is_new() -> None:
    with scratch_postgres_database("pipelines_helper_") as first, scratch_postgres_database("pipelines_helper_") as second:
        assert first != second
