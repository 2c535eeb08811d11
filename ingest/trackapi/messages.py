"""Pipelines-format events built from Track API calls.

Every builder returns complete normalized messages (the shape the /v1 ingest stores): type, messageId,
userId and/or anonymousId, traits / properties / event / name / groupId / previousId, context (library,
ip, userAgent), timestamp, originalTimestamp, receivedAt. The mapping choices are documented in
the README ("Track API sources"); change both together.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

LIBRARY_NAME = "journeys-track-api"

USER_DELETED = "User Deleted"
USER_SUPPRESSED = "User Suppressed"
USER_UNSUPPRESSED = "User Unsuppressed"
DEVICE_UPDATED = "Device Created or Updated"
DEVICE_DELETED = "Device Deleted"
RELATIONSHIP_DELETED = "Relationship Deleted"
OBJECT_DELETED = "Object Deleted"
REPORT_DELIVERY_EVENT = "Report Delivery Event"
ADDED_TO_MANUAL_SEGMENT = "Added to Manual Segment"
REMOVED_FROM_MANUAL_SEGMENT = "Removed from Manual Segment"
FORM_SUBMITTED = "Form Submitted"


def iso(moment: datetime) -> str:
    """ISO-8601 in UTC with millisecond precision and a Z suffix."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Person:
    """Who a call is about: the kind of identifier Customer.io was given and its value."""

    kind: str  # "id" | "email" | "phone" | "cio_id"
    value: str

    @property
    def user_id(self) -> str:
        """The Pipelines userId: the id; an email lower-cased (Customer.io matches emails without case);
        the phone number; or "cio_<cio_id>" (the form Customer.io's own destinations resolve back)."""
        if self.kind == "email":
            return self.value.lower()
        if self.kind == "cio_id":
            return f"cio_{self.value}"
        return self.value

    def context(self) -> dict[str, Any]:
        """What the identifier adds to context on calls that carry no traits."""
        if self.kind == "cio_id":
            return {"cio_id": self.value}
        if self.kind in ("email", "phone"):
            return {"traits": {self.kind: self.value}}
        return {}


@dataclass(frozen=True)
class ObjectRef:
    """An object (Pipelines group): by type and id, or by Customer.io's cio_object_id."""

    object_id: str
    object_type_id: str | None = None
    cio_object_id: bool = False

    def traits(self) -> dict[str, Any]:
        return {"object_type_id": self.object_type_id} if self.object_type_id is not None else {}

    def context(self) -> dict[str, Any]:
        return {"cio_object_id": self.object_id} if self.cio_object_id else {}

    def properties(self) -> dict[str, Any]:
        if self.cio_object_id:
            return {"cio_object_id": self.object_id}
        return {"object_id": self.object_id, "object_type_id": self.object_type_id}


