"""Django admin lists received webhook bodies, read-only."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from connections.models import Source
from ingest.models import WebhookBody

from .conftest import STRIPE_EVENT, HookClient


def test_bodies_are_browsable_read_only(admin_client: Any, hook: Source) -> None:
    HookClient(hook).post(STRIPE_EVENT)
    body = WebhookBody.objects.get()
    assert admin_client.get(reverse("admin:ingest_webhookbody_changelist")).status_code == 200
    detail = admin_client.get(reverse("admin:ingest_webhookbody_change", args=[body.pk]))
    assert detail.status_code == 200 and "charge.succeeded" in detail.content.decode()
    assert admin_client.get(reverse("admin:ingest_webhookbody_add")).status_code == 403
