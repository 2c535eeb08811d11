"""The Customer.io actions: what each sends, which events trigger it by default, and how its fields are
filled from an event (default mappings, see destinations/mapping.py).

Every action's perform / perform_batch take payloads shaped by its fields and hand them to the builder
in operations.py; transport.py sends them.
"""

from __future__ import annotations

from typing import Any

from ... import http
from ...mapping import first_of as _first
from ...mapping import path as _path
from ...mapping import person_traits
from ..base import ActionDefinition, ActionField, BatchResult
from . import operations as ops
from .settings import DEFAULT_BATCH_SIZE
from .transport import Builder, send_operation, send_operations

# Track events with a meaning of their own: other actions handle them, so Track Event leaves them out.
SEMANTIC_EVENTS = (
    "Application Installed", "Application Opened", "Application Uninstalled",
    "Device Created or Updated", "Device Deleted", "Relationship Deleted", "User Deleted",
    "User Suppressed", "User Unsuppressed", "Object Deleted", "Report Delivery Event", "Report Content Event",
)


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _events(*names: str) -> str:
    if len(names) == 1:
        return f"event = {_quoted(names[0])}"
    return "event in [" + ", ".join(_quoted(n) for n in names) + "]"


# --- fields shared by several actions -------------------------------------------------------------------

PERSON_ID = ActionField(
    "person_id", "Person ID", "string",
    "The person's id in Customer.io. A value starting cio_ is a cio_id; an email address is used as email.",
    default=_path("$.userId"),
)
ANONYMOUS_ID = ActionField(
    "anonymous_id", "Anonymous ID", "string",
    "Links anonymous activity to the person (sent as the anonymous_id attribute); an event with neither a "
    "person ID nor an email is sent as an anonymous event.",
    default=_path("$.anonymousId"),
)
TRAITS_EMAIL = ActionField(
    "email", "Email", "string", "Identifies the person when there is no person ID.",
    default=person_traits("email", "$.email"),
)
EVENT_EMAIL = ActionField(
    "email", "Email", "string", "Identifies the person when there is no person ID.",
    default=_first("$.context.traits.email", "$.properties.email", "$.email"),
)
TIMESTAMP = ActionField("timestamp", "Timestamp", "datetime", "When it happened (sent as unix seconds).",
                        default=_path("$.timestamp"))
EVENT_ID = ActionField(
    "event_id", "Event ID", "string",
    "Deduplicates the event. Sent as a ULID (other ids are turned into a stable ULID).",
    default=_path("$.messageId"),
)
EVENT_ATTRIBUTES = ActionField("attributes", "Event attributes", "object",
                               "Event data you can use in messages and segments.", default=_path("$.properties"))
DEVICE_TOKEN = ActionField(
    "device_id", "Device token", "string", "The push token of the device.", required=True,
    default=_first("$.properties.device_id", "$.context.device.token"),
)
OBJECT_TYPE_HELP = 'The object type ("1" is the first type you created, e.g. Companies).'


def _action(
    key: str, title: str, description: str, trigger: str, fields: tuple[ActionField, ...], build: Builder,
    *, enabled: bool,
) -> ActionDefinition:
    def perform(settings: dict[str, Any], payload: dict[str, Any]) -> http.Exchange:
        return send_operation(settings, build(payload, settings))

    def perform_batch(settings: dict[str, Any], payloads: list[dict[str, Any]]) -> BatchResult:
        return send_operations(settings, payloads, build)

    perform.__doc__ = f"{title}: POST one operation (/api/v2/entity, or /api/v1/events when anonymous)."
    perform_batch.__doc__ = f"{title}: POST operations to /api/v2/batch (≤ 500 KB each), with per-item results."
    return ActionDefinition(
        key=key, title=title, description=description, default_trigger=trigger, fields=fields,
        perform=perform, perform_batch=perform_batch, default_enabled=enabled, batch_size=DEFAULT_BATCH_SIZE,
        batch_size_setting="batch_size",  # the destination's Batch size setting
    )


