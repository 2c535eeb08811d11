"""Mapping directives: every directive, missing paths, arrays, validation errors, field checks."""

from __future__ import annotations

import pytest

from destinations.catalog.base import ActionDefinition, ActionField
from destinations.errors import PayloadError
from destinations.mapping import UNDEFINED, MappingError, apply_fields, resolve, validate_mapping

EVENT = {
    "type": "identify",
    "userId": "u-1",
    "anonymousId": "anon-1",
    "traits": {"first_name": "Ada", "last_name": "Lovelace", "email": "ADA@Example.com", "empty": "",
               "nothing": None, "plan": "pro-plan-2024", "address": {"city": "London", "geo": {"lat": 51}},
               "tags": ["a", "b"], "meta": '{"source": "crm"}', "n": 3, "ok": True},
    "properties": {"products": [{"sku": "A-1", "quantity": 2}, {"sku": "B-2", "quantity": 1}],
                   "first item": "x"},
}


@pytest.mark.parametrize("path, expected", [
    ("$.userId", "u-1"),
    ("$.traits.address.city", "London"),
    ("$.properties.products[0].sku", "A-1"),
    ("$.properties.products[-1].sku", "B-2"),
    ("$.properties['first item']", "x"),
    ('$.properties["first item"]', "x"),
    ("traits.first_name", "Ada"),
    ("$.traits.nothing", None),
    ("$.traits.missing", UNDEFINED),
    ("$.properties.products[7].sku", UNDEFINED),
    ("$.userId.deeper", UNDEFINED),
])
def test_path_reads_from_the_event(path: str, expected: object) -> None:
    assert resolve({"@path": path}, EVENT) is expected or resolve({"@path": path}, EVENT) == expected


@pytest.mark.parametrize("path", ["$", "$.", ""])
def test_root_path_is_the_whole_event(path: str) -> None:
    assert resolve({"@path": path}, EVENT) == EVENT


def test_objects_and_arrays_map_recursively_and_drop_undefined() -> None:
    mapping = {"id": {"@path": "$.userId"}, "gone": {"@path": "$.nope"}, "kept_null": {"@path": "$.traits.nothing"},
               "nested": {"city": {"@path": "$.traits.address.city"}, "n": 1},
               "list": [{"@path": "$.userId"}, {"@path": "$.nope"}, "lit"], "literal": 5, "flag": False}
    assert resolve(mapping, EVENT) == {
        "id": "u-1", "kept_null": None, "nested": {"city": "London", "n": 1}, "list": ["u-1", "lit"],
        "literal": 5, "flag": False,
    }


def test_if_exists_and_blank() -> None:
    fallback = {"@if": {"exists": {"@path": "$.userId"}, "then": {"@path": "$.userId"},
                        "else": {"@path": "$.anonymousId"}}}
    assert resolve(fallback, EVENT) == "u-1"
    assert resolve(fallback, {"anonymousId": "anon-9"}) == "anon-9"
    assert resolve(fallback, {"userId": None, "anonymousId": "anon-9"}) == "anon-9"
    blank = {"@if": {"blank": {"@path": "$.traits.empty"}, "then": "was blank", "else": "had a value"}}
    assert resolve(blank, EVENT) == "was blank"
    assert resolve({"@if": {"blank": {"@path": "$.traits.n"}, "then": 1, "else": 2}}, EVENT) == 2
    assert resolve({"x": {"@if": {"exists": {"@path": "$.nope"}, "then": 1}}}, EVENT) == {}


def test_template_interpolates_and_renders_missing_as_empty() -> None:
    assert resolve({"@template": "{{traits.first_name}} {{ traits.last_name }}"}, EVENT) == "Ada Lovelace"
    assert resolve({"@template": "Hi {{traits.missing}}!"}, EVENT) == "Hi !"
    assert resolve({"@template": "{{traits.n}} {{traits.ok}} {{traits.tags}}"}, EVENT) == '3 true ["a","b"]'
    assert resolve({"@template": "{{properties.products[1].sku}}"}, EVENT) == "B-2"


def test_literal_is_not_interpreted() -> None:
    assert resolve({"@literal": {"@path": "$.userId"}}, EVENT) == {"@path": "$.userId"}


def test_array_path_maps_each_element() -> None:
    mapping = {"@arrayPath": ["$.properties.products", {"id": {"@path": "$.sku"}, "qty": {"@path": "$.quantity"},
                                                         "price": {"@path": "$.price"}}]}
    assert resolve(mapping, EVENT) == [{"id": "A-1", "qty": 2}, {"id": "B-2", "qty": 1}]
    assert resolve({"@arrayPath": ["$.traits.address"]}, EVENT) == [EVENT["traits"]["address"]]
    assert resolve({"items": {"@arrayPath": ["$.nope", {"x": 1}]}}, EVENT) == {}


def test_case() -> None:
    assert resolve({"@case": {"operator": "lower", "value": {"@path": "$.traits.email"}}}, EVENT) == "ada@example.com"
    assert resolve({"@case": {"operator": "upper", "value": "abc"}}, EVENT) == "ABC"
    assert resolve({"@case": {"operator": "upper", "value": {"@path": "$.traits.n"}}}, EVENT) == 3


