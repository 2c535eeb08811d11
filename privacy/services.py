"""Privacy state changes: request a person's deletion, suppress and unsuppress identities, run a deletion.

Views, the API and the Celery task call these functions; they raise Django's ValidationError for bad
input (the API answers 400 {code, message}, the page shows a form error).

A deletion (`request_deletion`) is recorded and its identities suppressed in one transaction, so from
its commit on new events of the person are dropped at ingest; the stored data is removed by the task
`privacy.run_deletion` (`run_deletion`), in bounded batches: the workspace's events are walked by primary
key PRIVACY_SCAN_BATCH ids at a time (an indexed range, never a table-wide scan or lock), and each batch of
the person's events goes in its own short transaction with what points at it: delivery rows, the items
of delivery chunks still waiting for their first attempt, and the exchanges (requests and responses) no
delivery row points at any more. Then the deletion is forwarded to each enabled destination whose type
has a `delete_person` hook (destinations.catalog.base); a forward that failed retryably is sent again
later (retry_forwards). A second pass runs once every process's suppression cache has expired
(privacy.suppression), for events stored in that window.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import orjson
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F, Max, Min, Q, TextField
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Lower
from django.utils import timezone

from connections.models import Destination
from destinations.errors import DeliveryError
from destinations.models import Delivery, DeliveryChunk, DeliveryExchange
from ingest.models import Event
from pipelines.models import Workspace

from . import suppression
from .models import IdentityKind, PrivacyRequest, Suppression, normalize_identity

log = logging.getLogger(__name__)

RUN_DELETION_TASK = "privacy.run_deletion"
RETRY_FORWARDS_TASK = "privacy.retry_forwards"
# How many more times a forward that failed retryably is sent.
FORWARD_RETRIES = 5
MAX_IDENTITY_LENGTH = {IdentityKind.USER_ID: 200, IdentityKind.EMAIL: 254, IdentityKind.ANONYMOUS_ID: 200}


def clean_identities(user_id: Any = "", email: Any = "", anonymous_id: Any = "") -> dict[str, str]:
    """The identifiers given, normalized ({IdentityKind value: text}). Raises ValidationError when none is
    given, or one is not a string or too long."""
    found: dict[str, str] = {}
    errors: dict[str, str] = {}
    for kind, raw in ((IdentityKind.USER_ID, user_id), (IdentityKind.EMAIL, email),
                      (IdentityKind.ANONYMOUS_ID, anonymous_id)):
        if raw is None or raw == "":
            continue
        if not isinstance(raw, (str, int)) or isinstance(raw, bool):
            errors[kind] = f"{kind} must be a string."
            continue
        value = normalize_identity(kind, raw)
        if not value.strip():
            continue
        if len(value) > MAX_IDENTITY_LENGTH[kind]:
            errors[kind] = f"{kind} is longer than {MAX_IDENTITY_LENGTH[kind]} characters."
        elif kind == IdentityKind.EMAIL and "@" not in value:
            errors[kind] = "Enter an email address."
        else:
            found[str(kind)] = value
    if errors:
        raise ValidationError(errors)
    if not found:
        raise ValidationError("Give at least one of user_id, email or anonymous_id.")
    return found


def _suppress(workspace: Workspace, identities: dict[str, str], user: AbstractBaseUser | None) -> None:
    for kind, value in identities.items():
        Suppression.objects.get_or_create(workspace=workspace, kind=kind, value=value,
                                          defaults={"created_by": user})
    transaction.on_commit(lambda: suppression.forget(workspace.id))


def _record(workspace: Workspace, kind: str, identities: dict[str, str], user: AbstractBaseUser | None,
            **fields: Any) -> PrivacyRequest:
    return PrivacyRequest.objects.create(workspace=workspace, kind=kind, requested_by=user,
                                         user_id=identities.get("user_id", ""), email=identities.get("email", ""),
                                         anonymous_id=identities.get("anonymous_id", ""), **fields)


def request_deletion(workspace: Workspace, user: AbstractBaseUser | None = None, **given: Any) -> PrivacyRequest:
    """Record a deletion of the person named by `given` (user_id / email / anonymous_id), suppress those
    identities, and enqueue the deletion after commit. Raises ValidationError (see clean_identities)."""
    identities = clean_identities(**given)
    with transaction.atomic():
        request = _record(workspace, PrivacyRequest.Kind.DELETE, identities, user)
        _suppress(workspace, identities, user)
        transaction.on_commit(lambda: enqueue_deletion(request.id))
    return request


def suppress(workspace: Workspace, user: AbstractBaseUser | None = None, **given: Any) -> PrivacyRequest:
    """Drop future events of these identities at ingest (nothing stored is deleted)."""
    identities = clean_identities(**given)
    with transaction.atomic():
        _suppress(workspace, identities, user)
        return _record(workspace, PrivacyRequest.Kind.SUPPRESS, identities, user,
                       status=PrivacyRequest.Status.DONE, finished_at=timezone.now())


def unsuppress(workspace: Workspace, user: AbstractBaseUser | None = None, **given: Any) -> PrivacyRequest:
    """Accept these identities' events again. Unknown identities are not an error (nothing to lift)."""
    identities = clean_identities(**given)
    with transaction.atomic():
        lifted = Q()
        for kind, value in identities.items():
            lifted |= Q(kind=kind, value=value)
        removed, _ = Suppression.objects.filter(lifted, workspace=workspace).delete()
        transaction.on_commit(lambda: suppression.forget(workspace.id))
        return _record(workspace, PrivacyRequest.Kind.UNSUPPRESS, identities, user,
                       status=PrivacyRequest.Status.DONE, finished_at=timezone.now(),
                       deleted={"privacy.Suppression": removed} if removed else {})