CREATE_UPDATE_PERSON = _action(
    "create_update_person", "Create or Update Person",
    "Add a person to your workspace or update their attributes. People are identified by ID or email; "
    "an event with neither is not sent.",
    'type = "identify"',
    (
        PERSON_ID, TRAITS_EMAIL, ANONYMOUS_ID,
        ActionField("attributes", "Person attributes", "object", "Attributes to set on the person.",
                    default=person_traits()),
        ActionField("created_at", "Created at", "datetime", "When the person was created (sent as unix seconds).",
                    default=person_traits("created_at", "$.created_at")),
        TIMESTAMP,
        ActionField("object_id", "Object ID", "string", "Relate the person to this object (e.g. their company).",
                    default=_path("$.context.groupId")),
        ActionField("object_type_id", "Object type ID", "string", "The type of that object (default \"1\").",
                    default=_path("$.context.objectTypeId")),
        ActionField("relationship_attributes", "Relationship attributes", "object",
                    "Attributes of the person's relationship to the object."),
    ),
    ops.build_identify_person, enabled=True,
)

CREATE_UPDATE_OBJECT = _action(
    "create_update_object", "Create or Update Object",
    "Create or update an object (a company, account, course…) and relate the person to it.",
    'type = "group"',
    (
        ActionField("object_id", "Object ID", "string", "The object's id.", required=True,
                    default=_path("$.groupId")),
        ActionField("object_type_id", "Object type ID", "string", OBJECT_TYPE_HELP,
                    default=_first("$.traits.object_type_id", "$.traits.objectTypeId", otherwise="1")),
        ActionField("attributes", "Object attributes", "object", "Attributes to set on the object.",
                    default=_path("$.traits")),
        PERSON_ID, ANONYMOUS_ID,
        ActionField("relationship_attributes", "Relationship attributes", "object",
                    "Attributes of the person's relationship to the object."),
    ),
    ops.build_identify_object, enabled=True,
)

CREATE_UPDATE_DEVICE = _action(
    "create_update_device", "Create or Update Device",
    "Register a person's mobile device and push token, or update it.",
    _events("Application Installed", "Application Opened", "Device Created or Updated"),
    (
        PERSON_ID, EVENT_EMAIL, DEVICE_TOKEN,
        ActionField("platform", "Platform", "string", "ios or android.", required=True,
                    default=_first("$.context.device.type", "$.context.os.name"),
                    choices=(("ios", "iOS"), ("android", "Android"))),
        ActionField("last_used", "Last used", "datetime", "When the device was last used (unix seconds).",
                    default=_path("$.timestamp")),
        ActionField("app_version", "App version", "string", "", default=_path("$.context.app.version")),
        ActionField("attributes", "Device attributes", "object",
                    "Custom device attributes (sent as strings).", default=_path("$.properties")),
    ),
    ops.build_add_device, enabled=True,
)

DELETE_DEVICE = _action(
    "delete_device", "Delete Device", "Remove a device (push token) from a person.",
    _events("Application Uninstalled", "Device Deleted"),
    (PERSON_ID, EVENT_EMAIL, DEVICE_TOKEN),
    ops.build_delete_device, enabled=True,
)

TRACK_EVENT = _action(
    "track_event", "Track Event",
    "Send an event for a known or anonymous person; it can trigger campaigns and set segments.",
    'type = "track" and event not in [' + ", ".join(_quoted(n) for n in SEMANTIC_EVENTS) + "]",
    (
        PERSON_ID, EVENT_EMAIL, ANONYMOUS_ID,
        ActionField("name", "Event name", "string", "", required=True, default=_path("$.event")),
        EVENT_ID, TIMESTAMP, EVENT_ATTRIBUTES,
    ),
    ops.build_event, enabled=True,
)

TRACK_PAGE_VIEW = _action(
    "track_page_view", "Track Page View", "Record a page a person viewed on your website.",
    'type = "page"',
    (
        PERSON_ID, EVENT_EMAIL, ANONYMOUS_ID,
        ActionField("name", "Page", "string", "The page's URL (or name).", required=True,
                    default=_first("$.context.page.url", "$.properties.url", "$.name")),
        EVENT_ID, TIMESTAMP, EVENT_ATTRIBUTES,
    ),
    ops.build_page, enabled=True,
)

