"""The destination catalog: the only source of truth for destination types.

Each type is one module in this package defining `DEFINITION: DestinationDefinition` (see base.py).
To add a type: write `destinations/catalog/<key>.py`, add its module name to `_MODULES` below, and add
tests under tests/destinations/. The UI, the management API, admin and model validation all read
from `all_definitions()` / `get_definition()`; nothing else looks types up dynamically.
"""

from __future__ import annotations

import functools
import importlib

from .base import DestinationDefinition

_MODULES = ("webhook",)


@functools.cache
def _registry() -> dict[str, DestinationDefinition]:
    registry: dict[str, DestinationDefinition] = {}
    for name in _MODULES:
        definition = importlib.import_module(f"{__name__}.{name}").DEFINITION
        registry[definition.key] = definition
    return registry


def all_definitions() -> list[DestinationDefinition]:
    return sorted(_registry().values(), key=lambda d: d.name.lower())


def get_definition(key: str) -> DestinationDefinition:
    """Raises KeyError for an unknown key."""
    return _registry()[key]


def choices() -> list[tuple[str, str]]:
    return [(d.key, d.name) for d in all_definitions()]
