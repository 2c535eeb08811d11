"""Applying events to the profile store, one chunk at a time.

`apply_events(workspace_id, events)` is what the "Profiles" destination's delivery runs (see
destinations/catalog/profiles.py). A chunk costs a fixed handful of queries whatever its size: one
lookup of every identifier it names, one lock of the people found (in id order), one insert each for
new people, identifiers, conflicts, and one read + one upsert each for traits, event history, devices and
groups. Merges (rare) cost a few more each. The event history keeps, besides per-day counts, the exact
times of recent events and the filtered histories audiences ask for (profiles.history.Needs), and the
manual segments of the Track API's segment calls; person_changed carries the states as written.

Identity resolution (Customer.io's identify semantics, docs/profiles.md):
- a person is found by userId (case-sensitive), email (case-insensitive, stored lower-cased) or
  anonymousId; an event with none of them is skipped;
- nothing found: a new person; a new identifier is added to the person found by the other;
- userId and email found on two different people: an IdentityConflict is recorded, the event applies to
  the userId's person without the conflicting email, nothing is merged;
- the anonymousId's person is merged into the identified person on identify (when it is anonymous: only
  anonymousIds) and alias merges previousId's person into userId's;
- traits: last write wins per key by event timestamp, whatever the arrival order.

Concurrency: the people a chunk touches are locked in id order (no deadlock between two chunks), and a
new identifier is an INSERT that the unique (workspace, kind, value) constraint refuses when another
worker created it first; then the chunk's savepoint is rolled back and the chunk applied again from the
start (it now finds the other worker's person). So two workers never create the same person twice.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from .history import RECENT_MAX_EVENTS, RECENT_SLACK_SECONDS, Needs, first_day, needs, window_days
from .models import (
    MAX_IDENTIFIER_LENGTH,
    Device,
    GroupMembership,
    Identifier,
    IdentifierKind,
    IdentityConflict,
    Person,
    PersonEvent,
)
from .signals import person_changed
from .state import EventStat, PersonState, add_event_row, in_segments, stat_of

log = logging.getLogger(__name__)

USER_ID, EMAIL, ANON = IdentifierKind.USER_ID.value, IdentifierKind.EMAIL.value, IdentifierKind.ANONYMOUS_ID.value
DEVICE_EVENTS = frozenset({"Application Installed", "Application Opened"})
DEVICE_DELETE_EVENTS = frozenset({"Application Uninstalled", "Device Deleted"})
# What the Track API's POST /api/v1/segments/{id}/add_customers | remove_customers stores, one per person
SEGMENT_EVENTS = {"Added to Manual Segment": True, "Removed from Manual Segment": False}
MAX_ATTEMPTS = 5


class _Changed(Exception):
    """The people found moved (merged by another worker) between the lookup and the lock: start again."""


@dataclass
class Parsed:
    """What the store reads of one event."""

    event_id: int
    message_id: str
    type: str
    at: datetime
    user_id: str | None
    email: str | None
    anonymous_id: str | None
    previous_id: str | None = None
    traits: dict[str, Any] = field(default_factory=dict)
    name: str | None = None  # a track event's name: counted in the history
    properties: dict[str, Any] = field(default_factory=dict)
    group_id: str | None = None
    device_id: str | None = None
    device: dict[str, Any] = field(default_factory=dict)
    device_delete: bool = False


def _ident(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        value = str(value)
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value if value and len(value) <= MAX_IDENTIFIER_LENGTH else None


def normalize_email(value: Any) -> str | None:
    email = _ident(value)
    return email.lower() if email and "@" in email else None


def _time(value: Any, fallback: datetime) -> datetime:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return fallback
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return fallback


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def parse(event_id: int, body: dict[str, Any], now: datetime) -> Parsed | None:
    """The parts of an event the store uses; None when it names nobody (no userId, email or
    anonymousId; for alias, no userId or previousId)."""
    kind = body.get("type") if isinstance(body.get("type"), str) else ""
    context = _dict(body.get("context"))
    traits = _dict(body.get("traits")) if kind == "identify" else {}
    at = _time(body.get("timestamp"), _time(body.get("receivedAt"), now))
    p = Parsed(
        event_id=event_id, message_id=str(body.get("messageId") or ""), type=kind, at=at,
        user_id=_ident(body.get("userId")),
        email=normalize_email(traits.get("email")) or normalize_email(_dict(context.get("traits")).get("email")),
        anonymous_id=_ident(body.get("anonymousId")),
        traits=traits,
    )
    if kind == "alias":
        p.previous_id = _ident(body.get("previousId"))
        p.email = None
        if not p.user_id or not p.previous_id:
            return None
        return p
    if not (p.user_id or p.email or p.anonymous_id):
        return None
    properties = _dict(body.get("properties"))
    if kind == "track" and isinstance(body.get("event"), str) and body["event"].strip():
        p.name = body["event"].strip()[:200]
        p.properties = properties
    if kind == "group":
        p.group_id = _ident(body.get("groupId"))
        p.traits = {}
        p.properties = _dict(body.get("traits"))  # the group's traits
    device = _dict(context.get("device"))
    token = _ident(properties.get("device_id")) if p.name in DEVICE_EVENTS | DEVICE_DELETE_EVENTS else None
    p.device_id = token or _ident(device.get("token")) or _ident(device.get("id"))
    if p.device_id:
        p.device = {k: v for k, v in device.items() if k in ("type", "model", "manufacturer", "name", "id")}
        os_ = _dict(context.get("os"))
        app = _dict(context.get("app"))
        if os_:
            p.device["os"] = os_
        if app.get("version"):
            p.device["app_version"] = app["version"]
        p.device_delete = p.name in DEVICE_DELETE_EVENTS
    return p


# --- identity resolution, in memory ------------------------------------------------------------------


class _P:
    """A person while a chunk is resolved: an existing row (id) or one to create (id None)."""

    def __init__(self, pid: int | None, kinds: set[str] | None = None,
                 traits: dict[str, Any] | None = None, times: dict[str, str] | None = None,
                 segments: dict[str, list[Any]] | None = None) -> None:
        self.id = pid
        self.kinds: set[str] = kinds or set()
        self.traits: dict[str, Any] = dict(traits or {})
        self.times: dict[str, str] = dict(times or {})
        self.segments: dict[str, list[Any]] = dict(segments or {})  # segment id → [in it?, event time]
        self.dirty = pid is None  # traits, their times or segments to write
        self.new_identifiers: list[tuple[str, str]] = []
        self.merged_into: _P | None = None
        self.merged_ids: set[int] = set()  # existing people merged into this one
        self.changed_keys: set[str] = set()

    def final(self) -> _P:
        p = self
        while p.merged_into is not None:
            p = p.merged_into
        return p

    @property
    def anonymous(self) -> bool:
        return not (self.kinds - {ANON})


@dataclass
class _Conflict:
    parsed: Parsed
    user_person: _P
    email_person: _P


@dataclass
class _Resolution:
    people: dict[int, _P] = field(default_factory=dict)  # existing, by id
    owner: dict[tuple[str, str], _P] = field(default_factory=dict)
    created: list[_P] = field(default_factory=list)
    merges: list[tuple[_P, _P]] = field(default_factory=list)  # (merged existing person, into)
    conflicts: list[_Conflict] = field(default_factory=list)
    by_event: list[tuple[Parsed, _P]] = field(default_factory=list)
    skip_email: set[int] = field(default_factory=set)  # event ids whose email trait conflicts

    def find(self, kind: str, value: str | None) -> _P | None:
        if not value:
            return None
        p = self.owner.get((kind, value))
        return p.final() if p is not None else None

    def new(self) -> _P:
        p = _P(None)
        self.created.append(p)
        return p

    def add(self, person: _P, kind: str, value: str | None) -> None:
        if value and (kind, value) not in self.owner:
            self.owner[(kind, value)] = person
            person.new_identifiers.append((kind, value))
            person.kinds.add(kind)

    def merge(self, src: _P, dst: _P) -> None:
        """Everything of `src` becomes `dst`'s."""
        if src is dst:
            return
        src.merged_into = dst
        dst.kinds |= src.kinds
        dst.new_identifiers.extend(src.new_identifiers)
        src.new_identifiers = []
        if src.id is not None:
            self.merges.append((src, dst))
            dst.merged_ids.add(src.id)
        dst.merged_ids |= src.merged_ids
        for key, value in src.traits.items():
            _set_trait(dst, key, value, src.times.get(key, ""))
        for segment, (inside, at) in src.segments.items():
            _set_segment(dst, segment, inside, at)
        dst.dirty = True


