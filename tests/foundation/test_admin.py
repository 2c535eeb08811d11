"""Django admin: every model browsable, secrets never on a page, keys rotate, events found by message id."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from connections import services
from connections.models import Connection, Destination, Source
from destinations.models import Delivery, DeliveryCount, DeliveryExchange
from ingest.models import Event

from .conftest import HEADER_SECRET, SECRET


@pytest.fixture
def event(workspace, http_source):
    return Event.objects.create(
        workspace=workspace, source=http_source, message_id="ajs-msg-42", type="track",
        payload={"type": "track", "event": "Order Completed"}, received_at="2026-01-01T00:00:00Z",
    )


@pytest.fixture
def everything(workspace, owner, http_source, js_source, webhook, event):
    action = webhook.actions.get()
    delivery = Delivery.objects.create(
        workspace=workspace, event=event, destination=webhook, action=action, message_id=event.message_id,
        status="failed", attempts=1, last_status_code=400,
        exchange=DeliveryExchange.objects.create(destination=webhook, request={"url": "https://93.184.216.34/in"},
                                                 created_at="2026-01-01T00:00:00Z"),
    )
    count = DeliveryCount.objects.create(destination=webhook, minute="2026-01-01T00:00:00Z", failed=1)
    return {
        "workspace": workspace, "membership": owner.memberships.get(), "source": http_source,
        "destination": webhook, "connection": webhook.connections.get(), "action": action, "event": event,
        "delivery": delivery, "deliverycount": count,
    }


ADMIN_NAMES = {
    "workspace": "pipelines_workspace", "membership": "pipelines_membership", "source": "connections_source",
    "destination": "connections_destination", "connection": "connections_connection",
    "action": "connections_action", "event": "ingest_event", "delivery": "destinations_delivery",
    "deliverycount": "destinations_deliverycount",
}


def test_every_model_has_a_changelist_and_a_detail_page(admin_client, everything):
    for key, name in ADMIN_NAMES.items():
        listing = admin_client.get(reverse(f"admin:{name}_changelist"))
        assert listing.status_code == 200, key
        detail = admin_client.get(reverse(f"admin:{name}_change", args=[everything[key].pk]))
        assert detail.status_code == 200, key
    for name in ("pipelines_workspace", "connections_source", "connections_destination", "connections_connection"):
        assert admin_client.get(reverse(f"admin:{name}_add")).status_code == 200


def test_changelists_search_and_filter(admin_client, everything):
    page = admin_client.get(reverse("admin:connections_source_changelist") + "?q=Backend&kind__exact=http")
    assert "Backend" in page.content.decode() and "Website" not in page.content.decode()
    page = admin_client.get(reverse("admin:connections_destination_changelist") + "?kind=webhook")
    assert "Hook" in page.content.decode()


def test_destination_pages_never_show_secrets(admin_client, everything):
    dest = everything["destination"]
    pages = [
        admin_client.get(reverse("admin:connections_destination_change", args=[dest.pk])),
        admin_client.get(reverse("admin:connections_destination_changelist")),
        admin_client.get(reverse("admin:connections_connection_change", args=[everything["connection"].pk])),
    ]
    for page in pages:
        html = page.content.decode()
        assert SECRET not in html and "header-token" not in html and dest.secrets_encrypted not in html
    change = pages[0].content.decode()
    assert "••••••••" + SECRET[-4:] in change  # the masked value tells which secret is stored
    assert "https://93.184.216.34/in" in change


def _destination_form(dest, **settings):
    action = dest.actions.get()
    conn = dest.connections.get()
    data = {
        "name": dest.name, "enabled": "on",
        "setting__url": dest.config["url"], "setting__method": "POST", "setting__headers": "",
        "setting__shared_secret": "", "setting__batch_size": "1",
        "connections-TOTAL_FORMS": "1", "connections-INITIAL_FORMS": "1",
        "connections-MIN_NUM_FORMS": "0", "connections-MAX_NUM_FORMS": "1000",
        "connections-0-id": str(conn.pk), "connections-0-destination": str(dest.pk),
        "connections-0-source": str(conn.source_id), "connections-0-enabled": "on",
        "actions-TOTAL_FORMS": "1", "actions-INITIAL_FORMS": "1",
        "actions-MIN_NUM_FORMS": "0", "actions-MAX_NUM_FORMS": "1000",
        "actions-0-id": str(action.pk), "actions-0-destination": str(dest.pk), "actions-0-kind": action.kind,
        "actions-0-name": action.name, "actions-0-trigger": action.trigger,
        "actions-0-mapping": '{"data": {"@path": "$."}}', "actions-0-enabled": "on", "actions-0-position": "0",
    }
    data.update(settings)
    return data


def test_editing_a_destination_in_admin_keeps_secrets_left_empty(admin_client, everything):
    dest = everything["destination"]
    url = reverse("admin:connections_destination_change", args=[dest.pk])
    response = admin_client.post(url, _destination_form(dest, **{"setting__url": "https://93.184.216.35/x",
                                                               "actions-0-name": "Everything"}))
    assert response.status_code == 302, response.content.decode()[:3000]
    dest = Destination.objects.get(pk=dest.pk)
    assert dest.settings["url"] == "https://93.184.216.35/x"
    assert dest.settings["shared_secret"] == SECRET and dest.settings["headers"] == {"Authorization": HEADER_SECRET}
    assert dest.actions.get().name == "Everything"

    response = admin_client.post(url, _destination_form(dest, setting__shared_secret="replaced-secret-99"))
    assert response.status_code == 302
    assert Destination.objects.get(pk=dest.pk).settings["shared_secret"] == "replaced-secret-99"


def test_admin_destination_form_validates_settings_with_the_catalog(admin_client, everything):
    dest = everything["destination"]
    url = reverse("admin:connections_destination_change", args=[dest.pk])
    response = admin_client.post(url, _destination_form(dest, setting__url="ftp://nope"))
    assert response.status_code == 200
    assert "Enter a URL starting with http:// or https://." in response.content.decode()
    assert Destination.objects.get(pk=dest.pk).settings["url"] == "https://93.184.216.34/in"


def test_admin_refuses_connecting_a_server_source_to_a_direct_destination(admin_client, workspace, http_source,
                                                                          direct_mode_type):
    direct = services.create_destination(workspace, name="GA", kind="test_direct",
                                         settings={"measurement_id": "G-1"})
    response = admin_client.post(reverse("admin:connections_connection_add"), {
        "source": http_source.pk, "destination": direct.pk, "enabled": "on",
    })
    assert response.status_code == 200
    assert "Server libraries can&#x27;t send data directly" in response.content.decode()
    assert not Connection.objects.filter(destination=direct).exists()


def test_adding_a_destination_in_admin_creates_default_actions(admin_client, workspace):
    add = reverse("admin:connections_destination_add")
    page = admin_client.get(add + "?kind=webhook").content.decode()
    assert 'name="setting__url"' in page and 'type="password"' in page
    response = admin_client.post(add, {
        "workspace": workspace.pk, "name": "From admin", "kind": "webhook", "enabled": "on",
        "setting__url": "https://93.184.216.34/a", "setting__method": "POST",
        "setting__shared_secret": SECRET, "setting__batch_size": "1",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    dest = Destination.objects.get(name="From admin")
    assert [a.kind for a in dest.actions.all()] == ["send"]
    assert dest.settings["shared_secret"] == SECRET and SECRET not in dest.secrets_encrypted


def test_write_keys_are_read_only_and_rotate_by_admin_action(admin_client, everything, js_source):
    source = everything["source"]
    page = admin_client.get(reverse("admin:connections_source_change", args=[source.pk])).content.decode()
    assert source.write_key in page and 'name="write_key"' not in page

    old = {source.pk: source.write_key, js_source.pk: js_source.write_key}
    response = admin_client.post(reverse("admin:connections_source_changelist"), {
        "action": "rotate_keys", "_selected_action": [source.pk, js_source.pk],
    }, follow=True)
    assert "Rotated the write key of 2 source(s)" in response.content.decode()
    for pk, key in old.items():
        new = Source.objects.get(pk=pk).write_key
        assert new != key and len(new) >= 32


def test_track_api_key_is_shown_once_when_rotated_in_admin(admin_client, workspace):
    source, first_key = services.create_source(workspace, name="Journeys", kind="journeys_track_api")
    response = admin_client.post(reverse("admin:connections_source_changelist"), {
        "action": "rotate_keys", "_selected_action": [source.pk],
    }, follow=True)
    html = response.content.decode()
    new_key = re.search(r"API key ([0-9a-f]{40})", html).group(1)
    source.refresh_from_db()
    assert source.check_track_api_key(new_key) and not source.check_track_api_key(first_key)
    detail = admin_client.get(reverse("admin:connections_source_change", args=[source.pk])).content.decode()
    assert new_key not in detail and source.site_id in detail


def test_adding_a_source_in_admin_issues_a_write_key(admin_client, workspace):
    response = admin_client.post(reverse("admin:connections_source_add"), {
        "workspace": workspace.pk, "name": "Android app", "kind": "android", "enabled": "on",
        "connections-TOTAL_FORMS": "0", "connections-INITIAL_FORMS": "0",
    })
    assert response.status_code == 302
    source = Source.objects.get(name="Android app")
    assert len(source.write_key) >= 32 and source.workspace == workspace


def test_admin_finds_an_event_by_message_id_in_two_clicks(admin_client, everything, js_source):
    index = admin_client.get(reverse("admin:index")).content.decode()
    changelist = reverse("admin:ingest_event_changelist")
    assert f'action="{changelist}"' in index and 'name="q"' in index

    found = admin_client.get(changelist, {"q": "ajs-msg-42"})
    assert found.status_code == 302
    assert found["Location"] == reverse("admin:ingest_event_change", args=[everything["event"].pk])
    detail = admin_client.get(found["Location"]).content.decode()
    assert "Order Completed" in detail

    Event.objects.create(workspace=js_source.workspace, source=js_source, message_id="ajs-msg-42", type="page",
                         payload={"type": "page"}, received_at="2026-01-02T00:00:00Z")
    both = admin_client.get(changelist, {"q": "ajs-msg-42"})
    assert both.status_code == 200 and both.content.decode().count("ajs-msg-42</a>") == 2
    prefix_only = admin_client.get(changelist, {"q": "ajs-msg-4"}).content.decode()  # exact ids only
    assert "ajs-msg-42</a>" not in prefix_only and "0 results" in prefix_only


def test_admin_pages_require_staff(client, everything):
    response = client.get(reverse("admin:connections_destination_change", args=[everything["destination"].pk]))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
