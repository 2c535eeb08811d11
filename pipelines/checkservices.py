"""`python -m pipelines.checkservices`: fail clearly, before pytest, when PostgreSQL or the broker is down."""

from __future__ import annotations

import os
import sys

import environ
from kombu import Connection


def main() -> int:
    env = environ.Env()
    problems = []
    db = env.db("DATABASE_URL", default="sqlite:///var/db.sqlite3")
    if db["ENGINE"].endswith("postgresql"):
        import psycopg

        try:
            psycopg.connect(
                host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"], password=db["PASSWORD"],
                dbname="postgres", connect_timeout=5,
            ).close()
        except psycopg.Error as exc:
            problems.append(f"PostgreSQL at {db['HOST']}:{db['PORT']} is unreachable: {exc}")
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if broker and not broker.startswith("filesystem://"):
        try:
            with Connection(broker, connect_timeout=5) as conn:
                conn.ensure_connection(max_retries=1)
        except Exception as exc:  # noqa: BLE001 - any failure means the broker is not usable
            problems.append(f"The Celery broker {broker} is unreachable: {exc}")
    for p in problems:
        print(f"checkservices: {p}", file=sys.stderr)
    if problems:
        print("checkservices: start them (see README, 'Running the tests') and try again.", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