def _set_trait(person: _P, key: str, value: Any, at: str) -> None:
    """Last write wins by event time: a value older than the one held is ignored (ties: the later
    arrival wins)."""
    held = person.times.get(key)
    if held is not None and at < held:
        return
    if key not in person.traits or person.traits[key] != value:
        person.changed_keys.add(key)
    person.traits[key] = value
    person.times[key] = at
    person.dirty = True


def _set_segment(person: _P, segment: str, inside: bool, at: str) -> None:
    """A manual segment's add or remove: the latest by event time wins (ties: the later arrival)."""
    held = person.segments.get(segment)
    if held is not None and at < held[1]:
        return
    person.segments[segment] = [inside, at]
    person.dirty = True


def _segment_id(properties: dict[str, Any]) -> str | None:
    value = properties.get("segment_id")
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip():
        return None
    return str(value).strip()[:40]


def _stamp(at: datetime) -> str:
    """A sortable UTC text form of an event time (what trait_times holds)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _resolve_one(r: _Resolution, p: Parsed) -> _P | None:
    if p.type == "alias":
        dst = r.find(USER_ID, p.user_id)
        prev = r.find(USER_ID, p.previous_id) or r.find(ANON, p.previous_id)
        if dst is not None and prev is not None:
            r.merge(prev, dst)
            return dst
        if dst is not None:
            r.add(dst, ANON, p.previous_id)
            return dst
        if prev is not None:
            r.add(prev, USER_ID, p.user_id)
            return prev
        person = r.new()
        r.add(person, USER_ID, p.user_id)
        r.add(person, ANON, p.previous_id)
        return person

    pu, pe, pa = r.find(USER_ID, p.user_id), r.find(EMAIL, p.email), r.find(ANON, p.anonymous_id)
    email = p.email
    if pu is not None and pe is not None and pu is not pe:
        r.conflicts.append(_Conflict(p, pu, pe))
        r.skip_email.add(p.event_id)
        email, pe = None, None
    elif pu is None and pe is not None and p.user_id and USER_ID in pe.kinds:
        # the email's person already has another userId: the two belong to different people
        person = r.new()
        r.add(person, USER_ID, p.user_id)
        r.conflicts.append(_Conflict(p, person, pe))
        r.skip_email.add(p.event_id)
        email, pu, pe = None, person, None
    person = pu or pe
    if person is None and (p.user_id or email):
        # a new identified person, or the anonymous one this device was until now; never someone else's
        person = pa if pa is not None and pa.anonymous else r.new()
    if person is None:
        person = pa or r.new()
    r.add(person, USER_ID, p.user_id)
    r.add(person, EMAIL, email)
    if p.anonymous_id:
        if pa is None:
            r.add(person, ANON, p.anonymous_id)
        elif pa is not person and p.type == "identify" and pa.anonymous:
            r.merge(pa, person)
    return person


# --- the chunk, against the database ---------------------------------------------------------------


@dataclass
class ApplyResult:
    people: set[int] = field(default_factory=set)
    created: int = 0
    merged: int = 0
    conflicts: int = 0
    skipped: int = 0
    attempts: int = 0


def apply_events(workspace_id: int, events: list[tuple[int, dict[str, Any]]]) -> ApplyResult:
    """Apply `events` ((event id, event body) in arrival order) to the workspace's profile store, in a
    savepoint of the caller's transaction (or a transaction of its own), and send person_changed.

    Raises DeliveryError (retryable) when the chunk could not be applied after MAX_ATTEMPTS tries."""
    from destinations.errors import DeliveryError

    now = timezone.now()
    parsed = [p for p in (parse(eid, body if isinstance(body, dict) else {}, now) for eid, body in events) if p]
    skipped = len(events) - len(parsed)
    if not parsed:
        return ApplyResult(skipped=skipped)
    days = window_days(workspace_id)
    wanted = needs(workspace_id)
    last_error: Exception | None = None
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                result = _apply(workspace_id, parsed, now, days, wanted)
            result.skipped, result.attempts = skipped, attempt
            return result
        except (IntegrityError, _Changed) as exc:
            last_error = exc  # another worker got there first: its rows are visible now
        except OperationalError as exc:
            if getattr(getattr(exc, "__cause__", None), "sqlstate", None) != "40P01":  # deadlock detected
                raise
            last_error = exc
    raise DeliveryError(f"Profile store: could not apply the chunk after {MAX_ATTEMPTS} attempts: {last_error}",
                        retryable=True)


def _lookup(workspace_id: int, parsed: list[Parsed]) -> dict[tuple[str, str], int]:
    wanted: dict[str, set[str]] = defaultdict(set)
    for p in parsed:
        if p.user_id:
            wanted[USER_ID].add(p.user_id)
        if p.email:
            wanted[EMAIL].add(p.email)
        if p.anonymous_id:
            wanted[ANON].add(p.anonymous_id)
        if p.previous_id:
            wanted[USER_ID].add(p.previous_id)
            wanted[ANON].add(p.previous_id)
    query = Q()
    for kind, values in wanted.items():
        query |= Q(kind=kind, value__in=sorted(values))
    rows = Identifier.objects.filter(query, workspace_id=workspace_id).values_list("kind", "value", "person_id")
    return {(k, v): pid for k, v, pid in rows}


def _apply(workspace_id: int, parsed: list[Parsed], now: datetime, days: int, wanted: Needs) -> ApplyResult:
    found = _lookup(workspace_id, parsed)
    ids = sorted(set(found.values()))
    locked = {row[0]: row for row in Person.objects.select_for_update().filter(id__in=ids).order_by("id")
              .values_list("id", "traits", "trait_times", "segments")}
    if len(locked) != len(ids):
        raise _Changed()
    if ids and connection.vendor == "postgresql" and _lookup(workspace_id, parsed) != found:
        raise _Changed()
    kinds: dict[int, set[str]] = defaultdict(set)
    held_identifiers: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for pid, kind, value in Identifier.objects.filter(person_id__in=ids).order_by("id").values_list(
            "person_id", "kind", "value"):
        kinds[pid].add(kind)
        held_identifiers[pid].append((kind, value))

    r = _Resolution()
    for pid, traits, times, segments in locked.values():
        r.people[pid] = _P(pid, kinds[pid], traits, times, segments)
    for key, pid in found.items():
        r.owner[key] = r.people[pid]
    for p in parsed:
        person = _resolve_one(r, p)
        if person is not None:
            r.by_event.append((p, person))
    # traits, in event order of arrival; last write wins by event time
    for p, person in r.by_event:
        if p.type == "identify":
            target = person.final()
            stamp = _stamp(p.at)
            for key, value in p.traits.items():
                if key == "email" and p.event_id in r.skip_email:
                    continue
                _set_trait(target, str(key), value, stamp)
        elif p.name in SEGMENT_EVENTS and (segment := _segment_id(p.properties)) is not None:
            _set_segment(person.final(), segment, SEGMENT_EVENTS[p.name], _stamp(p.at))

    # new people, then their identifiers (the unique constraint decides races), then merges
    result = ApplyResult()
    new_people = [p for p in r.created if p.merged_into is None]
    rows = Person.objects.bulk_create([Person(workspace_id=workspace_id, traits=p.traits, trait_times=p.times,
                                              segments=p.segments) for p in new_people])
    for p, row in zip(new_people, rows, strict=True):
        p.id = row.id
    result.created = len(new_people)
    identifiers = [Identifier(workspace_id=workspace_id, person_id=p.id, kind=kind, value=value)
                   for p in [*r.people.values(), *new_people] if p.merged_into is None
                   for kind, value in p.new_identifiers]
    Identifier.objects.bulk_create(identifiers)
    merge_names = _merge_in_db(workspace_id, r.merges)
    result.merged = len(r.merges)

    finals: dict[int, _P] = {}
    for p, person in r.by_event:
        final = person.final()
        assert final.id is not None
        finals[final.id] = final
    for src, dst in r.merges:
        final = dst.final()
        assert final.id is not None
        finals[final.id] = final
    _update_people(workspace_id, [p for p in finals.values() if p.id in r.people], now)

    names, history = _apply_history(workspace_id, r, now, days, wanted, finals)
    _apply_devices(workspace_id, r)
    _apply_groups(workspace_id, r)
    IdentityConflict.objects.bulk_create([
        IdentityConflict(workspace_id=workspace_id, user_id=c.parsed.user_id or "", email=c.parsed.email or "",
                         user_person_id=c.user_person.final().id, email_person_id=c.email_person.final().id,
                         message_id=c.parsed.message_id[:200], event_id=c.parsed.event_id)
        for c in r.conflicts])
    result.conflicts = len(r.conflicts)
    result.people = set(finals)

    states = _states(workspace_id, finals, held_identifiers, history)
    names_of: dict[int, set[str]] = defaultdict(set)
    for p, person in r.by_event:
        if p.name:
            names_of[person.final().id].add(p.name)  # type: ignore[index]
    created = {p.id for p in new_people if p.id in finals}
    sent: set[int] = set()
    for final in finals.values():
        if final.merged_ids and final.id not in sent:
            sent.add(final.id)  # type: ignore[arg-type]
            person_changed.send(sender=Person, workspace_id=workspace_id, person_ids={final.id},
                                event_names=set(merge_names.get(final.id, set())), trait_keys=set(final.traits),
                                merged_ids=set(final.merged_ids), created_ids=set(),
                                states={final.id: states[final.id]})  # type: ignore[index]
    person_changed.send(sender=Person, workspace_id=workspace_id, person_ids=set(finals), event_names=names,
                        trait_keys={k for p in finals.values() for k in p.changed_keys}, merged_ids=set(),
                        created_ids=created, states=states,
                        changes={pid: (names_of.get(pid, set()), set(p.changed_keys)) for pid, p in finals.items()})
    return result


def _update_people(workspace_id: int, people: list[_P], now: datetime) -> None:
    """Write the traits (and their times, and manual segments) of the existing people that changed, and
    `updated_at` of every person the chunk touched: two statements (Django's bulk_update builds one
    CASE per row and column, which costs more than the rest of the chunk)."""
    changed = [p for p in people if p.dirty]
    touched = [p.id for p in people if not p.dirty]
    if touched:
        Person.objects.filter(id__in=touched).update(updated_at=now)
    if not changed:
        return
    if connection.vendor != "postgresql":
        Person.objects.bulk_update([Person(id=p.id, traits=p.traits, trait_times=p.times, segments=p.segments,
                                           updated_at=now) for p in changed],
                                   ["traits", "trait_times", "segments", "updated_at"])
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE profiles_person AS p SET traits = v.traits, trait_times = v.times, segments = v.segments, "
            "updated_at = %s FROM (SELECT unnest(%s::bigint[]) AS id, unnest(%s::jsonb[]) AS traits, "
            "unnest(%s::jsonb[]) AS times, unnest(%s::jsonb[]) AS segments) AS v WHERE p.id = v.id",
            [now, [p.id for p in changed], [_json(p.traits) for p in changed], [_json(p.times) for p in changed],
             [_json(p.segments) for p in changed]])


def _json(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def _states(workspace_id: int, finals: dict[int, _P], held: dict[int, list[tuple[str, str]]],
            history: dict[int, list[tuple[str, str, EventStat]]]) -> dict[int, PersonState]:
    """The compact states of the chunk's people as just written (what load_states would read now)."""
    out: dict[int, PersonState] = {}
    for pid, p in finals.items():
        identifiers: dict[str, list[str]] = defaultdict(list)
        for source in (pid, *sorted(p.merged_ids)):
            for kind, value in held.get(source, ()):
                identifiers[kind].append(value)
        for kind, value in p.new_identifiers:
            identifiers[kind].append(value)
        state = PersonState(pid, workspace_id, p.traits, dict(identifiers), segments=in_segments(p.segments))
        for name, key, stat in history.get(pid, ()):
            add_event_row(state, name, key, stat)
        out[pid] = state
    return out



