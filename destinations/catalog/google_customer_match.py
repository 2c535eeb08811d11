"""Google Customer Match through the Data Manager API: audience members added and removed by hashed
identifiers.

API facts followed here (Data Manager API v1; since April 2026 the Google Ads API refuses Customer Match
uploads from developer tokens that had not uploaded before, and Google points new integrations here):
- `POST /v1/audienceMembers:ingest` and `POST /v1/audienceMembers:remove`, OAuth Bearer token (scope
  https://www.googleapis.com/auth/datamanager), no developer token. Body: `destinations: [{operatingAccount:
  {accountType: "GOOGLE_ADS", accountId}, productDestinationId: <user list id>}]`, `audienceMembers:
  [{userData: {userIdentifiers: [{emailAddress}, {phoneNumber}, {address: {givenName, familyName,
  regionCode, postalCode}}]}}]`, `consent: {adUserData, adPersonalization}` (ingest), `encoding: "HEX"`,
  `validateOnly`. The answer carries a `requestId`.
- At most 10,000 members per request and 10 identifiers per member; 300 requests a minute per project,
  429 RESOURCE_EXHAUSTED beyond that (retried with backoff, Retry-After honoured).
- Formatting: emails trimmed and lowercased, for gmail.com / googlemail.com every dot and any +suffix of
  the local part removed; phones E.164 with "+"; names lowercased and trimmed; SHA-256 hex. Region code
  and postal code are not hashed. Done by destinations.identity (Google's rules); hashes pass through.
- User lists are not created through this API: a connection names an existing Customer Match list.
- Tokens: a refresh token (with the OAuth client id and secret) is exchanged at
  `POST https://oauth2.googleapis.com/token` (grant_type=refresh_token) and the access token kept in this
  process until shortly before it expires; or a bare access token is used as given.
Hosts: datamanager.googleapis.com (DESTINATION_ENDPOINTS["google_datamanager"]) and oauth2.googleapis.com
(DESTINATION_ENDPOINTS["google_oauth"]).
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from typing import Any

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

KIND = "google_customer_match"
ENDPOINT, DEFAULT_HOST = "google_datamanager", "https://datamanager.googleapis.com"
OAUTH_ENDPOINT, OAUTH_HOST = "google_oauth", "https://oauth2.googleapis.com"
SCOPE = "https://www.googleapis.com/auth/datamanager"
MAX_BATCH = 10_000  # Google's limit per request
BATCH = 2000  # what the delivery engine gathers per request (the catalog's engine-wide cap)
CONSENT = (("CONSENT_GRANTED", "Granted"), ("CONSENT_DENIED", "Denied"))
RECONNECT = ("Google refused the credentials (HTTP 401): reconnect — paste a new refresh token (or access "
             "token) in this destination's settings.")
_CUSTOMER = re.compile(r"^\d{3}-?\d{3}-?\d{4}$")

_tokens: dict[str, tuple[float, str]] = {}
_tokens_lock = threading.Lock()


def _secrets(settings: dict[str, Any]) -> tuple[str, ...]:
    return DEFINITION.read(settings).secrets("access_token", "refresh_token", "client_secret")


def customer_id(settings: dict[str, Any]) -> str:
    return DEFINITION.read(settings).text("customer_id").replace("-", "").strip()


def access_token(settings: dict[str, Any]) -> str:
    """The Bearer token: exchanged from the refresh token (cached until a minute before it expires), or
    the access token setting. Raises DeliveryError (401/400 from Google: reconnect, not retried)."""
    s = DEFINITION.read(settings)
    refresh = s.text("refresh_token")
    if not refresh:
        if not s.text("access_token"):
            raise DeliveryError("No Google credentials: set a refresh token or an access token.", retryable=False)
        return s.text("access_token")
    key = hashlib.sha256(f"{s.text('client_id')}:{refresh}".encode()).hexdigest()
    with _tokens_lock:
        cached = _tokens.get(key)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    try:
        exchange = http.send("POST", f"{http.endpoint(OAUTH_ENDPOINT, OAUTH_HOST)}/token", secrets=_secrets(settings),
                             data={"grant_type": "refresh_token", "refresh_token": refresh,
                                   "client_id": s.text("client_id"),
                                   "client_secret": s.text("client_secret")})
    except DeliveryError as exc:
        if exc.status in (400, 401):
            raise DeliveryError(RECONNECT, retryable=False, status=exc.status, exchange=exc.exchange) from exc
        raise
    body = exchange.json() if isinstance(exchange.json(), dict) else {}
    token = body.get("access_token")
    if not token:
        raise DeliveryError("Google's token endpoint answered without an access token", retryable=True,
                            exchange=exchange)
    expires = float(body.get("expires_in") or 3600)
    with _tokens_lock:
        _tokens[key] = (time.monotonic() + max(0.0, expires - 60), str(token))
    return str(token)


def _send(settings: dict[str, Any], path: str, body: dict[str, Any]) -> http.Exchange:
    token = access_token(settings)
    try:
        return http.send("POST", f"{http.endpoint(ENDPOINT, DEFAULT_HOST)}{path}", json=body,
                         headers={"Authorization": f"Bearer {token}"}, secrets=(*_secrets(settings), token))
    except DeliveryError as exc:
        raise classify(exc) from exc


def classify(exc: DeliveryError) -> DeliveryError:
    """401: reconnect (not retried); 403: permission on the account or list; 429 and 5xx stay retryable."""
    body = exc.exchange.json() if exc.exchange is not None else None
    error = body.get("error") if isinstance(body, dict) else None
    detail = str(error.get("message") or "") if isinstance(error, dict) else ""
    if exc.status == 401:
        return DeliveryError(RECONNECT, retryable=False, status=401, exchange=exc.exchange)
    if exc.status == 403:
        return DeliveryError(f"Google refused: the credentials lack access to this Google Ads account or user "
                             f"list (HTTP 403). {detail}", retryable=False, status=403, exchange=exc.exchange)
    if exc.status == 429:
        return DeliveryError(f"Google rate limit (RESOURCE_EXHAUSTED): retrying with backoff. {detail}",
                             retryable=True, status=429, exchange=exc.exchange, retry_after=exc.retry_after)
    if detail and not exc.retryable:
        return DeliveryError(f"Google error (HTTP {exc.status}): {detail}", retryable=False, status=exc.status,
                             exchange=exc.exchange)
    return exc


def member(settings: dict[str, Any], payload: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """One audienceMembers entry (None when nothing usable is left) and the values dropped, by field."""
    prepared = identity.prepare(identity.GOOGLE, {k: payload.get(k) for k in (
        "email", "phone", "first_name", "last_name", "country", "zip")}, region=DEFINITION.read(settings).text("phone_region"))
    v = prepared.values
    ids: list[dict[str, Any]] = []
    if "email" in v:
        ids.append({"emailAddress": v["email"]})
    if "phone" in v:
        ids.append({"phoneNumber": v["phone"]})
    if all(k in v for k in ("first_name", "last_name", "country", "zip")):
        ids.append({"address": {"givenName": v["first_name"], "familyName": v["last_name"],
                                "regionCode": v["country"], "postalCode": v["zip"]}})
    return ({"userData": {"userIdentifiers": ids[:10]}} if ids else None), prepared.dropped


def _members(path: str, settings: dict[str, Any], payloads: list[dict[str, Any]]) -> BatchResult:
    if len(payloads) > MAX_BATCH:
        raise PayloadError(f"at most {MAX_BATCH} members per request")
    item_errors: dict[int, Exception] = {}
    by_list: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for i, p in enumerate(payloads):
        list_id = str(p.get("external_audience_id") or "").strip()
        entry, dropped = member(settings, p)
        if not list_id:
            item_errors[i] = PayloadError("no Customer Match user list id (connect an audience to this destination)")
        elif entry is None:
            why = ", ".join(f"{k}: {v}" for k, v in dropped.items()) or "none given"
            item_errors[i] = PayloadError(f"no identifier Google can match ({why})")
        else:
            by_list.setdefault(list_id, []).append((i, entry))
    first: http.Exchange | None = None
    for list_id, entries in by_list.items():
        body: dict[str, Any] = {
            "destinations": [{"operatingAccount": {"accountType": "GOOGLE_ADS", "accountId": customer_id(settings)},
                              "productDestinationId": list_id}],
            "audienceMembers": [e for _, e in entries],
        }
        if path.endswith(":ingest"):
            consent = DEFINITION.read(settings)
            body["consent"] = {"adUserData": consent.choice("ad_user_data_consent"),
                               "adPersonalization": consent.choice("ad_personalization_consent")}
        body["encoding"] = "HEX"
        body["validateOnly"] = False
        try:
            exchange = _send(settings, path, body)
        except DeliveryError as exc:
            if len(by_list) == 1:
                raise
            item_errors.update({i: exc for i, _ in entries})
            first = first or exc.exchange
            continue
        first = first or exchange
    return BatchResult(exchange=first, item_errors=item_errors)


def ingest_batch(settings: dict[str, Any], payloads: list[dict[str, Any]]) -> BatchResult:
    return _members("/v1/audienceMembers:ingest", settings, payloads)


def remove_batch(settings: dict[str, Any], payloads: list[dict[str, Any]]) -> BatchResult:
    return _members("/v1/audienceMembers:remove", settings, payloads)


def check_credentials(settings: dict[str, Any]) -> tuple[bool, str]:
    """Get an access token and ask Google which scopes it carries (tokeninfo)."""
    try:
        token = access_token(settings)
        exchange = http.send("GET", f"{http.endpoint(OAUTH_ENDPOINT, OAUTH_HOST)}/tokeninfo",
                             params={"access_token": token}, secrets=(*_secrets(settings), token))
    except DeliveryError as exc:
        if exc.status in (400, 401):
            return False, RECONNECT
        return False, exc.message
    body = exchange.json() if isinstance(exchange.json(), dict) else {}
    if SCOPE not in str(body.get("scope", "")).split():
        return False, f"The token works but lacks the Data Manager scope ({SCOPE})."
    return True, "Google accepted the credentials (Data Manager scope granted)."


def _validate(settings: dict[str, Any]) -> dict[str, str]:
    errors = {}
    s = DEFINITION.read(settings)
    if not _CUSTOMER.match(s.text("customer_id").strip()):
        errors["customer_id"] = "The Google Ads customer id: 10 digits, dashes allowed (123-456-7890)."
    if not s.text("access_token") and not all(s.text(k) for k in ("refresh_token", "client_id", "client_secret")):
        errors["refresh_token"] = "Give a refresh token with its OAuth client id and secret (or an access token)."
    region = s.text("phone_region")
    if len(region) != 2 or not region.isalpha():
        errors["phone_region"] = "A 2-letter country code, e.g. US or GB."
    return errors


FIELDS = (
    ActionField("external_audience_id", "User list id", "string", "The Customer Match list (set by audience sync).",
                required=True, default=path("$.context.personas.external_audience_id")),
    ActionField("email", "Email", "string", "Hashed (SHA-256) after Google's normalization.",
                default=path("$.context.traits.email")),
    ActionField("phone", "Phone", "string", "E.164 with + (default region setting), then hashed.",
                default=path("$.context.traits.phone")),
    ActionField("first_name", "First name", "string", "Sent in the address identifier (with last name, "
                "country and postal code).", default=path("$.context.traits.first_name")),
    ActionField("last_name", "Last name", "string", default=path("$.context.traits.last_name")),
    ActionField("country", "Country", "string", "ISO alpha-2; not hashed.",
                default=path("$.context.traits.address.country")),
    ActionField("zip", "Postal code", "string", "Not hashed.", default=path("$.context.traits.address.postal_code")),
)

ADD = ActionDefinition(
    key="add_members", title="Add to Customer Match list",
    description="Add the people who entered a connected audience to its Customer Match user list.",
    default_trigger='type = "track" and event = "Audience Entered"', fields=FIELDS,
    perform=one_at_a_time(ingest_batch), perform_batch=ingest_batch, batch_size=BATCH)
REMOVE = ActionDefinition(
    key="remove_members", title="Remove from Customer Match list",
    description="Remove the people who exited a connected audience from its Customer Match user list.",
    default_trigger='type = "track" and event = "Audience Exited"', fields=FIELDS,
    perform=one_at_a_time(remove_batch), perform_batch=remove_batch, batch_size=BATCH)

DEFINITION = DestinationDefinition(
    key=KIND,
    name="Google Customer Match",
    category="Advertising",
    mode="cloud",
    description="Sync audiences to Google Ads Customer Match lists through the Data Manager API (hashed "
                "identifiers).",
    settings=(
        SettingField("customer_id", "Google Ads customer id", "string", "The account that owns the lists, "
                     "e.g. 123-456-7890.", required=True),
        SettingField("refresh_token", "OAuth refresh token", "string", "With the datamanager scope.", secret=True),
        SettingField("client_id", "OAuth client id", "string"),
        SettingField("client_secret", "OAuth client secret", "string", secret=True),
        SettingField("access_token", "Access token", "string", "Instead of a refresh token (expires within an "
                     "hour: for trying it out).", secret=True),
        SettingField("ad_user_data_consent", "Consent: ad user data", "choice", "Whether these people agreed to "
                     "their data being sent to Google for advertising.", default="CONSENT_GRANTED", choices=CONSENT),
        SettingField("ad_personalization_consent", "Consent: ad personalization", "choice",
                     default="CONSENT_GRANTED", choices=CONSENT),
        SettingField("phone_region", "Default phone region", "string", "Country of phone numbers written "
                     "without a country code (ISO alpha-2).", default="US"),
    ),
    actions=(ADD, REMOVE),
    check_credentials=check_credentials,
    validate=_validate,
)
