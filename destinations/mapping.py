"""Mappings: how an action builds its payload from an event.

A mapping is JSON. Plain objects and arrays are mapped recursively; strings, numbers, booleans and null
are literals; an object whose single key starts with "@" is a directive:

- ``{"@path": "$.properties.products[0].sku"}`` reads from the event (``$`` or ``$.`` is the whole event;
  ``$.a['key with spaces']`` and ``$.list[-1]`` work too);
- ``{"@if": {"exists" | "blank": <mapping>, "then": <mapping>, "else": <mapping>}}`` — exists: neither
  missing nor null; blank: missing, null or "";
- ``{"@template": "{{traits.first_name}} {{traits.last_name}}"}`` — missing values render as "";
- ``{"@literal": <anything>}`` — taken as is, directives inside are not interpreted;
- ``{"@arrayPath": [<path or mapping>, <item mapping>?]}`` — map every element of an array (the item
  mapping's ``$`` is the element);
- ``{"@case": {"operator": "lower" | "upper", "value": <mapping>}}``;
- ``{"@replace": {"pattern": "-", "replacement": "_", "global": true, "ignorecase": false,
  "value": <mapping>}}`` — plain-text (not regex) replacement;
- ``{"@json": {"mode": "encode" | "decode", "value": <mapping>}}``;
- ``{"@merge": {"direction": "right" | "left", "objects": [<mapping>, ...]}}`` — right: later objects win;
- ``{"@flatten": {"separator": ".", "value": <mapping>}}``;
- ``{"@excludeWhenNull": <mapping>}`` — drop the keys of the resulting object whose value is null.

A value that resolves to nothing (a missing path, an @if without a matching branch) is *undefined*: object
keys and array items that are undefined are dropped. A malformed directive raises `MappingError` (from
`validate_mapping`, which the API calls on save, and from `resolve`). `apply_fields` then checks an
action's declared fields: a required field still empty raises PayloadError("missing <field>").
To add a directive: write `_d_<name>` and its `_v_<name>` validator, register both in `_DIRECTIVES`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from .errors import PayloadError

if TYPE_CHECKING:
    from .catalog.base import ActionDefinition

__all__ = [
    "UNDEFINED", "MappingError", "apply_fields", "event_person_traits", "first_of", "path", "person_traits",
    "read_path", "resolve", "validate_mapping",
]

MAX_DEPTH = 32


class MappingError(ValueError):
    """A mapping is malformed. `where` is the location in the mapping (e.g. "email.@if.then")."""

    def __init__(self, message: str, where: str = "") -> None:
        self.message = message
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


class _Undefined:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<undefined>"

    def __bool__(self) -> bool:
        return False


UNDEFINED: Any = _Undefined()


# --- paths ----------------------------------------------------------------------------------------------

_SEGMENT_RE = re.compile(
    r"""\.(?P<name>[^.\[\]]+)|\[(?P<index>-?\d+)\]|\[(?P<quote>['"])(?P<key>(?:\\.|(?!(?P=quote)).)*)(?P=quote)\]"""
)


@functools.lru_cache(maxsize=4096)
def parse_path(path: str) -> tuple[str | int, ...]:
    """`$.a.b[0]['c d']` → ("a", "b", 0, "c d"). `$`, `$.` and "" are the root. Raises MappingError."""
    if not isinstance(path, str):
        raise MappingError("a path must be a string such as \"$.traits.email\"")
    text = path.strip()
    if text.startswith("$"):
        text = text[1:]
    elif text and not text.startswith((".", "[")):
        text = "." + text  # "traits.email" is accepted as "$.traits.email"
    if text in ("", "."):
        return ()
    segments: list[str | int] = []
    pos = 0
    while pos < len(text):
        m = _SEGMENT_RE.match(text, pos)
        if not m:
            raise MappingError(f"cannot read the path {path!r} at character {pos + 2}")
        if m.group("name") is not None:
            segments.append(m.group("name"))
        elif m.group("index") is not None:
            segments.append(int(m.group("index")))
        else:
            segments.append(re.sub(r"\\(.)", r"\1", m.group("key")))
        pos = m.end()
    return tuple(segments)


def read_path(root: Any, path: str | tuple[str | int, ...]) -> Any:
    """The value at `path` in `root`, or UNDEFINED when the path leads nowhere."""
    value = root
    for seg in parse_path(path) if isinstance(path, str) else path:
        if isinstance(seg, int):
            if isinstance(value, list) and -len(value) <= seg < len(value):
                value = value[seg]
            elif isinstance(value, dict) and str(seg) in value:
                value = value[str(seg)]
            else:
                return UNDEFINED
        elif isinstance(value, dict) and seg in value:
            value = value[seg]
        elif isinstance(value, list) and seg.isdigit() and int(seg) < len(value):
            value = value[int(seg)]
        else:
            return UNDEFINED
    return value


# --- directives -----------------------------------------------------------------------------------------

Resolver = Callable[[Any, Any, str, int], Any]


def _obj(arg: Any, name: str, where: str, allowed: set[str], required: set[str]) -> dict[str, Any]:
    if not isinstance(arg, dict):
        raise MappingError(f"{name} takes an object", where)
    unknown = set(arg) - allowed
    if unknown:
        raise MappingError(f"{name} does not know {', '.join(sorted(unknown))} "
                           f"(expected {', '.join(sorted(allowed))})", where)
    missing = required - set(arg)
    if missing:
        raise MappingError(f"{name} needs {', '.join(sorted(missing))}", where)
    return arg


def _v_path(arg: Any, where: str, depth: int) -> None:
    if not isinstance(arg, str):
        raise MappingError("@path takes a string such as \"$.traits.email\"", where)
    parse_path(arg)


def _d_path(arg: Any, root: Any, where: str, depth: int) -> Any:
    return read_path(root, arg)


def _v_if(arg: Any, where: str, depth: int) -> None:
    _obj(arg, "@if", where, {"exists", "blank", "then", "else"}, set())
    conditions = [k for k in ("exists", "blank") if k in arg]
    if len(conditions) != 1:
        raise MappingError("@if needs exactly one condition: exists or blank", where)
    for key in ("exists", "blank", "then", "else"):
        if key in arg:
            _validate(arg[key], f"{where}.{key}", depth + 1)


def _d_if(arg: Any, root: Any, where: str, depth: int) -> Any:
    if "exists" in arg:
        value = _resolve(arg["exists"], root, where, depth + 1)
        ok = value is not UNDEFINED and value is not None
    else:
        value = _resolve(arg["blank"], root, where, depth + 1)
        ok = value is UNDEFINED or value is None or value == ""
    branch = "then" if ok else "else"
    return _resolve(arg[branch], root, where, depth + 1) if branch in arg else UNDEFINED


_TEMPLATE_RE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")


def _v_template(arg: Any, where: str, depth: int) -> None:
    if not isinstance(arg, str):
        raise MappingError("@template takes a string such as \"{{traits.first_name}}\"", where)
    for m in _TEMPLATE_RE.finditer(arg):
        if not m.group(1):
            raise MappingError("@template has an empty {{ }}", where)
        parse_path(m.group(1))


def _render(value: Any) -> str:
    if value is UNDEFINED or value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode()
    return str(value)


def _d_template(arg: Any, root: Any, where: str, depth: int) -> Any:
    return _TEMPLATE_RE.sub(lambda m: _render(read_path(root, m.group(1))), arg)


def _v_literal(arg: Any, where: str, depth: int) -> None:
    return None


def _d_literal(arg: Any, root: Any, where: str, depth: int) -> Any:
    return arg


def _v_array_path(arg: Any, where: str, depth: int) -> None:
    if not isinstance(arg, list) or not 1 <= len(arg) <= 2:
        raise MappingError("@arrayPath takes [<path>, <item mapping>] (the item mapping is optional)", where)
    if isinstance(arg[0], str):
        parse_path(arg[0])
    else:
        _validate(arg[0], f"{where}[0]", depth + 1)
    if len(arg) == 2:
        _validate(arg[1], f"{where}[1]", depth + 1)


def _d_array_path(arg: Any, root: Any, where: str, depth: int) -> Any:
    source = read_path(root, arg[0]) if isinstance(arg[0], str) else _resolve(arg[0], root, where, depth + 1)
    if source is UNDEFINED or source is None:
        return UNDEFINED
    items = source if isinstance(source, list) else [source]
    if len(arg) == 1:
        return items
    out = []
    for item in items:
        mapped = _resolve(arg[1], item, where, depth + 1)
        if mapped is not UNDEFINED:
            out.append(mapped)
    return out


def _v_case(arg: Any, where: str, depth: int) -> None:
    _obj(arg, "@case", where, {"operator", "value"}, {"operator", "value"})
    if arg["operator"] not in ("lower", "upper"):
        raise MappingError("@case operator must be \"lower\" or \"upper\"", where)
    _validate(arg["value"], f"{where}.value", depth + 1)


def _d_case(arg: Any, root: Any, where: str, depth: int) -> Any:
    value = _resolve(arg["value"], root, where, depth + 1)
    if not isinstance(value, str):
        return value
    return value.lower() if arg["operator"] == "lower" else value.upper()


def _v_replace(arg: Any, where: str, depth: int) -> None:
    _obj(arg, "@replace", where, {"pattern", "replacement", "global", "ignorecase", "value"}, {"pattern", "value"})
    if not isinstance(arg["pattern"], str) or not arg["pattern"]:
        raise MappingError("@replace pattern must be a non-empty string", where)
    if not isinstance(arg.get("replacement", ""), str):
        raise MappingError("@replace replacement must be a string", where)
    for flag in ("global", "ignorecase"):
        if not isinstance(arg.get(flag, False), bool):
            raise MappingError(f"@replace {flag} must be true or false", where)
    _validate(arg["value"], f"{where}.value", depth + 1)


def _d_replace(arg: Any, root: Any, where: str, depth: int) -> Any:
    value = _resolve(arg["value"], root, where, depth + 1)
    if isinstance(value, bool):
        value = "true" if value else "false"
    elif isinstance(value, (int, float)):
        value = str(value)
    if not isinstance(value, str):
        return value
    flags = re.IGNORECASE if arg.get("ignorecase", False) else 0
    count = 0 if arg.get("global", True) else 1
    replacement = arg.get("replacement", "")
    return re.sub(re.escape(arg["pattern"]), lambda _m: replacement, value, count=count, flags=flags)


def _v_json(arg: Any, where: str, depth: int) -> None:
    _obj(arg, "@json", where, {"mode", "value"}, {"mode", "value"})
    if arg["mode"] not in ("encode", "decode"):
        raise MappingError("@json mode must be \"encode\" or \"decode\"", where)
    _validate(arg["value"], f"{where}.value", depth + 1)


def _d_json(arg: Any, root: Any, where: str, depth: int) -> Any:
    value = _resolve(arg["value"], root, where, depth + 1)
    if value is UNDEFINED:
        return UNDEFINED
    if arg["mode"] == "encode":
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    if not isinstance(value, str):
        return value
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return value  # not JSON: pass the text through rather than failing the event


def _v_merge(arg: Any, where: str, depth: int) -> None:
    _obj(arg, "@merge", where, {"direction", "objects"}, {"objects"})
    if arg.get("direction", "right") not in ("left", "right"):
        raise MappingError("@merge direction must be \"left\" or \"right\"", where)
    if not isinstance(arg["objects"], list):
        raise MappingError("@merge objects must be an array of mappings", where)
    for i, item in enumerate(arg["objects"]):
        _validate(item, f"{where}.objects[{i}]", depth + 1)


def _d_merge(arg: Any, root: Any, where: str, depth: int) -> Any:
    objects = [_resolve(m, root, where, depth + 1) for m in arg["objects"]]
    objects = [o for o in objects if isinstance(o, dict)]
    if arg.get("direction", "right") == "left":
        objects.reverse()
    out: dict[str, Any] = {}
    for o in objects:
        out.update(o)
    return out


def _v_flatten(arg: Any, where: str, depth: int) -> None:
    _obj(arg, "@flatten", where, {"separator", "value"}, {"value"})
    if not isinstance(arg.get("separator", "."), str):
        raise MappingError("@flatten separator must be a string", where)
    _validate(arg["value"], f"{where}.value", depth + 1)


def _flatten(value: Any, prefix: str, sep: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for k, v in value.items():
            _flatten(v, f"{prefix}{sep}{k}" if prefix else str(k), sep, out)
    elif isinstance(value, list) and value:
        for i, v in enumerate(value):
            _flatten(v, f"{prefix}{sep}{i}" if prefix else str(i), sep, out)
    else:
        out[prefix] = value


def _d_flatten(arg: Any, root: Any, where: str, depth: int) -> Any:
    value = _resolve(arg["value"], root, where, depth + 1)
    if not isinstance(value, (dict, list)):
        return value
    out: dict[str, Any] = {}
    _flatten(value, "", arg.get("separator", "."), out)
    return out


def _v_exclude_when_null(arg: Any, where: str, depth: int) -> None:
    _validate(arg, f"{where}", depth + 1)


def _d_exclude_when_null(arg: Any, root: Any, where: str, depth: int) -> Any:
    value = _resolve(arg, root, where, depth + 1)
    if value is None:
        return UNDEFINED
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if v is not None}
    return value


_DIRECTIVES: dict[str, tuple[Callable[[Any, str, int], None], Resolver]] = {
    "@path": (_v_path, _d_path),
    "@if": (_v_if, _d_if),
    "@template": (_v_template, _d_template),
    "@literal": (_v_literal, _d_literal),
    "@arrayPath": (_v_array_path, _d_array_path),
    "@case": (_v_case, _d_case),
    "@replace": (_v_replace, _d_replace),
    "@json": (_v_json, _d_json),
    "@merge": (_v_merge, _d_merge),
    "@flatten": (_v_flatten, _d_flatten),
    "@excludeWhenNull": (_v_exclude_when_null, _d_exclude_when_null),
}


def _directive(mapping: dict[str, Any], where: str) -> str | None:
    """The directive name when `mapping` is a directive object, else None. Raises on malformed ones."""
    keys = [k for k in mapping if isinstance(k, str) and k.startswith("@")]
    if not keys:
        return None
    if len(mapping) != 1:
        raise MappingError(f"a directive object has exactly one key; found {', '.join(map(str, mapping))}", where)
    name = keys[0]
    if name not in _DIRECTIVES:
        raise MappingError(f"unknown directive {name} (known: {', '.join(_DIRECTIVES)})", where)
    return name


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _validate(mapping: Any, where: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise MappingError(f"the mapping nests more than {MAX_DEPTH} levels deep", where)
    if isinstance(mapping, dict):
        name = _directive(mapping, where)
        if name:
            _DIRECTIVES[name][0](mapping[name], _join(where, name), depth)
            return
        for k, v in mapping.items():
            _validate(v, _join(where, str(k)), depth + 1)
    elif isinstance(mapping, list):
        for i, v in enumerate(mapping):
            _validate(v, f"{where}[{i}]", depth + 1)


def _resolve(mapping: Any, root: Any, where: str, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise MappingError(f"the mapping nests more than {MAX_DEPTH} levels deep", where)
    if isinstance(mapping, dict):
        name = _directive(mapping, where)
        if name:
            return _DIRECTIVES[name][1](mapping[name], root, _join(where, name), depth)
        out = {}
        for k, v in mapping.items():
            value = _resolve(v, root, _join(where, str(k)), depth + 1)
            if value is not UNDEFINED:
                out[k] = value
        return out
    if isinstance(mapping, list):
        items = [_resolve(v, root, f"{where}[{i}]", depth + 1) for i, v in enumerate(mapping)]
        return [v for v in items if v is not UNDEFINED]
    return mapping


def validate_mapping(mapping: Any) -> None:
    """Raise MappingError (naming where) unless every directive in `mapping` is well formed.

    An action's mapping must be an object of field → mapping."""
    if not isinstance(mapping, dict):
        raise MappingError("a mapping must be a JSON object of field names to mappings")
    _validate(mapping, "", 0)


@functools.lru_cache(maxsize=2048)
def _validated(serialized: bytes) -> None:
    _validate(orjson.loads(serialized), "", 0)


def resolve(mapping: Any, event: Any) -> Any:
    """Evaluate `mapping` against `event`. Undefined object keys / array items are dropped; a mapping
    that is undefined as a whole returns UNDEFINED (falsy). Raises MappingError for bad directives
    (each distinct mapping is validated once, then remembered)."""
    try:
        _validated(orjson.dumps(mapping, option=orjson.OPT_NON_STR_KEYS))
    except orjson.JSONEncodeError:
        _validate(mapping, "", 0)
    try:
        return _resolve(mapping, event, "", 0)
    # A malformed directive argument caught late (a saved mapping that skipped validate_mapping): a
    # missing key, a short list or a wrong type is the mapping's fault, reported as such.
    except (TypeError, AttributeError, KeyError, IndexError) as exc:
        raise MappingError(f"invalid mapping: {exc}") from exc


_EMPTY_FOR_NON_STRING = ("", None)


def apply_fields(action: ActionDefinition, mapping: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """Build an action's payload: resolve `mapping`, drop empty values, coerce simple types, and check
    required fields. Raises PayloadError("missing <field>") for a required field left empty, and
    MappingError for a bad mapping."""
    resolved = resolve(mapping, event)
    payload: dict[str, Any] = dict(resolved) if isinstance(resolved, dict) else {}
    for f in action.fields:
        if f.key not in payload:
            continue
        value = payload[f.key]
        if value is None or (value == "" and f.type not in ("string", "any")):
            del payload[f.key]
            continue
        if f.type in ("number", "integer") and isinstance(value, str):
            try:
                payload[f.key] = int(value) if f.type == "integer" else float(value)
            except ValueError:
                raise PayloadError(f"invalid {f.key}: {value!r} is not a number") from None
        elif f.type == "boolean" and isinstance(value, str) and value.lower() in ("true", "false"):
            payload[f.key] = value.lower() == "true"
    for f in action.fields:
        if f.required and (f.key not in payload or payload[f.key] in _EMPTY_FOR_NON_STRING):
            raise PayloadError(f"missing {f.key}")
    return payload


# --- building default mappings (used by the catalog) -----------------------------------------------------

def path(p: str) -> dict[str, str]:
    """`{"@path": p}`."""
    return {"@path": p}


def first_of(*paths: str, otherwise: Any = UNDEFINED) -> Any:
    """A mapping that reads the first of `paths` that exists (neither missing nor null), else `otherwise`
    when given (else it is undefined like the last path)."""
    if not paths:
        raise ValueError("first_of needs at least one path")
    mapping: Any = otherwise if otherwise is not UNDEFINED else path(paths[-1])
    for p in reversed(paths if otherwise is not UNDEFINED else paths[:-1]):
        mapping = {"@if": {"exists": path(p), "then": path(p), "else": mapping}}
    return mapping


def person_traits(key: str = "", *also: str, otherwise: Any = UNDEFINED) -> Any:
    """The person's traits (or one trait, `key`) as a default mapping: `$.traits`, falling back to
    `$.context.traits`, then to the paths in `also`, then `otherwise`.

    Some libraries (rudder-sdk-python 2, mobile SDKs) send identify traits only in `context.traits`; every
    default mapping that reads a person's traits goes through this so they all see them. Group calls'
    `traits` describe the group, not the person, so group mappings read `$.traits` alone.
    """
    suffix = f".{key}" if key else ""
    return first_of(f"$.traits{suffix}", f"$.context.traits{suffix}", *also, otherwise=otherwise)


def event_person_traits(event: dict[str, Any]) -> dict[str, Any]:
    """What `person_traits()` resolves to for a whole event, for code that reads events directly (the
    warehouse): `traits`, else `context.traits`, else {}."""
    traits = event.get("traits")
    if traits is None:
        context = event.get("context")
        traits = context.get("traits") if isinstance(context, dict) else None
    return traits if isinstance(traits, dict) else {}
