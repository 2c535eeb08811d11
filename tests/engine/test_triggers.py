"""The trigger language: parsing, precedence, semantics and error columns."""

from __future__ import annotations

import pytest

from destinations.triggers import TriggerSyntaxError, parse

EVENT = {
    "type": "track",
    "event": "Order Completed",
    "userId": "u-1",
    "properties": {"total": 150, "count": "3", "coupon": None, "tags": ["vip", "eu"], "flag": True,
                   "first name": "Ada", "items": [{"sku": "A-1"}, {"sku": "B-2"}], "quote": 'say "hi"\\'},
    "context": {"device": {"type": "ios"}},
    "traits": {"email": "ada@example.com"},
}


@pytest.mark.parametrize("text, expected", [
    ('type = "track"', True),
    ('type == "track"', True),
    ('type = "identify"', False),
    ('type = "track" and event = "Order Completed"', True),
    ('event = "Application Installed" or event = "Application Opened"', False),
    ('properties.total > 100', True),
    ('properties.total >= 150 and properties.total <= 150', True),
    ('properties.total < 150', False),
    ('properties.total > 99.5', True),
    ('properties.total > -1', True),
    ('context.device.type = "ios"', True),
    ('context.device.type != "ios"', False),
    ('traits.email != null', True),
    ('traits.email exists', True),
    ('traits.phone exists', False),
    ('traits.phone not exists', True),
    ('traits.phone = null', True),
    ('properties.coupon = null', True),
    ('properties.coupon exists', False),
    ('properties.flag = true', True),
    ('properties.flag = false', False),
    ('event contains "Comp"', True),
    ('contains(event, "Cart")', False),
    ('properties.tags contains "vip"', True),
    ('properties.tags contains "us"', False),
    ('event starts_with "Order"', True),
    ('event ends_with "Completed"', True),
    ('match(event, "Order*")', True),
    ('match(event, "*Completed")', True),
    ('match(event, "*der Com*")', True),
    ('match(event, "Order")', False),
    ('event match "O*d"', True),
    ('properties.items[1].sku = "B-2"', True),
    ('properties.items.0.sku = "A-1"', True),
    ('properties.items[5].sku = "A-1"', False),
    ('properties."first name" = "Ada"', True),
    ('properties["first name"] = "Ada"', True),
    ('properties.quote = "say \\"hi\\"\\\\"', True),
    ('event = "Order\\u0020Completed"', True),
])
def test_conditions_evaluate_as_documented(text: str, expected: bool) -> None:
    assert parse(text).matches(EVENT) is expected


@pytest.mark.parametrize("text, expected", [
    # and binds tighter than or: true or (false and false)
    ('type = "track" or type = "x" and type = "y"', True),
    # ... and not tighter than and: (not false) and true
    ('not type = "x" and type = "track"', True),
    ('not (type = "track" and event = "Order Completed")', False),
    ('(type = "x" or type = "track") and (event = "y" or (userId = "u-1" and not traits.phone exists))', True),
    ('((((type = "track"))))', True),
    ('not not type = "track"', True),
    ('type = "x" or (type = "y" or (type = "z" or (type = "track")))', True),
])
def test_precedence_and_nesting(text: str, expected: bool) -> None:
    assert parse(text).matches(EVENT) is expected


@pytest.mark.parametrize("text", [
    'properties.count > 2',           # "3" is a string: no coercion
    'properties.count = 3',
    'properties.total = "150"',
    'properties.flag = 1',            # booleans are not numbers
    'properties.tags > 1',
    'missing.path > 0',
    'missing.deeper.path = "x"',
    'properties.total contains "5"',  # contains works on strings and arrays only
    'userId.sub = "x"',               # walking into a string finds nothing
])
def test_types_never_coerce_and_missing_paths_do_not_match(text: str) -> None:
    assert parse(text).matches(EVENT) is False


def test_not_equal_is_true_for_a_missing_field() -> None:
    assert parse('properties.missing != "x"').matches(EVENT) is True
    assert parse('properties.missing != null').matches(EVENT) is False


def test_matching_never_raises_on_odd_events() -> None:
    trigger = parse('properties.total > 1 and properties.tags contains "a" or match(event, "x*")')
    for event in ({}, {"properties": None}, {"properties": []}, {"properties": {"total": None}}, {"event": 5}):
        assert trigger.matches(event) is False


def test_parse_is_cached() -> None:
    assert parse('type = "track"') is parse('type = "track"')


