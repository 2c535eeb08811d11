"""The charts' time-range picker (1 h / 24 h / 7 d) on the Event delivery tab and the audience page, as
the server renders them (the browser's time zone labels are tested in tests/e2e/test_polish_ui.py)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.test import Client
from django.utils import timezone

from audiences import services as audience_services
from connections.models import Destination
from destinations.models import DeliveryCount


def test_delivery_chart_follows_the_range_in_the_url(owner_client: Client, webhook: Destination) -> None:
    DeliveryCount.objects.create(destination=webhook, minute=timezone.now() - timedelta(days=3), delivered=4)
    url = f"/w/acme/destinations/{webhook.id}/delivery/"
    day = owner_client.get(url).content.decode()
    assert "last 24 hours" in day and 'href="?range=24h" aria-current="true"' in day
    assert "No deliveries in the last 24 hours." in day and day.count('data-time="') == 6  # a label every 4 h
    week = owner_client.get(url, {"range": "7d"}).content.decode()
    assert "last 7 days" in week and 'href="?range=7d" aria-current="true"' in week
    assert re.search(r'class="bar bar-delivered"><title data-time="[^"]+" data-suffix=": 4 delivered">', week)
    assert "Times in UTC" in week  # until the browser relabels the axis in its own zone
    hour = owner_client.get(url, {"range": "1h"}).content.decode()
    assert "No deliveries in the last 1 hour." in hour


def test_an_unknown_range_is_an_error_on_the_page_not_a_crash(owner_client: Client, webhook: Destination) -> None:
    response = owner_client.get(f"/w/acme/destinations/{webhook.id}/delivery/", {"range": "1y"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "Unknown time range &#x27;1y&#x27;: use one of 1h, 24h, 7d. Showing the last 24 hours." in body


def test_audience_chart_has_the_same_picker(owner_client: Client, workspace: Any) -> None:
    audience = audience_services.create_audience(workspace, name="Pro", key="pro",
                                                 definition={"all": [{"trait": "plan", "op": "=", "value": "pro"}]})
    body = owner_client.get(f"/w/acme/audiences/{audience.pk}/", {"range": "1h"}).content.decode()
    assert "Size over time <span class=\"muted small\">last 1 hour</span>" in body
    assert 'href="?range=1h" aria-current="true"' in body and "data-chart-zone" in body
    assert owner_client.get(f"/w/acme/audiences/{audience.pk}/", {"range": "x"}).status_code == 400
