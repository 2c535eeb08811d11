"""Facebook Custom Audiences (Meta Marketing API): audience members added and removed by hashed identifiers.

API facts followed here (Marketing API, Graph API v24):
- Create: `POST /{ver}/act_{AD_ACCOUNT_ID}/customaudiences` with name, `subtype=CUSTOM`, description,
  `customer_file_source=USER_PROVIDED_ONLY`; Bearer token. The answer is `{"id": ...}`.
- Add: `POST /{ver}/{audience_id}/users`; remove: `DELETE` on the same path; body `{"payload": {"schema":
  [...], "data": [[...], ...]}, "session": {session_id, batch_seq, last_batch_flag, estimated_num_total}}`,
  at most 10,000 rows per request. Multi-key schema: the columns we have (EXTERN_ID, EMAIL, PHONE, FN, LN,
  CT, ST, ZIP, COUNTRY, MADID), each row in schema order, "" where unknown.
- The answer: `{audience_id, session_id, num_received, num_invalid_entries, invalid_entry_samples}`: kept in
  the delivery record (only hashes are in it) and read back by the audience's sync validation.
- Errors: 190 token expired or revoked (reconnect), 200 permission, 2650 schema vs the audience's data
  source, 100 / subcode 1713230 audience flagged (edits refused), 80003 rate limit (retry later).
- Size: `GET /{ver}/{audience_id}?fields=approximate_count_lower_bound,approximate_count_upper_bound`;
  an upload session's status: `GET /{ver}/{audience_id}/sessions?session_id=` (num_received, num_matched,
  num_invalid_entries).

Identifiers are normalized and hashed by destinations.identity (Meta's rules) before they leave; values
already hashed (64 hex, as audience syncs send them) pass through. A person whose every value is invalid is
dropped (filtered, never sent) without failing the rest of the batch. Each request is one session of one
batch (`last_batch_flag` true), its id derived from the rows, so a retried request is the same session.
Host: graph.facebook.com; DESTINATION_ENDPOINTS["facebook"] overrides it (tests point it at a local server).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import orjson

from .. import http, identity
from ..errors import DeliveryError, PayloadError
from ..mapping import path
from .base import (
    ActionDefinition,
    ActionField,
    BatchResult,
    DestinationDefinition,
    SettingField,
    one_at_a_time,
)

KIND = "facebook_custom_audiences"
ENDPOINT = "facebook"
DEFAULT_HOST = "https://graph.facebook.com"
MAX_BATCH = 10_000  # Meta's limit per request
# People per request the delivery engine gathers (the catalog's engine-wide cap; an audience sync hands
# over AUDIENCE_SYNC_BATCH people per batch anyway).
BATCH = 2000
# Our identifier fields → Meta's multi-key schema columns, in the order rows are written.
SCHEMA = (("external_id", "EXTERN_ID"), ("email", "EMAIL"), ("phone", "PHONE"), ("first_name", "FN"),
          ("last_name", "LN"), ("city", "CT"), ("state", "ST"), ("zip", "ZIP"), ("country", "COUNTRY"),
          ("madid", "MADID"))
_ACCOUNT = re.compile(r"^(?:act_)?(\d{1,30})$")
RECONNECT = ("Meta says the access token expired or was revoked (error 190): reconnect — paste a new access "
             "token in this destination's settings.")


def _base(settings: dict[str, Any]) -> str:
    return f"{http.endpoint(ENDPOINT, DEFAULT_HOST)}/{DEFINITION.read(settings).text('api_version')}"


def _headers(settings: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {DEFINITION.read(settings).text('access_token')}"}


def _secrets(settings: dict[str, Any]) -> tuple[str, ...]:
    return DEFINITION.read(settings).secrets("access_token")


def account_id(settings: dict[str, Any]) -> str:
    match = _ACCOUNT.match(DEFINITION.read(settings).text("ad_account_id").strip())
    if not match:
        raise PayloadError("the ad account id must be digits (with or without act_)")
    return match.group(1)


def classify(exc: DeliveryError) -> DeliveryError:
    """Meta's error codes, as messages a marketer can act on: expired tokens and refused audiences are
    permanent (retrying cannot help), rate limits are retried."""
    body = exc.exchange.json() if exc.exchange is not None else None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return exc
    code, sub = error.get("code"), error.get("error_subcode")
    detail = str(error.get("message") or "")
    if code == 190:
        return DeliveryError(RECONNECT, retryable=False, status=exc.status, exchange=exc.exchange)
    if code in (4, 17, 32, 613, 80003):
        return DeliveryError(f"Meta rate limit (error {code}): retrying later. {detail}", retryable=True,
                             status=exc.status, exchange=exc.exchange, retry_after=max(exc.retry_after or 0, 60))
    if code == 100 and sub == 1713230:
        message = "Meta flagged this audience and refuses edits to it (error 100/1713230): check it in Ads Manager."
    elif code == 200:
        message = f"Meta refused: the token lacks permission on this ad account or audience (error 200). {detail}"
    elif code == 2650:
        message = f"Meta refused the schema: it does not match the audience's data source (error 2650). {detail}"
    else:
        message = f"Meta error {code}{f'/{sub}' if sub else ''}: {detail}"
    return DeliveryError(message, retryable=exc.retryable and code not in (100, 368), status=exc.status,
                         exchange=exc.exchange)


def _send(method: str, url: str, settings: dict[str, Any], **kwargs: Any) -> http.Exchange:
    try:
        return http.send(method, url, headers=_headers(settings), secrets=_secrets(settings), **kwargs)
    except DeliveryError as exc:
        raise classify(exc) from exc


def create_audience(settings: dict[str, Any], *, name: str, description: str) -> str:
    """Create a customer-list custom audience in the ad account; return its id. Raises DeliveryError."""
    exchange = _send("POST", f"{_base(settings)}/act_{account_id(settings)}/customaudiences", settings,
                     json={"name": name, "subtype": "CUSTOM", "description": description,
                           "customer_file_source": "USER_PROVIDED_ONLY"})
    body = exchange.json()
    if not isinstance(body, dict) or not body.get("id"):
        raise DeliveryError("Meta answered without an audience id", retryable=True, exchange=exchange)
    return str(body["id"])


def audience_size(settings: dict[str, Any], audience_id: str) -> dict[str, int]:
    """Meta's approximate size bounds of the audience (matched people only). Raises DeliveryError."""
    exchange = _send("GET", f"{_base(settings)}/{audience_id}", settings,
                     params={"fields": "approximate_count_lower_bound,approximate_count_upper_bound"})
    body = exchange.json() if isinstance(exchange.json(), dict) else {}
    return {k: int(body[k]) for k in ("approximate_count_lower_bound", "approximate_count_upper_bound")
            if isinstance(body.get(k), int)}


