"""The structure of a trigger, for the UI: the condition builder's rows, and the warnings for a trigger that
can never match an event.

`destinations.triggers` compiles a trigger straight into closures; this module reads the same tokens
(`triggers._tokenize`) into a small tree instead. A trigger that `triggers.parse` accepts but this tree
does not know (syntax added to the language later) gives no rows and no warnings: the UI then shows the
text alone and saves it unchanged, so a gap here never changes what is saved or delivered.

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
from dataclasses import dataclass
from typing import Any

from .triggers import _FUNCTIONS, _KEYWORDS, MISSING, TriggerSyntaxError, _condition, _Token, _tokenize, parse

__all__ = ["builder_rows", "warnings"]

_OPS = frozenset({"=", "!=", "<", "<=", ">", ">="})
_ORDERED = frozenset({"<", "<=", ">", ">="})
EVENT_TYPES = ("track", "identify", "page", "screen", "group", "alias")


class _Unsupported(Exception):
    """Text this tree does not read (it may still be a valid trigger)."""


@dataclass(frozen=True)
class Cond:
    path: tuple[str | int, ...]
    path_text: str
    op: str  # "=", "!=", "<", ..., "contains", "starts_with", "ends_with", "match", "exists", "not exists"
    value: Any
    text: str  # as written


@dataclass(frozen=True)
class Node:
    kind: str  # "and", "or", "not", "cond"
    children: tuple[Node, ...] = ()
    cond: Cond | None = None


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.pos = 0

    @property
    def tok(self) -> _Token:
        return self.tokens[self.pos]

    def _word(self, word: str, offset: int = 0) -> bool:
        tok = self.tokens[min(self.pos + offset, len(self.tokens) - 1)]
        return tok.kind == "name" and tok.value == word

    def read(self) -> Node:
        node = self.expr()
        if self.tok.kind != "end":
            raise _Unsupported
        return node

    def expr(self) -> Node:
        parts = [self.and_expr()]
        while self._word("or"):
            self.pos += 1
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else Node("or", tuple(parts))

    def and_expr(self) -> Node:
        parts = [self.not_expr()]
        while self._word("and"):
            self.pos += 1
            parts.append(self.not_expr())
        return parts[0] if len(parts) == 1 else Node("and", tuple(parts))

    def not_expr(self) -> Node:
        if self._word("not"):
            self.pos += 1
            return Node("not", (self.not_expr(),))
        return self.primary()

    def primary(self) -> Node:
        if self.tok.kind == "(":
            self.pos += 1
            inner = self.expr()
            if self.tok.kind != ")":
                raise _Unsupported
            self.pos += 1
            return inner
        start = self.tok
        if start.kind == "name" and start.value in _FUNCTIONS and self.tokens[self.pos + 1].kind == "(":
            op = start.value
            self.pos += 2
            path, path_text = self.path()
            if self.tok.kind != ",":
                raise _Unsupported
            self.pos += 1
            value = self.value()
            if self.tok.kind != ")":
                raise _Unsupported
            self.pos += 1
            return self._cond(start, path, path_text, op, value)
        path, path_text = self.path()
        tok = self.tok
        if tok.kind == "op":
            self.pos += 1
            return self._cond(start, path, path_text, tok.value, self.value())
        if tok.kind == "name" and tok.value == "exists":
            self.pos += 1
            return self._cond(start, path, path_text, "exists", None)
        if self._word("in") or self._word("not") and self._word("in", 1):
            op = "in" if self._word("in") else "not in"
            self.pos += 1 if op == "in" else 2
            return self._cond(start, path, path_text, op, self.list_value())
        if self._word("not") and self._word("exists", 1):
            self.pos += 2
            return self._cond(start, path, path_text, "not exists", None)
        if tok.kind == "name" and tok.value in _FUNCTIONS:
            self.pos += 1
            return self._cond(start, path, path_text, tok.value, self.value())
        raise _Unsupported

    def _cond(self, start: _Token, path: tuple[str | int, ...], path_text: str, op: str, value: Any) -> Node:
        last = self.tokens[self.pos - 1]
        text = self.text[start.column - 1:last.column - 1 + len(last.text)]
        return Node("cond", cond=Cond(path, path_text, op, value, text))

    def path(self) -> tuple[tuple[str | int, ...], str]:
        first = self.tok
        if not (first.kind == "name" and first.value not in _KEYWORDS or first.kind == "string"):
            raise _Unsupported
        segments: list[str | int] = [first.value]
        text = [first.text]
        self.pos += 1
        while self.tok.kind in (".", "["):
            sep = self.tok
            self.pos += 1
            seg = self.tok
            if seg.kind not in ("name", "string", "number"):
                raise _Unsupported
            self.pos += 1
            segments.append(seg.value)
            text.append(sep.text + seg.text)
            if sep.kind == "[":
                if self.tok.kind != "]":
                    raise _Unsupported
                self.pos += 1
                text.append("]")
        return tuple(segments), "".join(text)

    def list_value(self) -> tuple[Any, ...]:
        if self.tok.kind != "[":
            raise _Unsupported
        self.pos += 1
        items = [self.value()]
        while self.tok.kind == ",":
            self.pos += 1
            items.append(self.value())
        if self.tok.kind != "]":
            raise _Unsupported
        self.pos += 1
        return tuple(items)

    def value(self) -> Any:
        tok = self.tok
        self.pos += 1
        if tok.kind in ("string", "number"):
            return tok.value
        if tok.kind == "name" and tok.value in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[tok.value]
        raise _Unsupported


def _tree(text: str) -> Node | None:
    """The tree of a valid trigger; None when the text does not parse or uses syntax this module lacks."""
    try:
        parse(text)
        return _Reader(text).read()
    except (TriggerSyntaxError, _Unsupported, IndexError):
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
    join = node.kind if node.kind in ("and", "or") else "and"
    parts = node.children if node.kind in ("and", "or") else (node,)
    rows = []
    for part in parts:
        if part.kind != "cond" or part.cond is None:
            return None
        c = part.cond
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


def _dnf(node: Node, negated: bool = False) -> list[list[tuple[Cond, bool]]]:
    """The trigger as an `or` of `and`s of (condition, negated). Raises _Unsupported past MAX_ALTERNATIVES."""
    if node.kind == "cond":
        assert node.cond is not None
        return [[(node.cond, negated)]]
    if node.kind == "not":
        return _dnf(node.children[0], not negated)
    is_and = (node.kind == "and") != negated
    parts = [_dnf(child, negated) for child in node.children]
    if not is_and:
        out = [conj for part in parts for conj in part]
    else:
        out = [[]]
        for part in parts:
            out = [a + b for a in out for b in part]
            if len(out) > MAX_ALTERNATIVES:
                raise _Unsupported
    if len(out) > MAX_ALTERNATIVES:
        raise _Unsupported
    return out


def _holds(cond: Cond, negated: bool, value: Any) -> bool:
    op = "exists" if cond.op == "not exists" else cond.op
    result = _condition((0,), op, cond.value)([value] if value is not MISSING else [])
    if cond.op == "not exists":
        result = not result
    return result != negated


def _candidates(literals: list[tuple[Cond, bool]]) -> list[Any]:
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


def _field_possible(literals: list[tuple[Cond, bool]], values: list[Any]) -> bool:
    return any(all(_holds(c, n, v) for c, n in literals) for v in values)


def _why_not(conj: list[tuple[Cond, bool]]) -> str | None:
    """Why one alternative can never hold, or None when some event satisfies it (as far as we can tell)."""
    by_field: dict[tuple[str | int, ...], list[tuple[Cond, bool]]] = {}
    for cond, negated in conj:
        by_field.setdefault(cond.path, []).append((cond, negated))

    def words(literals: list[tuple[Cond, bool]]) -> str:
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


def _lookup(event: Any, path: tuple[str | int, ...]) -> Any:
    from .triggers import _lookup as lookup

    return lookup(event, path)


def _type_mismatches(node: Node, examples: list[dict[str, Any]]) -> list[str]:
    out = []
    seen: set[str] = set()

    def visit(n: Node) -> None:
        if n.kind != "cond":
            for child in n.children:
                visit(child)
            return
        c = n.cond
        assert c is not None
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
    except _Unsupported:
        return out
    reasons = [_why_not(conj) for conj in alternatives]
    if alternatives and all(reasons):
        unique = list(dict.fromkeys(r for r in reasons if r))
        out.insert(0, "No event can ever match this trigger: " + "; ".join(unique[:3])
                   + (f" (and {len(unique) - 3} more)" if len(unique) > 3 else "") + ".")
    return out
