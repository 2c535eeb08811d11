"""The Profiles destination is added through the Add Destination wizard like any other, with no
settings, and then builds profiles from the connected source's events."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from connections.models import Action, Destination, Source
from profiles.models import Person

pytestmark = pytest.mark.django_db
BASE = "/w/acme/destinations/new"


def test_wizard_adds_profiles_with_no_settings(owner: Any, source: Source) -> None:
    from destinations import fanout
    from ingest.services import store_events
    from tests.helpers import send_queued

    client = Client()
    client.force_login(owner)
    assert "Profiles" in client.get(f"{BASE}/select/").content.decode()
    assert client.post(f"{BASE}/select/", {"kind": "profiles"})["Location"] == f"{BASE}/sources/"
    assert client.post(f"{BASE}/sources/", {"source_ids": [str(source.id)]})["Location"] == f"{BASE}/configure/"
    assert client.get(f"{BASE}/configure/").status_code == 200
    assert client.post(f"{BASE}/configure/", {"name": "Profiles"})["Location"] == f"{BASE}/review/"
    client.post(f"{BASE}/review/")
    destination = Destination.objects.get(kind="profiles")
    assert destination.enabled
    assert list(Action.objects.filter(destination=destination).values_list("kind", flat=True)) == ["update_profiles"]

    ids = store_events(source, [{"type": "identify", "messageId": "wz-1", "userId": "u1",
                                 "timestamp": "2026-12-01T12:00:00Z", "traits": {"plan": "pro"}}], timezone.now())
    fanout.fan_out(ids)
    assert send_queued().delivered == 1
    assert Person.objects.get().traits == {"plan": "pro"}
    # the destination's pages render for it (no requests to show)
    assert client.get(f"/w/acme/destinations/{destination.id}/").status_code == 200
    assert client.get(f"/w/acme/destinations/{destination.id}/delivery/").status_code == 200