def test_replace_is_literal_text_with_flags() -> None:
    value = {"@path": "$.traits.plan"}
    assert resolve({"@replace": {"pattern": "-", "replacement": "_", "value": value}}, EVENT) == "pro_plan_2024"
    assert resolve({"@replace": {"pattern": "-", "replacement": "_", "global": False, "value": value}},
                   EVENT) == "pro_plan-2024"
    assert resolve({"@replace": {"pattern": "PRO", "replacement": "team", "ignorecase": True, "value": value}},
                   EVENT) == "team-plan-2024"
    assert resolve({"@replace": {"pattern": ".", "replacement": "\\1", "value": "a.b"}}, EVENT) == "a\\1b"


def test_json_encode_and_decode() -> None:
    assert resolve({"@json": {"mode": "encode", "value": {"@path": "$.traits.tags"}}}, EVENT) == '["a","b"]'
    assert resolve({"@json": {"mode": "decode", "value": {"@path": "$.traits.meta"}}}, EVENT) == {"source": "crm"}
    assert resolve({"@json": {"mode": "decode", "value": "not json"}}, EVENT) == "not json"


def test_merge_directions() -> None:
    objects = [{"a": 1, "b": 1}, {"@path": "$.nope"}, {"b": 2, "c": {"@path": "$.userId"}}]
    assert resolve({"@merge": {"objects": objects}}, EVENT) == {"a": 1, "b": 2, "c": "u-1"}
    assert resolve({"@merge": {"direction": "left", "objects": objects}}, EVENT) == {"a": 1, "b": 1, "c": "u-1"}


def test_flatten() -> None:
    assert resolve({"@flatten": {"value": {"@path": "$.traits.address"}}}, EVENT) == {"city": "London",
                                                                                     "geo.lat": 51}
    assert resolve({"@flatten": {"separator": "_", "value": {"x": {"y": [1, 2]}}}}, EVENT) == {"x_y_0": 1, "x_y_1": 2}


def test_exclude_when_null() -> None:
    mapping = {"@excludeWhenNull": {"email": {"@path": "$.traits.email"}, "nothing": {"@path": "$.traits.nothing"}}}
    assert resolve(mapping, EVENT) == {"email": "ADA@Example.com"}
    assert resolve({"x": {"@excludeWhenNull": {"@path": "$.traits.nothing"}}}, EVENT) == {}


@pytest.mark.parametrize("mapping, message", [
    ({"x": {"@nope": 1}}, "x: unknown directive @nope"),
    ({"x": {"@path": "$.a", "other": 1}}, "x: a directive object has exactly one key"),
    ({"x": {"@path": 5}}, "x.@path: @path takes a string"),
    ({"x": {"@path": "$.a[b"}}, "cannot read the path"),
    ({"x": {"@if": {"then": 1}}}, "x.@if: @if needs exactly one condition"),
    ({"x": {"@if": {"exists": {"@nope": 1}}}}, "x.@if.exists: unknown directive @nope"),
    ({"x": {"@case": {"operator": "title", "value": "a"}}}, "@case operator must be"),
    ({"x": {"@replace": {"value": "a"}}}, "@replace needs pattern"),
    ({"x": {"@json": {"mode": "zip", "value": 1}}}, "@json mode must be"),
    ({"x": {"@merge": {"objects": "a"}}}, "@merge objects must be an array"),
    ({"x": {"@arrayPath": "$.a"}}, "@arrayPath takes"),
    ({"x": [{"@template": 3}]}, "x[0].@template: @template takes a string"),
    ("not an object", "a mapping must be a JSON object"),
])
def test_bad_mappings_are_rejected_with_their_location(mapping: object, message: str) -> None:
    with pytest.raises(MappingError) as info:
        validate_mapping(mapping)
    assert message in str(info.value)
    if isinstance(mapping, dict):
        with pytest.raises(MappingError):
            resolve(mapping, EVENT)


ACTION = ActionDefinition(
    key="demo", title="Demo", description="", default_trigger='type = "identify"',
    fields=(ActionField("email", "Email", "string", required=True), ActionField("count", "Count", "integer"),
            ActionField("active", "Active", "boolean"), ActionField("when", "When", "datetime")),
    perform=lambda settings, payload: None,  # type: ignore[arg-type,return-value]
)


def test_apply_fields_coerces_and_drops_empty_values() -> None:
    payload = apply_fields(ACTION, {"email": {"@path": "$.traits.email"}, "count": "7", "active": "true",
                                    "when": ""}, EVENT)
    assert payload == {"email": "ADA@Example.com", "count": 7, "active": True}


@pytest.mark.parametrize("mapping", [{"email": {"@path": "$.traits.missing"}}, {"email": None}, {"email": ""}, {}])
def test_apply_fields_reports_a_missing_required_field(mapping: dict) -> None:
    with pytest.raises(PayloadError, match="^missing email$"):
        apply_fields(ACTION, mapping, EVENT)


def test_deeply_nested_mappings_are_refused() -> None:
    mapping: dict = {"x": 1}
    for _ in range(100):
        mapping = {"a": mapping}
    with pytest.raises(MappingError, match="nests more than"):
        validate_mapping(mapping)
