"""State changes of audiences: create/update/delete, membership kept current for a batch of people,
the due-time sweep and the background computation. Views, the API, receivers and tasks call these.

Membership is evaluated from the profile store's compact states only (`audiences.people`), never by
scanning events. One call of `evaluate_people` costs a fixed number of queries whatever the batch size:
audiences, states, current memberships, due checks, then bulk writes."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F

from pipelines.models import Workspace

from . import clock, definition, people
from .models import Audience, DueCheck, HourlyCount, Membership, MembershipEvent

log = logging.getLogger(__name__)

COMPUTE_BATCH = 1000
ESTIMATE_SAMPLE = 2000


@dataclass
class Changes:
    entered: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))  # audience id → people
    exited: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    evaluated: int = 0

    def count(self) -> tuple[int, int]:
        return sum(map(len, self.entered.values())), sum(map(len, self.exited.values()))


# --- Definitions -----------------------------------------------------------------------------------------


def definitions_of(workspace_id: int, audiences: Iterable[Audience] | None = None) -> dict[str, Any]:
    rows = audiences if audiences is not None else Audience.objects.filter(workspace_id=workspace_id)
    return {a.key: a.definition for a in rows}


def validate_definition(workspace: Workspace, value: Any, *, own_key: str | None) -> None:
    """ValidationError({"definition": "<path>: <problem>"}) unless `value` is a valid definition whose
    audience references exist in `workspace` and form no cycle."""
    defs = definitions_of(workspace.pk)
    try:
        definition.validate(value, defs.get, own_key=own_key)
    except definition.DefinitionError as exc:
        raise ValidationError({"definition": str(exc)}, code="invalid_definition") from None


def _segment(workspace_id: int, segment_id: Any, *, own_pk: int | None = None) -> int:
    """A manual audience's segment id, checked: a whole number, not another audience's."""
    try:
        value = int(definition.segment_key(segment_id, "segment_id"))
    except definition.DefinitionError as exc:
        raise ValidationError({"segment_id": exc.message}) from None
    taken = Audience.objects.filter(workspace_id=workspace_id, segment_id=value).exclude(pk=own_pk).first()
    if taken is not None:
        raise ValidationError({"segment_id": f"Audience \"{taken.name}\" already shows segment {value}."})
    return value


def create_audience(workspace: Workspace, *, name: str, key: str, definition: Any = None,
                    enabled: bool = True, kind: str = Audience.Kind.RULES, segment_id: Any = None) -> Audience:
    """A rules audience from `definition`, or (kind "manual") the manual segment `segment_id` of the
    Track API. Raises ValidationError naming the field."""
    if kind == Audience.Kind.MANUAL:
        segment_id = _segment(workspace.pk, segment_id)
        definition = {"segment": segment_id}
    elif kind == Audience.Kind.RULES:
        if segment_id is not None:
            raise ValidationError({"segment_id": "Only manual audiences have a segment id."})
        if definition is None:
            raise ValidationError({"definition": "This field is required."})
        validate_definition(workspace, definition, own_key=key)
    else:
        raise ValidationError({"kind": f"Expected \"rules\" or \"manual\", got {kind!r}."})
    if Audience.objects.filter(workspace=workspace, key=key).exists():
        raise ValidationError({"key": f"An audience with key \"{key}\" already exists in this workspace."})
    audience = Audience.objects.create(workspace=workspace, name=name, key=key, definition=definition,
                                       enabled=enabled, status=Audience.Status.COMPUTING, kind=kind,
                                       segment_id=segment_id)
    people.forget_definitions(workspace.pk)
    _schedule_compute(audience)
    return audience


def update_audience(audience: Audience, changes: Mapping[str, Any]) -> Audience:
    """Apply `changes` (name, key, definition, enabled). A changed definition, key or re-enabling starts a
    background recomputation of this audience and of the audiences that reference it."""
    recompute = False
    old_key = audience.key
    if "key" in changes and changes["key"] != audience.key:
        if Audience.objects.filter(workspace_id=audience.workspace_id, key=changes["key"]).exists():
            raise ValidationError({"key": f"An audience with key \"{changes['key']}\" already exists."})
        if _dependents(audience.workspace_id, old_key):
            raise ValidationError({"key": "Other audiences reference this key; change them first."})
        audience.key = changes["key"]
    if "kind" in changes and changes["kind"] not in (None, audience.kind):
        raise ValidationError({"kind": "An audience's kind cannot change; create another audience."})
    if audience.kind == Audience.Kind.MANUAL:
        if "definition" in changes and changes["definition"] not in (None, audience.definition):
            raise ValidationError({"definition": "A manual audience has no definition: its members are the "
                                                 "people its segment's add_customers / remove_customers calls name."})
        changes = {k: v for k, v in changes.items() if k != "definition"}
        if changes.get("segment_id") is not None:
            segment = _segment(audience.workspace_id, changes["segment_id"], own_pk=audience.pk)
            if segment != audience.segment_id:
                audience.segment_id = segment
                changes = {**changes, "definition": {"segment": segment}}
    elif changes.get("segment_id") is not None:
        raise ValidationError({"segment_id": "Only manual audiences have a segment id."})
    if "definition" in changes and changes["definition"] != audience.definition:
        if audience.kind == Audience.Kind.RULES:
            validate_definition(audience.workspace, changes["definition"], own_key=audience.key)
        audience.definition = changes["definition"]
        recompute = True
    if "name" in changes:
        audience.name = changes["name"]
    if "enabled" in changes and changes["enabled"] != audience.enabled:
        audience.enabled = changes["enabled"]
        recompute = recompute or audience.enabled
    if recompute:
        audience.generation = F("generation") + 1
        audience.status = Audience.Status.COMPUTING
        audience.progress_done = 0
    audience.save()
    audience.refresh_from_db()
    people.forget_definitions(audience.workspace_id)
    if recompute:
        _schedule_compute(audience)
        for dependent in _dependents(audience.workspace_id, audience.key):
            Audience.objects.filter(pk=dependent.pk).update(generation=F("generation") + 1,
                                                           status=Audience.Status.COMPUTING, progress_done=0)
            dependent.refresh_from_db()
            _schedule_compute(dependent)
    return audience


def delete_audience(audience: Audience) -> None:
    if refs := _dependents(audience.workspace_id, audience.key):
        names = ", ".join(f"\"{a.name}\"" for a in refs)
        raise ValidationError(f"Audiences {names} use this audience; change them first.", code="in_use")
    audience.delete()
    people.forget_definitions(audience.workspace_id)


def _dependents(workspace_id: int, key: str) -> list[Audience]:
    """Audiences whose definition references `key`, directly or through others."""
    audiences = list(Audience.objects.filter(workspace_id=workspace_id))
    defs = definitions_of(workspace_id, audiences)
    return [a for a in audiences if a.key != key and key in definition.affected_by(a.definition, defs).audiences]


def _schedule_compute(audience: Audience) -> None:
    from . import tasks

    audience_id, generation = audience.pk, audience.generation
    transaction.on_commit(lambda: tasks.compute_audience.delay(audience_id, generation))


# --- Membership ------------------------------------------------------------------------------------------


def evaluate_people(workspace_id: int, person_ids: Iterable[int], *, now: datetime | None = None,
                    audience_ids: Iterable[int] | None = None, event_names: Iterable[str] | None = None,
                    trait_keys: Iterable[str] | None = None, leaving: Iterable[int] = (),
                    created_ids: Iterable[int] = (), states: Mapping[int, Any] | None = None,
                    per_person: Mapping[int, tuple[set[str], set[str]]] | None = None) -> Changes:
    """Re-evaluate the workspace's enabled audiences for these people and record what changed.

    With `event_names` / `trait_keys`, only audiences whose conditions (or referenced audiences' conditions)
    name one of them are evaluated, except for the people in `created_ids` (new to the profile store:
    every audience, so those who match by absence alone enter now); with `audience_ids`, only those.
    `states` (person id → profiles.state.PersonState, as the store just wrote them) saves loading them;
    `per_person` (person id → (event names, trait keys) that changed for that person) narrows each
    audience to the people whose own changes it names.
    People the profile store no longer has (deleted), and those in `leaving` (merged into another), leave
    every audience evaluated."""
    now = now or clock.now()
    ids = sorted(set(person_ids))
    changes = Changes()
    if not ids:
        return changes
    audiences = list(Audience.objects.filter(workspace_id=workspace_id))
    defs = definitions_of(workspace_id, audiences)
    wanted = set(audience_ids) if audience_ids is not None else None
    leaving = set(leaving)
    names = set(event_names) if event_names is not None else None
    keys = set(trait_keys) if trait_keys is not None else None
    created = sorted(set(created_ids) & set(ids))
    targets: list[tuple[Audience, list[int]]] = []
    windowed: dict[int, bool] = {}
    for a in audiences:
        if not a.enabled or (wanted is not None and a.pk not in wanted):
            continue
        aff = _affected(a, defs)
        who = ids
        if (names is not None or keys is not None) and not (
                (names and aff.events & names) or (keys and aff.traits & keys)):
            who = created
        elif per_person is not None:
            created_set = set(created)
            who = [pid for pid in ids if pid in created_set or pid not in per_person
                   or aff.events & per_person[pid][0] or aff.traits & per_person[pid][1]]
        if not who:
            continue
        windowed[a.pk] = aff.windowed
        targets.append((a, who))
    if not targets:
        return changes
    given = states or {}
    missing = [pid for pid in ids if pid not in given]
    loaded = {**given, **people.states(workspace_id, missing)} if missing else given
    target_ids = [a.pk for a, _ in targets]
    members = {(aid, pid): (mid, due) for mid, aid, pid, due in Membership.objects.filter(
        audience_id__in=target_ids, person_id__in=ids).values_list("id", "audience_id", "person_id", "due_at")}
    dues = {(aid, pid): (did, due) for did, aid, pid, due in DueCheck.objects.filter(
        audience_id__in=target_ids, person_id__in=ids).values_list("id", "audience_id", "person_id", "due_at")}

    new_members: list[Membership] = []
    gone_members: list[int] = []
    due_updates: list[Membership] = []
    new_dues: list[DueCheck] = []
    gone_dues: list[int] = []
    log_rows: list[MembershipEvent] = []
    for a, who in targets:
        timed = windowed[a.pk]
        for pid in who:
            state = None if pid in leaving else loaded.get(pid)
            if state is None:
                inside, due = False, None
            else:
                inside = definition.evaluate(a.definition, state, now, defs)
                due = definition.next_change_at(a.definition, state, now, defs) if timed else None
            changes.evaluated += 1
            member = members.get((a.pk, pid))
            pending = dues.get((a.pk, pid))
            if inside and member is None:
                new_members.append(Membership(audience_id=a.pk, person_id=pid, entered_at=now, due_at=due))
                log_rows.append(MembershipEvent(audience_id=a.pk, person_id=pid, kind="enter", at=now))
                changes.entered[a.pk].append(pid)
            elif not inside and member is not None:
                gone_members.append(member[0])
                log_rows.append(MembershipEvent(audience_id=a.pk, person_id=pid, kind="exit", at=now))
                changes.exited[a.pk].append(pid)
            elif inside and member is not None and member[1] != due:
                due_updates.append(Membership(id=member[0], due_at=due))
            # Non-members that time alone could bring in wait in DueCheck.
            if not inside and due is not None:
                if pending is None or pending[1] != due:
                    new_dues.append(DueCheck(audience_id=a.pk, person_id=pid, due_at=due))
            elif pending is not None:
                gone_dues.append(pending[0])

    with transaction.atomic():
        if new_members:
            _insert(Membership, ["audience_id", "person_id", "entered_at", "due_at"], new_members,
                    "ON CONFLICT DO NOTHING", ignore_conflicts=True)
        if gone_members:
            Membership.objects.filter(id__in=gone_members).delete()
        if due_updates:
            _update_due(due_updates)
        if gone_dues:
            DueCheck.objects.filter(id__in=gone_dues).delete()
        if new_dues:
            _insert(DueCheck, ["audience_id", "person_id", "due_at"], new_dues,
                    "ON CONFLICT (audience_id, person_id) DO UPDATE SET due_at = excluded.due_at",
                    update_conflicts=True, unique_fields=["audience", "person_id"], update_fields=["due_at"])
        if log_rows:
            _insert(MembershipEvent, ["audience_id", "person_id", "kind", "at"], log_rows, "")
            _count(changes, now)
    return changes


_SQL_TYPES = {"audience_id": "bigint", "person_id": "bigint", "entered_at": "timestamptz", "due_at": "timestamptz",
              "at": "timestamptz", "kind": "text"}


def _insert(model: Any, columns: list[str], rows: list[Any], conflict: str, **bulk: Any) -> None:
    """Insert `rows` (unsaved model instances) in one statement: on PostgreSQL the columns are sent as
    arrays and unnested (bulk_create prepares every value of every row in Python first, which costs
    more than the evaluation itself); elsewhere bulk_create(**bulk)."""
    if connection.vendor != "postgresql":
        model.objects.bulk_create(rows, **bulk)
        return
    arrays = ", ".join(f"%s::{_SQL_TYPES[c]}[]" for c in columns)
    with connection.cursor() as cursor:
        names = ", ".join(f'"{c}"' for c in columns)
        cursor.execute(f"INSERT INTO {model._meta.db_table} ({names}) SELECT * FROM unnest({arrays}) {conflict}",
                       [[getattr(r, c) for r in rows] for c in columns])


def _update_due(rows: list[Membership]) -> None:
    """Set each membership's due_at in one statement (bulk_update's CASE per row costs more than the
    evaluation itself)."""
    if connection.vendor != "postgresql":
        Membership.objects.bulk_update(rows, ["due_at"])
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Membership._meta.db_table} AS m SET due_at = v.due FROM (SELECT unnest(%s::bigint[]) AS id, "
            "unnest(%s::timestamptz[]) AS due) AS v WHERE m.id = v.id",
            [[r.id for r in rows], [r.due_at for r in rows]])


_affected_cache: dict[tuple[int, str], definition.Affected] = {}


def _affected(audience: Audience, defs: Mapping[str, Any]) -> definition.Affected:
    """definition.affected_by, kept per audience and definition text (the same on every chunk)."""
    import json

    key = (audience.pk, json.dumps([audience.definition, sorted(
        (k, v) for k, v in defs.items() if k in definition.references(audience.definition))], sort_keys=True,
        default=str))
    found = _affected_cache.get(key)
    if found is None:
        if len(_affected_cache) > 5000:
            _affected_cache.clear()
        found = _affected_cache[key] = definition.affected_by(audience.definition, defs)
    return found


def _count(changes: Changes, now: datetime) -> None:
    """Sizes and the hourly history of the audiences that changed."""
    changed = set(changes.entered) | set(changes.exited)
    for aid in changed:
        delta = len(changes.entered.get(aid, ())) - len(changes.exited.get(aid, ()))
        if delta:
            Audience.objects.filter(pk=aid).update(size=F("size") + delta)
    sizes = dict(Audience.objects.filter(pk__in=changed).values_list("id", "size"))
    hour = now.replace(minute=0, second=0, microsecond=0)
    table = HourlyCount._meta.db_table
    rows = [(aid, hour, len(changes.entered.get(aid, ())), len(changes.exited.get(aid, ())), max(sizes[aid], 0))
            for aid in sorted(changed)]
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} (audience_id, hour, entered, exited, size) VALUES (%s, %s, %s, %s, %s) "
            f"ON CONFLICT (audience_id, hour) DO UPDATE SET entered = {table}.entered + excluded.entered, "
            f"exited = {table}.exited + excluded.exited, size = excluded.size", rows)


def forget_people(workspace_id: int, person_ids: Iterable[int], *, now: datetime | None = None) -> Changes:
    """People merged into others (or deleted): they leave every audience, with the exit recorded."""
    ids = list(person_ids)
    aud_ids = set(Membership.objects.filter(audience__workspace_id=workspace_id, person_id__in=ids)
                  .values_list("audience_id", flat=True))
    DueCheck.objects.filter(audience__workspace_id=workspace_id, person_id__in=ids).delete()
    if not aud_ids:
        return Changes()
    return evaluate_people(workspace_id, ids, now=now, audience_ids=aud_ids, leaving=ids)


def sweep_due(*, now: datetime | None = None, limit: int = 5000) -> Changes:
    """Re-evaluate only the (audience, person) pairs whose due time has passed: exits (and entries) that
    time alone causes. Takes at most `limit` of each kind per call; the next call continues."""
    now = now or clock.now()
    groups: dict[tuple[int, int], set[int]] = defaultdict(set)
    for model in (Membership, DueCheck):
        for aid, wid, pid in (model.objects.filter(due_at__lte=now, audience__enabled=True).order_by("due_at")
                              .values_list("audience_id", "audience__workspace_id", "person_id")[:limit]):
            groups[(wid, aid)].add(pid)
    total = Changes()
    for (wid, aid), pids in groups.items():
        done = evaluate_people(wid, pids, now=now, audience_ids={aid})
        total.evaluated += done.evaluated
        for k, v in done.entered.items():
            total.entered[k].extend(v)
        for k, v in done.exited.items():
            total.exited[k].extend(v)
    return total


def compute(audience_id: int, generation: int, *, batch: int = COMPUTE_BATCH, now: datetime | None = None) -> bool:
    """Evaluate the audience over every person of its workspace, in batches, saving progress after each.
    Stops (False) when the audience was edited again or deleted meanwhile (a newer computation runs)."""
    audience = Audience.objects.filter(pk=audience_id, generation=generation).first()
    if audience is None:
        return False
    workspace_id = audience.workspace_id
    total = people.count(workspace_id)
    Audience.objects.filter(pk=audience_id, generation=generation).update(
        status=Audience.Status.COMPUTING, progress_done=0, progress_total=total)
    done, after = 0, 0
    while True:
        ids = people.person_ids_after(workspace_id, after, batch)
        if not ids:
            break
        if not Audience.objects.filter(pk=audience_id, generation=generation).exists():
            return False
        evaluate_people(workspace_id, ids, now=now, audience_ids={audience_id})
        done += len(ids)
        after = ids[-1]
        Audience.objects.filter(pk=audience_id, generation=generation).update(
            progress_done=done, progress_total=max(total, done))
    # Members whose person no longer exists (deleted while no signal reached us) leave too.
    stale = set(Membership.objects.filter(audience_id=audience_id).values_list("person_id", flat=True)) \
        - set(people.existing(workspace_id, Membership.objects.filter(audience_id=audience_id)
                              .values_list("person_id", flat=True)))
    if stale:
        evaluate_people(workspace_id, stale, now=now, audience_ids={audience_id})
    # The size counter follows enters and exits; a full pass is the moment to make it exact again.
    size = Membership.objects.filter(audience_id=audience_id).count()
    return bool(Audience.objects.filter(pk=audience_id, generation=generation).update(
        status=Audience.Status.READY, progress_done=done, size=size, computed_at=now or clock.now()))


# --- Read helpers ----------------------------------------------------------------------------------------


def estimate(workspace: Workspace, value: Any, *, sample: int = ESTIMATE_SAMPLE,
             now: datetime | None = None) -> dict[str, int]:
    """How many people a (valid) definition would hold, from the most recent `sample` people."""
    validate_definition(workspace, value, own_key=None)
    now = now or clock.now()
    defs = definitions_of(workspace.pk)
    ids = people.recent_person_ids(workspace.pk, sample)
    states = people.states(workspace.pk, ids)
    matched = sum(1 for s in states.values() if definition.evaluate(value, s, now, defs))
    total = people.count(workspace.pk) if len(ids) >= sample else len(ids)
    estimate = round(matched * total / len(ids)) if ids else 0
    return {"estimate": estimate, "matched": matched, "sampled": len(ids), "total": total}


def vocabulary(workspace: Workspace, *, sample: int = ESTIMATE_SAMPLE) -> dict[str, list[str]]:
    """Event names and trait keys seen among the workspace's recent people (the builder's pickers)."""
    states = people.states(workspace.pk, people.recent_person_ids(workspace.pk, sample))
    events: set[str] = set(people.event_names(workspace.pk) or ())
    traits: set[str] = set()
    for s in states.values():
        events.update(s.events)
        traits.update(s.traits)
    return {"events": sorted(events), "traits": sorted(traits)}
