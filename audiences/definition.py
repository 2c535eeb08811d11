"""The audience definition language: a JSON condition tree, validated, evaluated against one person's
compact state (`profiles.state.PersonState`), with no database access.

A node is one of:
- ``{"all": [node, ...]}`` / ``{"any": [node, ...]}`` / ``{"not": node}``
- an event condition ``{"event": "Order Completed", "at_least": 1, "within": "7d"}``: the count is one of
  ``at_least`` / ``at_most`` / ``exactly`` (default at least 1); the window is ``within`` ("30m", "6h",
  "7d") or ``between`` two relative times (``["7d", "1d"]``: from 7 days ago to 1 day ago); no window
  means the person's whole kept history. ``where`` (one filter or a list) tests the event's properties:
  ``{"path": "properties.total", "op": ">", "value": 100}``.
- a trait condition ``{"trait": "plan", "op": "=", "value": "pro"}`` with op one of ``=``, ``!=``, ``>``,
  ``<``, ``contains``, ``exists``, ``not exists``, ``in``.
- ``{"audience": "newsletter-subscribers"}``: membership in another audience of the workspace (its
  definition is evaluated in place, so a reference cannot go stale; cycles are refused).

- ``{"segment": 12}``: in the Track API's manual segment 12 (what a manual audience's definition is).

What the compact state can answer, and so what the language promises:
- A window is half-open: ``within "6h"`` is (now - 6 h, now]; ``between ["3h", "1h"]`` is
  (now - 3 h, now - 1 h].
- Counts are exact where the state's recent event times cover the window (the store keeps them as far
  back as the longest minute/hour window in use: `recent_horizon`); elsewhere they come from per-day
  counts, a day the window only partly covers counting whole. "At least one" and "none" are exact for
  every window (the last time decides).
- ``where`` filters count the events that matched, from the filtered history the store keeps per
  (event, filters) (`filter_key`, `filters`); a person with none yet is judged by their latest event of
  that name (the properties the plain history keeps).

Extending: a new node kind needs a branch in `_validate_node`, `_eval`, `_times` and `affected_by`.
"""

from __future__ import annotations

import hashlib
import json
import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol

TRAIT_OPS = ("=", "!=", ">", "<", "contains", "exists", "not exists", "in")
COUNT_KEYS = ("at_least", "at_most", "exactly")
# The events the Track API's manual segment calls store (what the profile store keeps segments from)
SEGMENT_EVENTS = ("Added to Manual Segment", "Removed from Manual Segment")
_DURATION = re.compile(r"^(\d{1,6})([mhd])$")
_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}
MAX_DEPTH = 12
MAX_NODES = 200
KEY_RE = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")


