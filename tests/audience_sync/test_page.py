"""The audience page's Destinations section: admins connect, reschedule and disconnect; viewers see."""

from __future__ import annotations

from typing import Any

from django.test import Client

from audience_sync.models import AudienceDestination
from pipelines.models import Membership

from .conftest import make_audience


def _page(client: Client, workspace: Any, audience: Any) -> str:
    response = client.get(f"/w/{workspace.slug}/audiences/{audience.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def test_an_admin_connects_reschedules_and_disconnects(workspace: Any, owner: Any, hook: Any) -> None:
    audience = make_audience(workspace)
    client = Client()
    client.force_login(owner)
    page = _page(client, workspace, audience)
    assert "Not sent anywhere yet." in page and f'<option value="{hook.pk}">Journeys hook (Webhook)</option>' in page
    base = f"/w/{workspace.slug}/audiences/{audience.pk}/destinations/"
    response = client.post(base, {"destination_id": hook.pk, "mode": "add_remove", "interval_minutes": "0"},
                           follow=True)
    page = response.content.decode()
    assert "Connected to Journeys hook" in page
    assert '<tr data-destination="Journeys hook">' in page and "Realtime" in page and "Sending current members" in page
    bad = client.post(f"{base}{hook.pk}/", {"op": "save", "mode": "add_remove", "interval_minutes": "-1"}, follow=True)
    assert "Not saved. Interval minutes:" in bad.content.decode()
    client.post(f"{base}{hook.pk}/", {"op": "save", "mode": "mirror", "interval_minutes": "60"})
    link = AudienceDestination.objects.get(audience=audience)
    assert (link.mode, link.interval_minutes) == ("mirror", 60)
    assert "Every 60 min" in _page(client, workspace, audience)
    page = client.post(f"{base}{hook.pk}/", {"op": "disconnect"}, follow=True).content.decode()
    assert "Disconnected from Journeys hook" in page and not AudienceDestination.objects.exists()


def test_a_viewer_sees_the_connections_but_no_forms(workspace: Any, owner: Any, hook: Any) -> None:
    from django.contrib.auth.models import User

    from audience_sync import services

    audience = make_audience(workspace)
    services.connect(audience, hook, interval_minutes=15)
    viewer = User.objects.create_user("vera", "vera@example.com", "pw-123456789")
    Membership.objects.create(user=viewer, workspace=workspace, role=Membership.Role.VIEWER)
    client = Client()
    client.force_login(viewer)
    page = _page(client, workspace, audience)
    assert "Every 15 min" in page and "Connect destination" not in page and "Disconnect" not in page


def test_the_internal_source_page_says_which_audience_it_carries(workspace: Any, owner: Any, hook: Any) -> None:
    from audience_sync import services

    audience = make_audience(workspace)
    link = services.connect(audience, hook)
    client = Client()
    client.force_login(owner)
    page = client.get(f"/w/{workspace.slug}/sources/{link.source_id}/").content.decode()
    assert "managed by audience sync" in page and f"/w/{workspace.slug}/audiences/{audience.pk}/#destinations" in page
    overview = client.get(f"/w/{workspace.slug}/connections/").content.decode()
    assert "Audience: Cart Abandoners → Journeys hook" in overview
