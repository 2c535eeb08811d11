"""Track API request bodies → Pipelines messages, validated on the way.

v1 functions take the path identifier and the parsed body; `v2_operation` takes one v2 entity (the
body of /api/v2/entity or one item of /api/v2/batch). All of them return the list of messages the call
becomes, or raise TrackError.
"""

from __future__ import annotations

from typing import Any

from . import messages as m
from . import validation as v
from .errors import TrackError
from .messages import CallContext, ObjectRef, Person

# Keys of a v1 identify body (and of v2 identify attributes) that steer the call instead of being traits.
_IDENTIFY_CONTROL_KEYS = ("anonymous_id", "_timestamp", "_update", "cio_relationships")


def person_from_path(raw: str) -> Person:
    """The identifier in /customers/{identifier}: "cio_…" is a cio_id, an email-shaped value an email,
    anything else an id (Customer.io decides by shape the same way)."""
    value = v.identifier(raw, "identifier")
    if value.startswith("cio_") and len(value) > 4:
        return Person("cio_id", value[4:])
    if v.is_email_shaped(value):
        return Person("email", value)
    return Person("id", value)


def person_from_identifiers(value: Any, field: str = "identifiers", *, allow_phone: bool = True) -> Person:
    """A v2 `identifiers` object (or merge primary/secondary): exactly one of id, email, phone, cio_id."""
    ids = v.require_object(value, field)
    kinds = ("id", "email", "phone", "cio_id") if allow_phone else ("id", "email", "cio_id")
    present = [k for k in kinds if ids.get(k) not in (None, "")]
    unknown = [k for k in ids if k not in kinds]
    if unknown:
        raise TrackError(f"{field} has unknown key {unknown[0]!r} (use one of: {', '.join(kinds)})",
                         field=f"{field}.{unknown[0]}")
    if len(present) != 1:
        raise TrackError(f"{field} must contain exactly one of: {', '.join(kinds)}", field=field,
                         reason="required" if not present else "invalid")
    kind = present[0]
    raw = v.email(ids[kind], f"{field}.{kind}") if kind == "email" else v.identifier(ids[kind], f"{field}.{kind}")
    return Person(kind, raw)


def object_from_identifiers(value: Any, field: str = "identifiers") -> ObjectRef:
    """Object identifiers: {object_type_id, object_id} or {cio_object_id}."""
    ids = v.require_object(value, field)
    if ids.get("cio_object_id") not in (None, ""):
        return ObjectRef(v.identifier(ids["cio_object_id"], f"{field}.cio_object_id"), cio_object_id=True)
    if ids.get("object_id") in (None, "") or ids.get("object_type_id") in (None, ""):
        raise TrackError(f"{field} must contain object_type_id and object_id, or cio_object_id",
                         field=field, reason="required")
    return ObjectRef(
        object_id=v.identifier(ids["object_id"], f"{field}.object_id"),
        object_type_id=v.identifier(ids["object_type_id"], f"{field}.object_type_id"),
    )


def _relationship_list(value: Any, field: str) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise TrackError(f"{field} must be an array", field=field)
    for i, item in enumerate(value):
        v.require_object(item, f"{field}[{i}]")
    return value


def _person_relationships(call: CallContext, person: Person, rels: list[dict[str, Any]], field: str,
                          *, delete: bool) -> list[dict[str, Any]]:
    """A person's relationships to objects: one group (or "Relationship Deleted") per object."""
    out = []
    for i, rel in enumerate(rels):
        obj = object_from_identifiers(rel.get("identifiers"), f"{field}[{i}].identifiers")
        if delete:
            out.append(m.relationship_deleted(call, person, obj))
        else:
            attrs = v.require_object(rel.get("relationship_attributes"), f"{field}[{i}].relationship_attributes",
                                     required=False)
            out.append(m.group(call, obj, person=person, relationship_attributes=attrs or None))
    return out