def session_status(settings: dict[str, Any], audience_id: str, session_id: int) -> dict[str, int]:
    """num_received / num_matched / num_invalid_entries of one upload session. Raises DeliveryError."""
    exchange = _send("GET", f"{_base(settings)}/{audience_id}/sessions", settings,
                     params={"session_id": session_id})
    body = exchange.json()
    if isinstance(body, dict) and isinstance(body.get("data"), list) and body["data"]:
        body = body["data"][0]
    if not isinstance(body, dict):
        return {}
    return {k: int(body[k]) for k in ("num_received", "num_matched", "num_invalid_entries")
            if isinstance(body.get(k), (int, str)) and str(body[k]).isdigit()}


def rows(settings: dict[str, Any], payloads: list[dict[str, Any]]) -> tuple[list[list[str]], dict[int, Exception]]:
    """Each payload's row in SCHEMA order (hashed where Meta wants hashes), and per-index errors for the
    payloads that have no usable identifier at all (their invalid values are dropped, never sent)."""
    region = DEFINITION.read(settings).text("phone_region")
    out: list[list[str]] = []
    errors: dict[int, Exception] = {}
    for i, payload in enumerate(payloads):
        prepared = identity.prepare(identity.META, {k: payload.get(k) for k, _ in SCHEMA}, region=region)
        if not prepared:
            why = ", ".join(f"{k}: {v}" for k, v in prepared.dropped.items()) or "none given"
            errors[i] = PayloadError(f"no identifier Meta can match ({why})")
            continue
        out.append([prepared.values.get(k, "") for k, _ in SCHEMA])
    return out, errors


def _users(method: str, settings: dict[str, Any], payloads: list[dict[str, Any]]) -> BatchResult:
    if len(payloads) > MAX_BATCH:
        raise PayloadError(f"at most {MAX_BATCH} people per request")
    by_audience: dict[str, list[int]] = {}
    item_errors: dict[int, Exception] = {}
    for i, p in enumerate(payloads):
        audience_id = str(p.get("external_audience_id") or "").strip()
        if not audience_id:
            item_errors[i] = PayloadError("no Meta audience id (connect an audience to this destination)")
        else:
            by_audience.setdefault(audience_id, []).append(i)
    first: http.Exchange | None = None
    for audience_id, indexes in by_audience.items():
        data, errors = rows(settings, [payloads[i] for i in indexes])
        item_errors.update({indexes[j]: e for j, e in errors.items()})
        if not data:
            continue
        schema = [column for _, column in SCHEMA]
        digest = hashlib.sha256(orjson.dumps([method, audience_id, data])).hexdigest()
        session = {"session_id": int(digest[:15], 16), "batch_seq": 1, "last_batch_flag": True,
                   "estimated_num_total": len(data)}
        body = {"payload": {"schema": schema, "data": data}, "session": session}
        try:
            exchange = _send(method, f"{_base(settings)}/{audience_id}/users", settings, json=body)
        except DeliveryError as exc:
            if len(by_audience) == 1:
                raise
            item_errors.update({i: exc for i in indexes if i not in item_errors})
            first = first or exc.exchange
            continue
        first = first or exchange
    return BatchResult(exchange=first, item_errors=item_errors)


