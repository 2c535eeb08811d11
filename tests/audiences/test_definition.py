"""The definition language on its own: validation errors that point at the node, evaluation of
windows, counts, NOT, nested groups, traits, property filters, references, and next_change_at."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from audiences.definition import DefinitionError, affected_by, evaluate, next_change_at, validate
from profiles.state import EventStat, PersonState

from .conftest import NOW, days_ago, hours_ago


def state(traits: dict | None = None, **events: list[datetime] | tuple[list[datetime], dict]) -> PersonState:
    built = {}
    for name, spec in events.items():
        times, props = spec if isinstance(spec, tuple) else (spec, {})
        per_day: dict[date, int] = {}
        for t in times:
            per_day[t.date()] = per_day.get(t.date(), 0) + 1
        built[name.replace("_", " ")] = EventStat(name.replace("_", " "), per_day, min(times), max(times), props)
    return PersonState(1, 1, traits or {}, {}, built)


def bad(definition: object, **kw: object) -> str:
    with pytest.raises(DefinitionError) as exc:
        validate(definition, **kw)
    return str(exc.value)


def test_the_issue_example_is_valid() -> None:
    validate({"all": [
        {"event": "Product Viewed", "at_least": 1, "within": "6h"},
        {"not": {"event": "Order Completed", "within": "6h"}},
        {"any": [{"trait": "plan", "op": "=", "value": "pro"}, {"trait": "email", "op": "exists"}]},
        {"audience": "newsletter-subscribers"},
    ]})


def test_errors_point_at_the_bad_node() -> None:
    assert bad({"all": [{"trait": "a", "op": "exists"}, {"not": {"event": "X", "within": "6 hours"}}]}) \
        .startswith("all[1].not.within: expected a duration")
    assert bad({"any": []}).startswith("any: expected a non-empty list")
    assert bad({"all": [{"trait": "plan", "op": "~"}]}).startswith("all[0].op: expected one of")
    assert bad({"event": "X", "at_least": 1, "exactly": 2}).startswith("exactly: only one of")
    assert bad({"event": "X", "between": ["1d", "7d"]}).startswith("between: the first time")
    assert bad({"event": "X", "where": {"path": "total", "op": ">", "value": 1}}).startswith("where.path:")
    assert bad({"trait": "plan", "op": "in", "value": "pro"}).startswith("value: \"in\" needs a non-empty list")
    assert bad({"all": [{"event": "X", "wihtin": "1d"}]}) == "all[0].wihtin: unknown field"
    assert bad({"trait": "a", "event": "b"}).startswith("expected exactly one of")
    assert bad("all").startswith("expected an object")


def test_references_must_exist_and_form_no_cycle() -> None:
    defs = {"a": {"audience": "b"}, "b": {"any": [{"trait": "x", "op": "exists"}, {"audience": "c"}]},
            "c": {"trait": "y", "op": "exists"}}
    validate({"audience": "a"}, defs.get, own_key="new")
    assert bad({"audience": "nope"}, lookup=defs.get, own_key="new") == \
        "audience: no audience with key \"nope\" in this workspace"
    assert "cycle: c → a → b → c" in bad({"not": {"audience": "a"}}, lookup=defs.get, own_key="c")
    assert bad({"all": [{"audience": "c"}]}, lookup=defs.get, own_key="c").startswith(
        "all[0].audience: an audience cannot contain itself")


def test_within_counts_events_inside_the_window_only() -> None:
    s = state(Product_Viewed=[hours_ago(2), days_ago(3)])
    assert evaluate({"event": "Product Viewed", "within": "6h"}, s, NOW)
    assert not evaluate({"event": "Product Viewed", "within": "1h"}, s, NOW)
    assert evaluate({"event": "Product Viewed", "within": "7d", "at_least": 2}, s, NOW)
    assert not evaluate({"event": "Product Viewed", "within": "2d", "at_least": 2}, s, NOW)
    assert evaluate({"event": "Product Viewed", "exactly": 2}, s, NOW)  # whole history
    assert evaluate({"event": "Product Viewed", "at_most": 1, "within": "2d"}, s, NOW)
    assert not evaluate({"event": "Order Completed"}, s, NOW)
    assert evaluate({"event": "Order Completed", "exactly": 0}, s, NOW)


def test_between_two_relative_times() -> None:
    s = state(Order_Completed=[days_ago(3)])
    assert evaluate({"event": "Order Completed", "between": ["7d", "1d"]}, s, NOW)
    assert not evaluate({"event": "Order Completed", "between": ["2d", "0d"]}, s, NOW)
    assert not evaluate({"event": "Order Completed", "between": ["30d", "5d"]}, s, NOW)


def test_not_and_nested_groups() -> None:
    definition = {"all": [
        {"event": "Product Viewed", "within": "6h"},
        {"not": {"event": "Order Completed", "within": "6h"}},
        {"any": [{"trait": "plan", "op": "=", "value": "pro"}, {"all": [
            {"trait": "email", "op": "exists"}, {"trait": "age", "op": ">", "value": 30}]}]},
    ]}
    viewer = state({"plan": "free", "email": "a@x.io", "age": "41"}, Product_Viewed=[hours_ago(1)])
    assert evaluate(definition, viewer, NOW)
    bought = state({"plan": "pro"}, Product_Viewed=[hours_ago(1)], Order_Completed=[hours_ago(0.5)])
    assert not evaluate(definition, bought, NOW)
    young = state({"plan": "free", "email": "a@x.io", "age": 20}, Product_Viewed=[hours_ago(1)])
    assert not evaluate(definition, young, NOW)


@pytest.mark.parametrize(("op", "value", "traits", "expected"), [
    ("=", "pro", {"plan": "pro"}, True), ("=", 42, {"n": "42"}, True), ("=", True, {"b": 1}, False),
    ("!=", "pro", {"plan": "free"}, True), ("!=", "pro", {}, True), ("!=", "pro", {"plan": "pro"}, False),
    (">", 100, {"n": 101.5}, True), ("<", 100, {"n": 101.5}, False), (">", 1, {}, False),
    (">", "2026-01-01", {"d": "2026-02-01"}, True),
    ("contains", "acme", {"company": "ACME Corp"}, True), ("contains", "vip", {"tags": ["vip", "x"]}, True),
    ("contains", "vip", {"tags": ["v"]}, False), ("in", ["pro", "team"], {"plan": "team"}, True),
    ("in", ["pro"], {"plan": "free"}, False), ("exists", None, {"plan": ""}, True),
    ("exists", None, {"plan": None}, False), ("not exists", None, {}, True),
])
def test_trait_operators(op: str, value: object, traits: dict, expected: bool) -> None:
    key = next(iter(traits), "plan")
    node = {"trait": key, "op": op} if op in ("exists", "not exists") else {"trait": key, "op": op, "value": value}
    validate(node)
    assert evaluate(node, state(traits), NOW) is expected


def test_nested_trait_paths() -> None:
    assert evaluate({"trait": "address.city", "op": "=", "value": "Paris"},
                    state({"address": {"city": "Paris"}}), NOW)


def test_recent_times_make_hour_and_minute_counts_exact() -> None:
    times = [NOW - timedelta(hours=6), NOW - timedelta(hours=5, minutes=59), NOW - timedelta(minutes=30),
             NOW - timedelta(minutes=29)]
    stat = EventStat("Clicked", {NOW.date(): 4}, min(times), max(times), {},
                     recent=sorted(t.timestamp() for t in times), recent_from=(NOW - timedelta(days=1)).timestamp())
    s = PersonState(1, 1, {}, {}, {"Clicked": stat})
    assert evaluate({"event": "Clicked", "exactly": 3, "within": "6h"}, s, NOW)  # (now - 6h, now]
    assert evaluate({"event": "Clicked", "exactly": 1, "within": "30m"}, s, NOW)
    assert evaluate({"event": "Clicked", "exactly": 2, "between": ["6h", "30m"]}, s, NOW)
    # the times do not reach back far enough for a 2-day window: counts per day decide
    assert evaluate({"event": "Clicked", "exactly": 4, "within": "2d"}, s, NOW)
    assert next_change_at({"event": "Clicked", "at_least": 3, "within": "6h"}, s, NOW) == \
        NOW + timedelta(minutes=1)  # the view of 5 h 59 min ago leaves


def test_a_filtered_history_counts_every_matching_event() -> None:
    from audiences.definition import filter_key

    node = {"event": "Order Completed", "at_least": 2, "within": "7d",
            "where": {"path": "properties.total", "op": ">", "value": 100}}
    matched = EventStat("Order Completed", {days_ago(2).date(): 1, days_ago(1).date(): 1}, days_ago(2), days_ago(1),
                        {"total": 300})
    s = PersonState(1, 1, {}, {}, {"Order Completed": EventStat("Order Completed", {NOW.date(): 3}, days_ago(2),
                                                                 hours_ago(1), {"total": 5})},
                    filtered={("Order Completed", filter_key(node)): matched})
    assert evaluate(node, s, NOW)
    assert not evaluate({**node, "at_least": 3}, s, NOW)
    # the key is the event and its filters, whatever the count or window
    assert filter_key(node) == filter_key({"event": "Order Completed", "where": [node["where"]]})
    assert filter_key(node) != filter_key({**node, "event": "Refunded"})


def test_without_a_filtered_history_property_filters_look_at_the_latest_event() -> None:
    node = {"event": "Order Completed", "within": "7d", "where": {"path": "properties.total", "op": ">", "value": 100}}
    big = state(Order_Completed=([days_ago(1)], {"total": 120, "currency": "EUR"}))
    small = state(Order_Completed=([days_ago(1)], {"total": 20}))
    old = state(Order_Completed=([days_ago(9)], {"total": 500}))
    assert evaluate(node, big, NOW)
    assert not evaluate(node, small, NOW)
    assert not evaluate(node, old, NOW)
    both = {**node, "where": [node["where"], {"path": "properties.currency", "op": "in", "value": ["EUR"]}]}
    assert evaluate(both, big, NOW)
    assert not evaluate({"not": node}, big, NOW)


def test_audience_of_audience() -> None:
    defs = {"pro": {"trait": "plan", "op": "=", "value": "pro"}, "pro-buyers": {"all": [
        {"audience": "pro"}, {"event": "Order Completed"}]}}
    buyer = state({"plan": "pro"}, Order_Completed=[days_ago(1)])
    assert evaluate({"audience": "pro-buyers"}, buyer, NOW, defs)
    assert not evaluate({"audience": "pro-buyers"}, state({"plan": "free"}, Order_Completed=[days_ago(1)]), NOW, defs)
    assert not evaluate({"audience": "missing"}, buyer, NOW, defs)
    loop = {"a": {"audience": "b"}, "b": {"audience": "a"}}
    assert not evaluate({"audience": "a"}, buyer, NOW, loop)  # a loop that slipped in never matches


def test_next_change_at_is_when_the_window_passes() -> None:
    viewed = hours_ago(2)
    s = state(Product_Viewed=[viewed])
    assert next_change_at({"event": "Product Viewed", "within": "6h"}, s, NOW) == viewed + timedelta(hours=6)
    assert next_change_at({"event": "Product Viewed"}, s, NOW) is None
    # between ["2d", "1d"]: the event comes in after one day and leaves after two.
    between = {"event": "Product Viewed", "between": ["2d", "1d"]}
    assert not evaluate(between, s, NOW)
    assert next_change_at(between, s, NOW) <= viewed + timedelta(days=1)
    assert evaluate(between, s, viewed + timedelta(days=1, minutes=1))
    assert not evaluate(between, s, viewed + timedelta(days=2, minutes=1))
    assert next_change_at({"trait": "plan", "op": "exists"}, s, NOW) is None


def test_affected_by_looks_through_references() -> None:
    defs = {"pro": {"trait": "plan", "op": "=", "value": "pro"}}
    aff = affected_by({"all": [{"audience": "pro"}, {"not": {"event": "Order Completed", "within": "7d"}}]}, defs)
    assert aff.events == {"Order Completed"}
    assert "plan" in aff.traits
    assert aff.audiences == {"pro"}
    assert aff.windowed
    assert not affected_by({"trait": "plan", "op": "exists"}).windowed
