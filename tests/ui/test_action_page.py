"""The action page: a trigger that can never match is saved only once confirmed, errors are summarized at the
top, and *Test action* runs the form as it is, saved or not."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client
from pytest_httpserver import HTTPServer

from connections.models import Destination


def _url(webhook: Destination) -> str:
    return f"/w/acme/destinations/{webhook.id}/actions/{webhook.actions.get().id}/"


def _form(**overrides: str) -> dict[str, str]:
    return {"op": "save", "name": "Send", "trigger": 'type = "track"', "map__data": '{"@path": "$."}',
            "enabled": "on", **overrides}


def test_a_never_matching_trigger_is_not_saved_until_confirmed(owner_client: Client, webhook: Destination) -> None:
    action = webhook.actions.get()
    before = action.trigger
    trigger = 'type = "identify" and event = "Order Completed"'
    response = owner_client.post(_url(webhook), _form(trigger=trigger))
    body = response.content.decode()
    assert response.status_code == 400
    assert "This trigger can never match an event" in body and "only track events have an event name" in body
    assert "stays live" in body and "data-error-summary" in body
    action.refresh_from_db()
    assert action.trigger == before
    # confirming another trigger than the one warned about does not count
    response = owner_client.post(_url(webhook), _form(trigger='event = "A" and event = "B"', confirmed_trigger=trigger))
    assert response.status_code == 400
    response = owner_client.post(_url(webhook), _form(trigger=trigger, confirmed_trigger=trigger))
    assert response.status_code == 302
    action.refresh_from_db()
    assert action.trigger == trigger


def test_a_comparison_that_never_matches_the_fields_type_is_warned(owner_client: Client, webhook: Destination) -> None:
    body = owner_client.post(_url(webhook), _form(trigger='properties.total > "abc"')).content.decode()
    assert "properties.total holds a number" in body


def test_a_failed_save_summarizes_its_errors_at_the_top(owner_client: Client, webhook: Destination) -> None:
    response = owner_client.post(_url(webhook), _form(name="", trigger='event = "A', map__data="{oops"))
    body = response.content.decode()
    assert response.status_code == 400
    summary = body[body.index('id="error-summary"'):body.index("</div>", body.index('id="error-summary"'))]
    assert "There are 3 problems" in summary
    assert 'href="#id_name"' in summary and 'href="#id_trigger"' in summary and 'href="#id_map__data"' in summary
    assert body.index('id="error-summary"') < body.index('id="id_name"')


def test_test_action_runs_the_unsaved_trigger_and_mapping(
    owner_client: Client, webhook: Destination, httpserver: HTTPServer, settings: Any
) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = True
    action = webhook.actions.get()
    saved = (action.trigger, action.mapping)
    event = {"type": "track", "event": "Order Completed", "userId": "u-9", "properties": {"total": 5}}
    form = _form(op="test", trigger='event = "Signed Up"', map__data='{"@path": "$.properties"}',
                 event=json.dumps(event))
    body = owner_client.post(_url(webhook), form).content.decode()
    assert "The trigger does not match this event" in body  # the unsaved trigger, not the saved one
    assert "&quot;total&quot;: 5" in body and "u-9" not in body.split("Mapped payload")[1].split("</pre>")[0]
    # the page keeps the unsaved edits in the form, and nothing was saved
    assert 'event = &quot;Signed Up&quot;</textarea>' in body
    action.refresh_from_db()
    assert (action.trigger, action.mapping) == saved
    assert not httpserver.log