@pytest.mark.parametrize("text, column, fragment", [
    ("", 1, "empty"),
    ('type = ', 8, "Expected a value"),
    ('type = track', 8, "double quotes"),
    ("type = 'track'", 8, "double quotes"),
    ('(type = "a"', 12, "Expected ')'"),
    ('type = "a")', 11, "Unbalanced ')'"),
    ('type = "a" and', 15, "Expected a field name"),
    ('type = "a" or or event = "b"', 15, "Expected a condition before `or`"),
    ('type ~ "a"', 6, "Unexpected character"),
    ('type = "abc', 8, "Unterminated string"),
    ('type = "a\\q"', 10, "Unknown escape"),
    ('type "a"', 6, "Expected an operator"),
    ('properties.total > true', 20, "compares with a number or a string"),
    ('type = "a" event = "b"', 12, "Expected `and`, `or`"),
    ('contains(event "x")', 16, "Expected ','"),
    ('match(event, 5)', 14, "string in double quotes"),
    ('()', 2, "Empty parentheses"),
    ('type != ', 9, "Expected a value"),
    ('not', 4, "Expected a field name"),
    ('and = "x"', 1, "Expected a condition"),
    ('properties. = 1', 13, "Expected a field name after '.'"),
    ('type = "a" !', 12, "Unexpected '!'"),
])
def test_syntax_errors_name_the_column(text: str, column: int, fragment: str) -> None:
    with pytest.raises(TriggerSyntaxError) as info:
        parse(text)
    assert info.value.column == column
    assert fragment in info.value.message
    assert f"(column {column})" in str(info.value)


def test_absurd_nesting_is_a_syntax_error_not_a_crash() -> None:
    with pytest.raises(TriggerSyntaxError, match="nests more than"):
        parse("(" * 500 + 'type = "a"' + ")" * 500)
    with pytest.raises(TriggerSyntaxError, match="nests more than"):
        parse("not " * 500 + 'type = "a"')


# --- in / not in ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ('event in ["Order Completed", "Order Refunded"]', True),
    ('event in ["Order Refunded"]', False),
    ('event not in ["Order Completed", "Order Refunded"]', False),
    ('event not in ["Order Refunded", "Cart Viewed"]', True),
    ('properties.total in [100, 150]', True),
    ('properties.total in ["150"]', False),          # strict, as =: a string is not a number
    ('properties.flag in [true]', True),
    ('properties.flag in [1]', False),                # booleans are not numbers
    ('properties.coupon in [null, "X"]', True),       # null in a list: missing or null, as = null
    ('properties.missing in [null]', True),
    ('properties.missing in ["x"]', False),
    ('properties.missing not in ["x"]', True),        # like !=: true for a missing field
    ('type = "track" and not event not in ["Order Completed"]', True),
    ('event in ["A", "B"] or type in ["track"]', True),
    ('in = "x"', False),                              # `in` is still a field name where a field goes
])
def test_in_and_not_in_evaluate_as_documented(text: str, expected: bool) -> None:
    assert parse(text).matches(EVENT) is expected


def test_in_and_not_in_parse_into_one_condition_with_all_values() -> None:
    from destinations.triggers import And, Condition

    tree = parse('type = "track" and event not in ["A", "B\\"C", 3, null]').tree
    assert tree == And((Condition(("type",), "=", "track"), Condition(("event",), "not in", ("A", 'B"C', 3, None))))


@pytest.mark.parametrize("events", [
    [{"type": "track", "event": name} for name in ("A", "B", "C", "Order Completed", "", "a")]
    + [{"type": "track"}, {"type": "track", "event": None}, {"type": "track", "event": 5}, {"type": "identify"}],
])
def test_not_in_behaves_exactly_as_the_chain_of_not_equals_it_replaces(events: list[dict[str, object]]) -> None:
    chain = parse('type = "track" and event != "A" and event != "B" and event != "C"')
    listed = parse('type = "track" and event not in ["A", "B", "C"]')
    ors = parse('event = "A" or event = "B" or event = "C"')
    within = parse('event in ["A", "B", "C"]')
    for event in events:
        assert listed.matches(event) is chain.matches(event), event
        assert within.matches(event) is ors.matches(event), event


def test_the_customerio_track_event_trigger_stored_in_its_old_form_still_behaves_the_same() -> None:
    from destinations.catalog import get_definition
    from destinations.catalog.customerio.actions import SEMANTIC_EVENTS

    new = parse(get_definition("customerio").action("track_event").default_trigger)
    old = parse('type = "track" and ' + " and ".join(f'event != "{n}"' for n in SEMANTIC_EVENTS))
    assert "not in" in new.text and len(new.text) < len(old.text)
    for name in (*SEMANTIC_EVENTS, "Order Completed", "application installed"):
        for kind in ("track", "page"):
            event = {"type": kind, "event": name}
            assert new.matches(event) is old.matches(event), event


@pytest.mark.parametrize("text, column, fragment", [
    ('event in "A"', 10, "takes a list in square brackets"),
    ('event not in', 13, "`not in` takes a list"),
    ('event in []', 11, "is empty"),
    ('event in ["A",]', 15, "no trailing comma"),
    ('event in ["A" "B"]', 15, "Expected ',' or ']' to close the list opened at column 10"),
    ('event in ["A"', 14, "Expected ',' or ']'"),
    ('event in [A]', 11, "double quotes"),
    ('event not "A"', 7, "Expected an operator"),
    ('event in [("A")]', 11, "Expected a value"),
])
def test_in_list_errors_name_the_column(text: str, column: int, fragment: str) -> None:
    with pytest.raises(TriggerSyntaxError) as info:
        parse(text)
    assert info.value.column == column
    assert fragment in info.value.message
