"""The shape every catalog entry has, and the helpers every entry shares.

See `destinations/catalog/__init__.py` for how to add one. A catalog module reads its settings through
`DEFINITION.read(settings)` (a `Settings`: declared defaults applied, typed getters), finds a regional
host with `regional_endpoint`, drops empty values with `compact` and turns a batch sender into a
one-payload `perform` with `one_at_a_time`; default mappings are built with `destinations.mapping.path` /
`first_of` and `viewed_name`. None of these is copied into a module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import http
from ..errors import PayloadError, SettingsError
from ..http import Exchange
from ..mapping import path

# Setting field types: how the UI renders them and how values are validated.
SETTING_TYPES = ("string", "text", "url", "number", "integer", "boolean", "choice", "headers")
# Action field types, as in Segment's action definitions.
ACTION_FIELD_TYPES = ("string", "number", "integer", "boolean", "datetime", "object", "array", "any")


@dataclass(frozen=True)
class SettingField:
    key: str
    label: str
    type: str = "string"
    help: str = ""
    required: bool = False
    secret: bool = False
    default: Any = None
    choices: tuple[tuple[str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key, "label": self.label, "type": self.type, "help": self.help,
            "required": self.required, "secret": self.secret, "default": self.default,
            "choices": [{"value": v, "label": label} for v, label in self.choices],
        }


class Settings(Mapping[str, Any]):
    """A destination's stored settings read through its declared fields.

    A declared setting that is absent or empty reads as its declared default (None without one), so no
    catalog module repeats a default in code. Reading a key the definition does not declare raises
    KeyError: a typo fails the module's tests instead of reading None. The typed getters say what the
    caller gets."""

    __slots__ = ("_fields", "_values")

    def __init__(self, fields: Sequence[SettingField], values: Mapping[str, Any] | None) -> None:
        self._fields = {f.key: f for f in fields}
        self._values: Mapping[str, Any] = values or {}

    def __getitem__(self, key: str) -> Any:
        declared = self._fields[key]
        value = self._values.get(key)
        return declared.default if value is None or value == "" else value

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def text(self, key: str) -> str:
        """The value as text; "" when it is unset and has no default."""
        value = self[key]
        return "" if value is None else str(value)

    def flag(self, key: str) -> bool:
        return bool(self[key])

    def integer(self, key: str) -> int | None:
        """The value as an int; None when unset without a default or not a number."""
        value = self[key]
        if value is None or isinstance(value, bool):
            return None
        try:
            return int(value)
        except (TypeError, ValueError):
            return None

    def choice(self, key: str) -> str:
        """One of the setting's declared choices: the stored one, else the declared default."""
        declared = self._fields[key]
        value = self[key]
        if value in {v for v, _ in declared.choices}:
            return str(value)
        return "" if declared.default is None else str(declared.default)

    def headers(self, key: str) -> dict[str, str]:
        value = self[key]
        return dict(value) if isinstance(value, dict) else {}

    def secrets(self, *keys: str) -> tuple[str, ...]:
        """The non-empty values of `keys` (secret settings), for the outbound module to keep out of records."""
        return tuple(str(v) for v in (self[k] for k in keys) if v)


def regional_endpoint(kind: str, hosts: Mapping[str, str], settings: Settings) -> str:
    """The vendor's base URL for the destination's `region` setting (`hosts` by region key); the
    DESTINATION_ENDPOINTS setting overrides it for `kind` (tests, proxies)."""
    return http.endpoint(kind, hosts[settings.choice("region")])


def viewed_name(fallback: str) -> dict[str, Any]:
    """The default mapping of an analytics event name for page and screen calls: "Viewed <name>" when
    the call has a name, else `fallback` ("Loaded a Page")."""
    return {"@if": {"exists": path("$.name"), "then": {"@template": "Viewed {{name}}"}, "else": fallback}}


