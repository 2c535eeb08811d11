"""The structure of a trigger, for the UI: the condition builder's rows, and the warnings for a trigger that
can never match an event.

Both read the tree `destinations.triggers.parse` builds (one tokenizer, one parser): `Or`, `And`, `Not` and
`Condition` nodes, each condition carrying its field and its text as written. A trigger that does not parse
gives no rows and no warnings.

- `builder_rows(text)`: conditions joined by one kind of `and` / `or`, no parentheses or `not`
  (except `not exists` and `not in`; an `in` list is one row whose value is the comma-separated items): {"join": "and", "rows": [{"field", "op", "value"}]}; otherwise None.
- `warnings(text, examples)`: why the trigger can never match, in words. Two checks:
  * no event satisfies it: every alternative (of the trigger written as an `or` of `and`s) contradicts
    itself, e.g. `event = "A" and event = "B"`, `properties.total > 5 and properties.total < 2`, or a type
    and an event that exclude each other (`type = "identify" and event = "Order Completed"`: only track
    events have an event name);
  * a comparison whose value has another type than the field has in `examples` (recent events, the
    sample events): `properties.total > "abc"` where total is a number compares text with a number,
    which is always false (comparisons are type-strict).
  Both are conservative: where unsure, no warning.
"""

from __future__ import annotations

import json
from typing import Any

from .triggers import MISSING, And, Condition, Node, Not, Or, TriggerSyntaxError, _condition, _lookup, parse

__all__ = ["builder_rows", "warnings"]

_ORDERED = frozenset({"<", "<=", ">", ">="})
EVENT_TYPES = ("track", "identify", "page", "screen", "group", "alias")


class _TooMany(Exception):
    """The trigger has more alternatives than the never-matches check tries."""


def _tree(text: str) -> Node | None:
    """The parsed tree of a valid trigger; None when the text does not parse."""
    try:
        return parse(text).tree
    except TriggerSyntaxError:
        return None


# --- the condition builder --------------------------------------------------------------------------------

def _value_text(value: Any) -> str:
    """A value as the builder's input shows it: text as is, unless it would read as another type."""
    if isinstance(value, str):
        ambiguous = value in ("true", "false", "null") or value.startswith('"') or _looks_numeric(value)
        return json.dumps(value) if ambiguous else value
    if value is None:
        return "null"
    return json.dumps(value)


