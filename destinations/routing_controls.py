"""Routing controls: whether one event goes to one connected destination, decided before its actions.

A pure library (no models): fan-out passes the event payload and what it cached about the route (the
destination's own name, its catalog entry's name and key, its filters). Two controls, in this order:

1. The event's `integrations` object (`integrations_reason`), honoured as Segment does for cloud mode.
2. The destination's filters (`CompiledFilters`, built by `compile_filters` from what the user saved;
   `apply_filters`): keep only the events matching a condition, drop the events matching one, sample a
   percentage (deterministic by messageId, so a retry or replay of an event gets the same verdict), then
   drop properties/traits by path (a block list, or an allow list). Conditions are the trigger language
   (destinations/triggers.py).

The `integrations` rules:

- `integrations` missing or not an object: the event goes everywhere.
- A key naming this destination decides for it: `false` turns it off; `true` or an object (per-destination
  options) turns it on. Keys match case-insensitively against the destination's own name ("Growth
  webhook"), its catalog name ("Customer.io") and its catalog key ("customerio").
- Otherwise `"All"` decides (default `true`): `{"All": false, "Mixpanel": true}` reaches Mixpanel only.
  Built-in destinations (the Profiles store) are not turned off by `All`, only by naming them, as
  Segment keeps building profiles for events that go to no destination.
- Other values (null, strings, numbers) are ignored, as analytics.js ignores them.

Direct-mode destinations never see this: analytics.js applies `integrations` in the browser itself.

`integrations_reason(payload, names)` returns None to keep the event, or the reason it was filtered, in
the "filtered: ..." form that Delivery.last_error shows in the debugger and the destination's Event
delivery tab.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .mapping import MappingError, parse_path
from .triggers import Trigger, TriggerSyntaxError, parse


def _switch(value: Any) -> bool | None:
    """True (on), False (off) or None (this value says nothing)."""
    if value is False:
        return False
    if value is True or isinstance(value, Mapping):
        return True
    return None


def integrations_reason(payload: Mapping[str, Any], names: Iterable[str], *, builtin: bool = False) -> str | None:
    """None when the event's `integrations` object lets it reach the destination known by `names`, else
    the reason it does not (see the module doc for the rules). Never raises on any payload."""
    integrations = payload.get("integrations") if isinstance(payload, Mapping) else None
    if not isinstance(integrations, Mapping) or not integrations:
        return None
    wanted = {n.casefold() for n in names if n}
    everything: bool | None = None
    for key, value in integrations.items():
        if not isinstance(key, str):
            continue
        folded = key.casefold()
        if folded in wanted:
            switch = _switch(value)
            if switch is False:
                return f'filtered: the event\'s integrations turn off "{key}"'
            if switch is True:
                return None
        elif folded == "all":
            everything = _switch(value)
    if everything is False and not builtin:
        return "filtered: the event's integrations set All to false and do not turn this destination on"
    return None


# --- destination filters --------------------------------------------------------------------------------

FIELD_ROOTS = ("properties", "traits", "context")
MAX_FIELDS = 200


class FilterError(ValueError):
    """A filter setting that cannot be used: `field` names the setting, the message says why."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True)
class CompiledFilters:
    """A destination's filters, compiled. `fields_mode` is "" (send every field), "block" (drop the listed
    paths) or "allow" (keep only the listed paths under properties and traits, and under context when a
    listed path is in it). `sample_percent` 100 keeps everything."""

    keep_if: Trigger | None = None
    drop_if: Trigger | None = None
    sample_percent: int = 100
    fields_mode: str = ""
    fields: tuple[tuple[str, ...], ...] = ()
    # set when the saved settings no longer compile: every event is filtered (never sent unfiltered)
    broken: str = ""

    @property
    def active(self) -> bool:
        return bool(self.keep_if or self.drop_if or self.sample_percent < 100 or self.fields_mode or self.broken)


def _condition(field: str, text: str) -> Trigger | None:
    if not text.strip():
        return None
    try:
        return parse(text)
    except TriggerSyntaxError as exc:
        raise FilterError(field, str(exc)) from None