def _merge_in_db(workspace_id: int, merges: list[tuple[_P, _P]]) -> dict[int, set[str]]:
    """Move everything of each merged (existing) person to its survivor and delete it. Returns, per
    survivor id, the event names its history now has from the merged people."""
    names: dict[int, set[str]] = defaultdict(set)
    for src, dst in merges:
        final = dst.final()
        assert src.id is not None and final.id is not None
        Identifier.objects.filter(person_id=src.id).update(person_id=final.id)
        Device.objects.filter(person_id=src.id).update(person_id=final.id)
        IdentityConflict.objects.filter(user_person_id=src.id).update(user_person_id=final.id)
        IdentityConflict.objects.filter(email_person_id=src.id).update(email_person_id=final.id)
        held = set(GroupMembership.objects.filter(person_id=final.id).values_list("group_id", flat=True))
        GroupMembership.objects.filter(person_id=src.id, group_id__in=held).delete()
        GroupMembership.objects.filter(person_id=src.id).update(person_id=final.id)
        theirs = list(PersonEvent.objects.filter(person_id=src.id))
        if theirs:
            ours = {(e.name, e.filter_key): e for e in PersonEvent.objects.filter(
                person_id=final.id, name__in=[e.name for e in theirs])}
            for e in theirs:
                names[final.id].add(e.name)
                mine = ours.get((e.name, e.filter_key))
                if mine is None:
                    ours[(e.name, e.filter_key)] = PersonEvent(
                        workspace_id=workspace_id, person_id=final.id, name=e.name, filter_key=e.filter_key,
                        per_day=e.per_day, first_at=e.first_at, last_at=e.last_at,
                        last_properties=e.last_properties, recent=e.recent)
                    continue
                for day, n in e.per_day.items():
                    mine.per_day[day] = mine.per_day.get(day, 0) + n
                mine.recent = _merge_recent(mine, e)
                mine.first_at = min(mine.first_at, e.first_at)
                if e.last_at > mine.last_at:
                    mine.last_at, mine.last_properties = e.last_at, e.last_properties
            PersonEvent.objects.filter(person_id=src.id).delete()
            _upsert_history([(workspace_id, final.id, e.name, e.filter_key, e.per_day, e.first_at, e.last_at,
                              e.last_properties, e.recent) for e in ours.values()])
        Person.objects.filter(id=src.id).delete()
    return names