def _identify(call: CallContext, person: Person, body: dict[str, Any], field: str,
              *, timestamp: Any = None, relationships: Any = None,
              relationships_field: str = "cio_relationships") -> list[dict[str, Any]]:
    """identify (+ one group per related object). `body` holds the attributes and control keys."""
    attrs = v.attributes({k: val for k, val in body.items() if k not in _IDENTIFY_CONTROL_KEYS}, field)
    if person.kind != "id" and attrs.get("id") not in (None, ""):
        v.identifier(attrs["id"], f"{field}.id")
    if attrs.get("email") not in (None, ""):
        v.email(attrs["email"], f"{field}.email")
    anonymous_id = body.get("anonymous_id")
    if anonymous_id not in (None, ""):
        anonymous_id = v.identifier(anonymous_id, f"{field}.anonymous_id")
    else:
        anonymous_id = None
    moment = v.unix_timestamp(timestamp if timestamp is not None else body.get("_timestamp"),
                              "timestamp" if timestamp is not None else f"{field}._timestamp")
    update_only = bool(v.boolean(body.get("_update"), f"{field}._update"))
    out = [m.identify(call, person, attrs, timestamp=moment, anonymous_id=anonymous_id, update_only=update_only)]

    if relationships is None:
        return out
    if isinstance(relationships, dict):  # v1: {action, relationships: [...]}
        action = v.choice(relationships.get("action"), f"{relationships_field}.action",
                          ("add_relationships", "delete_relationships"), default="add_relationships")
        rels = _relationship_list(relationships.get("relationships"), f"{relationships_field}.relationships")
        out += _person_relationships(call, person, rels, f"{relationships_field}.relationships",
                                     delete=action == "delete_relationships")
    else:  # v2: a plain array of relationships to add
        rels = _relationship_list(relationships, relationships_field)
        out += _person_relationships(call, person, rels, relationships_field, delete=False)
    return out


# --- v1 ------------------------------------------------------------------------------------------------


