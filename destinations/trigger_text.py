"""Triggers in plain language, for the actions list: `describe('type = "track" and event not in [...]')`
answers "Track events except “Application Installed”, “Device Deleted” and 10 other events".

The sentence is built from the parsed tree (destinations/triggers.py), never from the text, so it says
what the trigger does. The shape it recognises first: a conjunction of an event type (``type = "track"``,
``type in [...]`` or ``type = "a" or type = "b"``), event names wanted (``event =``, ``event in``, an `or`
of ``event =``) and event names left out (``event !=``, ``event not in``); anything else becomes a
"where ..." clause read condition by condition. To say a new operator in words, add it to `_PHRASES`.
"""

from __future__ import annotations

from typing import Any

from .triggers import And, Condition, Node, Not, Or, Path, parse

__all__ = ["describe", "describe_tree"]

TYPE_NAMES = {"track": "Track", "identify": "Identify", "page": "Page", "screen": "Screen", "group": "Group",
              "alias": "Alias"}
_PHRASES = {
    "=": "is", "!=": "is not", "<": "is less than", "<=": "is at most", ">": "is greater than",
    ">=": "is at least", "contains": "contains", "starts_with": "starts with", "ends_with": "ends with",
    "match": "matches",
}


def describe(text: str, limit: int | None = None) -> str:
    """The trigger `text` in words. `limit` caps how many event names a list spells out ("and 9 other
    events" for the rest). Raises TriggerSyntaxError when the text does not parse."""
    return describe_tree(parse(text).tree, limit)


def describe_tree(tree: Node, limit: int | None = None) -> str:
    parts = list(tree.parts) if isinstance(tree, And) else [tree]
    types: list[str] | None = None
    wanted: list[Any] | None = None
    excluded: list[Any] = []
    rest: list[Node] = []
    for part in parts:
        found_types = _types(part)
        found_names = _event_names(part)
        if found_types is not None and types is None:
            types = found_types
        elif found_names is not None and wanted is None:
            wanted = found_names
        elif (isinstance(part, Condition) and part.path == ("event",) and part.op in ("!=", "not in")
              and None not in ([part.value] if part.op == "!=" else part.value)):
            excluded += [part.value] if part.op == "!=" else list(part.value)
        else:
            rest.append(part)
    if types is None and wanted is None and not excluded:
        return "Events where " + _clause(tree, limit)
    sentence = _subject(types)
    if wanted is not None:
        sentence += " named " + _names(wanted, "or", limit)
    if excluded:
        sentence += " except " + _names(excluded, "and", limit)
    if rest:
        sentence += ", where " + " and ".join(_clause(p, limit, nested=len(rest) > 1) for p in rest)
    return sentence


def _types(node: Node) -> list[str] | None:
    """The event types a `type = ...` / `type in [...]` / or-of-those node selects, else None."""
    if isinstance(node, Condition) and node.path == ("type",):
        values = [node.value] if node.op == "=" else list(node.value) if node.op == "in" else None
        if values and all(isinstance(v, str) for v in values):
            return values
        return None
    if isinstance(node, Or):
        found: list[str] = []
        for part in node.parts:
            sub = _types(part)
            if sub is None:
                return None
            found += [t for t in sub if t not in found]
        return found
    return None


def _event_names(node: Node) -> list[Any] | None:
    """The event names an `event = ...` / `event in [...]` / or-of-those node selects, else None."""
    if isinstance(node, Condition) and node.path == ("event",):
        values = [node.value] if node.op == "=" else list(node.value) if node.op == "in" else None
        return values if values and None not in values else None
    if isinstance(node, Or):
        found: list[Any] = []
        for part in node.parts:
            sub = _event_names(part)
            if sub is None:
                return None
            found += sub
        return found
    return None


def _subject(types: list[str] | None) -> str:
    if not types:
        return "Events"
    if set(types) >= set(TYPE_NAMES):
        return "Events of every type"
    names = [TYPE_NAMES.get(t, f"“{t}”") for t in types]
    return _join(names, "and") + " events"


def _join(items: list[str], word: str) -> str:
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + f" {word} " + items[-1]


def _value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"“{value}”"
    return str(value)


def _names(values: list[Any], word: str, limit: int | None) -> str:
    shown = [_value(v) for v in values]
    if limit is not None and len(shown) > limit + 1:
        hidden = len(shown) - limit
        return ", ".join(shown[:limit]) + f" and {hidden} other events"
    return _join(shown, word)


def _field(path: Path) -> str:
    if path == ("event",):
        return "the event name"
    if path == ("type",):
        return "the type"
    text = ""
    for seg in path:
        text += f"[{seg}]" if isinstance(seg, int) else (f".{seg}" if text else seg)
    return text


def _clause(node: Node, limit: int | None, nested: bool = False) -> str:
    if isinstance(node, Condition):
        return _condition(node, limit)
    if isinstance(node, Not):
        return "not (" + _clause(node.inner, limit) + ")"
    word = " and " if isinstance(node, And) else " or "
    text = word.join(_clause(p, limit, nested=True) for p in node.parts)
    return f"({text})" if nested else text


def _condition(cond: Condition, limit: int | None) -> str:
    field = _field(cond.path)
    if cond.op == "exists" or cond.op == "!=" and cond.value is None:
        return f"{field} exists"
    if cond.op == "not exists" or cond.op == "=" and cond.value is None:
        return f"{field} is missing"
    if cond.op in ("in", "not in"):
        values = list(cond.value)
        if len(values) == 1:
            return f"{field} {'is' if cond.op == 'in' else 'is not'} {_value(values[0])}"
        shown = [_value(v) for v in values]
        if limit is not None and len(shown) > limit + 1:
            shown = shown[:limit] + [f"{len(values) - limit} other values"]
        if cond.op == "not in":
            if len(shown) == 2:
                return f"{field} is neither {shown[0]} nor {shown[1]}"
            return f"{field} is none of " + ", ".join(shown)
        return f"{field} is " + ("" if len(shown) == 2 else "one of ") + _join(shown, "or")
    return f"{field} {_PHRASES[cond.op]} {_value(cond.value)}"
