"""Received webhook bodies are deleted with the events of their time (the workspace's events window)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from connections.models import Source
from ingest.models import WebhookBody
from retention.purge import purge_expired

from .conftest import STRIPE_EVENT, HookClient


def test_old_bodies_go_recent_ones_stay(hook: Source) -> None:
    post = HookClient(hook)
    post.post(STRIPE_EVENT)
    post.post({**STRIPE_EVENT, "id": "evt_new"})
    old, new = WebhookBody.objects.filter(source=hook).order_by("id")
    WebhookBody.objects.filter(pk=old.pk).update(received_at=timezone.now() - timedelta(days=45))
    result = purge_expired()
    assert result.webhook_bodies == 1
    assert list(WebhookBody.objects.values_list("id", flat=True)) == [new.id]
