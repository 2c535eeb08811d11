"""The trigger's structure for the UI: the condition builder's rows, and the triggers that can never match."""

from __future__ import annotations

import pytest

from destinations.trigger_outline import builder_rows, warnings

EXAMPLES = [{"type": "track", "event": "Order Completed", "userId": "u-1", "properties": {"total": 42.5}}]


@pytest.mark.parametrize("text,join,rows", [
    ('event = "Order Completed"', "and", [("event", "=", "Order Completed")]),
    ('event = "Rock and Roll" or event = "42"', "or", [("event", "=", "Rock and Roll"), ("event", "=", '"42"')]),
    ('properties.total > 10 and traits.email exists', "and",
     [("properties.total", ">", "10"), ("traits.email", "exists", "")]),
    ('contains(event, "Cart") and context.device.type not exists', "and",
     [("event", "contains", "Cart"), ("context.device.type", "not exists", "")]),
    ('properties.items[0].sku = "x" and properties["a b"] != true', "and",
     [("properties.items[0].sku", "=", "x"), ('properties["a b"]', "!=", "true")]),
])
def test_a_flat_trigger_becomes_builder_rows(text: str, join: str, rows: list[tuple[str, str, str]]) -> None:
    outline = builder_rows(text)
    assert outline is not None
    assert outline["join"] == join
    assert [(r["field"], r["op"], r["value"]) for r in outline["rows"]] == rows


@pytest.mark.parametrize("text", [
    'type = "track" and (event = "A" or event = "B")',  # parentheses
    'type = "track" or event = "A" and userId exists',  # mixes and / or
    'not event = "A"',
    "traits.email = null",
    'event = "A" and',  # not a trigger at all
])
def test_the_builder_cannot_show_everything(text: str) -> None:
    assert builder_rows(text) is None


@pytest.mark.parametrize("text,expected", [
    ('type = "identify" and event = "Order Completed"', "only track events have an event name"),
    ('(type = "page" or type = "screen") and event exists', "only track events have an event name"),
    ('event = "A" and event = "B"', 'no event name satisfies event = "A" and event = "B"'),
    ('type = "track" and type = "page"', "no event type satisfies"),
    ("properties.total > 5 and properties.total < 2", "no value satisfies properties.total > 5"),
    ('not (type = "track") and event = "Signed Up"', "only track events have an event name"),
])
def test_a_trigger_no_event_satisfies_is_warned(text: str, expected: str) -> None:
    found = warnings(text, EXAMPLES)
    assert found and found[0].startswith("No event can ever match this trigger") and expected in found[0], found


def test_a_comparison_with_the_wrong_type_is_warned_from_the_examples() -> None:
    [found] = warnings('properties.total > "abc"', EXAMPLES)
    assert found.startswith('properties.total > "abc" never matches: properties.total holds a number')
    assert "42.5" in found
    assert warnings('properties.total > "abc"', []) == []  # nothing to compare with: no guess


@pytest.mark.parametrize("text", [
    'type = "track" and event = "Order Completed"',
    'event != "A" and event != "B"',
    'match(event, "Order*") and event = "Order Completed"',
    'type = "identify" or event = "Order Completed"',
    'properties.total >= 10 and properties.total <= 10',
    'timestamp > "2024-01-01"',
    'type = "track" and (event = "A" or event = "B")',
])
def test_triggers_that_can_match_are_not_warned(text: str) -> None:
    assert warnings(text, EXAMPLES) == []


def test_an_in_list_is_one_builder_row_with_comma_separated_items() -> None:
    assert builder_rows('type in ["track", "page"] and event not in ["A, b", "C", 3]') == {
        "join": "and", "rows": [
            {"field": "type", "op": "in", "value": "track, page"},
            {"field": "event", "op": "not in", "value": '"A, b", C, 3'},
        ]}
    assert builder_rows('event in ["A", null]') is None  # null is "missing": text only


def test_in_lists_take_part_in_the_never_match_warnings() -> None:
    assert warnings('type in ["identify", "page"] and event = "X"')
    assert warnings('event in ["A"] and event not in ["A"]')
    assert warnings('type in ["track"] and event not in ["A"]') == []
