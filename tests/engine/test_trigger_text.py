"""Triggers in plain language (the actions list shows these sentences)."""

from __future__ import annotations

import pytest

from destinations.catalog import get_definition
from destinations.trigger_text import describe
from destinations.triggers import TriggerSyntaxError


@pytest.mark.parametrize("text, words", [
    ('type = "track"', "Track events"),
    ('type = "identify"', "Identify events"),
    ('type = "track" or type = "page"', "Track and Page events"),
    ('type in ["track", "identify", "page", "screen", "group", "alias"]', "Events of every type"),
    ('type = "track" and event = "Order Completed"', "Track events named “Order Completed”"),
    ('event = "Application Installed" or event = "Application Opened"',
     "Events named “Application Installed” or “Application Opened”"),
    ('event in ["A", "B", "C"]', "Events named “A”, “B” or “C”"),
    ('type = "track" and event != "Order Completed"', "Track events except “Order Completed”"),
    ('type = "track" and event not in ["A", "B"] and event != "C"', "Track events except “A”, “B” and “C”"),
    ('type = "track" and properties.total > 100', "Track events, where properties.total is greater than 100"),
    ('properties.total >= 10 and traits.email exists',
     "Events where properties.total is at least 10 and traits.email exists"),
    ('traits.email != null', "Events where traits.email exists"),
    ('traits.phone = null or traits.phone not exists', "Events where traits.phone is missing or traits.phone is missing"),
    ('context.device.type not in ["ios", "android"]', "Events where context.device.type is neither “ios” nor “android”"),
    ('properties.plan in ["a", "b", "c"]', "Events where properties.plan is one of “a”, “b” or “c”"),
    ('contains(event, "Cart") and not (match(name, "Pricing*") or properties.items[0].sku starts_with "A")',
     ("Events where the event name contains “Cart” and not (name matches “Pricing*” or "
      "properties.items[0].sku starts with “A”)")),
    ('type = "track" and (event = "A" or properties.vip = true)',
     "Track events, where the event name is “A” or properties.vip is true"),
])
def test_triggers_read_as_sentences(text: str, words: str) -> None:
    assert describe(text) == words


def test_long_event_lists_are_cut_to_the_limit() -> None:
    track_event = get_definition("customerio").action("track_event").default_trigger
    assert describe(track_event, limit=3) == (
        "Track events except “Application Installed”, “Application Opened”, “Application Uninstalled” "
        "and 9 other events"
    )
    assert describe(track_event).endswith("“Report Delivery Event” and “Report Content Event”")
    # one name over the limit is spelled out rather than "and 1 other events"
    assert describe('event in ["A", "B", "C", "D"]', limit=3) == "Events named “A”, “B”, “C” or “D”"


def test_an_unparsable_trigger_raises_the_syntax_error() -> None:
    with pytest.raises(TriggerSyntaxError):
        describe('type = ')


def test_every_catalog_default_trigger_has_a_sentence() -> None:
    from destinations.catalog import all_definitions

    for definition in all_definitions():
        for action in definition.actions:
            assert describe(action.default_trigger, limit=3)[0].isupper(), action.key