class DefinitionError(ValueError):
    """A definition that is not valid. `path` names the bad node (e.g. ``all[1].not.within``)."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}" if path else message)


class _EventStat(Protocol):
    per_day: Mapping[date, int]
    first_at: datetime
    last_at: datetime
    last_properties: Mapping[str, Any]
    recent: list[float]
    recent_from: float | None


class _State(Protocol):
    traits: Mapping[str, Any]
    events: Mapping[str, Any]
    filtered: Mapping[tuple[str, str], Any]
    segments: Mapping[str, bool]


Lookup = Callable[[str], "dict[str, Any] | None"]


# --- Validation ------------------------------------------------------------------------------------------


def parse_duration(value: Any, path: str) -> timedelta:
    if isinstance(value, str) and path == "" and value in _parsed:
        return _parsed[value]  # evaluation parses the same few windows over and over
    if not isinstance(value, str) or not (m := _DURATION.match(value.strip())):
        raise DefinitionError(path, f"expected a duration like \"30m\", \"6h\" or \"7d\", got {value!r}")
    amount = int(m.group(1)) * _UNITS[m.group(2)]
    if amount <= timedelta(0) or amount > timedelta(days=3650):
        raise DefinitionError(path, "a duration must be between 1 minute and 3650 days")
    if len(_parsed) < 1000:
        _parsed[value] = amount
    return amount


_parsed: dict[str, timedelta] = {}


def _relative(value: Any, path: str) -> timedelta:
    """A relative time for `between`: a duration, or "0m"/"0h"/"0d" for now."""
    if value in ("0m", "0h", "0d", "0"):
        return timedelta(0)
    return parse_duration(value, path)


def validate(definition: Any, lookup: Lookup | None = None, *, own_key: str | None = None) -> None:
    """Raise DefinitionError (pointing at the bad node) unless `definition` is a valid condition tree.

    `lookup(key)` answers another audience's definition (None when there is no such audience); with it,
    references are checked to exist and to form no cycle through `own_key` (the audience being saved)."""
    counter = [0]
    _validate_node(definition, "", 0, counter)
    if lookup is not None:
        _check_references(definition, lookup, own_key)


def _join(path: str, part: str) -> str:
    if part.startswith("["):
        return f"{path}{part}" if path else part
    return f"{path}.{part}" if path else part


def _validate_node(node: Any, path: str, depth: int, counter: list[int]) -> None:
    counter[0] += 1
    if counter[0] > MAX_NODES:
        raise DefinitionError(path, f"a definition may have at most {MAX_NODES} conditions")
    if depth > MAX_DEPTH:
        raise DefinitionError(path, f"groups may be nested at most {MAX_DEPTH} deep")
    if not isinstance(node, dict):
        raise DefinitionError(path, "expected an object (a group or a condition)")
    kinds = [k for k in ("all", "any", "not", "event", "trait", "audience", "segment") if k in node]
    if len(kinds) != 1:
        raise DefinitionError(path, "expected exactly one of all, any, not, event, trait, audience, segment"
                              + (f" (found {', '.join(kinds)})" if kinds else ""))
    kind = kinds[0]
    if kind in ("all", "any"):
        _only(node, {kind}, path)
        children = node[kind]
        if not isinstance(children, list) or not children:
            raise DefinitionError(_join(path, kind), "expected a non-empty list of conditions")
        for i, child in enumerate(children):
            _validate_node(child, _join(_join(path, kind), f"[{i}]"), depth + 1, counter)
    elif kind == "not":
        _only(node, {"not"}, path)
        _validate_node(node["not"], _join(path, "not"), depth + 1, counter)
    elif kind == "event":
        _validate_event(node, path)
    elif kind == "trait":
        _validate_trait(node, path)
    elif kind == "segment":
        _only(node, {"segment"}, path)
        segment_key(node["segment"], _join(path, "segment"))
    else:
        _only(node, {"audience"}, path)
        key = node["audience"]
        if not isinstance(key, str) or not KEY_RE.match(key):
            raise DefinitionError(_join(path, "audience"), "expected an audience key (a slug)")


def _only(node: dict[str, Any], allowed: set[str], path: str) -> None:
    extra = sorted(set(node) - allowed)
    if extra:
        raise DefinitionError(_join(path, extra[0]), "unknown field")


def _validate_event(node: dict[str, Any], path: str) -> None:
    _only(node, {"event", *COUNT_KEYS, "within", "between", "where"}, path)
    name = node["event"]
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise DefinitionError(_join(path, "event"), "expected an event name")
    counts = [k for k in COUNT_KEYS if k in node]
    if len(counts) > 1:
        raise DefinitionError(_join(path, counts[1]), f"only one of {', '.join(COUNT_KEYS)} may be given")
    for k in counts:
        v = node[k]
        if isinstance(v, bool) or not isinstance(v, int) or v < 0 or v > 1_000_000:
            raise DefinitionError(_join(path, k), "expected a whole number from 0 to 1000000")
    if "within" in node and "between" in node:
        raise DefinitionError(_join(path, "between"), "give either within or between, not both")
    if "within" in node:
        parse_duration(node["within"], _join(path, "within"))
    if "between" in node:
        b = node["between"]
        bpath = _join(path, "between")
        if not isinstance(b, list) or len(b) != 2:
            raise DefinitionError(bpath, "expected two relative times, e.g. [\"7d\", \"1d\"] (7 to 1 days ago)")
        start = _relative(b[0], _join(bpath, "[0]"))
        end = _relative(b[1], _join(bpath, "[1]"))
        if end >= start:
            raise DefinitionError(bpath, "the first time must be further in the past than the second")
    if "where" in node:
        wpath = _join(path, "where")
        filters = node["where"] if isinstance(node["where"], list) else [node["where"]]
        if not filters:
            raise DefinitionError(wpath, "expected a filter or a list of filters")
        for i, f in enumerate(filters):
            fpath = _join(wpath, f"[{i}]") if isinstance(node["where"], list) else wpath
            if not isinstance(f, dict):
                raise DefinitionError(fpath, "expected {\"path\", \"op\", \"value\"}")
            _only(f, {"path", "op", "value"}, fpath)
            p = f.get("path")
            if not isinstance(p, str) or not p.startswith("properties.") or len(p) <= len("properties."):
                raise DefinitionError(_join(fpath, "path"), "expected a path like \"properties.total\"")
            _validate_op(f, fpath)


MAX_SEGMENT_ID = 2**31 - 1


def segment_key(value: Any, path: str = "segment") -> str:
    """A manual segment id (the Track API's /api/v1/segments/{id}: a whole number) as the profile store
    keys it."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEGMENT_ID:
        raise DefinitionError(path, "expected a manual segment id (a whole number from 0)")
    return str(value)


def filter_key(node: Mapping[str, Any]) -> str:
    """The key the profile store keeps the history of an event condition's property filter under: the
    same for the same event name and filters, whatever the count, window or audience."""
    filters = node["where"] if isinstance(node["where"], list) else [node["where"]]
    text = json.dumps([node["event"], sorted(json.dumps(f, sort_keys=True) for f in filters)], sort_keys=True)
    return "f" + hashlib.sha1(text.encode()).hexdigest()[:20]


def where_matcher(node: Mapping[str, Any]) -> Callable[[Mapping[str, Any]], bool]:
    """A function answering whether an event's properties pass the condition's `where` filters."""
    filters = node["where"] if isinstance(node["where"], list) else [node["where"]]

    def matches(properties: Mapping[str, Any]) -> bool:
        data = {"properties": properties or {}}
        return all(test_value(lookup_path(data, f["path"]), f["op"], f.get("value")) for f in filters)

    return matches


def _validate_trait(node: dict[str, Any], path: str) -> None:
    _only(node, {"trait", "op", "value"}, path)
    key = node["trait"]
    if not isinstance(key, str) or not key.strip() or len(key) > 200:
        raise DefinitionError(_join(path, "trait"), "expected a trait name")
    _validate_op(node, path)


def _validate_op(node: dict[str, Any], path: str) -> None:
    op = node.get("op")
    if op not in TRAIT_OPS:
        raise DefinitionError(_join(path, "op"), f"expected one of {', '.join(TRAIT_OPS)}, got {op!r}")
    if op in ("exists", "not exists"):
        if "value" in node:
            raise DefinitionError(_join(path, "value"), f"\"{op}\" takes no value")
        return
    if "value" not in node:
        raise DefinitionError(_join(path, "value"), f"\"{op}\" needs a value")
    value = node["value"]
    if op == "in":
        if not isinstance(value, list) or not value:
            raise DefinitionError(_join(path, "value"), "\"in\" needs a non-empty list of values")
    elif op in (">", "<"):
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise DefinitionError(_join(path, "value"), f"\"{op}\" needs a number (or a string to compare)")
    elif isinstance(value, dict | list):
        raise DefinitionError(_join(path, "value"), f"\"{op}\" needs a single value")


def references(definition: Any) -> set[str]:
    """The audience keys this definition names directly."""
    out: set[str] = set()
    _walk(definition, lambda n: out.add(n["audience"]) if "audience" in n else None)
    return out


def _walk(node: Any, visit: Callable[[dict[str, Any]], Any]) -> None:
    if not isinstance(node, dict):
        return
    visit(node)
    for kind in ("all", "any"):
        if isinstance(node.get(kind), list):
            for child in node[kind]:
                _walk(child, visit)
    if "not" in node:
        _walk(node["not"], visit)


def _check_references(definition: Any, lookup: Lookup, own_key: str | None) -> None:
    paths: dict[str, str] = {}

    def note(path: str, node: Any) -> None:
        if isinstance(node, dict):
            if "audience" in node:
                paths.setdefault(node["audience"], _join(path, "audience"))
            for kind in ("all", "any"):
                for i, child in enumerate(node.get(kind) or []):
                    note(_join(_join(path, kind), f"[{i}]"), child)
            if "not" in node:
                note(_join(path, "not"), node["not"])

    note("", definition)
    for key, path in paths.items():
        chain = [key]
        if key == own_key:
            raise DefinitionError(path, f"an audience cannot contain itself (\"{key}\")")
        if lookup(key) is None:
            raise DefinitionError(path, f"no audience with key \"{key}\" in this workspace")
        # Depth-first through what `key` references; reaching own_key again is a cycle.
        stack = [(key, chain)]
        seen: set[str] = set()
        while stack:
            current, trail = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            for ref in sorted(references(lookup(current) or {})):
                if ref == own_key:
                    loop = " → ".join([own_key, *trail, ref])
                    raise DefinitionError(path, f"audience references form a cycle: {loop}")
                if lookup(ref) is not None:
                    stack.append((ref, [*trail, ref]))


# --- Evaluation ------------------------------------------------------------------------------------------


def _count(node: dict[str, Any]) -> tuple[str, int]:
    for k in COUNT_KEYS:
        if k in node:
            return k, int(node[k])
    return "at_least", 1


def _window(node: dict[str, Any], now: datetime) -> tuple[datetime | None, datetime]:
    """(start, end) of the event condition's window; start None means the whole kept history."""
    if "within" in node:
        return now - parse_duration(node["within"], ""), now
    if "between" in node:
        a, b = node["between"]
        return now - _relative(a, ""), now - _relative(b, "")
    return None, now


def _day_start(d: date) -> datetime:
    return datetime.combine(d, time.min, tzinfo=UTC)


def _count_in_window(stat: _EventStat, start: datetime | None, end: datetime) -> int:
    """How many of the stat's events happened in (start, end]: exact from the recent times when they
    cover the window, else from the per-day counts (a day the window covers in part counts whole)."""
    if start is not None and stat.recent_from is not None and start.timestamp() >= stat.recent_from:
        times = stat.recent
        return bisect_right(times, end.timestamp()) - bisect_right(times, start.timestamp())
    if start is None:
        if end >= stat.last_at:
            return sum(stat.per_day.values())
        start = stat.first_at - timedelta(microseconds=1)
    if stat.last_at <= start or stat.first_at > end:
        return 0
    total = 0
    for day, n in stat.per_day.items():
        ds = _day_start(day)
        if ds + timedelta(days=1) > start and ds < end:
            total += n
    if total == 0 and start < stat.last_at <= end:
        total = 1  # the last event is in the window even if its day's count was trimmed
    return total


@dataclass
class _Context:
    now: datetime
    audiences: Mapping[str, Any]
    stack: list[str] = field(default_factory=list)


def evaluate(definition: Any, state: _State, now: datetime,
             audiences: Mapping[str, Any] | None = None) -> bool:
    """Whether the person whose compact state is `state` matches `definition` at `now`.

    `audiences` maps the workspace's audience keys to their definitions, for audience references (a key
    not in it, or a reference loop, is not matched)."""
    return _eval(definition, state, _Context(now, audiences or {}))


def _eval(node: dict[str, Any], state: _State, ctx: _Context) -> bool:
    if "all" in node:
        return all(_eval(c, state, ctx) for c in node["all"])
    if "any" in node:
        return any(_eval(c, state, ctx) for c in node["any"])
    if "not" in node:
        return not _eval(node["not"], state, ctx)
    if "trait" in node:
        return test_value(lookup_path(state.traits, node["trait"]), node["op"], node.get("value"))
    if "audience" in node:
        key = node["audience"]
        if key in ctx.stack or key not in ctx.audiences:
            return False
        ctx.stack.append(key)
        try:
            return _eval(ctx.audiences[key], state, ctx)
        finally:
            ctx.stack.pop()
    if "segment" in node:
        return state.segments.get(str(node["segment"]).strip()) is True
    kind, wanted = _count(node)
    start, end = _window(node, ctx.now)
    if "where" in node:
        stat = state.filtered.get((node["event"], _filter_key(node)))
        if stat is None:
            # No event of this name matched since the filter was first asked for: the latest one (the
            # properties the plain history keeps) is all there is to look at.
            plain = state.events.get(node["event"])
            n = int(plain is not None and (start is None or plain.last_at > start) and plain.last_at <= end
                    and _matcher(node)(plain.last_properties))
        else:
            n = _count_in_window(stat, start, end)
    else:
        stat = state.events.get(node["event"])
        n = 0 if stat is None else _count_in_window(stat, start, end)
    if kind == "at_least":
        return n >= wanted
    if kind == "at_most":
        return n <= wanted
    return n == wanted


_MISSING = object()
_keys: dict[int, tuple[Any, str, Callable[[Mapping[str, Any]], bool]]] = {}


def _memo(node: Mapping[str, Any]) -> tuple[str, Callable[[Mapping[str, Any]], bool]]:
    """filter_key and where_matcher of a node, kept per node object (evaluation sees the same few
    definition objects over and over)."""
    held = _keys.get(id(node))
    if held is None or held[0] is not node:
        if len(_keys) > 10_000:
            _keys.clear()
        held = _keys[id(node)] = (node, filter_key(node), where_matcher(node))
    return held[1], held[2]


def _filter_key(node: Mapping[str, Any]) -> str:
    return _memo(node)[0]


def _matcher(node: Mapping[str, Any]) -> Callable[[Mapping[str, Any]], bool]:
    return _memo(node)[1]


def lookup_path(data: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path (an exact key wins over a nested one); _MISSING when absent."""
    if path in data:
        return data[path]
    current: Any = data
    for part in path.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return _MISSING
        current = current[part]
    return current


def _number(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return None
    return None


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b if isinstance(a, bool) and isinstance(b, bool) else False
    na, nb = _number(a), _number(b)
    if isinstance(a, int | float) and isinstance(b, int | float):
        return na == nb
    if na is not None and nb is not None and (isinstance(a, int | float) or isinstance(b, int | float)):
        return na == nb  # "42" = 42: traits often arrive as strings
    return bool(a == b)


def test_value(actual: Any, op: str, expected: Any) -> bool:
    """Apply a trait/property operator. A missing value matches only `!=` and `not exists`."""
    missing = actual is _MISSING or actual is None
    if op == "exists":
        return not missing
    if op == "not exists":
        return missing
    if op == "!=":
        return missing or not _equal(actual, expected)
    if missing:
        return False
    if op == "=":
        return _equal(actual, expected)
    if op == "in":
        return any(_equal(actual, e) for e in expected)
    if op == "contains":
        if isinstance(actual, list):
            return any(_equal(item, expected) for item in actual)
        return isinstance(actual, str) and str(expected).lower() in actual.lower()
    if op in (">", "<"):
        na, nb = _number(actual), _number(expected)
        if na is not None and nb is not None:
            return na > nb if op == ">" else na < nb
        if isinstance(actual, str) and isinstance(expected, str):  # ISO dates compare as strings
            return actual > expected if op == ">" else actual < expected
        return False
    return False


# --- Time and dependencies -------------------------------------------------------------------------------


def next_change_at(definition: Any, state: _State, now: datetime,
                   audiences: Mapping[str, Any] | None = None) -> datetime | None:
    """The earliest time after `now` at which time passing alone (no new event or trait) could change
    `evaluate`'s answer for this person; None when it cannot. Conservative: at that time the audience is
    evaluated again, and may well not change."""
    times: list[datetime] = []
    _times(definition, state, now, audiences or {}, times, [])
    later = [t for t in times if t > now]
    return min(later) if later else None


def _times(node: Any, state: _State, now: datetime, audiences: Mapping[str, Any], out: list[datetime],
           stack: list[str]) -> None:
    if not isinstance(node, dict):
        return
    for kind in ("all", "any"):
        for child in node.get(kind) or []:
            _times(child, state, now, audiences, out, stack)
    if "not" in node:
        _times(node["not"], state, now, audiences, out, stack)
    if "audience" in node:
        key = node["audience"]
        if key not in stack and key in audiences:
            _times(audiences[key], state, now, audiences, out, [*stack, key])
    if "event" not in node or ("within" not in node and "between" not in node):
        return
    stat = None
    if "where" in node:
        stat = state.filtered.get((node["event"], _filter_key(node)))
    stat = stat or state.events.get(node["event"])
    if stat is None:
        return
    start, end = _window(node, now)
    assert start is not None
    back, forward = now - start, now - end  # how far back the window starts and ends
    # An event at t is inside the window from t + forward until t + back.
    kind, n = _count(node)
    if not forward and (kind, n) in (("at_least", 1), ("exactly", 0), ("at_most", 0)):
        out.append(stat.last_at + back)  # "any in the last X" changes only when the latest event leaves
        return
    moments = {stat.last_at, stat.first_at}
    moments.update(datetime.fromtimestamp(t, UTC) for t in stat.recent)  # each recent event leaving
    moments.update(_day_start(d) + timedelta(days=1) for d in stat.per_day)  # a day's count leaving
    moments.update(_day_start(d) for d in stat.per_day)
    for t in moments:
        out.append(t + back)
        if forward:
            out.append(t + forward)


@dataclass(frozen=True)
class Affected:
    events: frozenset[str]
    traits: frozenset[str]
    audiences: frozenset[str]
    windowed: bool


def affected_by(definition: Any, audiences: Mapping[str, Any] | None = None) -> Affected:
    """The event names, trait keys and audience keys whose change can change this definition's answer,
    looking through referenced audiences (given their definitions in `audiences`); `windowed` says
    whether time passing can change it too."""
    events: set[str] = set()
    traits: set[str] = set()
    refs: set[str] = set()
    windowed = [False]
    pending: list[tuple[Any, tuple[str, ...]]] = [(definition, ())]
    while pending:
        node, stack = pending.pop()

        def visit(n: dict[str, Any], stack: tuple[str, ...] = stack) -> None:
            if "event" in n:
                events.add(n["event"])
                windowed[0] = windowed[0] or "within" in n or "between" in n
            elif "trait" in n:
                traits.add(n["trait"].split(".")[0])
                traits.add(n["trait"])
            elif "segment" in n:
                events.update(SEGMENT_EVENTS)
            elif "audience" in n:
                key = n["audience"]
                refs.add(key)
                if audiences and key in audiences and key not in stack:
                    pending.append((audiences[key], (*stack, key)))

        _walk(node, visit)
    return Affected(frozenset(events), frozenset(traits), frozenset(refs), windowed[0])


def max_window(definitions: Iterable[Any]) -> timedelta | None:
    """The longest window any of `definitions` uses (None when one looks at the whole history): how much
    per-day history the profile store must keep for them."""
    longest = timedelta(0)
    unbounded = [False]

    def visit(n: dict[str, Any]) -> None:
        nonlocal longest
        if "event" in n:
            start, _ = _window(n, datetime(2000, 1, 1, tzinfo=UTC))
            if start is None:
                unbounded[0] = True
            else:
                longest = max(longest, datetime(2000, 1, 1, tzinfo=UTC) - start)

    for d in definitions:
        _walk(d, visit)
    return None if unbounded[0] else longest


def recent_horizon(definitions: Iterable[Any]) -> timedelta:
    """The longest minute- or hour-unit window (`within`, or the far end of `between`) any of
    `definitions` uses: how far back the profile store keeps exact event times, so those windows count
    exactly (timedelta(0): none)."""
    longest = timedelta(0)

    def visit(n: dict[str, Any]) -> None:
        nonlocal longest
        if "event" not in n:
            return
        far = n.get("within") if "within" in n else (n["between"][0] if isinstance(n.get("between"), list) else None)
        if isinstance(far, str) and far.strip()[-1:] in ("m", "h"):
            longest = max(longest, _relative(far, ""))

    for d in definitions:
        _walk(d, visit)
    return longest


def filters(definitions: Iterable[Any]) -> dict[str, tuple[str, Callable[[Mapping[str, Any]], bool]]]:
    """{filter key: (event name, matcher)} of every event condition with `where` in `definitions`."""
    out: dict[str, tuple[str, Callable[[Mapping[str, Any]], bool]]] = {}

    def visit(n: dict[str, Any]) -> None:
        if "event" in n and "where" in n:
            out.setdefault(filter_key(n), (n["event"], where_matcher(n)))

    for d in definitions:
        _walk(d, visit)
    return out
