"""Connecting audiences to destinations and syncing them. Views, the API and the tasks call these.

A sync reads the audience's enter/exit log (audiences.MembershipEvent) after the connection's cursor,
turns each change into events in Segment Engage's shape (`messages`), and stores them as events of the
connection's internal source with ingest.services.store_events, in the transaction that moves the
cursor: fan-out then hands them to this destination's actions like any event, and a sync that fails
half-way is simply run again (message ids are derived from the log, so nothing is stored twice).

The first syncs of a connection send every current member (backfill), a batch of people at a time,
from a snapshot of the log's position taken when it was connected; afterwards only changes."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from audiences.models import Audience, Membership, MembershipEvent
from connections import services as connection_services
from connections.models import Destination, DestinationMode, Source, SourceKind
from destinations import identity
from destinations.errors import DeliveryError, PayloadError
from ingest.normalize import Envelope, normalize
from ingest.services import store_events
from profiles.state import PersonState, load_states

from .models import AudienceDestination, SentMember, SyncMode

log = logging.getLogger(__name__)

ENTERED, EXITED = "Audience Entered", "Audience Exited"
# Destinations an audience cannot be sent to: the profile store feeds audiences, it does not take them.
NOT_SYNCABLE = frozenset({"profiles"})
MAX_INTERVAL_MINUTES = 7 * 24 * 60
# Ad platforms match people on hashed identifiers: their events carry only what identity hygiene made of
# the person's identifiers (hashes), never the raw values, and an audience is created there if needed.
AD_PLATFORMS = {"facebook_custom_audiences": identity.META, "google_customer_match": identity.GOOGLE}
# Platforms whose audience we create on the first sync; the others need an existing one's id.
CREATES_AUDIENCE = frozenset({"facebook_custom_audiences"})
RETRY_AFTER_ERROR = timedelta(minutes=5)
# The schedule when none is chosen: list destinations are synced in batches (Meta hourly; Google asks for
# no more than every 6 hours), the others in realtime.
DEFAULT_INTERVAL_MINUTES = {"facebook_custom_audiences": 60, "google_customer_match": 360}


def audience_trait(key: str) -> str:
    """The snake_cased audience key Engage uses as the trait and property name."""
    return re.sub(r"[^0-9a-z]+", "_", key.lower()).strip("_") or "audience"


# --- Connecting ------------------------------------------------------------------------------------------


def _check_interval(minutes: Any) -> int:
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 0 <= minutes <= MAX_INTERVAL_MINUTES:
        raise ValidationError({"interval_minutes": f"0 (realtime) or a whole number of minutes up to "
                                                   f"{MAX_INTERVAL_MINUTES}."}, code="invalid")
    return minutes


def _check_mode(mode: Any) -> str:
    if mode not in SyncMode.values:
        raise ValidationError({"mode": f"One of: {', '.join(SyncMode.values)}."}, code="invalid")
    return str(mode)


@transaction.atomic
def connect(audience: Audience, destination: Destination, *, mode: str = SyncMode.ADD_REMOVE,
            interval_minutes: int | None = None, external_audience_id: str = "") -> AudienceDestination:
    """Connect `audience` to `destination` (same workspace, a cloud-mode destination): its current
    members are sent first (backfill, in the background), then its entries and exits, every
    `interval_minutes` (0: realtime; None: DEFAULT_INTERVAL_MINUTES for the type, else realtime). Raises
    ValidationError (code "already_connected", "not_syncable" or a field error)."""
    mode = _check_mode(mode)
    if interval_minutes is None:
        interval_minutes = DEFAULT_INTERVAL_MINUTES.get(destination.kind, 0)
    interval_minutes = _check_interval(interval_minutes)
    if destination.workspace_id != audience.workspace_id:
        raise ValidationError({"destination_id": "No such destination in this workspace."}, code="not_found")
    if destination.mode != DestinationMode.CLOUD or destination.kind in NOT_SYNCABLE:
        raise ValidationError({"destination_id": f"{destination.name} can't receive audiences (only cloud-mode "
                                                 "destinations can)."}, code="not_syncable")
    if AudienceDestination.objects.filter(audience=audience, destination=destination).exists():
        raise ValidationError({"destination_id": f"“{audience.name}” is already connected to {destination.name}."},
                              code="already_connected")
    if destination.kind in AD_PLATFORMS and destination.kind not in CREATES_AUDIENCE and not str(
            external_audience_id or "").strip():
        raise ValidationError({"external_audience_id": f"{destination.definition.name} needs the id of an existing "
                               "list to fill (create a Customer Match list in Google Ads first)."}, code="required")
    source = Source.objects.create(workspace_id=audience.workspace_id, kind=SourceKind.AUDIENCE,
                                   name=f"{audience.name} → {destination.name}"[:120])
    connection_services.connect(source, destination)
    # The log's position now: backfill sends who is a member, then changes after this point follow.
    cursor = MembershipEvent.objects.filter(audience=audience).aggregate(m=Max("id"))["m"] or 0
    link = AudienceDestination.objects.create(
        workspace_id=audience.workspace_id, audience=audience, destination=destination, source=source, mode=mode,
        interval_minutes=interval_minutes, external_audience_id=str(external_audience_id or "").strip(),
        cursor=cursor, next_sync_at=timezone.now())
    schedule(link.pk)
    return link


def update(link: AudienceDestination, *, mode: str | None = None, interval_minutes: int | None = None
           ) -> AudienceDestination:
    if mode is not None:
        link.mode = _check_mode(mode)
    if interval_minutes is not None:
        link.interval_minutes = _check_interval(interval_minutes)
        link.next_sync_at = _next_sync(link, link.last_sync_at or timezone.now())
    link.save()
    return link


@transaction.atomic
def disconnect(link: AudienceDestination) -> None:
    """Stop sending the audience to the destination: the connection, its internal source and that
    source's events go; nothing more is sent (what the destination already has stays there)."""
    link.delete()  # its internal source goes with it (AudienceSyncConfig.ready)