def v1_identify(call: CallContext, identifier: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    person = person_from_path(identifier)
    relationships = body.get("cio_relationships")
    if relationships is not None:
        v.require_object(relationships, "cio_relationships")
    return _identify(call, person, body, "body", relationships=relationships)


def v1_person_event(call: CallContext, identifier: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    person = person_from_path(identifier)
    return [_v1_event(call, person, body)]


def v1_anonymous_event(call: CallContext, body: dict[str, Any]) -> list[dict[str, Any]]:
    return [_v1_event(call, None, body)]


def _v1_event(call: CallContext, person: Person | None, body: dict[str, Any]) -> dict[str, Any]:
    kind = v.choice(body.get("type"), "type", ("event", "page", "screen"), default="event")
    anonymous_id = body.get("anonymous_id")
    anonymous_id = v.identifier(anonymous_id, "anonymous_id") if anonymous_id not in (None, "") else None
    return m.person_event(
        call, person, "track" if kind == "event" else kind, v.event_name(body.get("name")),
        v.event_data(body.get("data")), event_id=v.ulid(body.get("id")),
        timestamp=v.unix_timestamp(body.get("timestamp"), "timestamp"), anonymous_id=anonymous_id,
    )


def v1_device_put(call: CallContext, identifier: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    person = person_from_path(identifier)
    device = v.require_object(body.get("device"), "device")
    return [_device(call, person, device, "device", token_key="id")]


def _device(call: CallContext, person: Person, device: dict[str, Any], field: str, *, token_key: str) -> dict[str, Any]:
    token = v.identifier(device.get(token_key), f"{field}.{token_key}")
    platform = v.choice(device.get("platform"), f"{field}.platform", v.DEVICE_PLATFORMS)
    last_used = device.get("last_used")
    v.unix_timestamp(last_used, f"{field}.last_used")
    attrs = v.attributes(device.get("attributes"), f"{field}.attributes")
    return m.device_updated(call, person, token, platform, last_used=last_used, attributes=attrs)


def v1_device_delete(call: CallContext, identifier: str, device_id: str) -> list[dict[str, Any]]:
    person = person_from_path(identifier)
    return [m.device_deleted(call, person, v.identifier(device_id, "device_id"))]


def v1_semantic(call: CallContext, identifier: str, event: str) -> list[dict[str, Any]]:
    return [m.semantic(call, person_from_path(identifier), event)]


def v1_merge(call: CallContext, body: dict[str, Any]) -> list[dict[str, Any]]:
    primary = person_from_identifiers(body.get("primary"), "primary", allow_phone=False)
    secondary = person_from_identifiers(body.get("secondary"), "secondary", allow_phone=False)
    if primary == secondary:
        raise TrackError("primary and secondary must be different people", field="secondary")
    return [m.merge(call, primary, secondary)]


# --- v2 ------------------------------------------------------------------------------------------------

_PERSON_ACTIONS = ("identify", "delete", "event", "screen", "page", "add_relationships", "delete_relationships",
                   "add_device", "delete_device", "merge", "suppress", "unsuppress")
_OBJECT_ACTIONS = ("identify", "identify_anonymous", "delete", "add_relationships", "delete_relationships")


def v2_operation(call: CallContext, op: Any) -> list[dict[str, Any]]:
    """One v2 entity operation (person or object) → its messages."""
    op = v.require_object(op, "body")
    kind = op.get("type")
    if kind == "person":
        return _v2_person(call, op)
    if kind == "object":
        return _v2_object(call, op)
    if kind == "delivery":
        raise TrackError("delivery operations are not accepted here: this server takes people and object data",
                         field="type", reason="unsupported")
    if kind in (None, ""):
        raise TrackError("type is required", field="type", reason="required")
    raise TrackError("type must be one of: person, object", field="type")


def _v2_person(call: CallContext, op: dict[str, Any]) -> list[dict[str, Any]]:
    action = op.get("action")
    if action in (None, ""):
        raise TrackError("action is required", field="action", reason="required")
    if action not in _PERSON_ACTIONS:
        raise TrackError(f"action must be one of: {', '.join(_PERSON_ACTIONS)}", field="action")
    if action == "merge":
        return v1_merge(call, op)
    person = person_from_identifiers(op.get("identifiers"))
    if action == "identify":
        attrs = v.require_object(op.get("attributes"), "attributes", required=False)
        return _identify(call, person, attrs, "attributes", timestamp=op.get("timestamp"),
                         relationships=op.get("cio_relationships"))
    if action in ("event", "page", "screen"):
        return [m.person_event(
            call, person, "track" if action == "event" else action, v.event_name(op.get("name")),
            v.event_data(op.get("attributes"), "attributes"), event_id=v.ulid(op.get("id")),
            timestamp=v.unix_timestamp(op.get("timestamp"), "timestamp"),
        )]
    if action in ("add_relationships", "delete_relationships"):
        rels = _relationship_list(op.get("cio_relationships"), "cio_relationships")
        return _person_relationships(call, person, rels, "cio_relationships",
                                     delete=action == "delete_relationships")
    if action == "add_device":
        return [_device(call, person, v.require_object(op.get("device"), "device"), "device", token_key="token")]
    if action == "delete_device":
        device = v.require_object(op.get("device"), "device")
        return [m.device_deleted(call, person, v.identifier(device.get("token"), "device.token"))]
    event = {"delete": m.USER_DELETED, "suppress": m.USER_SUPPRESSED, "unsuppress": m.USER_UNSUPPRESSED}[action]
    return [m.semantic(call, person, event)]


def _v2_object(call: CallContext, op: dict[str, Any]) -> list[dict[str, Any]]:
    action = op.get("action")
    if action in (None, ""):
        raise TrackError("action is required", field="action", reason="required")
    if action not in _OBJECT_ACTIONS:
        raise TrackError(f"action must be one of: {', '.join(_OBJECT_ACTIONS)}", field="action")
    obj = object_from_identifiers(op.get("identifiers"))
    if action == "delete":
        return [m.object_deleted(call, obj)]
    rels = op.get("cio_relationships")
    rels = _relationship_list(rels, "cio_relationships") if rels is not None else []
    if action in ("add_relationships", "delete_relationships") and not rels:
        raise TrackError("cio_relationships must list at least one person", field="cio_relationships",
                         reason="required")
    attrs = v.attributes(op.get("attributes"), "attributes") if action.startswith("identify") else {}

    out: list[dict[str, Any]] = []
    for i, rel in enumerate(rels):
        field = f"cio_relationships[{i}]"
        rel_attrs = v.require_object(rel.get("relationship_attributes"), f"{field}.relationship_attributes",
                                     required=False) or None
        if action == "identify_anonymous":
            ids = v.require_object(rel.get("identifiers"), f"{field}.identifiers")
            anonymous_id = v.identifier(ids.get("anonymous_id"), f"{field}.identifiers.anonymous_id")
            out.append(m.group(call, obj, anonymous_id=anonymous_id, traits=attrs,
                               relationship_attributes=rel_attrs))
            continue
        person = person_from_identifiers(rel.get("identifiers"), f"{field}.identifiers", allow_phone=False)
        if action == "delete_relationships":
            out.append(m.relationship_deleted(call, person, obj))
        else:
            out.append(m.group(call, obj, person=person, traits=attrs, relationship_attributes=rel_attrs))
    if not out:  # an object identified with nobody related: a group call with only the object's traits
        out.append(m.group(call, obj, traits=attrs))
    return out


# --- v1 metrics, manual segments, forms ------------------------------------------------------------------

def v1_metric(call: CallContext, body: dict[str, Any]) -> list[dict[str, Any]]:
    """POST /api/v1/metrics: `{delivery_id, metric, timestamp?, recipient?, reason?, href?}`."""
    delivery_id = v.string(body.get("delivery_id"), "delivery_id", required=True) or ""
    if not delivery_id.strip():
        raise TrackError("delivery_id must not be blank", field="delivery_id")
    metric = v.choice(v.string(body.get("metric"), "metric", required=True), "metric", v.DELIVERY_METRICS)
    recipient = body.get("recipient")
    if recipient is not None and (isinstance(recipient, bool) or not isinstance(recipient, (str, int))):
        raise TrackError("recipient must be a string (a phone number may be an integer)", field="recipient")
    return [m.delivery_metric(
        call, delivery_id, metric, recipient=recipient, reason=v.string(body.get("reason"), "reason"),
        href=v.string(body.get("href"), "href"), timestamp=v.unix_seconds(body.get("timestamp"), "timestamp"),
    )]


def v1_push_event(call: CallContext, body: dict[str, Any]) -> list[dict[str, Any]]:
    """POST /api/v1/push/events (deprecated by Customer.io, still sent by clients):
    `{delivery_id, event, device_id, timestamp?}`. The file marks no field required; without a delivery
    id and a metric the report means nothing, so those two are."""
    delivery_id = v.string(body.get("delivery_id"), "delivery_id", required=True) or ""
    if not delivery_id.strip():
        raise TrackError("delivery_id must not be blank", field="delivery_id")
    metric = v.choice(v.string(body.get("event"), "event", required=True), "event", v.PUSH_METRICS)
    device_id = v.string(body.get("device_id"), "device_id")
    return [m.delivery_metric(call, delivery_id, metric, device_token=device_id or None,
                              timestamp=v.unix_seconds(body.get("timestamp"), "timestamp"))]


def v1_segment(call: CallContext, raw_segment_id: str, id_type: str | None, body: dict[str, Any], *,
               added: bool) -> list[dict[str, Any]]:
    """POST /api/v1/segments/{segment_id}/add_customers | remove_customers?id_type=…: `{ids: [...]}`
    (1..1000 strings) → one event per person. Like Customer.io, values that do not fit `id_type` (an
    email-less value for id_type=email, an empty string) are ignored."""
    segment = v.segment_id(raw_segment_id)
    kind = v.choice(id_type, "id_type", v.SEGMENT_ID_TYPES, default="id")
    ids = body.get("ids")
    if ids is None:
        raise TrackError("ids is required", field="ids", reason="required")
    if not isinstance(ids, list):
        raise TrackError("ids must be an array of strings", field="ids")
    if not 1 <= len(ids) <= v.MAX_SEGMENT_IDS:
        raise TrackError(f"ids must list 1 to {v.MAX_SEGMENT_IDS} people", field="ids",
                         reason="required" if not ids else "too_large")
    out = []
    for i, value in enumerate(ids):
        if not isinstance(value, str):
            raise TrackError(f"ids[{i}] must be a string", field=f"ids[{i}]")
        if not value.strip() or (kind == "email" and not v.is_email_shaped(value)):
            continue
        person = Person(kind, v.identifier(value, f"ids[{i}]"))
        out.append(m.segment_membership(call, person, segment, added=added))
    return out


# Keys Customer.io reserves in form data and ignores.
_FORM_RESERVED = ("form_id", "form_name", "form_type", "form_url", "form_url_param")


def v1_form(call: CallContext, form_id: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """POST /api/v1/forms/{form_id}/submit: `{data: {email | id, <field>: "<text>", ...}}`. The file's
    `oneOf` (by email / by id) is read as `anyOf`: both may be given (id is then the userId). Every field
    value is a string; the identifier (email or id) is required and not null."""
    form = v.identifier(form_id, "form_id")
    data = v.require_object(body.get("data"), "data")
    for name, value in data.items():
        if name in ("email", "id") and value is None:
            continue
        if not isinstance(value, str):
            raise TrackError(f"data.{name[:40]} must be a string (form values are text)", field=f"data.{name[:40]}")
    person_id = data.get("id")
    email = data.get("email")
    if person_id in (None, "") and email in (None, ""):
        raise TrackError("data must contain the submitter's email or id", field="data", reason="required")
    person_id = v.identifier(person_id, "data.id") if person_id not in (None, "") else None
    email = v.email(email, "data.email") if email not in (None, "") else None
    fields = v.event_data({k: val for k, val in data.items() if k not in _FORM_RESERVED}, "data")
    return [m.form_submitted(call, form, fields, person_id=person_id, email=email)]
