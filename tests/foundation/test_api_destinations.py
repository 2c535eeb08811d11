"""Destinations through the management API: catalog validation, secrets, default actions, connections."""

from __future__ import annotations

from django.db import connection

from connections.models import SERVER_TO_DIRECT_MESSAGE, Connection, Destination

from .conftest import HEADER_SECRET, SECRET

URL = "/api/workspaces/acme/destinations/"


def _raw_row(destination_id):
    with connection.cursor() as cursor:
        cursor.execute("SELECT config::text, secrets_encrypted FROM connections_destination WHERE id = %s",
                       [destination_id])
        return " ".join(cursor.fetchone())


def test_creating_a_destination_adds_the_default_actions_and_connects_sources(owner_api, http_source):
    response = owner_api.post(URL, {
        "name": "My hook", "kind": "webhook", "source_ids": [http_source.id],
        "settings": {"url": "https://93.184.216.34/in", "shared_secret": SECRET},
    }, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    destination = Destination.objects.get(id=body["id"])
    assert body["mode"] == "cloud" and body["source_ids"] == [http_source.id]
    actions = list(destination.actions.values_list("kind", "name", "trigger", "mapping"))
    assert actions == [("send", "Send", destination.definition.action("send").default_trigger,
                        {"data": {"@path": "$."}})]
    assert [a["kind"] for a in body["actions"]] == ["send"]
    assert Connection.objects.filter(source=http_source, destination=destination).exists()


def test_secrets_are_encrypted_at_rest_and_masked_on_read(owner_api, http_source):
    body = owner_api.post(URL, {
        "kind": "webhook",
        "settings": {"url": "https://93.184.216.34/in", "shared_secret": SECRET,
                     "headers": {"Authorization": HEADER_SECRET}},
    }, format="json").json()
    assert SECRET not in str(body) and HEADER_SECRET not in str(body)
    assert body["settings"]["shared_secret"].endswith(SECRET[-4:]) and body["settings"]["shared_secret"] != SECRET
    assert list(body["settings"]["headers"]) == ["Authorization"]
    assert body["settings"]["url"] == "https://93.184.216.34/in"

    raw = _raw_row(body["id"])
    assert SECRET not in raw and HEADER_SECRET not in raw and "header-token" not in raw
    assert Destination.objects.get(id=body["id"]).settings["shared_secret"] == SECRET

    for page in (owner_api.get(URL), owner_api.get(f"{URL}{body['id']}/")):
        assert SECRET not in page.content.decode() and "header-token" not in page.content.decode()


def test_patching_settings_keeps_secrets_not_sent_or_sent_back_masked(owner_api, webhook):
    shown = owner_api.get(f"{URL}{webhook.id}/").json()["settings"]
    response = owner_api.patch(f"{URL}{webhook.id}/", {
        "settings": {**shown, "url": "https://93.184.216.35/new"},
    }, format="json")
    assert response.status_code == 200, response.json()
    webhook.refresh_from_db()
    assert webhook.settings["url"] == "https://93.184.216.35/new"
    assert webhook.settings["shared_secret"] == SECRET
    assert webhook.settings["headers"] == {"Authorization": HEADER_SECRET}

    owner_api.patch(f"{URL}{webhook.id}/", {"settings": {"method": "PUT"}}, format="json")
    webhook.refresh_from_db()
    assert webhook.settings["method"] == "PUT" and webhook.settings["shared_secret"] == SECRET

    owner_api.patch(f"{URL}{webhook.id}/", {"settings": {"shared_secret": "a-brand-new-secret-42"}}, format="json")
    webhook.refresh_from_db()
    assert webhook.settings["shared_secret"] == "a-brand-new-secret-42"
    assert "a-brand-new-secret-42" not in _raw_row(webhook.id)


def test_settings_failing_the_catalog_schema_are_a_400(owner_api):
    missing = owner_api.post(URL, {"kind": "webhook", "settings": {}}, format="json")
    assert missing.status_code == 400
    assert missing.json()["errors"]["settings.url"] == ["This field is required."]
    bad = owner_api.post(URL, {"kind": "webhook", "settings": {"url": "ftp://x", "method": "GET", "nope": 1}},
                         format="json")
    assert bad.status_code == 400
    assert set(bad.json()["errors"]) == {"settings.url", "settings.method", "settings.nope"}
    assert not Destination.objects.exists()


def test_unknown_destination_type_is_a_400(owner_api):
    response = owner_api.post(URL, {"kind": "carrier-pigeon", "settings": {}}, format="json")
    assert response.status_code == 400
    assert "Unknown destination type" in response.json()["message"]


def test_server_source_cannot_feed_a_direct_mode_destination(owner_api, http_source, js_source, direct_mode_type):
    refused = owner_api.post(URL, {
        "kind": "test_direct", "settings": {"measurement_id": "G-1"}, "source_ids": [http_source.id],
    }, format="json")
    assert refused.status_code == 400
    assert SERVER_TO_DIRECT_MESSAGE in refused.json()["message"]
    assert not Destination.objects.filter(kind="test_direct").exists()

    created = owner_api.post(URL, {
        "kind": "test_direct", "settings": {"measurement_id": "G-1"}, "source_ids": [js_source.id],
    }, format="json")
    assert created.status_code == 201 and created.json()["mode"] == "direct"

    adding_server = owner_api.patch(f"{URL}{created.json()['id']}/", {"source_ids": [js_source.id, http_source.id]},
                                    format="json")
    assert adding_server.status_code == 400
    assert "Server libraries can't send data directly" in adding_server.json()["message"]
    assert list(Connection.objects.filter(destination_id=created.json()["id"]).values_list("source_id", flat=True)) \
        == [js_source.id]


def test_source_ids_replace_the_connections(owner_api, webhook, http_source, js_source):
    response = owner_api.patch(f"{URL}{webhook.id}/", {"source_ids": [js_source.id]}, format="json")
    assert response.status_code == 200 and response.json()["source_ids"] == [js_source.id]
    assert list(webhook.connections.values_list("source_id", flat=True)) == [js_source.id]


def test_type_of_a_destination_cannot_change(owner_api, webhook, direct_mode_type):
    response = owner_api.patch(f"{URL}{webhook.id}/", {"kind": "test_direct"}, format="json")
    assert response.status_code == 400 and "kind" in response.json()["errors"]


def test_deleting_a_destination(owner_api, webhook):
    assert owner_api.delete(f"{URL}{webhook.id}/").status_code == 204
    assert not Destination.objects.filter(id=webhook.id).exists()