def parse_field_path(text: str) -> tuple[str, ...]:
    """`properties.email` / `$.traits["first name"]` → a tuple of keys under properties, traits or
    context. Raises FilterError."""
    try:
        path = parse_path(text)
    except MappingError as exc:
        raise FilterError("fields", str(exc)) from None
    if len(path) < 2 or path[0] not in FIELD_ROOTS or not all(isinstance(p, str) for p in path):
        raise FilterError("fields", f"{text!r} is not a path under properties, traits or context "
                                    "(such as properties.email)")
    return tuple(str(p) for p in path)


def compile_filters(keep_if: str = "", drop_if: str = "", sample_percent: int = 100, fields_mode: str = "",
                    fields: Iterable[str] = ()) -> CompiledFilters:
    """Check and compile saved filter settings. Raises FilterError naming the setting at fault."""
    if isinstance(sample_percent, bool) or not isinstance(sample_percent, int) or not 0 <= sample_percent <= 100:
        raise FilterError("sample_percent", "a whole number from 0 to 100")
    if fields_mode not in ("", "allow", "block"):
        raise FilterError("fields_mode", 'one of "", "allow" or "block"')
    paths = [parse_field_path(f) for f in fields if f.strip()]
    if len(paths) > MAX_FIELDS:
        raise FilterError("fields", f"at most {MAX_FIELDS} paths")
    if fields_mode and not paths:
        raise FilterError("fields", "list at least one path, or send every field")
    return CompiledFilters(_condition("keep_if", keep_if), _condition("drop_if", drop_if), sample_percent,
                              fields_mode, tuple(paths) if fields_mode else ())


def sampled_in(message_id: str, percent: int) -> bool:
    """Whether the event with this messageId is in a `percent` sample: the same answer every time."""
    if percent >= 100:
        return True
    if percent <= 0:
        return False
    bucket = int.from_bytes(hashlib.sha256(message_id.encode()).digest()[:8], "big") % 10_000
    return bucket < percent * 100


def _drop_path(root: dict[str, Any], path: tuple[str, ...]) -> None:
    node: Any = root
    for key in path[:-1]:
        node = node.get(key) if isinstance(node, dict) else None
        if node is None:
            return
    if isinstance(node, dict):
        node.pop(path[-1], None)


def _keep_paths(value: Any, paths: list[tuple[str, ...]]) -> Any:
    """Of the object `value`, only what the (relative) paths reach."""
    if not isinstance(value, dict):
        return value
    if any(not p for p in paths):
        return value  # a listed path ends here: keep it whole
    out: dict[str, Any] = {}
    for key in {p[0] for p in paths}:
        if key in value:
            out[key] = _keep_paths(value[key], [p[1:] for p in paths if p[0] == key])
    return out


def _filter_fields(payload: dict[str, Any], filters: CompiledFilters) -> dict[str, Any]:
    if filters.fields_mode == "block":
        out = copy.deepcopy(payload)
        for path in filters.fields:
            _drop_path(out, path)
        return out
    out = dict(payload)
    for root in FIELD_ROOTS:
        listed = [p[1:] for p in filters.fields if p[0] == root]
        if root == "context" and not listed:
            continue  # context only goes through the allow list when the list names a path in it
        if isinstance(out.get(root), dict):
            out[root] = copy.deepcopy(_keep_paths(out[root], listed)) if listed else {}
    return out


def apply_filters(payload: dict[str, Any], message_id: str,
                  filters: CompiledFilters | None) -> tuple[dict[str, Any] | None, str]:
    """(the payload the destination's actions see, "") or (None, the "filtered: ..." reason). The input
    payload is never changed (it is shared by every destination of the event)."""
    if filters is None or not filters.active:
        return payload, ""
    if filters.broken:
        return None, f"filtered: the destination's filters cannot be used ({filters.broken})"
    if filters.keep_if is not None and not filters.keep_if.matches(payload):
        return None, "filtered: does not match the destination's keep-only filter"
    if filters.drop_if is not None and filters.drop_if.matches(payload):
        return None, "filtered: matches the destination's drop filter"
    if not sampled_in(message_id, filters.sample_percent):
        return None, f"filtered: not in the destination's {filters.sample_percent}% sample"
    if filters.fields_mode:
        return _filter_fields(payload, filters), ""
    return payload, ""
