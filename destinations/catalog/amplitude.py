"""Amplitude: events through the HTTP V2 API (or the Batch Event Upload API), users through the Identify API.

API facts followed here (amplitude.com/docs/apis/analytics):
- `POST /2/httpapi` (or `/batch`, same body, for high volume) with `{"api_key", "events": [...],
  "options": {"min_id_length"}}`; each event has `user_id` or `device_id`, `event_type`, `time` (ms),
  `event_properties`, `user_properties`, `insert_id` (deduplicated for 7 days), `ip`, and device fields
  (platform, os_name, os_version, device_brand, device_manufacturer, device_model, carrier, country,
  region, city, language, app_version, location_lat/lng, price, quantity, revenue, productId, revenueType).
- A 400 names rejected events by index (`events_with_invalid_fields`, `events_with_missing_fields`,
  `events_with_invalid_id_lengths`, `silenced_events`); none of the batch was ingested, so the named ones
  fail for good and the rest are retried. 429 (throttled) and 5xx are retried.
- `POST /identify`, form-encoded `api_key=<key>&identification=<JSON array>`, sets user properties
  without an event.
- Hosts: api2.amplitude.com, EU api.eu.amplitude.com. The credentials test uses the Dashboard REST API
  (`GET /api/2/usersearch` on amplitude.com / analytics.eu.amplitude.com, Basic api_key:secret_key).
"""

from __future__ import annotations

from typing import Any

import orjson

from .. import http
from ..errors import DeliveryError, PayloadError
from ..mapping import path, person_traits
from ..timestamps import epoch_ms
from .base import (
    ActionDefinition,
    ActionField,
    BatchResult,
    DestinationDefinition,
    SettingField,
    compact,
    one_at_a_time,
    regional_endpoint,
    viewed_name,
)

KIND = "amplitude"
HOSTS = {"us": "https://api2.amplitude.com", "eu": "https://api.eu.amplitude.com"}
DASHBOARD_HOSTS = {"us": "https://amplitude.com", "eu": "https://analytics.eu.amplitude.com"}
EVENT_BATCH = 500  # HTTP V2 takes ≤ 2,000 events and ≤ 1 MB per request; 500 keeps typical events well under
IDENTIFY_BATCH = 100

# Payload fields copied as they are onto an HTTP V2 event / an identification.
DEVICE_FIELDS = (
    "platform", "os_name", "os_version", "device_brand", "device_manufacturer", "device_model", "carrier",
    "country", "region", "city", "dma", "language", "app_version", "location_lat", "location_lng", "idfa",
    "idfv", "adid", "android_id", "library",
)
EVENT_FIELDS = ("ip", "session_id", "price", "quantity", "revenue", "productId", "revenueType", "event_id")
# Per-event rejection lists in a 400 answer: key → what went wrong.
_REJECTIONS = {
    "events_with_invalid_fields": "invalid field",
    "events_with_missing_fields": "missing field",
    "events_with_invalid_id_lengths": "id too short",
}


def _base(settings: dict[str, Any]) -> str:
    return regional_endpoint(KIND, HOSTS, DEFINITION.read(settings))


def _secrets(settings: dict[str, Any]) -> tuple[str, ...]:
    return DEFINITION.read(settings).secrets("api_key", "secret_key")


def build_event(payload: dict[str, Any]) -> dict[str, Any]:
    """One HTTP V2 event from a mapped payload. Raises PayloadError without event_type or an id."""
    if not payload.get("event_type"):
        raise PayloadError("missing event_type")
    if not payload.get("user_id") and not payload.get("device_id"):
        raise PayloadError("missing user_id and device_id")
    event = compact({
        "user_id": payload.get("user_id"),
        "device_id": payload.get("device_id"),
        "event_type": str(payload["event_type"]),
        "time": epoch_ms(payload.get("time")),
        "insert_id": payload.get("insert_id"),
        "event_properties": payload.get("event_properties"),
        "user_properties": payload.get("user_properties"),
        "groups": payload.get("groups"),
    })
    for key in DEVICE_FIELDS + EVENT_FIELDS:
        if payload.get(key) not in (None, ""):
            event[key] = payload[key]
    return event


