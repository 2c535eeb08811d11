"""Profiles: the workspace's own profile store (people, identifiers, traits, compact event history),
as a built-in destination. Connect it to the sources whose events should build profiles; sources not
connected to it cost the store nothing.

It sends no request: its action has `perform_local`, so the delivery engine hands it each chunk of
mapped events in-process, inside the transaction that records the chunk's outcomes (see
ActionDefinition). The store itself lives in the `profiles` app (profiles/store.py); it is imported
when a chunk is applied, so this library module stays free of models at import time.
"""

from __future__ import annotations

from typing import Any

from .. import http
from ..errors import PayloadError
from ..mapping import path
from .base import ActionDefinition, ActionField, BatchResult, DestinationDefinition, LocalBatch

KIND = "profiles"
BATCH = 500


def apply_local(settings: dict[str, Any], batch: LocalBatch) -> BatchResult:
    from profiles.store import apply_events

    apply_events(batch.workspace_id, [(event_id, payload.get("event") or {})
                                      for event_id, payload in zip(batch.event_ids, batch.payloads, strict=True)])
    return BatchResult(None)


def perform(settings: dict[str, Any], payload: dict[str, Any]) -> http.Exchange:
    # only reached by a test request from the UI: the store is written by deliveries, never by a preview
    raise PayloadError("the profile store is updated by deliveries only; nothing was written")


def check_credentials(settings: dict[str, Any]) -> tuple[bool, str]:
    return True, "Built in: nothing to connect to."


UPDATE_PROFILES = ActionDefinition(
    key="update_profiles",
    title="Update Profiles",
    description=("Find or create the person of each event (userId, email, anonymousId), merge traits, "
                 "devices and groups, and count track events per day for audiences."),
    default_trigger=('type = "identify" or type = "track" or type = "group" or type = "alias" '
                     'or type = "page" or type = "screen"'),
    fields=(
        ActionField("event", "Event", "object", "The event applied to the profile store (the whole event).",
                    required=True, default=path("$.")),
    ),
    perform=perform,
    perform_local=apply_local,
    batch_size=BATCH,
)

DEFINITION = DestinationDefinition(
    key=KIND,
    name="Profiles",
    category="Built in",
    mode="cloud",
    description="Build a profile of every person from your events: the People pages and audiences read it.",
    settings=(),
    actions=(UPDATE_PROFILES,),
    check_credentials=check_credentials,
)