def _looks_numeric(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def builder_rows(text: str) -> dict[str, Any] | None:
    """The builder's rows for a flat trigger, or None when the builder cannot show it."""
    node = _tree(text)
    if node is None:
        return None
    join = "or" if isinstance(node, Or) else "and"
    parts = node.parts if isinstance(node, (And, Or)) else (node,)
    rows = []
    for c in parts:
        if not isinstance(c, Condition):
            return None
        if c.op == "=" and c.value is None or c.op == "!=" and c.value is None:
            return None  # `= null` reads as "missing or null": shown as text, not as a value
        if c.op in ("in", "not in"):
            if None in c.value:
                return None  # null in a list reads as "missing or null": shown as text
            # The items, comma-separated; an item holding a comma is quoted (the builder splits on commas).
            value = ", ".join(json.dumps(v) if isinstance(v, str) and "," in v else _value_text(v)
                              for v in c.value)
        else:
            value = "" if c.op in ("exists", "not exists") else _value_text(c.value)
        rows.append({"field": c.path_text, "op": c.op, "value": value})
    return {"join": join, "rows": rows}


# --- never-matching triggers ----------------------------------------------------------------------------

MAX_ALTERNATIVES = 256


def _dnf(node: Node, negated: bool = False) -> list[list[tuple[Condition, bool]]]:
    """The trigger as an `or` of `and`s of (condition, negated). Raises _TooMany past MAX_ALTERNATIVES."""
    if isinstance(node, Condition):
        return [[(node, negated)]]
    if isinstance(node, Not):
        return _dnf(node.inner, not negated)
    is_and = isinstance(node, And) != negated
    parts = [_dnf(child, negated) for child in node.parts]
    out: list[list[tuple[Condition, bool]]]
    if not is_and:
        out = [conj for part in parts for conj in part]
    else:
        out = [[]]
        for part in parts:
            out = [a + b for a in out for b in part]
            if len(out) > MAX_ALTERNATIVES:
                raise _TooMany
    if len(out) > MAX_ALTERNATIVES:
        raise _TooMany
    return out


def _holds(cond: Condition, negated: bool, value: Any) -> bool:
    op = "exists" if cond.op == "not exists" else cond.op
    result = _condition((0,), op, cond.value)([value] if value is not MISSING else [])
    if cond.op == "not exists":
        result = not result
    return result != negated


def _candidates(literals: list[tuple[Condition, bool]]) -> list[Any]:
    """Values worth trying for one field: missing, null, each literal and its neighbours."""
    values: list[Any] = [MISSING, None, True, False, 0, "", "~"]
    for cond, _ in literals:
        for v in cond.value if isinstance(cond.value, tuple) else (cond.value,):
            values += _neighbours(v)
    return values


def _neighbours(v: Any) -> list[Any]:
    values: list[Any] = []
    if not (isinstance(v, bool) or v is None):
        if isinstance(v, (int, float)):
            values += [v, v - 1, v + 1, v - 0.5, v + 0.5]
        elif isinstance(v, str):
            core = v.replace("*", "")
            values += [v, core, v + "~", "!" + v, core + "x", "x" + core, "x" + core + "x", v[:-1]]
    return values


def _field_possible(literals: list[tuple[Condition, bool]], values: list[Any]) -> bool:
    return any(all(_holds(c, n, v) for c, n in literals) for v in values)


def _why_not(conj: list[tuple[Condition, bool]]) -> str | None:
    """Why one alternative can never hold, or None when some event satisfies it (as far as we can tell)."""
    by_field: dict[tuple[str | int, ...], list[tuple[Condition, bool]]] = {}
    for cond, negated in conj:
        by_field.setdefault(cond.path, []).append((cond, negated))

    def words(literals: list[tuple[Condition, bool]]) -> str:
        return " and ".join(f"not ({c.text})" if n else c.text for c, n in literals)

    type_lits = by_field.pop(("type",), [])
    event_lits = by_field.pop(("event",), [])
    if type_lits or event_lits:
        types = [t for t in EVENT_TYPES if all(_holds(c, n, t) for c, n in type_lits)]
        if not types:
            return f"no event type satisfies {words(type_lits)}"
        event_values = _candidates(event_lits)
        track_ok = "track" in types and _field_possible(event_lits, [v for v in event_values if isinstance(v, str)])
        other_ok = any(t != "track" for t in types) and _field_possible(event_lits, [MISSING])
        if not (track_ok or other_ok):
            if "track" not in types:
                return (f"{words(type_lits)} and {words(event_lits)} exclude each other: only track events have "
                        "an event name")
            if not _field_possible(event_lits, event_values):
                return f"no event name satisfies {words(event_lits)}"
            return (f"{words(type_lits)} and {words(event_lits)} exclude each other: only track events have "
                    "an event name")
    for literals in by_field.values():
        if not _field_possible(literals, _candidates(literals)):
            return f"no value satisfies {words(literals)}"
    return None


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    return "other"


def _type_mismatches(node: Node, examples: list[dict[str, Any]]) -> list[str]:
    out = []
    seen: set[str] = set()

    def visit(n: Node) -> None:
        if isinstance(n, Not):
            visit(n.inner)
            return
        if isinstance(n, (And, Or)):
            for child in n.parts:
                visit(child)
            return
        c = n
        if c.op not in _ORDERED and c.op != "=" or c.value is None or c.text in seen:
            return
        observed = [v for v in (_lookup(e, c.path) for e in examples) if v is not MISSING and v is not None]
        if not observed or isinstance(observed[0], (dict, list)):
            return
        kinds = {_kind(v) for v in observed}
        if _kind(c.value) not in kinds and len(kinds) == 1:
            seen.add(c.text)
            example = json.dumps(observed[0])
            out.append(f"{c.text} never matches: {c.path_text} holds {kinds.pop()} in recent events (e.g. "
                       f"{example}), and comparisons are exact about types, so {_kind(c.value)} never equals "
                       f"or compares with it.")

    visit(node)
    return out


def warnings(text: str, examples: list[dict[str, Any]] | None = None) -> list[str]:
    """Why `text` can never match an event, in sentences; [] when it can (or when we cannot tell)."""
    node = _tree(text)
    if node is None:
        return []
    out = _type_mismatches(node, examples or [])
    try:
        alternatives = _dnf(node)
    except _TooMany:
        return out
    reasons = [_why_not(conj) for conj in alternatives]
    if alternatives and all(reasons):
        unique = list(dict.fromkeys(r for r in reasons if r))
        out.insert(0, "No event can ever match this trigger: " + "; ".join(unique[:3])
                   + (f" (and {len(unique) - 3} more)" if len(unique) > 3 else "") + ".")
    return out
