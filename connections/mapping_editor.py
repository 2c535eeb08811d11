"""What the mapping editor on the action page needs from the server: the paths an event can be read
from (with an example value from the newest event that has it) and, per field, its default mapping.

The editor (static/js/mapping-editor.js) only writes the same JSON the form already validates, so this
module decides nothing about what is valid; it only fills the pickers. Paths come from, in this order:
the action's default mappings, the recent events of the connected sources, a sample event, and a list
of common Segment fields, so a new destination without traffic still offers useful choices.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from django.forms import BoundField

from destinations.catalog.base import ActionDefinition

__all__ = ["MAX_PATHS", "editor_context", "mapping_paths"]

MAX_PATHS = 300
MAX_DEPTH = 4
EXAMPLE_LENGTH = 40
COMMON_PATHS = (
    "$.", "$.type", "$.event", "$.name", "$.userId", "$.anonymousId", "$.messageId", "$.timestamp",
    "$.traits", "$.traits.email", "$.traits.first_name", "$.traits.last_name", "$.properties",
    "$.context.traits.email", "$.context.ip", "$.context.page.url", "$.context.userAgent",
)
_PLAIN_KEY = re.compile(r"[A-Za-z_$][A-Za-z0-9_$\-]*\Z")


def _key_path(prefix: str, key: str) -> str:
    if _PLAIN_KEY.match(key):
        return f"{prefix}.{key}"
    return f"{prefix}[{json.dumps(key)}]"


def _walk(value: Any, prefix: str, depth: int, out: dict[str, str | None]) -> None:
    if not isinstance(value, dict) or depth >= MAX_DEPTH:
        return
    for key, item in value.items():
        if not isinstance(key, str) or len(out) >= MAX_PATHS:
            continue
        path = _key_path(prefix, key)
        if path not in out or out[path] is None:
            out[path] = _example(item)
        _walk(item, path, depth + 1, out)


def _example(value: Any) -> str | None:
    if isinstance(value, (dict, list)) or value is None:
        return None
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    return text if len(text) <= EXAMPLE_LENGTH else text[:EXAMPLE_LENGTH - 1] + "…"


def _default_paths(mapping: Any, out: list[str]) -> None:
    """Every @path inside a mapping (depth-first, in order)."""
    if isinstance(mapping, dict):
        if set(mapping) == {"@path"} and isinstance(mapping["@path"], str):
            if mapping["@path"] not in out:
                out.append(mapping["@path"])
            return
        for item in mapping.values():
            _default_paths(item, out)
    elif isinstance(mapping, list):
        for item in mapping:
            _default_paths(item, out)


def mapping_paths(definition: ActionDefinition, recent: Iterable[dict[str, Any]],
                  samples: Iterable[dict[str, Any]] = ()) -> list[dict[str, Any]]:
    """[{"path": "$.traits.email", "example": "ada@example.com" | None, "seen": bool, "default": bool}]:
    the action's default paths first, then the paths of the `recent` events (seen, with the newest
    example value), then those only the `samples` or the common list have (no example: not real data)."""
    found: dict[str, str | None] = {}
    for event in recent:
        _walk(event, "$", 0, found)
    sampled: dict[str, str | None] = {}
    for event in samples:
        _walk(event, "$", 0, sampled)
    defaults: list[str] = []
    for field in definition.fields:
        _default_paths(field.default, defaults)
    rows: list[dict[str, Any]] = []
    taken: set[str] = set()
    for path in [*defaults, *found, *sampled, *COMMON_PATHS]:
        if path in taken or len(rows) >= MAX_PATHS:
            continue
        taken.add(path)
        rows.append({"path": path, "example": found.get(path), "seen": path in found, "default": path in defaults})
    return rows


def editor_context(definition: ActionDefinition, bound_fields: list[BoundField],
                   recent: Iterable[dict[str, Any]], samples: Iterable[dict[str, Any]] = ()) -> dict[str, Any]:
    """The include's context: the paths for the pickers, and each bound mapping field with its catalog
    field (type, choices) and its default mapping as JSON text."""
    by_key = {f"map__{f.key}": f for f in definition.fields}
    fields = []
    for bound in bound_fields:
        field = by_key[bound.name]
        fields.append({
            "bound": bound, "type": field.type, "required": field.required,
            "default": "" if field.default is None else json.dumps(field.default),
            "choices": json.dumps([[v, label] for v, label in field.choices]) if field.choices else "",
        })
    return {"paths": mapping_paths(definition, recent, samples), "fields": fields}