def add_batch(settings: dict[str, Any], payloads: list[dict[str, Any]]) -> BatchResult:
    return _users("POST", settings, payloads)


def remove_batch(settings: dict[str, Any], payloads: list[dict[str, Any]]) -> BatchResult:
    return _users("DELETE", settings, payloads)


def check_credentials(settings: dict[str, Any]) -> tuple[bool, str]:
    """Read the ad account's name: proves the token works and reaches this account."""
    try:
        exchange = _send("GET", f"{_base(settings)}/act_{account_id(settings)}", settings,
                         params={"fields": "name"})
    except PayloadError as exc:
        return False, str(exc)
    except DeliveryError as exc:
        return False, exc.message
    body = exchange.json()
    name = body.get("name") if isinstance(body, dict) else None
    return True, f"Connected to the ad account {name or account_id(settings)}."


def _validate(settings: dict[str, Any]) -> dict[str, str]:
    errors = {}
    s = DEFINITION.read(settings)
    if not _ACCOUNT.match(s.text("ad_account_id").strip()):
        errors["ad_account_id"] = "Digits only, as in Ads Manager (act_ may precede them)."
    region = s.text("phone_region")
    if len(region) != 2 or not region.isalpha():
        errors["phone_region"] = "A 2-letter country code, e.g. US or GB."
    return errors


FIELDS = (
    ActionField("external_audience_id", "Audience id", "string", "The Meta custom audience (set by audience sync).",
                required=True, default=path("$.context.personas.external_audience_id")),
    ActionField("external_id", "External id (EXTERN_ID)", "string", "Your id for the person; not hashed.",
                default=path("$.userId")),
    ActionField("email", "Email", "string", "Hashed (SHA-256) after trimming and lowercasing.",
                default=path("$.context.traits.email")),
    ActionField("phone", "Phone", "string", "To E.164 without + (default region setting), then hashed.",
                default=path("$.context.traits.phone")),
    ActionField("first_name", "First name (FN)", "string", default=path("$.context.traits.first_name")),
    ActionField("last_name", "Last name (LN)", "string", default=path("$.context.traits.last_name")),
    ActionField("city", "City (CT)", "string", default=path("$.context.traits.address.city")),
    ActionField("state", "State (ST)", "string", default=path("$.context.traits.address.state")),
    ActionField("zip", "ZIP", "string", default=path("$.context.traits.address.postal_code")),
    ActionField("country", "Country", "string", "ISO 3166-1 alpha-2.",
                default=path("$.context.traits.address.country")),
    ActionField("madid", "Mobile advertiser id (MADID)", "string", "Not hashed.",
                default=path("$.context.device.advertisingId")),
)

ADD = ActionDefinition(
    key="add_to_audience", title="Add to Audience",
    description="Add the people who entered a connected audience to its Meta custom audience.",
    default_trigger='type = "track" and event = "Audience Entered"', fields=FIELDS,
    perform=one_at_a_time(add_batch), perform_batch=add_batch, batch_size=BATCH)
REMOVE = ActionDefinition(
    key="remove_from_audience", title="Remove from Audience",
    description="Remove the people who exited a connected audience from its Meta custom audience.",
    default_trigger='type = "track" and event = "Audience Exited"', fields=FIELDS,
    perform=one_at_a_time(remove_batch), perform_batch=remove_batch, batch_size=BATCH)

DEFINITION = DestinationDefinition(
    key=KIND,
    name="Facebook Custom Audiences",
    category="Advertising",
    mode="cloud",
    description="Sync audiences to Meta custom audiences for targeting and exclusions (hashed identifiers).",
    settings=(
        SettingField("ad_account_id", "Ad account id", "string", "From Ads Manager, e.g. 1234567890 or "
                     "act_1234567890.", required=True),
        SettingField("access_token", "Access token", "string", "A system user token with ads_management on the "
                     "ad account.", required=True, secret=True),
        SettingField("phone_region", "Default phone region", "string", "Country of phone numbers written "
                     "without a country code (ISO alpha-2).", default="US"),
        SettingField("api_version", "Graph API version", "string", default="v24.0"),
    ),
    actions=(ADD, REMOVE),
    check_credentials=check_credentials,
    validate=_validate,
)