@dataclass
class CallContext:
    """What every message of one HTTP request shares."""

    received_at: datetime
    api_version: str  # "v1" | "v2"
    ip: str | None = None
    user_agent: str | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)

    def message(
        self,
        type_: str,
        *,
        timestamp: datetime | None = None,
        message_id: str | None = None,
        context: dict[str, Any] | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Build one message; fields whose value is None are left out."""
        moment = timestamp or self.received_at
        ctx: dict[str, Any] = {"library": {"name": LIBRARY_NAME, "version": self.api_version}}
        if self.ip:
            ctx["ip"] = self.ip
        if self.user_agent:
            ctx["userAgent"] = self.user_agent
        if context:
            ctx.update(context)
        msg: dict[str, Any] = {"type": type_, "messageId": message_id or str(uuid.uuid4())}
        msg.update({k: v for k, v in fields.items() if v is not None})
        msg["context"] = ctx
        msg["timestamp"] = iso(moment)
        msg["originalTimestamp"] = iso(moment)
        msg["receivedAt"] = iso(self.received_at)
        return msg


def identify(
    call: CallContext,
    person: Person,
    attributes: dict[str, Any],
    *,
    timestamp: datetime | None = None,
    anonymous_id: str | None = None,
    update_only: bool = False,
) -> dict[str, Any]:
    """identify: attributes → traits. An email identifier becomes traits.email (unless the attributes
    set one); an `id` attribute becomes the userId when the identifier itself is not an id, else an
    `email` attribute does when the identifier is a cio_id or phone."""
    traits = dict(attributes)
    if person.kind in ("email", "phone"):
        traits.setdefault(person.kind, person.value)
    user_id = person.user_id
    if person.kind != "id" and attributes.get("id") not in (None, ""):
        user_id = str(attributes["id"])
    elif person.kind in ("cio_id", "phone") and isinstance(attributes.get("email"), str) and attributes["email"]:
        user_id = attributes["email"].lower()
    context: dict[str, Any] = {"cio_id": person.value} if person.kind == "cio_id" else {}
    if update_only:
        context["cio_update_only"] = True
    return call.message(
        "identify", userId=user_id, anonymousId=anonymous_id, traits=traits, timestamp=timestamp,
        context=context,
    )


def person_event(
    call: CallContext,
    person: Person | None,
    kind: str,
    name: str,
    data: dict[str, Any],
    *,
    event_id: str | None = None,
    timestamp: datetime | None = None,
    anonymous_id: str | None = None,
) -> dict[str, Any]:
    """An event of a person (or anonymous): event → track, page → page, screen → screen.

    Anonymous events without an anonymous_id get the event's messageId as anonymousId, because a
    Pipelines event needs a userId or an anonymousId and this visitor is seen only once."""
    message_id = event_id or str(uuid.uuid4())
    user_id = person.user_id if person else None
    if user_id is None and not anonymous_id:
        anonymous_id = message_id
    context = person.context() if person else {}
    properties = dict(data)
    if kind == "track":
        return call.message(
            "track", message_id=message_id, userId=user_id, anonymousId=anonymous_id, event=name,
            properties=properties, timestamp=timestamp, context=context,
        )
    # Customer.io page events are named by their URL: keep it where Pipelines destinations look.
    if kind == "page" and _looks_like_url(name):
        properties.setdefault("url", name)
        context["page"] = {"url": properties["url"]}
    return call.message(
        kind, message_id=message_id, userId=user_id, anonymousId=anonymous_id, name=name,
        properties=properties, timestamp=timestamp, context=context,
    )


def _looks_like_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def semantic(
    call: CallContext, person: Person | None, event: str, properties: dict[str, Any] | None = None,
    *, context: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A Customer.io semantic track event (User Deleted, Object Deleted, ...)."""
    ctx = person.context() if person else {}
    ctx.update(context or {})
    return call.message(
        "track", userId=person.user_id if person else None, event=event, properties=properties or {},
        context=ctx,
    )


def device_updated(
    call: CallContext, person: Person, token: str, platform: str, *, last_used: int | None,
    attributes: dict[str, Any],
) -> dict[str, Any]:
    """Device add/update → track "Device Created or Updated"; the token is properties.device_id and
    context.device.token, the platform context.device.type; device attributes join the properties."""
    properties = {**attributes, "device_id": token, "platform": platform}
    if last_used is not None:
        properties["last_used"] = last_used
    context = {**person.context(), "device": {"token": token, "type": platform}}
    return call.message("track", userId=person.user_id, event=DEVICE_UPDATED, properties=properties,
                        context=context)


def device_deleted(call: CallContext, person: Person, token: str) -> dict[str, Any]:
    context = {**person.context(), "device": {"token": token}}
    return call.message("track", userId=person.user_id, event=DEVICE_DELETED,
                        properties={"device_id": token}, context=context)


def merge(call: CallContext, primary: Person, secondary: Person) -> dict[str, Any]:
    """merge_customers → alias: the primary survives (userId), the secondary is merged in (previousId)."""
    return call.message(
        "alias", userId=primary.user_id, previousId=secondary.user_id,
        context={"cio_merge": {"primary": {primary.kind: primary.value},
                               "secondary": {secondary.kind: secondary.value}}},
    )


def group(
    call: CallContext,
    obj: ObjectRef,
    *,
    person: Person | None = None,
    anonymous_id: str | None = None,
    traits: dict[str, Any] | None = None,
    relationship_attributes: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An object, and the person related to it when there is one → group (groupId = object id,
    traits.object_type_id = its type; relationship attributes in context.relationship_attributes)."""
    context = {**(person.context() if person else {}), **obj.context()}
    if relationship_attributes:
        context["relationship_attributes"] = relationship_attributes
    return call.message(
        "group", userId=person.user_id if person else None, anonymousId=anonymous_id,
        groupId=obj.object_id, traits={**(traits or {}), **obj.traits()}, context=context,
    )


def relationship_deleted(call: CallContext, person: Person, obj: ObjectRef) -> dict[str, Any]:
    return semantic(call, person, RELATIONSHIP_DELETED, obj.properties(), context=obj.context())


def object_deleted(call: CallContext, obj: ObjectRef) -> dict[str, Any]:
    return semantic(call, None, OBJECT_DELETED, obj.properties(), context=obj.context())


def delivery_metric(
    call: CallContext, delivery_id: str, metric: str, *, recipient: str | int | None = None,
    device_token: str | None = None, reason: str | None = None, href: str | None = None,
    timestamp: datetime | None = None,
) -> dict[str, Any]:
    """/metrics and /push/events → track "Report Delivery Event" with no person (Customer.io knows the
    delivery): `properties = {deliveryId, metric, recipient?, reason?, href?}`; a push device's token is
    also `properties.recipient` and `context.device.token`, where the Customer.io destination's Report
    Delivery Event action reads it."""
    properties: dict[str, Any] = {"deliveryId": delivery_id, "metric": metric}
    if device_token is not None:
        properties["recipient"] = device_token
    elif recipient is not None:
        properties["recipient"] = recipient
    if reason is not None:
        properties["reason"] = reason
    if href is not None:
        properties["href"] = href
    context = {"device": {"token": device_token}} if device_token is not None else None
    return call.message("track", event=REPORT_DELIVERY_EVENT, properties=properties, timestamp=timestamp,
                        context=context)


def segment_membership(call: CallContext, person: Person, segment_id: int, *, added: bool) -> dict[str, Any]:
    """One person added to / removed from a manual segment → track "Added to Manual Segment" /
    "Removed from Manual Segment" with `properties = {segment_id, id_type}`."""
    event = ADDED_TO_MANUAL_SEGMENT if added else REMOVED_FROM_MANUAL_SEGMENT
    return call.message("track", userId=person.user_id, event=event,
                        properties={"segment_id": segment_id, "id_type": person.kind}, context=person.context())


def form_submitted(call: CallContext, form_id: str, fields: dict[str, Any], *, person_id: str | None,
                   email: str | None) -> dict[str, Any]:
    """A form submission → track "Form Submitted": `properties = {form_id, data}` (the form's fields as
    sent, Customer.io's reserved form_* keys left out); userId = the `id` field, else the email lower-cased;
    the email also in `context.traits.email`."""
    user_id = person_id if person_id is not None else (email.lower() if email is not None else None)
    context = {"traits": {"email": email}} if email is not None else None
    return call.message("track", userId=user_id, event=FORM_SUBMITTED,
                        properties={"form_id": form_id, "data": fields}, context=context)
