"""Login, the Connections page, destination tabs, actions, sources, and workspace scoping."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from pytest_httpserver import HTTPServer

from connections import services
from connections.models import Action, Destination, Source, SourceKind
from destinations.models import Delivery, DeliveryCount, DeliveryExchange, DeliveryStatus
from ingest.models import Event
from pipelines.models import Workspace


def _event(source: Source, n: int = 1, **payload: Any) -> Event:
    body = {"type": "track", "event": f"Signed Up {n}", "userId": "u-1", "messageId": f"m-{n}", **payload}
    return Event.objects.create(workspace=source.workspace, source=source, message_id=f"m-{n}", type="track",
                                payload=body, received_at=timezone.now())


# --- login --------------------------------------------------------------------------------------------

def test_login_page_has_labelled_fields_and_logs_in(client: Client, owner: Any) -> None:
    page = client.get("/login/").content.decode()
    assert '<label for="id_username">Username</label>' in page
    assert '<label for="id_password">Password</label>' in page and ">Log in</button>" in page
    response = client.post("/login/", {"username": "alice", "password": "alice-password-1"}, follow=True)
    assert response.redirect_chain[-1][0] == "/w/acme/connections/"
    assert "Connections" in response.content.decode()


def test_login_with_a_wrong_password_is_reshown_with_an_error(client: Client, owner: Any) -> None:
    response = client.post("/login/", {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


def test_anonymous_visitors_are_sent_to_login(client: Client, workspace: Workspace) -> None:
    for url in ("/", "/w/acme/connections/", "/w/acme/destinations/new/select/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/?next=")


def test_logout_needs_post_and_ends_the_session(owner_client: Client) -> None:
    assert owner_client.post("/logout/").status_code == 302
    assert owner_client.get("/w/acme/connections/").status_code == 302


# --- connections page ---------------------------------------------------------------------------------

def test_connections_page_shows_sources_destinations_and_what_feeds_what(
    owner_client: Client, workspace: Workspace, webhook: Destination, js_source: Source
) -> None:
    services.create_source(workspace, name="Website", kind=SourceKind.JOURNEYS_TRACK_API)
    DeliveryCount.objects.create(destination=webhook, minute=timezone.now().replace(second=0, microsecond=0),
                                 delivered=3, failed=1)
    body = owner_client.get("/w/acme/connections/").content.decode()
    assert "Internal Sources" in body and "Journeys API: Website" in body
    assert "Production Javascript" in body and "→ My webhook" in body and "← Production Javascript" in body
    assert ">Healthy<" in body and "Cloud mode" in body  # 1 failure of 4: not failing, but coloured
    assert "rate-fail\">25.0%" in body  # 1 failed of 4 finished in the last 24 h
    assert body.count("Add New") == 2
    assert "Data Pipelines" in body


def test_home_redirects_to_the_first_workspace(owner_client: Client) -> None:
    assert owner_client.get("/")["Location"] == "/w/acme/connections/"


def test_workspace_switcher_lists_only_the_users_workspaces(owner_client: Client, owner: Any,
                                                          other_workspace: Workspace) -> None:
    body = owner_client.get("/w/acme/connections/").content.decode()
    assert "Acme" in body and "Globex" not in body


# --- destination tabs ---------------------------------------------------------------------------------

def test_overview_adds_and_removes_sources_and_refuses_bad_input(
    owner_client: Client, webhook: Destination, server_source: Source, js_source: Source
) -> None:
    url = f"/w/acme/destinations/{webhook.id}/"
    page = owner_client.get(url).content.decode()
    assert "Add Source" in page and "Backend" in page and "Production Javascript" in page
    owner_client.post(f"{url}sources/add/", {"source_id": server_source.id})
    assert set(webhook.sources.values_list("name", flat=True)) == {"Backend", "Production Javascript"}
    owner_client.post(f"{url}sources/{js_source.id}/remove/")
    assert list(webhook.sources.values_list("name", flat=True)) == ["Backend"]
    assert owner_client.post(f"{url}sources/add/", {"source_id": "abc"}).status_code == 400
    assert owner_client.post(f"{url}sources/add/", {"source_id": "999999"}).status_code == 404


def test_overview_enables_disables_and_deletes_after_confirmation(owner_client: Client, webhook: Destination) -> None:
    url = f"/w/acme/destinations/{webhook.id}/"
    owner_client.post(f"{url}toggle/", {"enabled": "false"})
    webhook.refresh_from_db()
    assert not webhook.enabled
    confirm = owner_client.get(f"{url}delete/")
    assert "cannot be undone" in confirm.content.decode()
    assert Destination.objects.filter(id=webhook.id).exists()
    response = owner_client.post(f"{url}delete/")
    assert response["Location"] == "/w/acme/connections/"
    assert not Destination.objects.filter(id=webhook.id).exists()


def test_settings_mask_secrets_and_keep_them_unless_replaced(owner_client: Client, webhook: Destination) -> None:
    url = f"/w/acme/destinations/{webhook.id}/settings/"
    page = owner_client.get(url).content.decode()
    assert "s3cret-value-123456" not in page and "3456 (leave empty to keep)" in page
    owner_client.post(url, {"name": "Renamed", "url": "http://127.0.0.1:9/other", "method": "POST",
                            "shared_secret": "", "batch_size": "1", "op": "save"})
    webhook.refresh_from_db()
    assert webhook.name == "Renamed" and webhook.settings["url"] == "http://127.0.0.1:9/other"
    assert webhook.settings["shared_secret"] == "s3cret-value-123456"
    owner_client.post(url, {"name": "Renamed", "url": "http://127.0.0.1:9/other", "method": "POST",
                            "shared_secret": "brand-new-secret-000", "op": "save"})
    webhook.refresh_from_db()
    assert webhook.settings["shared_secret"] == "brand-new-secret-000"


def test_settings_errors_are_shown_and_nothing_is_saved(owner_client: Client, webhook: Destination) -> None:
    url = f"/w/acme/destinations/{webhook.id}/settings/"
    response = owner_client.post(url, {"name": "X", "url": "not a url", "headers": "no colon here", "op": "save"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "write each header as" in body
    webhook.refresh_from_db()
    assert webhook.name == "My webhook"


def test_headers_setting_is_stored_secret_and_shown_masked(owner_client: Client, webhook: Destination) -> None:
    url = f"/w/acme/destinations/{webhook.id}/settings/"
    owner_client.post(url, {"name": "My webhook", "url": "http://127.0.0.1:9/hook",
                            "headers": "Authorization: Bearer abcdefghijklmnop", "op": "save"})
    webhook.refresh_from_db()
    assert webhook.settings["headers"] == {"Authorization": "Bearer abcdefghijklmnop"}
    page = owner_client.get(url).content.decode()
    assert "abcdefghijklmnop" not in page and "Authorization: ••••••••mnop" in page


# --- actions ------------------------------------------------------------------------------------------

def test_actions_tab_lists_toggles_and_adds_actions(owner_client: Client, webhook: Destination) -> None:
    url = f"/w/acme/destinations/{webhook.id}/actions/"
    action = webhook.actions.get()
    page = owner_client.get(url).content.decode()
    assert "Send" in page and 'type in [&quot;track&quot;' in page and "Events of every type" in page and "Enabled" in page
    owner_client.post(f"{url}{action.id}/toggle/", {"enabled": "false"})
    action.refresh_from_db()
    assert not action.enabled
    response = owner_client.post(url, {"kind": "send"})
    added = webhook.actions.order_by("-id").first()
    assert response["Location"] == f"{url}{added.id}/"
    assert webhook.actions.count() == 2
    assert owner_client.post(url, {"kind": "nope"}).status_code == 400
    owner_client.post(f"{url}{added.id}/delete/")
    assert webhook.actions.count() == 1


def test_action_edit_validates_trigger_and_mapping(owner_client: Client, webhook: Destination) -> None:
    action = webhook.actions.get()
    url = f"/w/acme/destinations/{webhook.id}/actions/{action.id}/"
    page = owner_client.get(url).content.decode()
    assert "Condition builder" in page and "$.traits.email" in page and "Test action" in page
    response = owner_client.post(url, {"op": "save", "name": "Send", "trigger": 'type = = "track"',
                                       "map__data": '{"@path": "$."}', "enabled": "on"})
    assert response.status_code == 400 and "column" in response.content.decode()
    response = owner_client.post(url, {"op": "save", "name": "Send", "trigger": 'type = "track"',
                                       "map__data": "{not json", "enabled": "on"})
    assert response.status_code == 400 and "Not valid JSON" in response.content.decode()
    response = owner_client.post(url, {"op": "save", "name": "Send", "trigger": 'type = "track"',
                                       "map__data": '{"@nonsense": 1}', "enabled": "on"})
    assert response.status_code == 400
    response = owner_client.post(url, {"op": "save", "name": "Orders only",
                                       "trigger": 'type = "track" and event = "Order Completed"',
                                       "map__data": '{"order": {"@path": "$.properties.order_id"}}', "enabled": "on"})
    assert response.status_code == 302
    action.refresh_from_db()
    assert action.name == "Orders only" and action.trigger.endswith('"Order Completed"')
    assert action.mapping == {"data": {"order": {"@path": "$.properties.order_id"}}}


def test_test_action_shows_the_request_and_sends_only_on_demand(
    owner_client: Client, webhook: Destination, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_json({"received": True}, status=202)
    services.update_destination(webhook, settings={"url": httpserver.url_for("/hook"), "method": "POST"})
    action = webhook.actions.get()
    url = f"/w/acme/destinations/{webhook.id}/actions/{action.id}/"
    event = {"type": "track", "event": "Order Completed", "userId": "u-9", "properties": {"total": 5}}
    body = owner_client.post(url, {"op": "test", "event": json.dumps(event)}).content.decode()
    assert "The trigger matches this event." in body
    assert f"POST {httpserver.url_for('/hook')}" in body and "&quot;userId&quot;: &quot;u-9&quot;" in body
    assert len(httpserver.log) == 0  # nothing left the machine
    body = owner_client.post(url, {"op": "send", "event": json.dumps(event)}).content.decode()
    assert len(httpserver.log) == 1
    assert json.loads(httpserver.log[0][0].data)["userId"] == "u-9"
    assert "HTTP 202" in body and "&quot;received&quot;: true" in body


def test_test_action_reports_bad_json_and_uses_recent_events(
    owner_client: Client, webhook: Destination, js_source: Source
) -> None:
    action = webhook.actions.get()
    url = f"/w/acme/destinations/{webhook.id}/actions/{action.id}/"
    response = owner_client.post(url, {"op": "test", "event": "{oops"})
    assert response.status_code == 400 and "not valid JSON" in response.content.decode()
    event = _event(js_source, 7, properties={"plan": "gold"})
    page = owner_client.get(f"{url}?event={event.id}").content.decode()
    assert "Signed Up 7" in page and "$.properties.plan" in page


# --- event delivery -----------------------------------------------------------------------------------

def test_event_delivery_draws_the_chart_and_lists_failures(
    owner_client: Client, webhook: Destination, js_source: Source
) -> None:
    now = timezone.now().replace(second=0, microsecond=0)
    DeliveryCount.objects.create(destination=webhook, minute=now, delivered=5, retrying=2, failed=1)
    DeliveryCount.objects.create(destination=webhook, minute=now - timedelta(hours=3), delivered=4)
    event = _event(js_source, 1)
    Delivery.objects.create(
        workspace=webhook.workspace, event=event, destination=webhook, action=webhook.actions.get(),
        message_id="m-1", status=DeliveryStatus.FAILED, attempts=1, last_status_code=400, last_error="HTTP 400",
        exchange=DeliveryExchange.objects.create(
            destination=webhook, created_at=timezone.now(),
            request={"method": "POST", "url": "http://127.0.0.1:9/hook", "headers": {"X-Signature": "[redacted]"},
                     "body": '{"a": 1}'},
            response={"status": 400, "headers": {"Content-Type": "text/plain"}, "body": "bad payload"}),
    )
    body = owner_client.get(f"/w/acme/destinations/{webhook.id}/delivery/").content.decode()
    assert "<svg" in body and 'class="bar bar-delivered"' in body and 'class="bar bar-failed"' in body
    assert "Delivered <strong>9</strong>" in body and "Failed <strong>1</strong>" in body
    assert "POST http://127.0.0.1:9/hook" in body and "bad payload" in body and "HTTP 400" in body


# --- sources ------------------------------------------------------------------------------------------

def test_add_javascript_source_shows_the_snippet_with_write_key_and_host(owner_client: Client) -> None:
    page = owner_client.get("/w/acme/sources/new/").content.decode()
    assert "JavaScript (website)" in page and 'href="/w/acme/sources/new/javascript/"' in page
    page = owner_client.get("/w/acme/sources/new/javascript/").content.decode()
    assert 'placeholder="Production Javascript"' in page
    response = owner_client.post("/w/acme/sources/new/javascript/", {"name": "Production Javascript"}, follow=True)
    source = Source.objects.get(name="Production Javascript")
    body = response.content.decode()
    assert "Installation Instructions" in body
    assert f'analytics.load(&quot;{source.write_key}&quot;' in body
    assert "analytics._cdn = &quot;http://testserver&quot;;" in body
    assert "http://testserver/analytics.js/v1/&quot; + key + &quot;/analytics.min.js" in body
    assert "testserver/v1" in body and "Copy" in body


@pytest.mark.parametrize("kind,expected", [
    ("python", "analytics.host = &quot;http://testserver&quot;"),
    ("node", "@segment/analytics-node"),
    ("go", "analytics.NewWithConfig"),
    ("http", "-u &quot;{key}:&quot;"),
    ("ios", ".apiHost(&quot;testserver/v1&quot;)"),
])
def test_every_source_type_gets_its_real_snippet(owner_client: Client, workspace: Workspace, kind: str,
                                                 expected: str) -> None:
    source = services.create_source(workspace, name="S", kind=kind)[0]
    body = owner_client.get(f"/w/acme/sources/{source.id}/setup/").content.decode()
    assert expected.replace("{key}", source.write_key) in body
    assert source.write_key in body


def test_public_url_setting_wins_over_the_request_host(owner_client: Client, js_source: Source, settings: Any) -> None:
    settings.PUBLIC_URL = "https://pipelines.example.com/"
    body = owner_client.get(f"/w/acme/sources/{js_source.id}/setup/").content.decode()
    assert "analytics._cdn = &quot;https://pipelines.example.com&quot;;" in body
    assert "https://pipelines.example.com/analytics.js/v1/&quot; + key" in body


def test_track_api_source_shows_the_api_key_once(owner_client: Client) -> None:
    response = owner_client.post("/w/acme/sources/new/journeys_track_api/", {"name": "Website"}, follow=True)
    source = Source.objects.get(name="Website")
    body = response.content.decode()
    assert "Journeys API: Website" in body and source.site_id in body
    key = body.split('<code id="api-key">')[1].split("</code>")[0]
    assert source.check_track_api_key(key)
    again = owner_client.get(f"/w/acme/sources/{source.id}/setup/").content.decode()
    assert key not in again and "Shown only once" in again


def test_source_name_is_required(owner_client: Client) -> None:
    response = owner_client.post("/w/acme/sources/new/javascript/", {"name": "  "})
    assert response.status_code == 400 and "This field is required." in response.content.decode()
    assert owner_client.get("/w/acme/sources/new/cobol/").status_code == 404


def test_source_page_rotates_the_write_key_after_confirmation(owner_client: Client, js_source: Source) -> None:
    old = js_source.write_key
    page = owner_client.get(f"/w/acme/sources/{js_source.id}/").content.decode()
    assert old in page and "Rotate write key" in page and "Debugger" in page
    assert "stops working within a few seconds" in owner_client.get(f"/w/acme/sources/{js_source.id}/rotate/").content.decode()
    js_source.refresh_from_db()
    assert js_source.write_key == old
    owner_client.post(f"/w/acme/sources/{js_source.id}/rotate/")
    js_source.refresh_from_db()
    assert js_source.write_key != old


def test_debugger_feed_lists_newest_events_with_deliveries(
    owner_client: Client, js_source: Source, webhook: Destination, server_source: Source
) -> None:
    first, second = _event(js_source, 1), _event(js_source, 2)
    _event(server_source, 3)  # another source's event is not listed
    Delivery.objects.create(workspace=webhook.workspace, event=second, destination=webhook,
                            action=webhook.actions.get(), message_id="m-2", status=DeliveryStatus.DELIVERED,
                            attempts=1, last_status_code=200)
    data = owner_client.get(f"/w/acme/sources/{js_source.id}/events.json").json()
    assert [e["id"] for e in data["events"]] == [second.id, first.id]
    assert data["events"][0]["payload"]["event"] == "Signed Up 2"
    assert data["events"][0]["deliveries"][0]["destination"] == "My webhook"
    assert data["events"][0]["deliveries"][0]["status"] == "delivered"
    newer = owner_client.get(f"/w/acme/sources/{js_source.id}/events.json?after={first.id}").json()
    assert [e["id"] for e in newer["events"]] == [second.id]
    assert owner_client.get(f"/w/acme/sources/{js_source.id}/events.json?after=x").status_code == 400
    page = owner_client.get(f"/w/acme/sources/{js_source.id}/").content.decode()
    assert "Signed Up 2" in page and "My webhook" in page


# --- scoping ------------------------------------------------------------------------------------------

def test_outsider_gets_404_on_every_page(outsider_client: Client, webhook: Destination, js_source: Source) -> None:
    action = webhook.actions.get()
    d, s = webhook.id, js_source.id
    gets = [
        "/w/acme/connections/", "/w/acme/destinations/new/select/", "/w/acme/destinations/new/configure/",
        f"/w/acme/destinations/{d}/", f"/w/acme/destinations/{d}/settings/", f"/w/acme/destinations/{d}/actions/",
        f"/w/acme/destinations/{d}/actions/{action.id}/", f"/w/acme/destinations/{d}/delivery/",
        f"/w/acme/destinations/{d}/delete/", "/w/acme/sources/new/", "/w/acme/sources/new/javascript/",
        f"/w/acme/sources/{s}/", f"/w/acme/sources/{s}/setup/", f"/w/acme/sources/{s}/rotate/",
        f"/w/acme/sources/{s}/events.json",
    ]
    for url in gets:
        assert outsider_client.get(url).status_code == 404, url
    posts = [
        f"/w/acme/destinations/{d}/toggle/", f"/w/acme/destinations/{d}/delete/",
        f"/w/acme/destinations/{d}/sources/add/", f"/w/acme/destinations/{d}/sources/{s}/remove/",
        f"/w/acme/destinations/{d}/actions/{action.id}/toggle/", f"/w/acme/destinations/{d}/actions/{action.id}/delete/",
        f"/w/acme/sources/{s}/rotate/", "/w/acme/destinations/new/cancel/",
    ]
    for url in posts:
        assert outsider_client.post(url, {"enabled": "false", "source_id": s}).status_code == 404, url
    assert Destination.objects.filter(id=d, enabled=True).exists()
    assert Action.objects.filter(id=action.id, enabled=True).exists()


def test_objects_of_another_workspace_are_404_inside_my_workspace(
    outsider_client: Client, webhook: Destination, js_source: Source
) -> None:
    """The outsider's own workspace slug with our ids must not reach our objects either."""
    for url in (f"/w/globex/destinations/{webhook.id}/", f"/w/globex/sources/{js_source.id}/",
                f"/w/globex/sources/{js_source.id}/events.json",
                f"/w/globex/destinations/{webhook.id}/actions/{webhook.actions.get().id}/"):
        assert outsider_client.get(url).status_code == 404, url


