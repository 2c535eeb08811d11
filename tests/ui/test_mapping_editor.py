"""The action pages for marketers: triggers in plain language, and the mapping editor's server side
(the picker's paths, the fallback JSON boxes). The editor itself is driven in tests/e2e/."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client
from django.utils import timezone

from connections import services
from connections.models import Destination, Source
from ingest.models import Event
from pipelines.models import Workspace


@pytest.fixture
def customerio(workspace: Workspace, js_source: Source) -> Destination:
    return services.create_destination(
        workspace, name="Customer.io", kind="customerio",
        settings={"site_id": "site-1", "api_key": "key-123456789"}, sources=[js_source],
    )


def _url(destination: Destination, action_key: str = "") -> str:
    base = f"/w/acme/destinations/{destination.pk}/actions/"
    if not action_key:
        return base
    return base + f"{destination.actions.get(kind=action_key).pk}/"


def test_actions_list_says_each_trigger_in_plain_language(owner_client: Client, customerio: Destination) -> None:
    body = owner_client.get(_url(customerio)).content.decode()
    assert ("Track events except “Application Installed”, “Application Opened”, “Application Uninstalled” "
            "and 9 other events") in body
    assert "Events named “User Deleted”" in body
    # the exact trigger is one click away, with every name
    assert 'event not in [&quot;Application Installed&quot;' in body and "Report Content Event" in body
    # the catalog's actions say what they would send, too
    assert "Runs on: Events named “Report Delivery Event”" in body


def test_a_trigger_written_by_hand_is_said_in_words_and_a_broken_one_is_flagged(
    owner_client: Client, customerio: Destination
) -> None:
    action = customerio.actions.get(kind="track_event")
    services.update_action(action, trigger='type = "track" and properties.total >= 100')
    body = owner_client.get(_url(customerio)).content.decode()
    assert "Track events, where properties.total is at least 100" in body
    action.trigger = 'type = = "track"'  # stored before validation existed: the list must still render
    action.save(update_fields=["trigger"])
    body = owner_client.get(_url(customerio)).content.decode()
    assert "The trigger does not parse: this action sends nothing." in body


def test_the_action_page_gives_the_picker_the_paths_of_recent_events_and_keeps_the_json_boxes(
    owner_client: Client, customerio: Destination, js_source: Source
) -> None:
    payload = {"type": "track", "event": "Plan Chosen", "userId": "u-7", "messageId": "m-7",
               "properties": {"plan": "pro", "seats": 12, "odd key": "x", "nested": {"deep": True}}}
    Event.objects.create(workspace=customerio.workspace, source=js_source, message_id="m-7", type="track",
                         payload=payload, received_at=timezone.now())
    response = owner_client.get(_url(customerio, "track_event"))
    body = response.content.decode()
    paths = json.loads(re.search(r'<script id="mapping-paths" type="application/json">(.*?)</script>',
                                 body, re.DOTALL).group(1))
    rows = {p["path"]: p for p in paths}
    # the action's default paths come first, then the recent event's, with its values as examples
    assert paths[0]["path"] == "$.userId" and paths[0]["default"] is True
    assert rows["$.properties.plan"] == {"path": "$.properties.plan", "example": "pro", "seen": True,
                                         "default": False}
    assert rows["$.properties.seats"]["example"] == "12"
    assert rows['$.properties["odd key"]']["seen"] is True
    assert rows["$.properties.nested.deep"]["example"] == "true"
    # the sample event's paths are offered, but not as seen in recent events and without its fake values
    assert rows["$.properties.order_id"] == {"path": "$.properties.order_id", "example": None, "seen": False,
                                             "default": False}
    # every field keeps its JSON box (the form without JS), filled with the saved mapping
    assert '<textarea name="map__name"' in body and "{&quot;@path&quot;: &quot;$.event&quot;}" in body
    assert 'data-default="{&quot;@path&quot;: &quot;$.event&quot;}"' in body


def test_an_editor_built_mapping_is_validated_by_the_server_like_any_json(
    owner_client: Client, customerio: Destination
) -> None:
    action = customerio.actions.get(kind="track_event")
    url = _url(customerio, "track_event")
    fields = {"op": "save", "name": "Track", "trigger": action.trigger, "enabled": "on",
              "map__person_id": '{"@if": {"exists": {"@path": "$.context.traits.email"}, '
                                '"then": {"@path": "$.context.traits.email"}, "else": {"@path": "$.userId"}}}',
              "map__name": '{"@template": "Order {{properties.order_id}}"}', "map__timestamp": '"2024-06-01"'}
    response = owner_client.post(url, fields)
    assert response.status_code == 302
    action.refresh_from_db()
    assert action.mapping["name"] == {"@template": "Order {{properties.order_id}}"}
    assert "email" not in action.mapping  # an empty box: not mapped
    response = owner_client.post(url, {**fields, "map__name": '{"@template": "Order {{}}"}'})
    assert response.status_code == 400 and "@template has an empty {{ }}" in response.content.decode()