def compact(values: Mapping[str, Any]) -> dict[str, Any]:
    """`values` without the entries a vendor should not receive: None, "" and {}."""
    return {k: v for k, v in values.items() if v is not None and v != "" and v != {}}


def one_at_a_time(
    batch: Callable[[dict[str, Any], list[dict[str, Any]]], BatchResult],
) -> Callable[[dict[str, Any], dict[str, Any]], Exchange]:
    """The `perform` of a batch-shaped sender: send one payload, raise its item error if it has one."""

    def perform(settings: dict[str, Any], payload: dict[str, Any]) -> Exchange:
        result = batch(settings, [payload])
        if 0 in result.item_errors:
            raise result.item_errors[0]
        if result.exchange is None:  # pragma: no cover - a batch of one with no error sent its request
            raise PayloadError("nothing was sent")
        return result.exchange

    return perform


@dataclass(frozen=True)
class ActionField:
    key: str
    label: str
    type: str = "string"
    description: str = ""
    required: bool = False
    default: Any = None  # a mapping (see destinations/mapping.py), pre-filled into a new action
    choices: tuple[tuple[str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key, "label": self.label, "type": self.type, "description": self.description,
            "required": self.required, "default": self.default,
            "choices": [{"value": v, "label": label} for v, label in self.choices],
        }


@dataclass
class BatchResult:
    """What perform_batch returns: the exchange, and per-item errors by index (Customer.io's 207).

    `exchange` is None only when nothing was sent because every payload has its own error."""

    exchange: Exchange | None
    item_errors: dict[int, Exception] = field(default_factory=dict)


@dataclass(frozen=True)
class LocalBatch:
    """What an in-process action (`perform_local`) receives: the mapped payloads of one chunk, with the
    workspace and destination they belong to and the id of each payload's event (same order)."""

    workspace_id: int
    destination_id: int
    event_ids: list[int]
    payloads: list[dict[str, Any]]


@dataclass(frozen=True)
class ActionDefinition:
    """One action of a destination type.

    perform(settings, payload) -> Exchange sends one mapped payload; raises DeliveryError / PayloadError.
    perform_batch(settings, payloads) -> BatchResult, when the vendor has a batch endpoint.
    perform_local(settings, LocalBatch) -> BatchResult, for a built-in destination that writes to this
    database instead of sending a request (the profile store): the engine calls it in the delivering
    thread, inside the transaction that records the outcomes (on PostgreSQL), so what it writes commits
    with them or not at all. It must leave that transaction usable (work in a savepoint) and raise only
    DeliveryError / PayloadError for expected failures.
    """

    key: str
    title: str
    description: str
    default_trigger: str
    fields: tuple[ActionField, ...]
    perform: Callable[[dict[str, Any], dict[str, Any]], Exchange]
    perform_batch: Callable[[dict[str, Any], list[dict[str, Any]]], BatchResult] | None = None
    default_enabled: bool = True  # added when a destination of this type is created
    batch_size: int = 1  # the most payloads one perform_batch / perform_local call carries
    perform_local: Callable[[dict[str, Any], LocalBatch], BatchResult] | None = None
    # The destination setting (if any) that overrides batch_size for this action. Only an action that
    # names one reads it: a setting that happens to be called "batch_size" changes nothing elsewhere.
    batch_size_setting: str = ""

    def batch_size_for(self, settings: Mapping[str, Any]) -> int:
        """How many payloads one request carries: 1 without perform_batch / perform_local; else the value
        of `batch_size_setting` when the action names one and it is a whole number of at least 1; else the
        declared batch_size."""
        if self.perform_batch is None and self.perform_local is None:
            return 1
        if self.batch_size_setting:
            configured = settings.get(self.batch_size_setting)
            if isinstance(configured, (int, float)) and not isinstance(configured, bool) and configured >= 1:
                return int(configured)
        return max(1, self.batch_size)

    def default_mapping(self) -> dict[str, Any]:
        return {f.key: f.default for f in self.fields if f.default is not None}

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key, "title": self.title, "description": self.description,
            "default_trigger": self.default_trigger, "default_enabled": self.default_enabled,
            "batching": self.perform_batch is not None or self.perform_local is not None,
            "batch_size": self.batch_size,
            "fields": [f.to_dict() for f in self.fields],
        }


