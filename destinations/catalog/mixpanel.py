"""Mixpanel: events through the Ingestion API's /import, profiles through /engage, groups through /groups.

API facts followed here (docs.mixpanel.com, Ingestion API):
- `POST /import?strict=1` takes a JSON array of `{event, properties}` (≤ 2,000 per request), with HTTP
  Basic auth: the project secret (or the project token) as username and an empty password. Every event
  needs `properties.time` (we send ms), `distinct_id` and `$insert_id` (≤ 36 chars of [A-Za-z0-9-], used to
  deduplicate retries). With strict=1 a 400 lists `failed_records` by index; the other events were
  imported, so only the failed ones are marked failed.
- `POST /engage#profile-set` and `POST /groups#group-set` take JSON arrays of updates carrying the project
  token (`$token`); `POST /track` takes events with `properties.token` (used for `$identify` and
  `$create_alias`). With `?verbose=1` they answer `{"status": 1|0, "error": ...}` instead of `1`/`0`.
- Hosts by data residency: api.mixpanel.com, api-eu.mixpanel.com, api-in.mixpanel.com.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

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

KIND = "mixpanel"
HOSTS = {
    "us": "https://api.mixpanel.com",
    "eu": "https://api-eu.mixpanel.com",
    "in": "https://api-in.mixpanel.com",
}
IMPORT_BATCH = 1000  # Mixpanel accepts up to 2,000 events (and 10 MB) per /import request
PROFILE_BATCH = 200  # /engage and /groups updates per request
_INSERT_ID_RE = re.compile(r"^[A-Za-z0-9-]{1,36}$")

# Identify traits Mixpanel knows as reserved profile properties (both spellings analytics libraries use).
RESERVED_TRAITS = {
    "email": "$email", "first_name": "$first_name", "firstName": "$first_name",
    "last_name": "$last_name", "lastName": "$last_name", "name": "$name", "phone": "$phone",
    "created": "$created", "created_at": "$created", "createdAt": "$created", "avatar": "$avatar",
    "username": "$username",
}


def _base(settings: dict[str, Any]) -> str:
    return regional_endpoint(KIND, HOSTS, DEFINITION.read(settings))


def _auth(settings: dict[str, Any]) -> tuple[str, str]:
    s = DEFINITION.read(settings)
    return (s.text("api_secret") or s.text("project_token"), "")


def _secrets(settings: dict[str, Any]) -> tuple[str, ...]:
    return DEFINITION.read(settings).secrets("api_secret")


def insert_id(message_id: Any) -> str | None:
    """Mixpanel's `$insert_id` must be ≤ 36 characters of letters, digits and '-': keep a messageId that
    fits, else use a stable 32-character hash of it (the same event always gets the same id)."""
    if message_id in (None, ""):
        return None
    text = str(message_id)
    return text if _INSERT_ID_RE.match(text) else hashlib.md5(text.encode()).hexdigest()


# --- events (/import) ------------------------------------------------------------------------------------

# payload field → Mixpanel property, for the context fields the Track actions carry.
_CONTEXT_PROPERTIES = {
    "current_url": "$current_url", "referrer": "$referrer", "os_name": "$os", "os_version": "$os_version",
    "app_version": "$app_version_string", "device_model": "$model", "device_manufacturer": "$manufacturer",
    "carrier": "$carrier", "screen_width": "$screen_width", "screen_height": "$screen_height",
    "library_name": "mp_lib", "utm_source": "utm_source", "utm_medium": "utm_medium",
    "utm_campaign": "utm_campaign", "utm_term": "utm_term", "utm_content": "utm_content",
}


def build_event(payload: dict[str, Any]) -> dict[str, Any]:
    """One /import record from a mapped Track payload. Raises PayloadError without an event name or time."""
    name = payload.get("event")
    if not name:
        raise PayloadError("missing event")
    time_ms = epoch_ms(payload.get("time"))
    if time_ms is None:
        raise PayloadError("missing time (an ISO-8601 timestamp or epoch number)")
    properties: dict[str, Any] = dict(payload.get("properties") or {})
    for key, prop in _CONTEXT_PROPERTIES.items():
        if payload.get(key) not in (None, ""):
            properties.setdefault(prop, payload[key])
    properties.update(compact({
        "time": time_ms,
        "distinct_id": payload.get("distinct_id") or "",
        "$insert_id": insert_id(payload.get("insert_id")),
        "$device_id": payload.get("anonymous_id"),
        "$user_id": payload.get("user_id"),
        "ip": payload.get("ip"),
    }))
    properties.setdefault("distinct_id", "")
    return {"event": str(name), "properties": properties}


def import_batch(settings: dict[str, Any], payloads: list[dict[str, Any]]) -> BatchResult:
    """POST the payloads to /import in one request; per-record failures (strict mode) become item errors."""
    item_errors: dict[int, Exception] = {}
    records: list[dict[str, Any]] = []
    positions: list[int] = []  # records[i] came from payloads[positions[i]]
    for i, payload in enumerate(payloads):
        try:
            records.append(build_event(payload))
            positions.append(i)
        except PayloadError as exc:
            item_errors[i] = exc
    if not records:
        raise PayloadError("; ".join(sorted({str(e) for e in item_errors.values()})))
    strict = "1" if DEFINITION.read(settings).flag("strict_mode") else "0"
    try:
        exchange = http.send(
            "POST", f"{_base(settings)}/import", json=records, params={"strict": strict},
            auth=_auth(settings), secrets=_secrets(settings),
        )
    except DeliveryError as exc:
        failed = _failed_records(exc)
        if failed is None:
            raise
        for index, message in failed.items():
            if 0 <= index < len(positions):
                item_errors[positions[index]] = DeliveryError(
                    f"Mixpanel rejected the event: {message}", retryable=False, status=exc.status,
                    exchange=exc.exchange,
                )
        assert exc.exchange is not None
        return BatchResult(exchange=exc.exchange, item_errors=item_errors)
    return BatchResult(exchange=exchange, item_errors=item_errors)


def _failed_records(exc: DeliveryError) -> dict[int, str] | None:
    """index → message from a strict-mode 400, or None when the answer is not a per-record report."""
    if exc.status != 400 or exc.exchange is None:
        return None
    body = exc.exchange.json()
    if not isinstance(body, dict) or not isinstance(body.get("failed_records"), list):
        return None
    failed: dict[int, str] = {}
    for record in body["failed_records"]:
        if isinstance(record, dict) and isinstance(record.get("index"), int):
            field = record.get("field")
            message = str(record.get("message") or "invalid")
            failed[record["index"]] = f"{field}: {message}" if field else message
    return failed or None


# --- profiles (/engage), groups (/groups), identity (/track) ------------------------------------------------

def _verbose_send(settings: dict[str, Any], path: str, body: list[dict[str, Any]]) -> http.Exchange:
    """POST a JSON array to an ingestion endpoint with verbose=1; a `status: 0` answer is a permanent error."""
    exchange = http.send("POST", f"{_base(settings)}{path}", json=body, params={"verbose": "1"},
                         secrets=_secrets(settings))
    answer = exchange.json()
    if isinstance(answer, dict) and answer.get("status") == 0:
        raise DeliveryError(f"Mixpanel refused the update: {answer.get('error') or 'unknown error'}",
                            retryable=False, status=exchange.status, exchange=exchange)
    return exchange


def profile_properties(traits: dict[str, Any]) -> dict[str, Any]:
    """Traits with the reserved ones renamed (`email` → `$email`, `firstName` → `$first_name`, ...)."""
    out: dict[str, Any] = {}
    for key, value in traits.items():
        out[RESERVED_TRAITS.get(key, key)] = value
    return out


def identify_batch(settings: dict[str, Any], payloads: list[dict[str, Any]]) -> BatchResult:
    """`$identify` events (user id + anonymous id) to /track, then `$set` profile updates to /engage."""
    token = DEFINITION.read(settings).text("project_token")
    identities: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    item_errors: dict[int, Exception] = {}
    for i, p in enumerate(payloads):
        user_id, anonymous_id = p.get("user_id"), p.get("anonymous_id")
        distinct_id = user_id or anonymous_id
        if not distinct_id:
            item_errors[i] = PayloadError("missing user_id and anonymous_id")
            continue
        if user_id and anonymous_id:
            identities.append({"event": "$identify", "properties": {
                "$identified_id": user_id, "$anon_id": anonymous_id, "token": token}})
        updates.append({
            "$token": token,
            "$distinct_id": distinct_id,
            # Without $ip Mixpanel would geolocate the profile from our server's address; "0" turns that off.
            "$ip": p.get("ip") or "0",
            "$set": profile_properties(p.get("traits") or {}),
        })
    if not updates:
        raise PayloadError("missing user_id and anonymous_id")
    if identities:
        _verbose_send(settings, "/track", identities)
    return BatchResult(exchange=_verbose_send(settings, "/engage", updates), item_errors=item_errors)


def group_batch(settings: dict[str, Any], payloads: list[dict[str, Any]]) -> BatchResult:
    updates = []
    for p in payloads:
        if not p.get("group_key") or p.get("group_id") in (None, ""):
            raise PayloadError("missing group_key or group_id")
        updates.append({
            "$token": DEFINITION.read(settings).text("project_token"),
            "$group_key": p["group_key"],
            "$group_id": str(p["group_id"]),
            "$set": dict(p.get("traits") or {}),
        })
    return BatchResult(exchange=_verbose_send(settings, "/groups", updates))


def alias_batch(settings: dict[str, Any], payloads: list[dict[str, Any]]) -> BatchResult:
    events = []
    for p in payloads:
        if not p.get("alias") or not p.get("distinct_id"):
            raise PayloadError("missing alias or distinct_id")
        events.append({"event": "$create_alias", "properties": {
            "distinct_id": p["distinct_id"], "alias": p["alias"], "token": DEFINITION.read(settings).text("project_token")}})
    return BatchResult(exchange=_verbose_send(settings, "/track", events))


# --- credentials -------------------------------------------------------------------------------------------

def check_credentials(settings: dict[str, Any]) -> tuple[bool, str]:
    """An empty /import: authenticated but imports nothing. 401/403 means the secret (or token) is wrong."""
    try:
        exchange = http.send("POST", f"{_base(settings)}/import", json=[], params={"strict": "1"},
                             auth=_auth(settings), secrets=_secrets(settings))
    except DeliveryError as exc:
        if exc.status in (401, 403):
            return False, "Mixpanel rejected the credentials (check the API secret, or the project token, and region)."
        if exc.status == 400:
            return True, "Mixpanel accepted the credentials."
        return False, exc.message
    return True, f"Mixpanel accepted the credentials (HTTP {exchange.status})."


# --- definitions -------------------------------------------------------------------------------------------

DISTINCT_ID = {"@if": {"exists": path("$.userId"), "then": path("$.userId"), "else": path("$.anonymousId")}}


def _event_fields(event_default: Any) -> tuple[ActionField, ...]:
    return (
        ActionField("event", "Event name", "string", "The name of the event in Mixpanel.", required=True,
                    default=event_default),
        ActionField("distinct_id", "Distinct ID", "string", "Who did it: the user id, else the anonymous id.",
                    default=DISTINCT_ID),
        ActionField("user_id", "User ID", "string", "Sent as $user_id (simplified ID merge).",
                    default=path("$.userId")),
        ActionField("anonymous_id", "Anonymous ID", "string", "Sent as $device_id.",
                    default=path("$.anonymousId")),
        ActionField("time", "Timestamp", "datetime", "When it happened (sent in milliseconds).", required=True,
                    default=path("$.timestamp")),
        ActionField("insert_id", "Insert ID", "string", "Mixpanel deduplicates on it ($insert_id).",
                    default=path("$.messageId")),
        ActionField("properties", "Event properties", "object", "Properties of the event.",
                    default=path("$.properties")),
        ActionField("ip", "IP address", "string", "Used by Mixpanel for geolocation.", default=path("$.context.ip")),
        ActionField("current_url", "Page URL", "string", "$current_url", default=path("$.context.page.url")),
        ActionField("referrer", "Referrer", "string", "$referrer", default=path("$.context.page.referrer")),
        ActionField("os_name", "OS", "string", "$os", default=path("$.context.os.name")),
        ActionField("os_version", "OS version", "string", "$os_version", default=path("$.context.os.version")),
        ActionField("app_version", "App version", "string", "$app_version_string",
                    default=path("$.context.app.version")),
        ActionField("device_model", "Device model", "string", "$model", default=path("$.context.device.model")),
        ActionField("device_manufacturer", "Device manufacturer", "string", "$manufacturer",
                    default=path("$.context.device.manufacturer")),
        ActionField("carrier", "Carrier", "string", "$carrier", default=path("$.context.network.carrier")),
        ActionField("screen_width", "Screen width", "number", "$screen_width",
                    default=path("$.context.screen.width")),
        ActionField("screen_height", "Screen height", "number", "$screen_height",
                    default=path("$.context.screen.height")),
        ActionField("library_name", "Library", "string", "mp_lib", default=path("$.context.library.name")),
        ActionField("utm_source", "UTM source", "string", default=path("$.context.campaign.source")),
        ActionField("utm_medium", "UTM medium", "string", default=path("$.context.campaign.medium")),
        ActionField("utm_campaign", "UTM campaign", "string", default=path("$.context.campaign.name")),
        ActionField("utm_term", "UTM term", "string", default=path("$.context.campaign.term")),
        ActionField("utm_content", "UTM content", "string", default=path("$.context.campaign.content")),
    )


_import_perform = one_at_a_time(import_batch)

TRACK_EVENT = ActionDefinition(
    key="track_event", title="Track Event",
    description="Send track calls to Mixpanel as events (Ingestion API /import).",
    default_trigger='type = "track"', fields=_event_fields(path("$.event")),
    perform=_import_perform, perform_batch=import_batch, batch_size=IMPORT_BATCH,
)
TRACK_PAGE = ActionDefinition(
    key="track_page_view", title="Track Page View",
    description='Send page calls as "Viewed <page name>" events.',
    default_trigger='type = "page"', fields=_event_fields(viewed_name("Loaded a Page")),
    perform=_import_perform, perform_batch=import_batch, batch_size=IMPORT_BATCH,
)
TRACK_SCREEN = ActionDefinition(
    key="track_screen_view", title="Track Screen View",
    description='Send screen calls as "Viewed <screen name>" events.',
    default_trigger='type = "screen"', fields=_event_fields(viewed_name("Loaded a Screen")),
    perform=_import_perform, perform_batch=import_batch, batch_size=IMPORT_BATCH,
)
IDENTIFY_USER = ActionDefinition(
    key="identify_user", title="Identify User",
    description="Set user profile properties ($set on /engage) and link the anonymous id ($identify).",
    default_trigger='type = "identify"',
    fields=(
        ActionField("user_id", "User ID", "string", "The profile's distinct id.", default=path("$.userId")),
        ActionField("anonymous_id", "Anonymous ID", "string",
                    "Linked to the user id with an $identify event; the profile id when there is no user id.",
                    default=path("$.anonymousId")),
        ActionField("traits", "Profile properties", "object",
                    "Set on the profile; email, first_name, last_name, name, phone, created become $-properties.",
                    default=person_traits()),
        ActionField("ip", "IP address", "string", "Used for the profile's location.", default=path("$.context.ip")),
    ),
    perform=one_at_a_time(identify_batch), perform_batch=identify_batch, batch_size=PROFILE_BATCH,
)
GROUP_IDENTIFY = ActionDefinition(
    key="group_identify_user", title="Group Identify",
    description="Set group profile properties ($set on /groups).",
    default_trigger='type = "group"',
    fields=(
        ActionField("group_key", "Group key", "string",
                    "The group key defined in your Mixpanel project settings (e.g. company_id).", required=True,
                    default={"@if": {"exists": path("$.traits.group_key"), "then": path("$.traits.group_key"),
                                     "else": "$group_id"}}),
        ActionField("group_id", "Group ID", "string", "The group's id.", required=True, default=path("$.groupId")),
        ActionField("traits", "Group properties", "object", "Set on the group profile.", default=path("$.traits")),
    ),
    perform=one_at_a_time(group_batch), perform_batch=group_batch, batch_size=PROFILE_BATCH,
)
ALIAS = ActionDefinition(
    key="alias", title="Alias",
    description="Create an alias ($create_alias) from the previous id to the user id (original ID merge only).",
    default_trigger='type = "alias"', default_enabled=False,
    fields=(
        ActionField("alias", "Alias", "string", "The new id.", required=True, default=path("$.userId")),
        ActionField("distinct_id", "Distinct ID", "string", "The existing id.", required=True,
                    default=path("$.previousId")),
    ),
    perform=one_at_a_time(alias_batch), perform_batch=alias_batch, batch_size=PROFILE_BATCH,
)


def _validate(settings: dict[str, Any]) -> dict[str, str]:
    token = DEFINITION.read(settings).text("project_token")
    if not re.fullmatch(r"[A-Za-z0-9]{8,64}", token):
        return {"project_token": "A Mixpanel project token is letters and digits (Project Settings → Access Keys)."}
    return {}


DEFINITION = DestinationDefinition(
    key=KIND,
    name="Mixpanel",
    category="Analytics",
    mode="cloud",
    description="Product analytics: events, user profiles and group profiles.",
    settings=(
        SettingField("project_token", "Project token", "string",
                     "Project Settings → Access Keys. Identifies the project on every request.", required=True),
        SettingField("api_secret", "API secret", "string",
                     "The project secret, used to authenticate /import. Without it the project token is used.",
                     secret=True),
        SettingField("region", "Data residency", "choice", "Where your Mixpanel project stores data.",
                     default="us", choices=(("us", "US (api.mixpanel.com)"), ("eu", "EU (api-eu.mixpanel.com)"),
                                            ("in", "India (api-in.mixpanel.com)"))),
        SettingField("strict_mode", "Strict mode", "boolean",
                     "Validate each event; invalid ones are reported one by one instead of silently dropped.",
                     default=True),
    ),
    actions=(TRACK_EVENT, TRACK_PAGE, TRACK_SCREEN, IDENTIFY_USER, GROUP_IDENTIFY, ALIAS),
    check_credentials=check_credentials,
    validate=_validate,
)
