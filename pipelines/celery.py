"""The Celery application. Tasks live in `destinations.tasks` and `ingest.tasks`."""

import os
from typing import Any

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pipelines.settings")

app = Celery("pipelines")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


# Celery's Django fixup closes every database connection after every task unless CELERY_DB_REUSE_MAX is
# set, so each task paid for a new PostgreSQL backend (about an eighth of a delivery worker's time, plus
# the server's fork). Settings set it very high; connections are then kept or dropped the way Django does
# between requests: close_old_connections() before and after each task honours CONN_MAX_AGE and, with
# CONN_HEALTH_CHECKS, drops a connection that broke (a database restart) before the next task uses it.
@signals.task_prerun.connect
@signals.task_postrun.connect
def _recycle_database_connections(task: Any = None, **_: Any) -> None:
    if task is not None and getattr(task.request, "is_eager", False):
        return  # called inline (tests, tools): the caller owns its connection
    from django.db import close_old_connections

    close_old_connections()