def enqueue_deletion(request_id: int, *, countdown: float | None = None, final_pass: bool = False) -> bool:
    """Publish the deletion task; False when the broker refused (the request stays pending and
    `sweep_pending` enqueues it again)."""
    from pipelines.celery import app

    try:
        app.send_task(RUN_DELETION_TASK, args=[request_id], kwargs={"final_pass": final_pass},
                      countdown=countdown, retry=False)
    except Exception:
        log.warning("broker unavailable; privacy request %s left for the sweep", request_id, exc_info=True)
        return False
    return True


def sweep_pending(older_than_seconds: float = 300.0) -> int:
    """Enqueue deletions still pending after `older_than_seconds` (their publish failed, or their task was
    lost); beat runs it every 5 minutes. Long enough that a task merely waiting behind other work on the
    retries queue is rarely enqueued twice (a second run of a finished request does nothing)."""
    cutoff = timezone.now() - timezone.timedelta(seconds=older_than_seconds)
    ids = list(PrivacyRequest.objects.filter(kind=PrivacyRequest.Kind.DELETE, status=PrivacyRequest.Status.PENDING,
                                             created_at__lt=cutoff).values_list("id", flat=True)[:100])
    return sum(1 for pk in ids if enqueue_deletion(pk))


# --- Running a deletion ---------------------------------------------------------------------------------


def _match(identities: dict[str, str]) -> Q:
    """Events naming the person: userId, anonymousId, or an email in traits or context.traits."""
    q = Q()
    if "user_id" in identities:
        q |= Q(_uid=identities["user_id"])
    if "anonymous_id" in identities:
        q |= Q(_aid=identities["anonymous_id"])
    if "email" in identities:
        q |= Q(_email=identities["email"]) | Q(_context_email=identities["email"])
    return q


def _matching_batches(workspace_id: int, identities: dict[str, str]) -> Iterator[list[int]]:
    """Ids of the person's events, one list per PRIVACY_SCAN_BATCH-wide primary key range."""
    step = int(getattr(settings, "PRIVACY_SCAN_BATCH", 5000))
    bounds = Event.objects.filter(workspace_id=workspace_id).aggregate(lo=Min("id"), hi=Max("id"))
    if bounds["lo"] is None:
        return
    # Cast: compared as plain text (an exact lookup on KT itself is a JSON comparison on SQLite)
    events = Event.objects.filter(workspace_id=workspace_id).annotate(
        _uid=Cast(KT("payload__userId"), TextField()), _aid=Cast(KT("payload__anonymousId"), TextField()),
        _email=Lower(KT("payload__traits__email")), _context_email=Lower(KT("payload__context__traits__email")),
    ).filter(_match(identities))
    start = bounds["lo"]
    while start <= bounds["hi"]:
        ids = list(events.filter(id__gte=start, id__lt=start + step).order_by().values_list("id", flat=True))
        if ids:
            yield ids
        start += step


def _chunks_carrying(workspace_id: int, event_ids: set[int]) -> list[int]:
    """Ids of the workspace's delivery chunks (first attempts still waiting) that carry any of the events;
    read without locks."""
    destinations = list(Destination.objects.filter(workspace_id=workspace_id).values_list("id", flat=True))
    return [c.id for c in DeliveryChunk.objects.filter(destination_id__in=destinations)
            if any(item[0] in event_ids for item in c.parsed_items())]


