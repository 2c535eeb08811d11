"""An action's trigger and mapping are checked once, in connections.services: the UI form, the management
API and Django admin refuse the same actions with the same words."""

from __future__ import annotations

import html
import json

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from connections import services
from connections.models import Action, Destination
from connections.services import REQUIRED_FIELD_MESSAGE

BAD_TRIGGER = 'type = = "track"'
# Mixpanel's Track Event requires `event` and `time`; this mapping leaves `time` out.
WITHOUT_TIME = {"event": {"@path": "$.event"}, "distinct_id": {"@path": "$.userId"}}


@pytest.fixture
def mixpanel(workspace) -> Destination:
    return services.create_destination(workspace, name="Mixpanel", kind="mixpanel", settings={"project_token": "0123456789abcdef0123456789abcdef"})


@pytest.fixture
def track(mixpanel: Destination) -> Action:
    return mixpanel.actions.get(kind="track_event")


def _syntax_message() -> str:
    with pytest.raises(ValidationError) as caught:
        services.validate_trigger(BAD_TRIGGER)
    [message] = caught.value.message_dict["trigger"]
    assert "(column " in message
    return message


def test_services_refuse_a_required_field_left_unmapped(mixpanel: Destination, track: Action) -> None:
    with pytest.raises(ValidationError) as caught:
        services.add_action(mixpanel, kind="track_event", mapping=WITHOUT_TIME)
    assert caught.value.message_dict == {"mapping.time": [REQUIRED_FIELD_MESSAGE]}
    for empty in (None, ""):
        with pytest.raises(ValidationError):
            services.update_action(track, mapping={**WITHOUT_TIME, "time": empty})
    with pytest.raises(ValidationError) as caught:
        services.update_action(track, trigger=BAD_TRIGGER, mapping=WITHOUT_TIME)
    assert set(caught.value.message_dict) == {"trigger", "mapping.time"}  # every problem at once
    track.refresh_from_db()
    assert "time" in track.mapping and track.trigger != BAD_TRIGGER


def test_the_api_answers_400_naming_the_unmapped_field(owner_api, mixpanel: Destination, track: Action) -> None:
    url = f"/api/workspaces/acme/destinations/{mixpanel.id}/actions/"
    response = owner_api.post(url, {"kind": "track_event", "mapping": WITHOUT_TIME}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_request"
    assert body["message"] == f"mapping.time: {REQUIRED_FIELD_MESSAGE}"
    assert body["errors"] == {"mapping.time": [REQUIRED_FIELD_MESSAGE]}
    assert mixpanel.actions.filter(kind="track_event").count() == 1

    response = owner_api.patch(f"{url}{track.id}/", {"mapping": WITHOUT_TIME}, format="json")
    assert response.status_code == 400 and "mapping.time" in response.json()["errors"]
    track.refresh_from_db()
    assert "time" in track.mapping


def test_the_api_answers_400_naming_the_trigger_column(owner_api, mixpanel: Destination, track: Action) -> None:
    url = f"/api/workspaces/acme/destinations/{mixpanel.id}/actions/{track.id}/"
    response = owner_api.patch(url, {"trigger": BAD_TRIGGER}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_request" and body["message"] == f"trigger: {_syntax_message()}"


def _ui_post(client: Client, track: Action, **changes: str):
    data = {"op": "save", "name": track.name, "trigger": track.trigger, "enabled": "on"}
    data.update({f"map__{k}": json.dumps(v) for k, v in track.mapping.items()})
    data.update(changes)
    return client.post(f"/w/acme/destinations/{track.destination_id}/actions/{track.id}/", data)


def test_the_ui_form_shows_the_same_errors(owner, track: Action) -> None:
    client = Client()
    client.force_login(owner)
    response = _ui_post(client, track, map__time="")
    assert response.status_code == 400
    assert REQUIRED_FIELD_MESSAGE in html.unescape(response.content.decode())
    response = _ui_post(client, track, trigger=BAD_TRIGGER)
    assert response.status_code == 400 and _syntax_message() in html.unescape(response.content.decode())
    track.refresh_from_db()
    assert "time" in track.mapping and track.trigger != BAD_TRIGGER


def _admin_post(admin_client: Client, track: Action, **changes):
    data = {"name": track.name, "trigger": track.trigger, "mapping": json.dumps(track.mapping),
            "enabled": "on", "position": str(track.position)}
    data.update(changes)
    return admin_client.post(reverse("admin:connections_action_change", args=[track.pk]), data)


def test_admin_shows_the_same_errors(admin_client: Client, track: Action) -> None:
    response = _admin_post(admin_client, track, mapping=json.dumps(WITHOUT_TIME))
    assert response.status_code == 200
    assert f"time: {REQUIRED_FIELD_MESSAGE}" in html.unescape(response.content.decode())
    response = _admin_post(admin_client, track, trigger=BAD_TRIGGER)
    assert response.status_code == 200 and _syntax_message() in html.unescape(response.content.decode())
    track.refresh_from_db()
    assert "time" in track.mapping and track.trigger != BAD_TRIGGER
    assert _admin_post(admin_client, track, name="Orders").status_code == 302  # a valid save still works
    track.refresh_from_db()
    assert track.name == "Orders"