TRACK_SCREEN_VIEW = _action(
    "track_screen_view", "Track Screen View", "Record a screen a person viewed in your mobile app.",
    'type = "screen"',
    (
        PERSON_ID, EVENT_EMAIL, ANONYMOUS_ID,
        ActionField("name", "Screen", "string", "", required=True, default=_path("$.name")),
        EVENT_ID, TIMESTAMP, EVENT_ATTRIBUTES,
    ),
    ops.build_screen, enabled=True,
)

DELETE_PERSON = _action(
    "delete_person", "Delete Person", "Delete a person from your workspace.",
    _events("User Deleted"), (PERSON_ID, TRAITS_EMAIL), ops.build_delete_person, enabled=False,
)

SUPPRESS_PERSON = _action(
    "suppress_person", "Suppress Person",
    "Delete a person and stop them from being added again (suppression).",
    _events("User Suppressed"), (PERSON_ID, TRAITS_EMAIL), ops.build_suppress_person, enabled=False,
)

UNSUPPRESS_PERSON = _action(
    "unsuppress_person", "Unsuppress Person", "Allow a suppressed person to be added again.",
    _events("User Unsuppressed"), (PERSON_ID, TRAITS_EMAIL), ops.build_unsuppress_person, enabled=False,
)

MERGE_PEOPLE = _action(
    "merge_people", "Merge People",
    "Merge two people: the secondary person's data moves to the primary, then the secondary is deleted.",
    'type = "alias"',
    (
        ActionField("primary", "Primary person", "string", "The person who remains.", required=True,
                    default=_path("$.userId")),
        ActionField("secondary", "Secondary person", "string", "The person merged away.", required=True,
                    default=_path("$.previousId")),
    ),
    ops.build_merge_people, enabled=False,
)

_OBJECT_FIELDS = (
    ActionField("object_id", "Object ID", "string", "The object's id.", required=True,
                default=_first("$.properties.object_id", "$.context.groupId")),
    ActionField("object_type_id", "Object type ID", "string", OBJECT_TYPE_HELP,
                default=_first("$.properties.object_type_id", "$.context.objectTypeId", otherwise="1")),
)

DELETE_OBJECT = _action(
    "delete_object", "Delete Object", "Delete an object.", _events("Object Deleted"), _OBJECT_FIELDS,
    ops.build_delete_object, enabled=False,
)

DELETE_RELATIONSHIP = _action(
    "delete_relationship", "Delete Relationship", "Remove a person's relationship to an object.",
    _events("Relationship Deleted"), _OBJECT_FIELDS + (PERSON_ID, EVENT_EMAIL),
    ops.build_delete_relationship, enabled=False,
)

REPORT_DELIVERY_EVENT = _action(
    "report_delivery_event", "Report Delivery Event",
    "Report a push delivery metric (delivered, opened, converted) to Customer.io.",
    _events("Report Delivery Event"),
    (
        ActionField("delivery_id", "Delivery ID", "string", "Customer.io's delivery id.", required=True,
                    default=_path("$.properties.deliveryId")),
        ActionField("metric", "Metric", "string", "", required=True, default=_path("$.properties.metric"),
                    choices=tuple((m, m.capitalize()) for m in ops.DELIVERY_METRICS)),
        ActionField("device_token", "Device token", "string", "The device the message was delivered to.",
                    required=True,
                    default=_first("$.properties.recipient", "$.properties.deliveryToken", "$.context.device.token")),
    ),
    ops.build_delivery_event, enabled=False,
)

ACTIONS: tuple[ActionDefinition, ...] = (
    CREATE_UPDATE_PERSON, CREATE_UPDATE_DEVICE, DELETE_DEVICE, TRACK_EVENT, TRACK_PAGE_VIEW, TRACK_SCREEN_VIEW,
    CREATE_UPDATE_OBJECT, DELETE_PERSON, SUPPRESS_PERSON, UNSUPPRESS_PERSON, MERGE_PEOPLE, DELETE_OBJECT,
    DELETE_RELATIONSHIP, REPORT_DELIVERY_EVENT,
)