def _merge_recent(a: PersonEvent, b: PersonEvent) -> dict[str, Any]:
    """Both rows' recent times; complete only from where both are."""
    if not a.recent or not b.recent:
        return {}
    times = sorted([*a.recent.get("t", ()), *b.recent.get("t", ())])
    start = max(a.recent.get("from") or a.last_at.timestamp(), b.recent.get("from") or b.last_at.timestamp())
    return _bounded(times, start)


def _bounded(times: list[float], start: float) -> dict[str, Any]:
    if len(times) > RECENT_MAX_EVENTS:
        times = times[-RECENT_MAX_EVENTS:]
        start = max(start, times[0])
    return {"from": start, "t": times}


HistoryRow = tuple[int, int, str, str, dict[str, int], datetime, datetime, dict[str, Any], dict[str, Any]]


def _upsert_history(rows: list[HistoryRow]) -> None:
    """Insert or replace these history rows in one statement (arrays unnested on PostgreSQL: building
    bulk_create's statement for hundreds of rows costs more than running it)."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        PersonEvent.objects.bulk_create(
            [PersonEvent(workspace_id=w, person_id=p, name=n, filter_key=k, per_day=d, first_at=f, last_at=la,
                         last_properties=props, recent=rec) for w, p, n, k, d, f, la, props, rec in rows],
            update_conflicts=True, unique_fields=["person", "name", "filter_key"],
            update_fields=["per_day", "first_at", "last_at", "last_properties", "recent"])
        return
    columns = list(zip(*rows, strict=True))
    table = PersonEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (workspace_id, person_id, name, filter_key, per_day, first_at, last_at, "
            "last_properties, recent) SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::text[], "
            "%s::jsonb[], %s::timestamptz[], %s::timestamptz[], %s::jsonb[], %s::jsonb[]) "
            "ON CONFLICT (person_id, name, filter_key) DO UPDATE SET per_day = excluded.per_day, "
            "first_at = excluded.first_at, last_at = excluded.last_at, last_properties = excluded.last_properties, "
            "recent = excluded.recent",
            [list(columns[0]), list(columns[1]), list(columns[2]), list(columns[3]), [_json(v) for v in columns[4]],
             list(columns[5]), list(columns[6]), [_json(v) for v in columns[7]], [_json(v) for v in columns[8]]])


@dataclass
class _Row:
    """A history row while a chunk is applied."""

    per_day: dict[str, int]
    first_at: datetime
    last_at: datetime
    properties: dict[str, Any]
    recent: dict[str, Any]
    new: bool = False
    changed: bool = False


def _add(row: _Row, items: list[Parsed], oldest_key: str, horizon: float | None) -> None:
    """Count `items` into `row`: per-day counts inside the window, first and last, the latest properties,
    and the exact times of the events after `horizon` (None: keep none)."""
    # the times kept so far are complete from their "from"; a row that kept none, from its last event
    held_from = row.recent.get("from") if row.recent else (horizon if row.new else row.last_at.timestamp())
    per_day = {d: n for d, n in row.per_day.items() if d >= oldest_key}
    times: list[float] = [t for t in row.recent.get("t", ()) if horizon is not None and t > horizon]
    for p in items:
        day = p.at.astimezone(UTC).date().isoformat()
        if day >= oldest_key:
            per_day[day] = per_day.get(day, 0) + 1
        row.first_at = min(row.first_at, p.at)
        if p.at >= row.last_at:
            row.last_at, row.properties = p.at, p.properties
        if horizon is not None:
            ts = round(p.at.timestamp(), 6)
            if ts > horizon:
                times.append(ts)
    row.per_day = dict(sorted(per_day.items()))
    if horizon is None:
        row.recent = {}
    else:
        times.sort()
        row.recent = _bounded(times, max(horizon, held_from if held_from is not None else horizon))
    row.changed = True


def _apply_history(workspace_id: int, r: _Resolution, now: datetime, days: int, wanted: Needs,
                   finals: dict[int, _P]) -> tuple[set[str], dict[int, list[tuple[str, str, EventStat]]]]:
    """Count the chunk's track events per (person, name) and per property filter asked for: one read of
    every history row of the chunk's people (also what their states are made of) and one upsert.
    Returns the event names counted and, per person, every history row as it now is."""
    oldest_key = first_day(workspace_id, now, days).isoformat()
    horizon = now.timestamp() - wanted.recent_seconds - RECENT_SLACK_SECONDS if wanted.recent_seconds else None
    batch: dict[tuple[int, str], list[Parsed]] = defaultdict(list)
    for p, person in r.by_event:
        if p.name:
            batch[(person.final().id, p.name)].append(p)  # type: ignore[index]
    rows: dict[tuple[int, str, str], _Row] = {}
    for pid, name, key, per_day, first_at, last_at, props, recent in _read_history(sorted(finals)):
        rows[(pid, name, key)] = _Row(per_day, first_at, last_at, props or {}, recent or {})
    by_event: dict[str, list[Any]] = defaultdict(list)
    for f in wanted.filters:
        by_event[f.event].append(f)
    for (pid, name), items in batch.items():
        plain = rows.get((pid, name, ""))
        for f in by_event.get(name, ()):
            matching = [p for p in items if _matches(f, p.properties)]
            if not matching or (pid, name, f.key) in rows:
                if matching:
                    _add(rows[(pid, name, f.key)], matching, oldest_key, horizon)
                continue
            # A filter's first match for this person: its history is complete only from the person's
            # latest event of that name (older ones were not looked at), which counts when it matches.
            if plain is None:
                row = _Row({}, matching[0].at, matching[0].at, matching[0].properties, {}, new=True)
            else:
                seen = plain.last_at.timestamp()
                seed = _matches(f, plain.properties)
                row = _Row({plain.last_at.astimezone(UTC).date().isoformat(): 1} if seed else {},
                           plain.last_at if seed else matching[0].at, plain.last_at if seed else matching[0].at,
                           plain.properties if seed else matching[0].properties,
                           {"from": seen, "t": [round(seen, 6)] if seed else []}, new=True)
            rows[(pid, name, f.key)] = row
            _add(row, matching, oldest_key, horizon)
        if plain is None:
            plain = rows[(pid, name, "")] = _Row({}, items[0].at, items[0].at, items[0].properties, {}, new=True)
        _add(plain, items, oldest_key, horizon)
    _upsert_history([(workspace_id, pid, name, key, row.per_day, row.first_at, row.last_at, row.properties,
                      row.recent) for (pid, name, key), row in rows.items() if row.changed])
    history: dict[int, list[tuple[str, str, EventStat]]] = defaultdict(list)
    for (pid, name, key), row in rows.items():
        history[pid].append((name, key, stat_of(name, row.per_day, row.first_at, row.last_at, row.properties,
                                                row.recent, oldest_key)))
    return {name for _, name in batch}, history


def _read_history(person_ids: list[int]) -> list[tuple[Any, ...]]:
    """Every history row of these people: (person_id, name, filter_key, per_day, first_at, last_at,
    last_properties, recent)."""
    if not person_ids:
        return []
    if connection.vendor != "postgresql":
        return list(PersonEvent.objects.filter(person_id__in=person_ids).values_list(
            "person_id", "name", "filter_key", "per_day", "first_at", "last_at", "last_properties", "recent"))
    loads = orjson.loads
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT person_id, name, filter_key, per_day::text, first_at, last_at, last_properties::text, "
                       f"recent::text FROM {PersonEvent._meta.db_table} WHERE person_id = ANY(%s)", [person_ids])
        return [(pid, name, key, loads(d), f, la, loads(props), loads(rec))
                for pid, name, key, d, f, la, props, rec in cursor.fetchall()]


def _matches(f: Any, properties: dict[str, Any]) -> bool:
    try:
        return bool(f.matches(properties))
    except Exception:  # noqa: BLE001 — a filter that cannot read these properties does not match them
        # (never fail the chunk: it would be retried, and fail, forever)
        return False


def _apply_devices(workspace_id: int, r: _Resolution) -> None:
    latest: dict[str, tuple[Parsed, int] | None] = {}
    for p, person in r.by_event:
        if p.device_id:
            latest[p.device_id] = None if p.device_delete else (p, person.final().id)  # type: ignore[assignment]
    gone = [d for d, v in latest.items() if v is None]
    if gone:
        Device.objects.filter(workspace_id=workspace_id, device_id__in=gone).delete()
    rows = [Device(workspace_id=workspace_id, person_id=pid, device_id=device_id,
                   platform=str(p.device.get("type") or "")[:40], attributes=p.device, last_seen_at=p.at)
            for device_id, v in latest.items() if v is not None for p, pid in [v]]
    if rows:
        Device.objects.bulk_create(rows, update_conflicts=True, unique_fields=["workspace", "device_id"],
                                   update_fields=["person", "platform", "attributes", "last_seen_at"])


def _apply_groups(workspace_id: int, r: _Resolution) -> None:
    wanted: dict[tuple[int, str], list[Parsed]] = defaultdict(list)
    for p, person in r.by_event:
        if p.group_id:
            wanted[(person.final().id, p.group_id)].append(p)  # type: ignore[index]
    if not wanted:
        return
    existing = {(g.person_id, g.group_id): g for g in GroupMembership.objects.filter(
        person_id__in={pid for pid, _ in wanted}, group_id__in={gid for _, gid in wanted})}
    rows = []
    for (pid, gid), items in wanted.items():
        row = existing.get((pid, gid)) or GroupMembership(workspace_id=workspace_id, person_id=pid, group_id=gid,
                                                          traits={}, first_seen_at=items[0].at,
                                                          last_seen_at=items[0].at)
        for p in sorted(items, key=lambda i: i.at):
            row.first_seen_at = min(row.first_seen_at, p.at)
            if p.at >= row.last_seen_at:
                row.traits = {**row.traits, **p.properties}
                row.last_seen_at = p.at
        rows.append(row)
    GroupMembership.objects.bulk_create(rows, update_conflicts=True, unique_fields=["person", "group_id"],
                                        update_fields=["traits", "first_seen_at", "last_seen_at"])


def forget(workspace_id: int, identities: dict[str, str]) -> dict[str, int]:
    """Delete every person of the workspace that any of `identities` ({"user_id" | "email" |
    "anonymous_id": value}) finds, with all the store holds about them (identifiers, history, devices,
    groups) and the identity conflicts naming them or those values. For privacy deletions
    (privacy.services.delete_person_data). Returns rows deleted per table."""
    query = Q()
    for kind, value in identities.items():
        if kind in (USER_ID, EMAIL, ANON) and value:
            query |= Q(kind=kind, value=normalize_email(value) if kind == EMAIL else value)
    if not query:
        return {}
    with transaction.atomic():
        ids = sorted(set(Identifier.objects.filter(query, workspace_id=workspace_id)
                         .values_list("person_id", flat=True)))
        list(Person.objects.select_for_update().filter(id__in=ids).order_by("id").values_list("id", flat=True))
        named = Q(user_person_id__in=ids) | Q(email_person_id__in=ids)
        if identities.get(USER_ID):
            named |= Q(user_id=identities[USER_ID])
        if identities.get(EMAIL):
            named |= Q(email=normalize_email(identities[EMAIL]) or "")
        conflicts, _ = IdentityConflict.objects.filter(named, workspace_id=workspace_id).delete()
        _, per_model = Person.objects.filter(id__in=ids, workspace_id=workspace_id).delete()
    counts = {f"profiles.{label.split('.')[-1].lower()}": n for label, n in per_model.items() if n}
    if conflicts:
        counts["profiles.identityconflict"] = conflicts
    return counts
