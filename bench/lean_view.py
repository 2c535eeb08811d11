"""The lean reference for `make bench-ingest`: the least a Django view can do to store an event.

One WSGI app of its own, outside the product: no authentication, no validation beyond JSON, no outbox,
no broker, no middleware. `/v1/track` stores the body with one `INSERT ... ON CONFLICT DO NOTHING` (its
own commit, Django's autocommit); `/v1/batch` stores all events of the batch with one multi-row INSERT.
It writes into the bench database's `ingest_event` table, for the workspace and source named by
LEAN_WORKSPACE_ID / LEAN_SOURCE_ID. bench/ingest.py serves it under granian with the same workers and
threads as the product and prints our figures as ratios to it.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime

import environ
import orjson
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="lean-view-reference-only",
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
    DATABASES={"default": {**environ.Env.db_url_config(os.environ["DATABASE_URL"]), "CONN_MAX_AGE": 600}},
)

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.urls import path  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402

WORKSPACE_ID = int(os.environ["LEAN_WORKSPACE_ID"])
SOURCE_ID = int(os.environ["LEAN_SOURCE_ID"])
COLUMNS = "(workspace_id, source_id, message_id, type, payload, received_at)"
ROW = "(%s,%s,%s,%s,%s::jsonb,%s)"
OK = b'{"success":true}'


def _row(event: dict) -> tuple:
    event.setdefault("messageId", str(uuid.uuid4()))
    return (WORKSPACE_ID, SOURCE_ID, event["messageId"], event.get("type", "track"),
            orjson.dumps(event).decode(), datetime.now(UTC))


def _insert(rows: list[tuple]) -> None:
    sql = (f"INSERT INTO ingest_event {COLUMNS} VALUES " + ",".join([ROW] * len(rows))
           + " ON CONFLICT (source_id, message_id) DO NOTHING")
    with connection.cursor() as cursor:
        cursor.execute(sql, [value for row in rows for value in row])


@csrf_exempt
def track(request):
    _insert([_row(orjson.loads(request.body))])
    return HttpResponse(OK, content_type="application/json")


@csrf_exempt
def batch(request):
    _insert([_row(event) for event in orjson.loads(request.body)["batch"]])
    return HttpResponse(OK, content_type="application/json")


urlpatterns = [path("v1/track", track), path("v1/batch", batch)]

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