def schedule(link_id: int) -> None:
    """Run a sync of this connection in the background once the current transaction commits."""
    from . import tasks

    transaction.on_commit(lambda: _enqueue(link_id))

    def _enqueue(pk: int) -> None:
        try:
            tasks.sync_connection.delay(pk)
        except Exception:  # broker down: the beat's next tick finds the connection due
            log.warning("broker unavailable; audience sync %s left for the beat", pk, exc_info=True)


def _next_sync(link: AudienceDestination, after: datetime) -> datetime:
    return after + timedelta(minutes=link.interval_minutes) if link.interval_minutes else after


def due(now: datetime | None = None, limit: int = 500) -> list[int]:
    """Connections whose next sync time has passed (realtime ones: always)."""
    now = now or timezone.now()
    return list(AudienceDestination.objects.filter(next_sync_at__lte=now, destination__enabled=True)
                .order_by("next_sync_at").values_list("id", flat=True)[:limit])


# --- Syncing ---------------------------------------------------------------------------------------------


@dataclass
class SyncResult:
    adds: int = 0
    removes: int = 0
    skipped: int = 0
    events: int = 0
    more: bool = False  # another batch is waiting (backfill or a long log): run again
    dropped: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Change:
    person_id: int
    inside: bool
    at: datetime
    token: str  # what makes the message ids of this change unique and stable


def sync(link_id: int, *, now: datetime | None = None, batch: int | None = None) -> SyncResult:
    """Send the next batch of this connection: backfill first, then the log after the cursor. Another
    worker syncing the same connection makes this one return at once (the row is locked)."""
    batch = batch or settings.AUDIENCE_SYNC_BATCH
    now = now or timezone.now()
    result = SyncResult()
    if not _platform_ready(link_id, now):
        return result
    with transaction.atomic():
        link = (AudienceDestination.objects.select_for_update(skip_locked=True, of=("self",)).select_related(
            "audience", "destination", "source", "workspace").filter(pk=link_id).first())
        if link is None or not link.destination.enabled:
            return result
        if link.backfilled_at is None:
            changes = _backfill_batch(link, batch)
        else:
            changes = _log_batch(link, batch)
        result.more = len(changes.taken) >= batch
        messages = _messages(link, changes.changes, result)
        if messages:
            envelope = Envelope(received_at=now, ip="")
            store_events(link.source, [normalize(m, None, envelope) for m in messages], now)
        result.events = len(messages)
        link.sent_adds += result.adds
        link.sent_removes += result.removes
        link.skipped += result.skipped
        for key, n in result.dropped.items():
            link.dropped[key] = link.dropped.get(key, 0) + n
        if link.backfilled_at is None and not result.more:
            link.backfilled_at = now
        link.last_sync_at = now
        link.next_sync_at = now if result.more else _next_sync(link, now)
        link.last_error = ""
        link.save(update_fields=["cursor", "backfill_after", "backfilled_at", "sent_adds", "sent_removes", "skipped",
                                 "dropped", "last_sync_at", "next_sync_at", "last_error", "updated_at"])
    return result


@dataclass
class _Batch:
    changes: list[Change]
    taken: list[int]  # what the batch size is counted on (people, or log rows)


def _backfill_batch(link: AudienceDestination, batch: int) -> _Batch:
    after = link.backfill_after
    rows = list(Membership.objects.filter(audience_id=link.audience_id, person_id__gt=after).order_by("person_id")
                .values_list("person_id", "entered_at")[:batch])
    if rows:
        link.backfill_after = rows[-1][0]
    return _Batch([Change(pid, True, entered, f"b{pid}") for pid, entered in rows], [r[0] for r in rows])


