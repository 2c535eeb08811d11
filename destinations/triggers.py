"""The trigger language: which events an action receives.

A trigger is a small boolean expression over the event JSON, for example::

    type = "track" and (event = "Order Completed" or properties.total >= 100)
    traits.email exists and not context.device.type = "ios"
    contains(event, "Cart") or match(event, "Order*")

Grammar (precedence from loosest to tightest: ``or`` < ``and`` < ``not``; parentheses nest freely)::

    expr       := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | primary
    primary    := "(" expr ")" | function | condition
    function   := ("contains" | "starts_with" | "ends_with" | "match") "(" path "," value ")"
    condition  := path ( op value | "contains" value | "starts_with" value | "ends_with" value
                       | "match" value | "exists" | "not" "exists" | "in" list | "not" "in" list )
    list       := "[" value ("," value)* "]"
    op         := "=" | "==" | "!=" | "<" | "<=" | ">" | ">="
    path       := segment ("." segment | "[" integer "]")*    segment: a name, or a "quoted key"
    value      := "string with \\" escapes" | number | true | false | null

Semantics (as Segment's FQL, minus its quirks):
- a path that leads nowhere is *missing*; ``!=`` is true for a missing field; ``field = null`` means the
  field is missing or null, ``field != null`` means it exists (same as ``field exists``);
- comparisons are type-strict: ``"100" = 100`` is false, ``<``/``>`` compare two numbers or two strings
  and are false otherwise (no coercion); booleans are not numbers;
- ``contains`` is a substring test on strings and a membership test on arrays; ``match`` is a glob with
  ``*`` (``"Order*"``, ``"*Completed"``, ``"*der*"``), anchored at both ends;
- ``field in ["A", "B"]`` is true when the field equals one of the values (same strict equality as ``=``);
  ``field not in [...]`` is its negation, so like ``!=`` it is true for a missing field:
  ``event not in ["A", "B"]`` means exactly ``event != "A" and event != "B"``.

`parse(text)` compiles the text once (cached) into a `Trigger`: its `tree` is the parsed expression
(`Or`, `And`, `Not`, `Condition` nodes, read by destinations/trigger_text.py to say it in words and by
destinations/trigger_outline.py for the condition builder and the warnings) and its
`matches(event)` runs plain Python closures compiled from that tree; nothing is ever passed to `eval`. Any text outside this grammar raises `TriggerSyntaxError`
naming the column (1-based). To extend the language: add the token in `_tokenize`, the rule in `_Parser`,
and tests in tests/engine/test_triggers.py.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MAX_DEPTH", "MAX_LENGTH", "And", "Condition", "Node", "Not", "Or", "Path", "Trigger",
           "TriggerSyntaxError", "parse"]

MAX_LENGTH = 10_000
MAX_DEPTH = 64

Predicate = Callable[[Any], bool]
Path = tuple[str | int, ...]


class TriggerSyntaxError(ValueError):
    """The trigger text does not parse. `column` is 1-based and is part of the message."""

    def __init__(self, message: str, column: int) -> None:
        self.message = message
        self.column = column
        super().__init__(f"{message} (column {column})")


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()


# --- tokens ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Token:
    kind: str  # "name", "string", "number", "op", "(", ")", ",", ".", "[", "]", "end"
    value: Any
    column: int
    text: str = ""


_KEYWORDS = frozenset(
    {"and", "or", "not", "exists", "contains", "starts_with", "ends_with", "match", "true", "false", "null"}
)
_FUNCTIONS = frozenset({"contains", "starts_with", "ends_with", "match"})
_NAME_RE = re.compile(r"[A-Za-z_$][A-Za-z0-9_$\-]*")
_NUMBER_RE = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}


def _read_string(text: str, start: int) -> tuple[str, int]:
    """Read a double-quoted string starting at text[start] == '"'; return (value, index after it)."""
    out: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == '"':
            return "".join(out), i + 1
        if ch == "\\":
            if i + 1 >= len(text):
                break
            esc = text[i + 1]
            if esc in _ESCAPES:
                out.append(_ESCAPES[esc])
                i += 2
                continue
            if esc == "u":
                digits = text[i + 2:i + 6]
                if len(digits) == 4 and all(c in "0123456789abcdefABCDEF" for c in digits):
                    out.append(chr(int(digits, 16)))
                    i += 6
                    continue
                raise TriggerSyntaxError("\\u must be followed by four hex digits", i + 1)
            raise TriggerSyntaxError(f"Unknown escape \\{esc} in string", i + 1)
        out.append(ch)
        i += 1
    raise TriggerSyntaxError("Unterminated string: a closing \" is missing", start + 1)


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        col = i + 1
        if ch.isspace():
            i += 1
            continue
        if ch == '"':
            string, i = _read_string(text, i)
            tokens.append(_Token("string", string, col, text[col - 1:i]))
            continue
        two = text[i:i + 2]
        if two in ("!=", "<=", ">=", "=="):
            tokens.append(_Token("op", "=" if two == "==" else two, col, two))
            i += 2
            continue
        if ch in "=<>":
            tokens.append(_Token("op", ch, col, ch))
            i += 1
            continue
        if ch in "(),.[]":
            tokens.append(_Token(ch, ch, col, ch))
            i += 1
            continue
        m = _NUMBER_RE.match(text, i)
        if m:
            raw = m.group()
            value: float | int = float(raw) if any(c in raw for c in ".eE") else int(raw)
            if isinstance(value, float) and not math.isfinite(value):
                raise TriggerSyntaxError(f"Number {raw} is out of range", col)
            tokens.append(_Token("number", value, col, raw))
            i = m.end()
            continue
        m = _NAME_RE.match(text, i)
        if m:
            tokens.append(_Token("name", m.group(), col, m.group()))
            i = m.end()
            continue
        if ch == "'":
            raise TriggerSyntaxError("Strings use double quotes (\"...\"), not single quotes", col)
        if ch == "!":
            raise TriggerSyntaxError("Unexpected '!': use != to compare or `not` to negate", col)
        raise TriggerSyntaxError(f"Unexpected character {ch!r}", col)
    tokens.append(_Token("end", None, n + 1, ""))
    return tokens


# --- evaluation helpers ---------------------------------------------------------------------------------

def _lookup(event: Any, path: tuple[str | int, ...]) -> Any:
    value = event
    for seg in path:
        if isinstance(seg, int):
            if isinstance(value, list) and -len(value) <= seg < len(value):
                value = value[seg]
                continue
            if isinstance(value, dict) and str(seg) in value:
                value = value[str(seg)]
                continue
            return MISSING
        if isinstance(value, dict):
            if seg in value:
                value = value[seg]
                continue
            return MISSING
        if isinstance(value, list) and seg.isdigit() and int(seg) < len(value):
            value = value[int(seg)]
            continue
        return MISSING
    return value


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _equal(actual: Any, expected: Any) -> bool:
    if expected is None:
        return actual is MISSING or actual is None
    if isinstance(expected, bool):
        return isinstance(actual, bool) and actual is expected
    if _is_number(expected):
        return _is_number(actual) and actual == expected
    return isinstance(actual, str) and actual == expected


def _ordered(actual: Any, expected: Any) -> bool:
    if _is_number(expected):
        return _is_number(actual)
    return isinstance(expected, str) and isinstance(actual, str)


_ORDER_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if part == "*" else re.escape(part) for part in re.split(r"(\*)", pattern)),
                      re.DOTALL)


def _condition(path: Path, op: str, value: Any) -> Predicate:
    if op == "=":
        return lambda e: _equal(_lookup(e, path), value)
    if op == "!=":
        return lambda e: not _equal(_lookup(e, path), value)
    if op in _ORDER_OPS:
        compare = _ORDER_OPS[op]

        def ordered(e: Any) -> bool:
            actual = _lookup(e, path)
            return _ordered(actual, value) and compare(actual, value)

        return ordered
    if op == "exists":
        return lambda e: _lookup(e, path) not in (MISSING, None)
    if op == "contains":
        def contains(e: Any) -> bool:
            actual = _lookup(e, path)
            if isinstance(actual, str):
                return isinstance(value, str) and value in actual
            if isinstance(actual, list):
                return any(_equal(item, value) for item in actual)
            return False

        return contains
    if op == "starts_with":
        return lambda e: isinstance(a := _lookup(e, path), str) and a.startswith(value)
    if op == "ends_with":
        return lambda e: isinstance(a := _lookup(e, path), str) and a.endswith(value)
    if op == "match":
        regex = _glob(value)
        return lambda e: isinstance(a := _lookup(e, path), str) and regex.fullmatch(a) is not None
    if op == "not exists":
        return lambda e: _lookup(e, path) in (MISSING, None)
    if op in ("in", "not in"):
        negate = op == "not in"
        if all(isinstance(v, str) for v in value):
            names = frozenset(value)  # the common case (event names): one set lookup per event

            def among(e: Any) -> bool:
                actual = _lookup(e, path)
                return (isinstance(actual, str) and actual in names) is not negate
        else:
            def among(e: Any) -> bool:
                actual = _lookup(e, path)
                return any(_equal(actual, v) for v in value) is not negate

        return among
    raise AssertionError(op)  # pragma: no cover - the parser only builds the ops above


# --- the parsed tree ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Condition:
    """`path op value`. op is one of =, !=, <, <=, >, >=, contains, starts_with, ends_with, match, exists,
    not exists, in, not in; value is None for (not) exists and a tuple of values for (not) in.

    `path_text` and `text` are the field and the whole condition as written (for the condition builder and
    warnings, destinations/trigger_outline.py); they take no part in equality."""

    path: Path
    op: str
    value: Any = None
    path_text: str = field(default="", compare=False)
    text: str = field(default="", compare=False)


@dataclass(frozen=True)
class And:
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    inner: Node


Node = Condition | And | Or | Not


def _compile(node: Node) -> Predicate:
    if isinstance(node, Condition):
        return _condition(node.path, node.op, node.value)
    if isinstance(node, Not):
        inner = _compile(node.inner)
        return lambda e: not inner(e)
    parts = [_compile(p) for p in node.parts]
    if isinstance(node, And):
        return lambda e: all(p(e) for p in parts)
    return lambda e: any(p(e) for p in parts)


# --- parser ---------------------------------------------------------------------------------------------

class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.pos = 0
        self.depth = 0

    @property
    def tok(self) -> _Token:
        return self.tokens[self.pos]

    def _next(self) -> _Token:
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def _is_word(self, word: str, offset: int = 0) -> bool:
        tok = self.tokens[min(self.pos + offset, len(self.tokens) - 1)]
        return tok.kind == "name" and tok.value == word

    def _error(self, message: str, tok: _Token | None = None) -> TriggerSyntaxError:
        return TriggerSyntaxError(message, (tok or self.tok).column)

    def _describe(self, tok: _Token) -> str:
        return "the end of the trigger" if tok.kind == "end" else repr(tok.text)

    def parse(self) -> Node:
        if self.tok.kind == "end":
            raise self._error("The trigger is empty: write a condition such as type = \"track\"")
        pred = self.expr()
        if self.tok.kind != "end":
            tok = self.tok
            if tok.kind == ")":
                raise self._error("Unbalanced ')': no matching '('")
            raise self._error(f"Expected `and`, `or` or the end of the trigger, found {self._describe(tok)}")
        return pred

    def expr(self) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self._error(f"The trigger nests more than {MAX_DEPTH} levels deep")
        parts = [self.and_expr()]
        while self._is_word("or"):
            self._next()
            parts.append(self.and_expr())
        self.depth -= 1
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def and_expr(self) -> Node:
        parts = [self.not_expr()]
        while self._is_word("and"):
            self._next()
            parts.append(self.not_expr())
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def not_expr(self) -> Node:
        if self._is_word("not"):
            self._next()
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise self._error(f"The trigger nests more than {MAX_DEPTH} levels deep")
            inner = self.not_expr()
            self.depth -= 1
            return Not(inner)
        return self.primary()

    def primary(self) -> Node:
        tok = self.tok
        if tok.kind == "(":
            self._next()
            if self.tok.kind == ")":
                raise self._error("Empty parentheses: write a condition inside them")
            inner = self.expr()
            if self.tok.kind != ")":
                raise self._error(f"Expected ')' to close the '(' at column {tok.column}, "
                                  f"found {self._describe(self.tok)}")
            self._next()
            return inner
        if tok.kind == "name" and tok.value in _FUNCTIONS and self.tokens[self.pos + 1].kind == "(":
            return self.function()
        if tok.kind == "name" and tok.value in ("and", "or"):
            raise self._error(f"Expected a condition before `{tok.value}`")
        return self.condition()

    def _made(self, start: int, path_span: tuple[int, int], path: Path, op: str, value: Any = None) -> Condition:
        """The condition read from tokens[start:self.pos], its path from tokens[path_span[0]:path_span[1]]."""
        first, last = self.tokens[start], self.tokens[self.pos - 1]
        path_text = "".join(t.text for t in self.tokens[path_span[0]:path_span[1]])
        text = self.text[first.column - 1:last.column - 1 + len(last.text)]
        return Condition(path, op, value, path_text=path_text, text=text)

    def function(self) -> Node:
        start = self.pos
        name = self._next().value
        self._next()  # "("
        path_start = self.pos
        path = self.path()
        path_span = (path_start, self.pos)
        if self.tok.kind != ",":
            raise self._error(f"Expected ',' between the arguments of {name}(), found {self._describe(self.tok)}")
        self._next()
        value = self.value()
        if not isinstance(value, str):
            raise self._error(f"{name}() compares with a string in double quotes", self.tokens[self.pos - 1])
        if self.tok.kind != ")":
            raise self._error(f"Expected ')' to close {name}(, found {self._describe(self.tok)}")
        self._next()
        return self._made(start, path_span, path, name, value)

    def condition(self) -> Node:
        start = self.pos
        path = self.path()
        span = (start, self.pos)
        tok = self.tok
        if tok.kind == "op":
            self._next()
            value_tok = self.tok
            value = self.value()
            if tok.value in _ORDER_OPS and not (_is_number(value) or isinstance(value, str)):
                raise self._error(f"{tok.value} compares with a number or a string", value_tok)
            return self._made(start, span, path, tok.value, value)
        if tok.kind == "name" and tok.value == "exists":
            self._next()
            return self._made(start, span, path, "exists")
        if tok.kind == "name" and tok.value == "not" and self._is_word("exists", 1):
            self._next()
            self._next()
            return self._made(start, span, path, "not exists")
        if tok.kind == "name" and tok.value == "in":
            self._next()
            return self._made(start, span, path, "in", self.value_list("in"))
        if tok.kind == "name" and tok.value == "not" and self._is_word("in", 1):
            self._next()
            self._next()
            return self._made(start, span, path, "not in", self.value_list("not in"))
        if tok.kind == "name" and tok.value in _FUNCTIONS:
            self._next()
            value_tok = self.tok
            value = self.value()
            if tok.value != "contains" and not isinstance(value, str):
                raise self._error(f"`{tok.value}` compares with a string in double quotes", value_tok)
            if tok.value == "contains" and value is None:
                raise self._error("`contains` needs a string, number or boolean", value_tok)
            return self._made(start, span, path, tok.value, value)
        raise self._error(
            "Expected an operator (=, !=, <, <=, >, >=, contains, starts_with, ends_with, match, exists, "
            f"not exists, in, not in) after the field, found {self._describe(tok)}"
        )

    def value_list(self, op: str) -> tuple[Any, ...]:
        """`[value, value, ...]` after in / not in: at least one value, no trailing comma."""
        if self.tok.kind != "[":
            raise self._error(f"`{op}` takes a list in square brackets, such as [\"A\", \"B\"], "
                              f"found {self._describe(self.tok)}")
        opening = self._next()
        if self.tok.kind == "]":
            raise self._error(f"The list after `{op}` is empty: put at least one value in it")
        values = [self.value()]
        while self.tok.kind == ",":
            self._next()
            if self.tok.kind == "]":
                raise self._error("Expected a value after ',' (no trailing comma in a list)")
            values.append(self.value())
        if self.tok.kind != "]":
            raise self._error(f"Expected ',' or ']' to close the list opened at column {opening.column}, "
                              f"found {self._describe(self.tok)}")
        self._next()
        return tuple(values)

    def path(self) -> Path:
        tok = self.tok
        segments: list[str | int] = []
        if tok.kind == "name" and tok.value not in _KEYWORDS or tok.kind == "string":
            segments.append(self._next().value)
        elif tok.kind == "name":
            raise self._error(f"Expected a field name, found the keyword `{tok.value}`")
        else:
            raise self._error(f"Expected a field name such as type or properties.total, found {self._describe(tok)}")
        while self.tok.kind in (".", "["):
            sep = self._next()
            if sep.kind == "[":
                index = self.tok
                if index.kind == "number" and isinstance(index.value, int) or index.kind == "string":
                    self._next()
                    segments.append(index.value)
                else:
                    raise self._error("Expected an index number or a \"key\" inside [ ]")
                if self.tok.kind != "]":
                    raise self._error(f"Expected ']', found {self._describe(self.tok)}")
                self._next()
                continue
            seg = self.tok
            if seg.kind == "name" or seg.kind == "string" or seg.kind == "number" and isinstance(seg.value, int) and seg.value >= 0:
                segments.append(self._next().value)
            else:
                raise self._error(f"Expected a field name after '.', found {self._describe(seg)}")
        return tuple(segments)

    def value(self) -> Any:
        tok = self.tok
        if tok.kind in ("string", "number"):
            self._next()
            return tok.value
        if tok.kind == "name" and tok.value in ("true", "false", "null"):
            self._next()
            return {"true": True, "false": False, "null": None}[tok.value]
        if tok.kind == "name":
            raise self._error(
                f"Expected a value (\"a string\", a number, true, false or null), found {tok.text!r}; "
                "strings need double quotes"
            )
        raise self._error(f"Expected a value (\"a string\", a number, true, false or null), "
                          f"found {self._describe(tok)}")


@dataclass(frozen=True)
class Trigger:
    """A parsed trigger. `matches` never raises for any JSON-like event."""

    text: str
    tree: Node
    _predicate: Predicate

    def matches(self, event: dict[str, Any]) -> bool:
        return bool(self._predicate(event))


@functools.lru_cache(maxsize=4096)
def parse(text: str) -> Trigger:
    """Compile trigger text (cached by text). Raises TriggerSyntaxError naming the 1-based column."""
    if not isinstance(text, str):
        raise TriggerSyntaxError("The trigger must be text", 1)
    if len(text) > MAX_LENGTH:
        raise TriggerSyntaxError(f"The trigger is longer than {MAX_LENGTH} characters", MAX_LENGTH + 1)
    tree = _Parser(text).parse()
    return Trigger(text, tree, _compile(tree))
