"""Renaming, disabling and deleting a source from its page."""

from __future__ import annotations

import base64

import orjson
from django.test import Client
from django.utils import timezone

from connections.models import Connection, Destination, Source
from ingest import auth
from ingest.models import Event


def _track(client: Client, write_key: str) -> int:
    auth = "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()
    return client.post("/v1/track", data=orjson.dumps({"userId": "u1", "event": "Clicked"}),
                       content_type="application/json", HTTP_AUTHORIZATION=auth).status_code


def test_a_source_is_renamed_from_its_page(owner_client: Client, js_source: Source) -> None:
    response = owner_client.post(f"/w/acme/sources/{js_source.id}/rename/", {"name": "  Marketing site "})
    assert response.status_code == 302
    js_source.refresh_from_db()
    assert js_source.name == "Marketing site"
    assert "Marketing site" in owner_client.get(f"/w/acme/sources/{js_source.id}/").content.decode()


def test_an_empty_name_is_reshown_with_an_error(owner_client: Client, js_source: Source) -> None:
    response = owner_client.post(f"/w/acme/sources/{js_source.id}/rename/", {"name": "   "})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    js_source.refresh_from_db()
    assert js_source.name == "Production Javascript"


def test_a_disabled_source_refuses_events_and_can_be_enabled_again(
    owner_client: Client, client: Client, js_source: Source
) -> None:
    assert _track(client, js_source.write_key) == 200
    page = owner_client.post(f"/w/acme/sources/{js_source.id}/toggle/", {"enabled": "false"}, follow=True)
    assert "is disabled" in page.content.decode() and "Enable source" in page.content.decode()
    js_source.refresh_from_db()
    assert js_source.enabled is False
    auth.forget()  # what INGEST_KEY_CACHE_SECONDS passing does: the key is looked up again
    assert _track(client, js_source.write_key) == 401
    owner_client.post(f"/w/acme/sources/{js_source.id}/toggle/", {"enabled": "true"})
    js_source.refresh_from_db()
    assert js_source.enabled is True


def test_deleting_a_source_asks_first_and_names_what_is_disconnected(
    owner_client: Client, js_source: Source, webhook: Destination
) -> None:
    Connection.objects.get_or_create(source=js_source, destination=webhook)
    Event.objects.create(workspace=js_source.workspace, source=js_source, message_id="m1", type="track",
                         payload={"type": "track"}, received_at=timezone.now())
    confirm = owner_client.get(f"/w/acme/sources/{js_source.id}/delete/").content.decode()
    assert "My webhook" in confirm and "1 stored event " in confirm
    assert Source.objects.filter(id=js_source.id).exists()
    response = owner_client.post(f"/w/acme/sources/{js_source.id}/delete/")
    assert response.status_code == 302 and response["Location"] == "/w/acme/connections/"
    assert not Source.objects.filter(id=js_source.id).exists()
    assert not Connection.objects.filter(destination=webhook).exists()
    assert Destination.objects.filter(id=webhook.id).exists()


def test_an_outsider_cannot_rename_disable_or_delete(outsider, js_source: Source) -> None:
    client = Client()
    client.force_login(outsider)
    for path in ("rename/", "toggle/", "delete/"):
        assert client.post(f"/w/acme/sources/{js_source.id}/{path}", {"name": "x", "enabled": "false"}).status_code == 404
        assert client.post(f"/w/globex/sources/{js_source.id}/{path}", {"name": "x", "enabled": "false"}).status_code == 404
    js_source.refresh_from_db()
    assert js_source.name == "Production Javascript" and js_source.enabled
