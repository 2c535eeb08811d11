"""Direct mode in the browser: each direct-mode destination is a remote plugin of our own that
analytics-next loads on the website (the library layer: no models here).

How analytics-next loads one (its `plugins/remote-loader`): for each entry of the settings' `remotePlugins`
(`name`, `creationName`, `libraryName`, `url`, `settings`) it injects `<script src=url>`, then calls
`window[libraryName]({...settings, ...integrations[name]})` (the second part is the settings' `integrations`
entry of that name merged with the snippet's own `integrations: {name: {...}}` load options) and
installs what the factory returns: a plugin `{name, type: "destination", version, load, isLoaded, track,
page, identify, ...}`.

Ours: the script at `plugin_url` is static/js/plugins/runtime.js followed by the destination's own file
(`browser_plugin`), concatenated as served, no build step. The settings carry the destination's public
settings (`public_settings`, never a secret), `scriptUrl` (where the vendor's own script comes from) and
its enabled actions as `{key, trigger, mapping, required}`: the trigger parsed here (the server's own
parser) and sent as the JSON tree of `trigger_tree`, the mapping as stored. The runtime evaluates both
with the server's semantics, so a direct destination's Actions tab means what it means for a cloud one:
an event reaches the vendor once per enabled action whose trigger matches, shaped by its mapping.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings

from .catalog import all_definitions
from .catalog.base import DestinationDefinition
from .triggers import And, Condition, Node, Not, TriggerSyntaxError, parse

RUNTIME = "runtime.js"
PLUGIN_ROUTE = "/analytics-plugins/"


@dataclass(frozen=True)
class PluginSource:
    body: bytes
    version: str  # a hash of the body: part of the URL the settings give, so a new version is a new URL


def plugins_dir() -> Path:
    return Path(settings.BASE_DIR) / "static" / "js" / "plugins"


def definition_for_plugin(name: str) -> DestinationDefinition | None:
    """The direct-mode definition whose plugin file is `name`, or None."""
    for definition in all_definitions():
        if definition.mode == "direct" and definition.browser_plugin == name:
            return definition
    return None


def plugin_source(definition: DestinationDefinition) -> PluginSource:
    """The script served for `definition`'s plugin (runtime first). Raises OSError when a file is missing."""
    files = [plugins_dir() / RUNTIME, plugins_dir() / f"{definition.browser_plugin}.js"]
    stamps = tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files)
    return _read(stamps)


@lru_cache(maxsize=16)
def _read(stamps: tuple[tuple[str, int, int], ...]) -> PluginSource:
    """Cached per (path, mtime, size) of every part, so an edited file is picked up."""
    body = b"\n".join(Path(path).read_bytes() for path, _, _ in stamps)
    return PluginSource(body, hashlib.sha256(body).hexdigest()[:16])


def trigger_tree(text: str) -> dict[str, Any]:
    """The parsed trigger as JSON, for the browser runtime (static/js/plugins/runtime.js). Raises
    TriggerSyntaxError like `triggers.parse`.

    A node is ``{"or": [node, ...]}``, ``{"and": [node, ...]}``, ``{"not": node}`` or a condition
    ``{"op": op, "path": [segment, ...], "value": v}``: op as in `triggers.Condition` (``= != < <= > >=
    contains starts_with ends_with match exists`` / ``not exists`` with value null, ``in`` / ``not in`` with
    a list), a segment a key (string) or an index (integer). An evaluator must keep the semantics of the
    triggers module docstring (type-strict comparisons; a missing field is not null except for ``= null``)."""
    return _node_json(parse(text).tree)


def _node_json(node: Node) -> dict[str, Any]:
    if isinstance(node, Condition):
        value = list(node.value) if isinstance(node.value, tuple) else node.value
        return {"op": node.op, "path": list(node.path), "value": value}
    if isinstance(node, Not):
        return {"not": _node_json(node.inner)}
    return {"and" if isinstance(node, And) else "or": [_node_json(p) for p in node.parts]}


def vendor_script_url(definition: DestinationDefinition) -> str:
    """Where the plugin loads the vendor's script from: DIRECT_MODE_SCRIPT_URLS[key], else the vendor's."""
    overrides: dict[str, str] = getattr(settings, "DIRECT_MODE_SCRIPT_URLS", {}) or {}
    return overrides.get(definition.key) or definition.vendor_script_url


def browser_actions(definition: DestinationDefinition, actions: Iterable[tuple[str, str, Any]]) -> list[dict[str, Any]]:
    """The enabled actions `(kind, trigger, mapping)` as the runtime takes them. An action whose type the
    definition no longer has, or whose trigger does not parse (never saved so), is left out: it can match
    nothing."""
    out: list[dict[str, Any]] = []
    for kind, trigger, mapping in actions:
        try:
            action_def = definition.action(kind)
            tree = trigger_tree(trigger)
        except (KeyError, TriggerSyntaxError):
            continue
        out.append({"key": kind, "trigger": tree, "mapping": mapping or {},
                    "required": [f.key for f in action_def.fields if f.required]})
    return out


def remote_plugin(definition: DestinationDefinition, public: dict[str, Any], actions: list[dict[str, Any]],
                  base_url: str) -> dict[str, Any] | None:
    """The `remotePlugins` entry of one direct destination, or None when its type has no plugin (or the
    plugin's file is missing from this installation)."""
    if not (definition.browser_plugin and definition.browser_library):
        return None
    try:
        version = plugin_source(definition).version
    except OSError:
        return None
    return {
        "name": definition.browser_integration,
        "creationName": definition.browser_integration,
        "libraryName": definition.browser_library,
        "url": f"{base_url.rstrip('/')}{PLUGIN_ROUTE}{definition.browser_plugin}.js?v={version}",
        "settings": {**public, "scriptUrl": vendor_script_url(definition), "actions": actions},
    }
