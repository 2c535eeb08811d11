"""The beat task, through the real broker and a real worker."""

from __future__ import annotations

import pytest
from django.conf import settings

from ingest.models import Event
from retention.tasks import purge_expired

from ..helpers import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_beat_schedules_the_purge_on_the_retries_queue():
    entry = settings.CELERY_BEAT_SCHEDULE["retention-purge"]
    assert entry["task"] == "retention.purge_expired" and entry["options"]["queue"] == "retries"
    assert settings.CELERY_TASK_ROUTES["retention.purge_expired"] == {"queue": "retries"}


def test_the_task_deletes_expired_events_when_a_worker_runs_it(celery_worker, make_event):
    old, young = make_event(31), make_event(1)
    purge_expired.delay()
    wait_for(lambda: not Event.objects.filter(id=old.id).exists(), what="the expired event to go")
    assert Event.objects.filter(id=young.id).exists()