def _wait_for_leases(chunk_ids: list[int]) -> None:
    """SQLite: a task sending a chunk holds a lease, not a row lock. Wait (outside any transaction, which
    would hold SQLite's write lock) until it is done, so the Delivery rows it writes exist when the batch
    deletes them. At most one lease long."""
    deadline = time.monotonic() + float(settings.DELIVERY_LEASE_SECONDS)
    while chunk_ids and time.monotonic() < deadline and DeliveryChunk.objects.filter(
            id__in=chunk_ids, locked_until__gt=timezone.now()).exists():
        time.sleep(0.2)


def _remove_from_chunks(chunk_ids: list[int], event_ids: set[int], counts: Counter[str]) -> None:
    """Take the events out of these chunks, deleting chunks left empty. On PostgreSQL the lock waits for
    a task sending one of them to finish (its Delivery rows are then visible to the delete that follows)."""
    for chunk in DeliveryChunk.objects.select_for_update().filter(id__in=chunk_ids).order_by("id"):
        items = chunk.parsed_items()
        kept = [item for item in items if item[0] not in event_ids]
        counts["destinations.DeliveryChunk items"] += len(items) - len(kept)
        if not kept:
            chunk.delete()
            counts["destinations.DeliveryChunk"] += 1
        else:
            DeliveryChunk.objects.filter(id=chunk.id).update(items=orjson.dumps(kept).decode(), size=len(kept))


def _delete_batch(workspace_id: int, ids: list[int]) -> Counter[str]:
    """Delete these events and what points at them, in one short transaction; return rows per table."""
    counts: Counter[str] = Counter()
    chunk_ids = _chunks_carrying(workspace_id, set(ids))
    if connection.vendor != "postgresql":
        _wait_for_leases(chunk_ids)
    with transaction.atomic():
        _remove_from_chunks(chunk_ids, set(ids), counts)
        released = Counter(Delivery.objects.filter(workspace_id=workspace_id, event_id__in=ids)
                           .exclude(exchange_id=None).values_list("exchange_id", flat=True))
        # cascades to the deliveries; only("id"): the payloads need not be read to delete them
        _, per_model = Event.objects.filter(workspace_id=workspace_id, id__in=ids).only("id").delete()
        counts.update({label: n for label, n in per_model.items() if n})
        for exchange_id, n in released.items():  # as delivery.py does when a retry moves rows on
            gone, _ = DeliveryExchange.objects.filter(id=exchange_id, row_count__lte=n).delete()
            counts["destinations.DeliveryExchange"] += gone
            for shared in DeliveryExchange.objects.filter(id=exchange_id, row_count__gt=n):
                _redact(shared, n)
                counts["destinations.DeliveryExchange redacted"] += 1
    return +counts  # without zero counts


REDACTED_BODY = "[removed: this request also carried the data of a person deleted by a privacy request]"


def _redact(exchange: DeliveryExchange, released: int) -> None:
    """A request other people's delivery rows still point at (a batch): keep it, with its status, URL and
    headers, but not its bodies, which carried the deleted person's data."""
    for record in (exchange.request, exchange.response):
        if isinstance(record, dict) and record.get("body"):
            record["body"] = REDACTED_BODY
    DeliveryExchange.objects.filter(id=exchange.id).update(request=exchange.request, response=exchange.response,
                                                           row_count=F("row_count") - released)


def delete_person_data(workspace_id: int, identities: dict[str, str]) -> Counter[str]:
    """Delete the person's stored events and what points at them in the workspace; rows per table."""
    from profiles.store import forget

    total: Counter[str] = Counter()
    for ids in _matching_batches(workspace_id, identities):
        total.update(_delete_batch(workspace_id, ids))
    total.update(forget(workspace_id, identities))  # the person's profile (profiles/store.py)
    return total


def _forward_one(destination: Destination, identities: dict[str, str], attempts: int) -> dict[str, Any] | None:
    """One destination's outcome, or None when its type has no deletion hook."""
    try:
        hook = destination.definition.delete_person
    except KeyError:  # a type no longer in the catalog
        return None
    if hook is None:
        return None
    outcome: dict[str, Any] = {"destination_id": destination.id, "destination": destination.name,
                               "kind": destination.kind, "attempts": attempts, "retryable": False}
    try:
        exchange = hook(destination.settings, identities)
    except DeliveryError as exc:
        outcome.update(status="failed", status_code=exc.status, error=exc.message, retryable=exc.retryable)
    except Exception as exc:  # e.g. settings that no longer decrypt: one destination must not stop the rest
        log.exception("forwarding privacy deletion to destination %s failed", destination.id)
        outcome.update(status="failed", status_code=None, error=f"{type(exc).__name__}: {exc}"[:500])
    else:
        if exchange is None:
            outcome.update(status="skipped", status_code=None,
                           error="The destination cannot name this person by the identifiers given.")
        else:
            outcome.update(status="ok", status_code=exchange.status, error="")
    return outcome