def runs_in_browser(settings: dict[str, Any], payload: dict[str, Any]) -> Exchange:
    """The `perform` of a direct-mode action: its plugin runs it in the visitor's browser (see
    destinations/browser.py), and fan-out never hands direct-mode destinations an event."""
    raise PayloadError("this action runs in the visitor's browser (direct mode), not on our servers")


@dataclass(frozen=True)
class DestinationDefinition:
    key: str
    name: str
    category: str
    mode: str  # "cloud" or "direct"
    description: str
    settings: tuple[SettingField, ...]
    actions: tuple[ActionDefinition, ...]
    # check_credentials(settings) -> (ok, message); a cheap authenticated request. Every module names its
    # function check_credentials too (a module-level test_* would be collected by pytest where imported).
    check_credentials: Callable[[dict[str, Any]], tuple[bool, str]] | None = None
    # extra validation after field types are checked: settings -> {field: message}
    validate: Callable[[dict[str, Any]], dict[str, str]] | None = None
    # direct mode: what the browser settings endpoint shows for a connected JavaScript source, built from
    # the non-secret settings only (see public_settings: secrets are never passed in)
    browser_settings: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    # the name of the integration in browser settings (direct mode); also the remote plugin's name, so the
    # snippet's `integrations: {<name>: {...}}` load options reach the plugin's settings
    browser_integration: str = ""
    # direct mode: the plugin's file under static/js/plugins/ (without .js) and the window global it
    # defines (the factory analytics-next calls); see destinations/browser.py
    browser_plugin: str = ""
    browser_library: str = ""
    # direct mode: the vendor's own script the plugin loads, unless settings.DIRECT_MODE_SCRIPT_URLS
    # names another for this key (a self-hosted copy; tests point it at a local stand-in)
    vendor_script_url: str = ""
    # direct mode: the client platforms a plugin exists for. Only "web" today: mobile SDKs would need a
    # device-mode plugin of their own, so mobile sources cannot be connected (connections.models)
    direct_platforms: tuple[str, ...] = ("web",)
    # delete_person(settings, identities) -> Exchange | None: forward a privacy deletion to the vendor.
    # `identities` has any of "user_id", "email", "anonymous_id"; None when the vendor cannot name the
    # person by those (nothing sent). Raises DeliveryError like perform. Types without it: nothing to do.
    delete_person: Callable[[dict[str, Any], dict[str, str]], Exchange | None] | None = None

    def action(self, key: str) -> ActionDefinition:
        for a in self.actions:
            if a.key == key:
                return a
        raise KeyError(key)

    def read(self, values: Mapping[str, Any] | None) -> Settings:
        """`values` (stored settings) read through this type's declared fields; see `Settings`."""
        return Settings(self.settings, values)

    def secret_keys(self) -> frozenset[str]:
        return frozenset(f.key for f in self.settings if f.secret)

    def public_settings(self, config: Mapping[str, Any]) -> dict[str, Any] | None:
        """What the public browser settings endpoint shows for a destination of this type, or None when
        the type has nothing for browsers.

        `config` is the destination's stored plain settings (`Destination.config`, never decrypted).
        Only declared non-secret fields reach `browser_settings`, so no definition can put a secret (or
        anything computed from one) into a response every visitor of a website can read."""
        if not (self.browser_integration and self.browser_settings):
            return None
        plain = {f.key: config[f.key] for f in self.settings if not f.secret and f.key in config}
        return self.browser_settings(plain)

    def clean_settings(self, values: dict[str, Any], *, existing: dict[str, Any] | None = None,
                       skip: frozenset[str] = frozenset()) -> dict[str, Any]:
        """Validate and coerce settings. Raises SettingsError({field: message}) with every field's error at
        once: the definition's own `validate` also runs when some fields are in error, on the others.

        A secret left empty keeps its `existing` value (forms never echo secrets back). Keys in `skip`
        are already known to be wrong (the caller reports them): they are not checked again."""
        existing = existing or {}
        if not isinstance(values, dict):
            raise SettingsError({"settings": "Settings must be a JSON object."})
        unknown = set(values) - {f.key for f in self.settings}
        errors: dict[str, str] = {k: "Unknown setting." for k in sorted(unknown)}
        cleaned: dict[str, Any] = {}
        for f in self.settings:
            if f.key in skip:
                continue
            raw = values.get(f.key)
            if f.secret and raw in (None, "") and existing.get(f.key):
                cleaned[f.key] = existing[f.key]
                continue
            if raw in (None, ""):
                if f.required:
                    errors[f.key] = "This field is required."
                elif f.default is not None:
                    cleaned[f.key] = f.default
                continue
            try:
                cleaned[f.key] = _coerce(f, raw)
            except ValueError as exc:
                errors[f.key] = str(exc)
        bad = set(errors) | set(skip)
        if self.validate and not bad:
            errors.update(self.validate(cleaned))
        elif self.validate:  # the checks that can still run on the fields that passed
            errors.update({k: v for k, v in self._validate_partial(cleaned).items() if k not in bad})
        if errors or skip:
            raise SettingsError(errors)
        return cleaned

    def _validate_partial(self, cleaned: dict[str, Any]) -> dict[str, str]:
        """`validate` with some required values missing: the checks it can still make. A definition's
        validate reads required values directly (settings["url"]); where one is missing, a placeholder
        stands in for it and that field's own error is already reported."""
        assert self.validate is not None
        filled = dict(cleaned)
        placeholders = {"url": "http://placeholder.invalid/", "string": "", "text": ""}
        for f in self.settings:
            if f.key not in filled and f.required:
                filled[f.key] = placeholders.get(f.type, f.default)
        try:
            found = self.validate(filled)
        except (KeyError, TypeError, ValueError):
            return {}
        return {k: v for k, v in found.items() if k in cleaned}

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key, "name": self.name, "category": self.category, "mode": self.mode,
            "description": self.description,
            "settings": [f.to_dict() for f in self.settings],
            "actions": [a.to_dict() for a in self.actions],
            "has_credentials_test": self.check_credentials is not None,
            "supports_deletion": self.delete_person is not None,
        }