def test_add_source_to_destination_refuses_another_workspaces_source(
    owner_client: Client, webhook: Destination, other_workspace: Workspace
) -> None:
    foreign = services.create_source(other_workspace, name="Foreign", kind="javascript")[0]
    response = owner_client.post(f"/w/acme/destinations/{webhook.id}/sources/add/", {"source_id": foreign.id})
    assert response.status_code == 404
    assert not webhook.sources.filter(id=foreign.id).exists()


def test_test_panel_starts_with_a_sample_the_trigger_matches(owner_client: Client, webhook: Destination) -> None:
    action = webhook.actions.get()
    url = f"/w/acme/destinations/{webhook.id}/actions/{action.id}/"
    assert "&quot;event&quot;: &quot;Order Completed&quot;" in owner_client.get(url).content.decode()
    services.update_action(action, trigger='type = "identify"')
    assert "&quot;email&quot;: &quot;ada@example.com&quot;" in owner_client.get(url).content.decode()


def test_event_delivery_of_a_direct_mode_destination_explains_why_it_is_empty(
    owner_client: Client, workspace: Workspace, js_source: Source, direct_type: Any
) -> None:
    destination = services.create_destination(workspace, name="Pixel", kind="browserpixel",
                                              settings={"pixel_id": "px-1"}, sources=[js_source])
    body = owner_client.get(f"/w/acme/destinations/{destination.id}/delivery/").content.decode()
    assert "direct-mode" in body and "we don't see the traffic" in body
    assert "<svg" not in body