def forward_deletion(workspace_id: int, identities: dict[str, str]) -> list[dict[str, Any]]:
    """Ask each enabled destination whose type can delete a person to do so; one outcome per call made."""
    outcomes = []
    for destination in Destination.objects.filter(workspace_id=workspace_id, enabled=True).order_by("id"):
        outcome = _forward_one(destination, identities, attempts=1)
        if outcome is not None:
            outcomes.append(outcome)
    return outcomes


def _retry_later(request: PrivacyRequest, attempt: int) -> None:
    """Schedule the next try of the forwards that failed for a reason that may pass (timeouts, 429, 5xx)."""
    from pipelines.celery import app

    if attempt > FORWARD_RETRIES or not any(f.get("status") == "failed" and f.get("retryable")
                                            for f in request.forwards):
        return
    countdown = float(getattr(settings, "PRIVACY_FORWARD_RETRY_SECONDS", 60.0)) * 4 ** (attempt - 1)
    try:
        app.send_task(RETRY_FORWARDS_TASK, args=[request.id, attempt], countdown=countdown, retry=False)
    except Exception:
        log.warning("broker unavailable; forwards of privacy request %s not retried", request.id, exc_info=True)


def retry_forwards(request_id: int, attempt: int) -> PrivacyRequest | None:
    """Send again the forwards of a deletion that failed retryably (the task calls this); schedule the next
    try while some still fail that way, at most FORWARD_RETRIES times (1, 4, 16, 64, 256 minutes apart by
    default)."""
    request = PrivacyRequest.objects.filter(id=request_id).first()
    if request is None:
        return None
    identities = request.identities()
    fresh: dict[int, dict[str, Any]] = {}
    for forward in request.forwards:  # sent with no transaction open
        if forward.get("status") != "failed" or not forward.get("retryable"):
            continue
        destination = Destination.objects.filter(id=forward.get("destination_id"), enabled=True,
                                                 workspace_id=request.workspace_id).first()
        outcome = _forward_one(destination, identities, int(forward.get("attempts", 1)) + 1) if destination else None
        if outcome is not None:
            fresh[outcome["destination_id"]] = outcome
    with transaction.atomic():
        request = PrivacyRequest.objects.select_for_update().get(id=request_id)
        request.forwards = [fresh.get(f.get("destination_id"), f) for f in request.forwards]
        request.save(update_fields=["forwards"])
    _retry_later(request, attempt + 1)
    return request


def run_deletion(request_id: int, *, final_pass: bool = False) -> PrivacyRequest | None:
    """Carry out a recorded deletion (the task calls this). Safe to run again: it adds what it finds.
    The first run forwards the deletion and schedules the final pass; the final pass only deletes."""
    request = PrivacyRequest.objects.filter(id=request_id, kind=PrivacyRequest.Kind.DELETE).first()
    if request is None:
        return None
    if request.status == PrivacyRequest.Status.DONE and not final_pass:
        return request
    PrivacyRequest.objects.filter(id=request.id).update(status=PrivacyRequest.Status.RUNNING)
    identities = request.identities()
    try:
        counts = Counter(request.deleted or {})
        counts.update(delete_person_data(request.workspace_id, identities))
        request.deleted = dict(counts)
        if not final_pass:
            request.forwards = forward_deletion(request.workspace_id, identities)
    except Exception as exc:
        log.exception("privacy request %s failed", request.id)
        request.status, request.error = PrivacyRequest.Status.FAILED, str(exc)[:1000]
    else:
        request.status, request.error = PrivacyRequest.Status.DONE, ""
    request.finished_at = timezone.now()
    # The final pass leaves `forwards` alone: retry_forwards may be writing them.
    request.save(update_fields=["deleted", "status", "error", "finished_at"] + ([] if final_pass else ["forwards"]))
    if not final_pass and request.status == PrivacyRequest.Status.DONE:
        # Other processes may have stored the person's events until their suppression cache expired.
        ttl = float(getattr(settings, "PRIVACY_SUPPRESSION_CACHE_SECONDS", 5.0))
        enqueue_deletion(request.id, countdown=ttl + 1, final_pass=True)
        _retry_later(request, 1)
    return request
