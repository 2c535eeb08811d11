"""The destination catalog: the only source of truth for destination types.

Each type is one module (or package) in this package defining `DEFINITION: DestinationDefinition`
(see base.py). To add a type: write `destinations/catalog/<key>.py` and its tests; the registry finds
every module here except `base` and names starting with `_`. The UI, the management API, admin and model
validation all read from `all_definitions()` / `get_definition()`; nothing else looks types up dynamically.

A module follows the shape of the others: it reads settings through `DEFINITION.read(settings)` (the
declared defaults apply; never `settings.get(key, default)`), names its credentials test
`check_credentials`, takes shared helpers from base.py (`compact`, `one_at_a_time`, `regional_endpoint`,
`viewed_name`) instead of copying them, lets an action's batch size follow a setting only by naming it
(`batch_size_setting`), and reads times with destinations/timestamps.py.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil

from .base import DestinationDefinition

_NOT_ENTRIES = frozenset({"base"})


@functools.cache
def _registry() -> dict[str, DestinationDefinition]:
    registry: dict[str, DestinationDefinition] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name in _NOT_ENTRIES or info.name.startswith("_"):
            continue
        definition = importlib.import_module(f"{__name__}.{info.name}").DEFINITION
        if definition.key in registry:
            raise RuntimeError(f"two catalog entries use the key {definition.key!r}")
        registry[definition.key] = definition
    return registry


def all_definitions() -> list[DestinationDefinition]:
    return sorted(_registry().values(), key=lambda d: d.name.lower())


def get_definition(key: str) -> DestinationDefinition:
    """Raises KeyError for an unknown key."""
    return _registry()[key]


def choices() -> list[tuple[str, str]]:
    return [(d.key, d.name) for d in all_definitions()]
