"""Routing controls: whether one event goes to one connected destination, decided before its actions.

A pure library (no models): fan-out passes the event payload and what it cached about the route (the
destination's own name, its catalog entry's name and key). Today it holds the event's `integrations`
object, honoured as Segment does for cloud mode:

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

from collections.abc import Iterable, Mapping
from typing import Any


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
