"""A destination's filters: reading, saving (validated) and previewing them against recent events.

The rules themselves are destinations/routing_controls.py (pure); fan-out reads the saved row through its
routing cache, so a change takes effect within DELIVERY_ROUTING_TTL seconds. Views, the management API and
tests all go through these functions.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from connections.models import Destination
from ingest.models import Event

from .models import DestinationFilters
from .routing_controls import (
    CompiledFilters,
    FilterError,
    apply_filters,
    compile_filters,
    integrations_reason,
)

PREVIEW_EVENTS = 100


def settings_of(destination: Destination) -> dict[str, Any]:
    """The saved filter settings (the defaults when none are saved): the API's and the form's shape."""
    row = DestinationFilters.objects.filter(destination=destination).first()
    if row is None:
        return {"keep_if": "", "drop_if": "", "sample_percent": 100, "fields_mode": "", "fields": []}
    return {"keep_if": row.keep_if, "drop_if": row.drop_if, "sample_percent": row.sample_percent,
            "fields_mode": row.fields_mode, "fields": list(row.fields)}


def check(data: dict[str, Any]) -> tuple[dict[str, Any], CompiledFilters]:
    """The settings cleaned (missing keys take their defaults) and compiled. Raises FilterError."""
    if not isinstance(data.get("fields") or [], list):
        raise FilterError("fields", "a list of paths")
    clean = {
        "keep_if": str(data.get("keep_if") or "").strip(),
        "drop_if": str(data.get("drop_if") or "").strip(),
        "sample_percent": data.get("sample_percent", 100),
        "fields_mode": data.get("fields_mode") or "",
        "fields": [str(f).strip() for f in (data.get("fields") or []) if str(f).strip()],
    }
    compiled = compile_filters(**clean)
    if not clean["fields_mode"]:
        clean["fields"] = []
    return clean, compiled


def save(destination: Destination, data: dict[str, Any]) -> dict[str, Any]:
    """Validate and store the filters of `destination`; return them as settings_of would. Raises
    FilterError (nothing saved)."""
    clean, _ = check(data)
    with transaction.atomic():
        DestinationFilters.objects.update_or_create(destination=destination, defaults=clean)
    return clean


@dataclass
class Preview:
    events: int = 0
    dropped: int = 0
    trimmed: int = 0  # sent with fewer fields
    reasons: Counter[str] = field(default_factory=Counter)
    examples: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"events": self.events, "dropped": self.dropped, "trimmed": self.trimmed,
                "reasons": [{"reason": r, "count": n} for r, n in self.reasons.most_common()],
                "examples": self.examples}


def preview(destination: Destination, compiled: CompiledFilters, limit: int = PREVIEW_EVENTS) -> Preview:
    """What `compiled` would do to the newest `limit` events of the destination's connected sources
    (the event's integrations object included, as at fan-out). Sends and stores nothing."""
    definition = destination.definition
    names = (destination.name, definition.name, definition.key)
    builtin = definition.category == "Built in"
    events = (Event.objects.filter(workspace=destination.workspace, source__in=destination.sources.all())
              .order_by("-received_at", "-id").values_list("message_id", "type", "payload")[:limit])
    result = Preview()
    for message_id, kind, payload in events:
        body = payload if isinstance(payload, dict) else {}
        result.events += 1
        reason = integrations_reason(body, names, builtin=builtin)
        routed, reason = (None, reason) if reason else apply_filters(body, message_id, compiled)
        if routed is None:
            result.dropped += 1
            result.reasons[reason] += 1
            if len(result.examples) < 5:
                result.examples.append({"message_id": message_id, "type": kind,
                                        "event": body.get("event", ""), "reason": reason})
        elif routed is not body and routed != body:
            result.trimmed += 1
    return result