def _coerce(f: SettingField, raw: Any) -> Any:
    if f.type in ("string", "text", "url"):
        if not isinstance(raw, str):
            raise ValueError("Must be a string.")
        value = raw.strip()
        if f.type == "url" and not value.startswith(("http://", "https://")):
            raise ValueError("Enter a URL starting with http:// or https://.")
        return value
    if f.type == "choice":
        allowed = [v for v, _ in f.choices]
        if raw not in allowed:
            raise ValueError(f"Choose one of: {', '.join(allowed)}.")
        return raw
    if f.type == "boolean":
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in ("true", "false", "on", "off", "1", "0"):
            return raw.lower() in ("true", "on", "1")
        raise ValueError("Must be true or false.")
    if f.type in ("number", "integer"):
        if isinstance(raw, bool):
            raise ValueError("Must be a number.")
        try:
            return int(raw) if f.type == "integer" else float(raw)
        except (TypeError, ValueError):
            raise ValueError("Must be a number.") from None
    if f.type == "headers":
        if not isinstance(raw, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in raw.items()):
            raise ValueError("Must be an object of header names to string values.")
        return raw
    raise ValueError(f"Unsupported field type {f.type}.")


__all__: Sequence[str] = (
    "ActionDefinition", "ActionField", "BatchResult", "DestinationDefinition", "Exchange", "LocalBatch",
    "SettingField", "Settings", "compact", "one_at_a_time", "regional_endpoint", "runs_in_browser",
    "viewed_name",
)
