"""The action pages for marketers: triggers in plain language, and the mapping editor's server side
(the picker's paths, the fallback JSON boxes). The editor itself is driven in tests/e2e/."""

from __future__ import annotations

import pytest
from django.test import Client

from connections import services
from connections.models import Destination, Source
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
    assert "Sends: Events named “Report Delivery Event”" in body


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
