"""Property tests for the trigger language and the mapping engine: whatever text or JSON a user types,
they either work or fail with our own errors (TriggerSyntaxError, MappingError, PayloadError), and a
parsed trigger or a valid mapping never crashes on any event."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from destinations.catalog import all_definitions
from destinations.errors import PayloadError
from destinations.mapping import UNDEFINED, MappingError, apply_fields, resolve, validate_mapping
from destinations.triggers import Trigger, TriggerSyntaxError, parse

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- Events: any JSON, plus Segment-shaped ones that reach deep paths -----------------------------------

# What ingest can store: orjson reads integers beyond 64 bits as floats and refuses NaN and infinities.
json_scalars = (
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
names = st.sampled_from(["type", "event", "properties", "traits", "context", "userId", "total", "email", "device",
                         "list", "0", "a b", "é", ""])
segment_events = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["track", "identify", "page", "screen", "group", "alias"]) | json_scalars,
        "event": st.text(max_size=20) | json_scalars,
        "userId": json_scalars,
        "properties": st.dictionaries(names, json_values, max_size=5) | json_scalars,
        "traits": st.dictionaries(names, json_values, max_size=5),
        "context": st.dictionaries(names, json_values, max_size=4),
    }
)
events = segment_events | st.dictionaries(st.text(max_size=8), json_values, max_size=6)

# --- Triggers: random text, and token soups that exercise the parser beyond its first error ------------

trigger_tokens = st.sampled_from([
    "type", "event", "properties.total", "traits.email", "context.device.type", 'properties."a b"', "list[0]",
    "list[-1]", "=", "==", "!=", "<", "<=", ">", ">=", "contains", "starts_with", "ends_with", "match",
    "exists", "not", "and", "or", "(", ")", ",", '"track"', '"Order*"', '"esc\\"aped"', '"unterminated',
    "100", "-1.5e3", "1e999", "true", "false", "null", "contains(", "match(", ".", "[", "]", "@", "$", "\\",
])
trigger_texts = st.text(max_size=80) | st.lists(trigger_tokens, min_size=1, max_size=14).map(" ".join)


@FAST
@given(text=trigger_texts, event=events)
def test_any_trigger_text_parses_or_raises_a_syntax_error_with_a_column(text: str, event: dict[str, Any]) -> None:
    try:
        trigger = parse(text)
    except TriggerSyntaxError as exc:
        assert exc.column >= 1
        assert f"column {exc.column}" in str(exc)
        return
    assert isinstance(trigger, Trigger)
    assert trigger.matches(event) in (True, False)


@FAST
@given(depth=st.integers(min_value=1, max_value=5000), opener=st.sampled_from(["(", "not ", "not ("]))
def test_deeply_nested_triggers_fail_cleanly_not_with_recursion_errors(depth: int, opener: str) -> None:
    text = opener * depth + 'type = "track"' + ")" * (depth if "(" in opener else 0)
    try:
        trigger = parse(text)
    except TriggerSyntaxError:
        return
    assert trigger.matches({"type": "track"}) in (True, False)


@FAST
@given(event=events, value=json_scalars)
def test_well_formed_triggers_never_crash_on_any_event(event: dict[str, Any], value: Any) -> None:
    literal = orjson.dumps(value).decode() if value is None or isinstance(value, (bool, int, str)) else "1.5"
    for text in (
        f"properties.total > {literal}", f"properties.total = {literal}", f"event contains {literal}",
        "traits.email exists and not context.device.type = \"ios\"", "list[3] != null",
        f"starts_with(event, {literal})", f"match(event, {literal})",
    ):
        try:
            trigger = parse(text)
        except TriggerSyntaxError:
            continue  # e.g. contains(…) with a non-string value: rejected at parse time is fine
        assert trigger.matches(event) in (True, False)


# --- Mappings: random directive trees ------------------------------------------------------------------

DIRECTIVES = ["@path", "@if", "@template", "@literal", "@arrayPath", "@case", "@replace", "@json", "@merge",
              "@flatten", "@excludeWhenNull", "@unknown"]
paths = st.sampled_from(["$.", "$", "$.properties.total", "$.traits['a b']", "$.list[0]", "$.list[-1]", "$..x",
                         "properties", "$.[", "$.a.", "", "$['unterminated", "$.context.device.type"])
templates = st.sampled_from(["{{traits.first_name}} {{traits.last_name}}", "{{", "}}", "{{ }}", "{{event}}",
                             "plain", "{{properties.list[0]}}", "{{a}}{{b}}{{"])


def _directive_args(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    keyed = st.dictionaries(
        st.sampled_from(["exists", "blank", "then", "else", "operator", "value", "pattern", "replacement", "global",
                         "ignorecase", "mode", "direction", "objects", "separator", "bogus"]),
        children | paths | st.sampled_from(["lower", "upper", "encode", "decode", "left", "right", "-", "."]),
        max_size=5,
    )
    return keyed | paths | templates | children | st.lists(children | paths, max_size=3)


mappings = st.recursive(
    json_scalars | st.builds(lambda p: {"@path": p}, paths) | st.builds(lambda t: {"@template": t}, templates),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(max_size=6), children, max_size=3)
        | st.builds(lambda d, a: {d: a}, st.sampled_from(DIRECTIVES), _directive_args(children))
    ),
    max_leaves=12,
)


@FAST
@given(mapping=mappings, event=events)
def test_any_mapping_validates_or_raises_a_mapping_error(mapping: Any, event: dict[str, Any]) -> None:
    try:
        validate_mapping({"field": mapping})
    except MappingError:
        pass
    try:
        result = resolve({"field": mapping}, event)
    except MappingError:
        return
    assert result is UNDEFINED or isinstance(result, dict)
    orjson.dumps(result if result is not UNDEFINED else None, option=orjson.OPT_NON_STR_KEYS)


@FAST
@given(mapping=st.dictionaries(st.text(max_size=10), mappings, max_size=4), event=events)
def test_every_catalog_action_builds_a_payload_or_raises_our_errors(mapping: dict[str, Any],
                                                                     event: dict[str, Any]) -> None:
    for definition in all_definitions():
        for action in definition.actions:
            for candidate in (mapping, {**action.default_mapping(), **mapping}, action.default_mapping()):
                try:
                    payload = apply_fields(action, candidate, event)
                except (MappingError, PayloadError):
                    continue
                assert isinstance(payload, dict)


@FAST
@given(depth=st.integers(min_value=1, max_value=3000))
def test_deeply_nested_mappings_fail_cleanly(depth: int) -> None:
    mapping: Any = {"@path": "$.a"}
    for _ in range(depth):
        mapping = {"@case": {"operator": "lower", "value": mapping}}
    try:
        validate_mapping({"f": mapping})
        resolve({"f": mapping}, {"a": "X"})
    except MappingError:
        pass
