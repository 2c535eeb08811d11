"""Actions of a destination through the management API."""

from __future__ import annotations

from connections.models import Action


def _url(destination, action=None):
    base = f"/api/workspaces/acme/destinations/{destination.id}/actions/"
    return f"{base}{action.id}/" if action else base


def test_listing_actions_in_order(owner_api, webhook):
    body = owner_api.get(_url(webhook)).json()
    assert [(a["kind"], a["name"], a["position"]) for a in body["results"]] == [("send", "Send", 0)]


def test_adding_an_action_defaults_trigger_and_mapping_from_the_catalog(owner_api, webhook):
    response = owner_api.post(_url(webhook), {"kind": "send", "name": "Orders only"}, format="json")
    assert response.status_code == 201, response.json()
    action = Action.objects.get(id=response.json()["id"])
    definition = webhook.definition.action("send")
    assert action.destination == webhook and action.name == "Orders only" and action.position == 1
    assert action.trigger == definition.default_trigger and action.mapping == definition.default_mapping()


def test_adding_an_action_with_its_own_trigger_and_mapping(owner_api, webhook):
    response = owner_api.post(_url(webhook), {
        "kind": "send", "trigger": 'event = "Order Completed"', "mapping": {"data": {"@path": "$.properties"}},
        "enabled": False,
    }, format="json")
    assert response.status_code == 201
    action = Action.objects.get(id=response.json()["id"])
    assert (action.trigger, action.mapping, action.enabled) == (
        'event = "Order Completed"', {"data": {"@path": "$.properties"}}, False)


def test_unknown_action_kind_is_a_400_naming_the_type(owner_api, webhook):
    response = owner_api.post(_url(webhook), {"kind": "fax"}, format="json")
    assert response.status_code == 400
    assert response.json()["message"] == "kind: Webhook has no action 'fax'."


def test_mapping_must_be_an_object(owner_api, webhook):
    response = owner_api.post(_url(webhook), {"kind": "send", "mapping": ["x"]}, format="json")
    assert response.status_code == 400 and "mapping" in response.json()["errors"]


def test_updating_and_deleting_an_action(owner_api, webhook):
    action = webhook.actions.get()
    response = owner_api.patch(_url(webhook, action), {"trigger": 'type = "identify"', "enabled": False},
                               format="json")
    assert response.status_code == 200
    action.refresh_from_db()
    assert (action.trigger, action.enabled) == ('type = "identify"', False)

    refused = owner_api.patch(_url(webhook, action), {"kind": "other"}, format="json")
    assert refused.status_code == 400

    assert owner_api.delete(_url(webhook, action)).status_code == 204
    assert not webhook.actions.exists()