def _log_batch(link: AudienceDestination, batch: int) -> _Batch:
    rows = list(MembershipEvent.objects.filter(audience_id=link.audience_id, id__gt=link.cursor).order_by("id")
                .values_list("id", "person_id", "kind", "at")[:batch])
    if not rows:
        return _Batch([], [])
    link.cursor = rows[-1][0]
    changes = [Change(pid, kind == MembershipEvent.Kind.ENTER, at, f"e{eid}") for eid, pid, kind, at in rows]
    if link.mode == SyncMode.MIRROR:
        changes = net_changes(changes)
    return _Batch(changes, [r[0] for r in rows])


def net_changes(changes: Iterable[Change]) -> list[Change]:
    """Mirror mode: per person, only the change that is left at the end of the batch. Someone who entered
    and left again (or left and came back) between two syncs ends where they started: nothing to send."""
    first: dict[int, Change] = {}
    last: dict[int, Change] = {}
    for c in changes:
        first.setdefault(c.person_id, c)
        last[c.person_id] = c
    return [c for pid, c in last.items() if first[pid].inside == c.inside]


def _platform_ready(link_id: int, now: datetime) -> bool:
    """Ad platforms: make sure the audience exists there (created on the first sync unless an existing id
    was given). Outside any transaction: it is a request to the platform. False (with the error on the
    connection, tried again after RETRY_AFTER_ERROR) when it could not be created."""
    link = AudienceDestination.objects.select_related("audience", "destination").filter(pk=link_id).first()
    if link is None or link.destination.kind not in CREATES_AUDIENCE or link.external_audience_id:
        return True
    try:
        external = create_platform_audience(link)
    except (DeliveryError, PayloadError) as exc:
        message = exc.message if isinstance(exc, DeliveryError) else str(exc)
        AudienceDestination.objects.filter(pk=link_id).update(
            last_error=f"Could not create the audience at {link.destination.name}: {message}",
            next_sync_at=now + RETRY_AFTER_ERROR)
        return False
    AudienceDestination.objects.filter(pk=link_id, external_audience_id="").update(external_audience_id=external)
    return True


def create_platform_audience(link: AudienceDestination) -> str:
    from destinations.catalog import facebook_custom_audiences

    description = f"Pipelines audience “{link.audience.key}”, kept in sync by Pipelines."
    return facebook_custom_audiences.create_audience(link.destination.settings, name=link.audience.name,
                                                     description=description)


# --- Messages --------------------------------------------------------------------------------------------


def personas(link: AudienceDestination) -> dict[str, Any]:
    """`context.personas` as Engage fills it: the audience (computation) and the space (workspace)."""
    out = {"computation_class": "audience", "computation_id": str(link.audience_id),
           "computation_key": audience_trait(link.audience.key), "namespace": f"spa_{link.workspace.slug}",
           "space_id": link.workspace.slug}
    if link.external_audience_id:
        out["external_audience_id"] = link.external_audience_id
    return out


def _first(state: PersonState, kind: str) -> str | None:
    values = state.identifiers.get(kind) or []
    return values[0] if values else None


def _messages(link: AudienceDestination, changes: list[Change], result: SyncResult) -> list[dict[str, Any]]:
    """identify + track per change (Segment Engage's shape). People the profile store no longer has (or
    with neither userId nor anonymousId) can't be named to a destination: counted as skipped."""
    if not changes:
        return []
    states = load_states(link.workspace_id, {c.person_id for c in changes})
    key = audience_trait(link.audience.key)
    ctx = personas(link)
    out: list[dict[str, Any]] = []
    platform = AD_PLATFORMS.get(link.destination.kind)
    if platform is not None:
        return _platform_messages(link, platform, changes, states, result)
    for c in changes:
        state = states.get(c.person_id)
        user_id = _first(state, "user_id") if state else None
        anonymous_id = _first(state, "anonymous_id") if state else None
        if state is None or not (user_id or anonymous_id):
            result.skipped += 1
            continue
        email = _first(state, "email") or state.traits.get("email")
        ids = {k: v for k, v in (("userId", user_id), ("anonymousId", anonymous_id)) if v}
        base = f"aud-{link.pk}-{c.token}"
        stamp = c.at.isoformat()
        identify_traits: dict[str, Any] = {key: c.inside}
        track_traits: dict[str, Any] = {}
        if email:
            identify_traits["email"] = email
            track_traits["email"] = email
        out.append({"type": "identify", "messageId": f"{base}-identify", **ids, "timestamp": stamp,
                    "traits": identify_traits, "context": {"personas": dict(ctx)}})
        out.append({"type": "track", "messageId": f"{base}-track", **ids, "timestamp": stamp,
                    "event": ENTERED if c.inside else EXITED,
                    "properties": {"audience_key": key, key: c.inside},
                    "context": {"traits": track_traits, "personas": dict(ctx)}})
        if c.inside:
            result.adds += 1
        else:
            result.removes += 1
    return out


