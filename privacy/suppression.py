"""The ingest-time check: drop the events of suppressed identities before they are stored.

`split(source, messages, received_at)` is called by both store paths (ingest.services.store_events and
ingest.group_commit). It costs nothing per event for a workspace without suppressions: each process keeps
the workspace's suppressed identities in memory for PRIVACY_SUPPRESSION_CACHE_SECONDS (one small query per
workspace per interval, whatever the traffic), and the process that changes a suppression drops its copy
at once (`forget`). Other processes see a change within that interval; a deletion runs a second pass after
it (privacy.services.run_deletion) so events stored meanwhile are removed too.

Dropped events leave no payload behind: their counts go on the Suppression row and a payload-free trace
(SuppressedEvent) is kept for the source's debugger.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import F

from .models import IdentityKind, SuppressedEvent, Suppression, normalize_identity

# Upper bound on cached workspaces, so the cache cannot grow without limit.
MAX_CACHED_WORKSPACES = 10_000

# workspace id -> (expires at, {(kind, value): suppression id})
_cache: dict[int, tuple[float, dict[tuple[str, str], int]]] = {}
_lock = threading.Lock()


def suppressed_identities(workspace_id: int) -> dict[tuple[str, str], int]:
    """{(IdentityKind, normalized value): Suppression id} of the workspace, from this process's cache."""
    now = time.monotonic()
    hit = _cache.get(workspace_id)
    if hit is not None and hit[0] > now:
        return hit[1]
    table = {(kind, value): pk for pk, kind, value in
             Suppression.objects.filter(workspace_id=workspace_id).values_list("id", "kind", "value")}
    ttl = float(getattr(settings, "PRIVACY_SUPPRESSION_CACHE_SECONDS", 5.0))
    with _lock:
        if len(_cache) >= MAX_CACHED_WORKSPACES:
            _cache.clear()
        _cache[workspace_id] = (now + ttl, table)
    return table


def forget(workspace_id: int | None = None) -> None:
    """Drop this process's copy for one workspace (or all), e.g. after a suppression changed."""
    with _lock:
        if workspace_id is None:
            _cache.clear()
        else:
            _cache.pop(workspace_id, None)


def identities_of(message: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """The (IdentityKind, normalized value) pairs a stored message names its person by."""
    for kind, value in ((IdentityKind.USER_ID, message.get("userId")),
                        (IdentityKind.ANONYMOUS_ID, message.get("anonymousId"))):
        if value is not None and value != "":
            yield kind, normalize_identity(kind, value)
    context = message.get("context")
    for holder in (message.get("traits"), context.get("traits") if isinstance(context, dict) else None):
        if isinstance(holder, dict):
            email = holder.get("email")
            if isinstance(email, str) and email:
                yield IdentityKind.EMAIL, normalize_identity(IdentityKind.EMAIL, email)


def split(source: Any, messages: Sequence[dict[str, Any]], received_at: datetime) -> Sequence[dict[str, Any]]:
    """The messages to store; the others (a suppressed identity) are counted and traced, not stored.
    Returns `messages` itself when nothing is suppressed in the workspace."""
    table = suppressed_identities(source.workspace_id)
    if not table:
        return messages
    kept: list[dict[str, Any]] = []
    dropped: list[tuple[dict[str, Any], str, int]] = []
    for m in messages:
        match = next(((kind, table[(kind, value)]) for kind, value in identities_of(m) if (kind, value) in table),
                     None)
        if match is None:
            kept.append(m)
        else:
            dropped.append((m, match[0], match[1]))
    if dropped:
        record_drops(source, dropped, received_at)
    return kept


def record_drops(source: Any, dropped: Sequence[tuple[dict[str, Any], str, int]], received_at: datetime) -> None:
    """Count drops on their Suppression rows and keep a payload-free trace for the debugger."""
    for suppression_id, n in Counter(pk for _, _, pk in dropped).items():
        Suppression.objects.filter(id=suppression_id).update(dropped=F("dropped") + n, last_dropped_at=received_at)
    SuppressedEvent.objects.bulk_create([
        SuppressedEvent(workspace_id=source.workspace_id, source_id=source.id, message_id=str(m.get("messageId", ""))[:200],
                        type=str(m.get("type", ""))[:16], identity_kind=kind, received_at=received_at)
        for m, kind, _ in dropped
    ])
    # keep the newest KEEP_PER_SOURCE traces of this source
    boundary = (SuppressedEvent.objects.filter(source_id=source.id).order_by("-id")
                .values_list("id", flat=True)[SuppressedEvent.KEEP_PER_SOURCE:SuppressedEvent.KEEP_PER_SOURCE + 1])
    if boundary:
        SuppressedEvent.objects.filter(source_id=source.id, id__lte=boundary[0]).delete()
