"""The Celery application. Tasks live in `destinations.tasks` and `ingest.tasks`."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pipelines.settings")

app = Celery("pipelines")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