def _events_body(settings: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
    s = DEFINITION.read(settings)
    body: dict[str, Any] = {"api_key": s.text("api_key"), "events": events}
    min_id_length = s.integer("min_id_length")
    if min_id_length:
        body["options"] = {"min_id_length": min_id_length}
    return body


def events_batch(settings: dict[str, Any], payloads: list[dict[str, Any]]) -> BatchResult:
    """Send events in one request to /2/httpapi, or /batch when the Batch API is chosen."""
    item_errors: dict[int, Exception] = {}
    events: list[dict[str, Any]] = []
    positions: list[int] = []
    for i, payload in enumerate(payloads):
        try:
            events.append(build_event(payload))
            positions.append(i)
        except PayloadError as exc:
            item_errors[i] = exc
    if not events:
        raise PayloadError("; ".join(sorted({str(e) for e in item_errors.values()})))
    path = "/batch" if DEFINITION.read(settings).flag("use_batch_api") else "/2/httpapi"
    try:
        exchange = http.send("POST", f"{_base(settings)}{path}", json=_events_body(settings, events),
                             secrets=_secrets(settings))
    except DeliveryError as exc:
        rejected = _rejected_events(exc, len(events))
        if rejected is None:
            raise
        # Amplitude ingested none of the batch: the named events fail, the others go again.
        for index in range(len(events)):
            if index in rejected:
                item_errors[positions[index]] = DeliveryError(
                    f"Amplitude rejected the event: {rejected[index]}", retryable=False, status=exc.status,
                    exchange=exc.exchange)
            else:
                item_errors[positions[index]] = DeliveryError(
                    "Amplitude rejected other events of the batch; this one is sent again.", retryable=True,
                    status=exc.status, exchange=exc.exchange)
        assert exc.exchange is not None
        return BatchResult(exchange=exc.exchange, item_errors=item_errors)
    return BatchResult(exchange=exchange, item_errors=item_errors)


def _rejected_events(exc: DeliveryError, count: int) -> dict[int, str] | None:
    """index → reason from a 400 that names events, else None (the whole request failed as one)."""
    if exc.status != 400 or exc.exchange is None:
        return None
    body = exc.exchange.json()
    if not isinstance(body, dict):
        return None
    reasons: dict[int, list[str]] = {}
    for key, what in _REJECTIONS.items():
        for field, indexes in (body.get(key) or {}).items() if isinstance(body.get(key), dict) else ():
            for index in indexes if isinstance(indexes, list) else ():
                if isinstance(index, int) and 0 <= index < count:
                    reasons.setdefault(index, []).append(f"{what} {field}")
    for index in body.get("silenced_events") or ():
        if isinstance(index, int) and 0 <= index < count:
            reasons.setdefault(index, []).append("silenced device")
    return {i: ", ".join(r) for i, r in reasons.items()} or None


def build_identification(payload: dict[str, Any]) -> dict[str, Any]:
    if not payload.get("user_id") and not payload.get("device_id"):
        raise PayloadError("missing user_id and device_id")
    ident = compact({
        "user_id": payload.get("user_id"),
        "device_id": payload.get("device_id"),
        "user_properties": payload.get("user_properties") or None,
        "groups": payload.get("groups"),
        "paying": payload.get("paying"),
        "start_version": payload.get("start_version"),
    })
    for key in DEVICE_FIELDS:
        if payload.get(key) not in (None, ""):
            ident[key] = payload[key]
    return ident


def identify_batch(settings: dict[str, Any], payloads: list[dict[str, Any]]) -> BatchResult:
    """POST identifications to /identify, form-encoded as the Identify API requires."""
    item_errors: dict[int, Exception] = {}
    idents = []
    for i, payload in enumerate(payloads):
        try:
            idents.append(build_identification(payload))
        except PayloadError as exc:
            item_errors[i] = exc
    if not idents:
        raise PayloadError("missing user_id and device_id")
    form = {"api_key": DEFINITION.read(settings).text("api_key"), "identification": orjson.dumps(idents).decode()}
    exchange = http.send("POST", f"{_base(settings)}/identify", data=form, secrets=_secrets(settings))
    return BatchResult(exchange=exchange, item_errors=item_errors)


def check_credentials(settings: dict[str, Any]) -> tuple[bool, str]:
    """The Dashboard REST API's user search, authenticated with api_key:secret_key (401 means wrong keys)."""
    s = DEFINITION.read(settings)
    if not s.text("secret_key"):
        return False, "Add the secret key to test the credentials (Amplitude checks keys with the Dashboard API)."
    base = http.endpoint("amplitude_dashboard", DASHBOARD_HOSTS[s.choice("region")])
    try:
        http.send("GET", f"{base}/api/2/usersearch", params={"user": "testUser@example.com"},
                  auth=(s.text("api_key"), s.text("secret_key")), secrets=_secrets(settings))
    except DeliveryError as exc:
        if exc.status in (401, 403):
            return False, "Amplitude rejected the API key and secret key (check them and the region)."
        return False, exc.message
    return True, "Amplitude accepted the API key and secret key."


# --- definitions -------------------------------------------------------------------------------------------

def _device_fields() -> tuple[ActionField, ...]:
    return (
        ActionField("platform", "Platform", "string", "ios, android or Web.", default={
            "@if": {"exists": path("$.context.device.type"), "then": path("$.context.device.type"),
                    "else": {"@if": {"exists": path("$.context.page"), "then": "Web"}}}}),
        ActionField("os_name", "OS name", "string", default=path("$.context.os.name")),
        ActionField("os_version", "OS version", "string", default=path("$.context.os.version")),
        ActionField("device_brand", "Device brand", "string", default=path("$.context.device.brand")),
        ActionField("device_manufacturer", "Device manufacturer", "string",
                    default=path("$.context.device.manufacturer")),
        ActionField("device_model", "Device model", "string", default=path("$.context.device.model")),
        ActionField("carrier", "Carrier", "string", default=path("$.context.network.carrier")),
        ActionField("country", "Country", "string", default=path("$.context.location.country")),
        ActionField("region", "Region", "string", default=path("$.context.location.region")),
        ActionField("city", "City", "string", default=path("$.context.location.city")),
        ActionField("language", "Language", "string", default=path("$.context.locale")),
        ActionField("app_version", "App version", "string", default=path("$.context.app.version")),
        ActionField("location_lat", "Latitude", "number", default=path("$.context.location.latitude")),
        ActionField("location_lng", "Longitude", "number", default=path("$.context.location.longitude")),
        ActionField("library", "Library", "string", default=path("$.context.library.name")),
    )


DEVICE_ID = {"@if": {"exists": path("$.context.device.id"), "then": path("$.context.device.id"),
                     "else": path("$.anonymousId")}}


def _event_fields(event_type_default: Any) -> tuple[ActionField, ...]:
    return (
        ActionField("user_id", "User ID", "string", "Amplitude's user_id.", default=path("$.userId")),
        ActionField("device_id", "Device ID", "string", "The device id, else the anonymous id.", default=DEVICE_ID),
        ActionField("event_type", "Event type", "string", "The event's name.", required=True,
                    default=event_type_default),
        ActionField("time", "Timestamp", "datetime", "Sent in milliseconds.", default=path("$.timestamp")),
        ActionField("insert_id", "Insert ID", "string", "Amplitude deduplicates on it for 7 days.",
                    default=path("$.messageId")),
        ActionField("event_properties", "Event properties", "object", default=path("$.properties")),
        ActionField("user_properties", "User properties", "object", default=path("$.context.traits")),
        ActionField("ip", "IP address", "string", "Used for location.", default=path("$.context.ip")),
        ActionField("revenue", "Revenue", "number", default=path("$.properties.revenue")),
        ActionField("price", "Price", "number", default=path("$.properties.price")),
        ActionField("quantity", "Quantity", "integer", default=path("$.properties.quantity")),
        ActionField("productId", "Product ID", "string", default=path("$.properties.product_id")),
        ActionField("revenueType", "Revenue type", "string", default=path("$.properties.revenueType")),
        ActionField("session_id", "Session ID", "integer", "Session start time in ms (-1 for no session).",
                    default=path("$.integrations.Amplitude.session_id")),
        *_device_fields(),
    )


_events_perform = one_at_a_time(events_batch)

LOG_EVENT = ActionDefinition(
    key="log_event", title="Log Event", description="Send track calls to Amplitude as events.",
    default_trigger='type = "track"', fields=_event_fields(path("$.event")),
    perform=_events_perform, perform_batch=events_batch, batch_size=EVENT_BATCH,
)
LOG_PAGE = ActionDefinition(
    key="log_page_view", title="Log Page View", description='Send page calls as "Viewed <name>" events.',
    default_trigger='type = "page"', fields=_event_fields(viewed_name("Loaded a Page")),
    perform=_events_perform, perform_batch=events_batch, batch_size=EVENT_BATCH,
)
LOG_SCREEN = ActionDefinition(
    key="log_screen_view", title="Log Screen View", description='Send screen calls as "Viewed <name>" events.',
    default_trigger='type = "screen"', fields=_event_fields(viewed_name("Loaded a Screen")),
    perform=_events_perform, perform_batch=events_batch, batch_size=EVENT_BATCH,
)
IDENTIFY_USER = ActionDefinition(
    key="identify_user", title="Identify User",
    description="Set user properties with the Identify API (no event is logged).",
    default_trigger='type = "identify"',
    fields=(
        ActionField("user_id", "User ID", "string", default=path("$.userId")),
        ActionField("device_id", "Device ID", "string", "The device id, else the anonymous id.", default=DEVICE_ID),
        ActionField("user_properties", "User properties", "object", "Set on the user.", default=person_traits()),
        ActionField("paying", "Paying", "boolean", "Whether the user is paying."),
        ActionField("start_version", "Start version", "string", "The app version the user started with."),
        *_device_fields(),
    ),
    perform=one_at_a_time(identify_batch), perform_batch=identify_batch, batch_size=IDENTIFY_BATCH,
)


def _validate(settings: dict[str, Any]) -> dict[str, str]:
    value = DEFINITION.read(settings).integer("min_id_length")
    if value is not None and not 1 <= value <= 128:
        return {"min_id_length": "Between 1 and 128."}
    return {}


DEFINITION = DestinationDefinition(
    key=KIND,
    name="Amplitude",
    category="Analytics",
    mode="cloud",
    description="Product analytics: events and user properties.",
    settings=(
        SettingField("api_key", "API key", "string", "Settings → Projects → your project → General.",
                     required=True, secret=True),
        SettingField("secret_key", "Secret key", "string",
                     "Only used to test the credentials (Dashboard REST API).", secret=True),
        SettingField("region", "Data residency", "choice", default="us",
                     choices=(("us", "US (api2.amplitude.com)"), ("eu", "EU (api.eu.amplitude.com)"))),
        SettingField("use_batch_api", "Use the Batch API", "boolean",
                     "Send events to /batch (higher per-user limits, for backfills and heavy traffic) "
                     "instead of /2/httpapi.", default=False),
        SettingField("min_id_length", "Minimum id length", "integer",
                     "Amplitude rejects user and device ids shorter than 5 characters unless you lower this."),
    ),
    actions=(LOG_EVENT, LOG_PAGE, LOG_SCREEN, IDENTIFY_USER),
    check_credentials=check_credentials,
    validate=_validate,
)