def raw_identifiers(state: PersonState) -> dict[str, Any]:
    """The identifiers identity hygiene works on, from the profile store's person: the first email
    identifier (else the email trait), traits phone, first/last name, address (or top-level city, state,
    zip, country) and madid."""
    t = state.traits if isinstance(state.traits, dict) else {}
    address = t.get("address") if isinstance(t.get("address"), dict) else {}

    def pick(*keys: str, where: dict[str, Any] = t) -> Any:
        return next((where[k] for k in keys if where.get(k) not in (None, "")), None)

    return {
        "email": _first(state, "email") or pick("email"),
        "phone": pick("phone", "phone_number", "phoneNumber"),
        "first_name": pick("first_name", "firstName"),
        "last_name": pick("last_name", "lastName"),
        "city": pick("city", where=address) or pick("city"),
        "state": pick("state", where=address) or pick("state"),
        "zip": pick("postal_code", "postalCode", "zip", where=address) or pick("postal_code", "postalCode", "zip"),
        "country": pick("country", where=address) or pick("country"),
        "madid": pick("madid", "advertising_id", "advertisingId"),
    }


def platform_identity(link: AudienceDestination, platform: str, state: PersonState | None,
                      result: SyncResult) -> dict[str, Any] | None:
    """What an ad platform event carries for this person: ids, hashed `traits` (identity hygiene, invalid
    values dropped and counted by field) and the advertising id; None when nothing can name them."""
    if state is None:
        return None
    user_id, anonymous_id = _first(state, "user_id"), _first(state, "anonymous_id")
    region = str(link.destination.config.get("phone_region") or "US")
    prepared = identity.prepare(platform, raw_identifiers(state), region=region)
    for field_name in prepared.dropped:
        result.dropped[field_name] = result.dropped.get(field_name, 0) + 1
    if not (user_id or anonymous_id) or not (prepared or user_id):
        return None
    v = prepared.values
    traits: dict[str, Any] = {k: v[k] for k in ("email", "phone", "first_name", "last_name") if k in v}
    address = {name: v[k] for k, name in (("city", "city"), ("state", "state"), ("zip", "postal_code"),
                                          ("country", "country")) if k in v}
    if address:
        traits["address"] = address
    out: dict[str, Any] = {"ids": {k: val for k, val in (("userId", user_id), ("anonymousId", anonymous_id)) if val},
                           "traits": traits}
    if "madid" in v:
        out["device"] = {"advertisingId": v["madid"]}
    return out


def _platform_messages(link: AudienceDestination, platform: str, changes: list[Change],
                       states: dict[int, PersonState], result: SyncResult) -> list[dict[str, Any]]:
    """Ad platforms: one track per change whose context.traits hold only the hashed identifiers (per the
    platform's rules), so no raw identifier is stored in the events, their deliveries or the requests
    recorded. What an entry sent is remembered (SentMember, hashes only): the exit removes exactly that,
    even once the person's identifiers changed or the person was deleted from the profile store."""
    key = audience_trait(link.audience.key)
    ctx = personas(link)
    remembered = dict(SentMember.objects.filter(link=link, person_id__in={c.person_id for c in changes})
                      .values_list("person_id", "identity"))
    keep: dict[int, dict[str, Any]] = {}
    forget: set[int] = set()
    out: list[dict[str, Any]] = []
    for c in changes:
        if c.inside:
            who = platform_identity(link, platform, states.get(c.person_id), result)
            if who is not None:
                keep[c.person_id] = who
                forget.discard(c.person_id)
        else:
            who = keep.pop(c.person_id, None) or remembered.get(c.person_id)
            if who is None:
                who = platform_identity(link, platform, states.get(c.person_id), result)
            forget.add(c.person_id)
        if who is None:
            result.skipped += 1
            continue
        context: dict[str, Any] = {"traits": who["traits"], "personas": dict(ctx)}
        if who.get("device"):
            context["device"] = who["device"]
        out.append({"type": "track", "messageId": f"aud-{link.pk}-{c.token}-track", **who["ids"],
                    "timestamp": c.at.isoformat(), "event": ENTERED if c.inside else EXITED,
                    "properties": {"audience_key": key, key: c.inside}, "context": context})
        if c.inside:
            result.adds += 1
        else:
            result.removes += 1
    if forget:
        SentMember.objects.filter(link=link, person_id__in=forget).delete()
    if keep:
        SentMember.objects.bulk_create([SentMember(link=link, person_id=pid, identity=who) for pid, who in keep.items()],
                                       update_conflicts=True, unique_fields=["link", "person_id"],
                                       update_fields=["identity"])
    return out
