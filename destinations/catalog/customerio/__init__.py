"""Customer.io (Journeys) through the Track API v2.

- settings: Site ID and API key (HTTP Basic site_id:api_key on every request), account region (US
  https://track.customer.io, EU https://track-eu.customer.io; DESTINATION_ENDPOINTS["customerio"]
  overrides both), whether ISO-8601 attribute values become unix timestamps, and the batch size;
- credentials test: `GET /api/v1/accounts/region`;
- actions (actions.py): people, objects, devices, events, page and screen views, merges, suppression,
  delivery metrics. One payload goes to `POST /api/v2/entity`; batches to `POST /api/v2/batch`, whose 207
  answer marks only the failed items.
"""

from __future__ import annotations

from typing import Any

from ... import http
from ...errors import DeliveryError
from ..base import DestinationDefinition
from .actions import ACTIONS
from .operations import build_delete_person, person_identifiers
from .settings import FIELDS, MAX_BATCH_SIZE, read
from .transport import HOSTS, KIND, auth, base_url, send_operation

REGION_PATH = "/api/v1/accounts/region"


def check_credentials(settings: dict[str, Any]) -> tuple[bool, str]:
    """(ok, message) from `GET /api/v1/accounts/region`. The endpoint answers on either regional host,
    so a region that differs from the destination's setting is reported as a problem to fix."""
    try:
        exchange = http.send("GET", base_url(settings) + REGION_PATH, **auth(settings))
    except DeliveryError as exc:
        if exc.status == 401:
            return False, "Invalid Site ID or API key"
        if exc.status is not None:
            return False, f"Customer.io answered HTTP {exc.status} to the credentials check."
        return False, f"Could not reach Customer.io: {exc.message}"
    body = exchange.json()
    region = body.get("region") if isinstance(body, dict) else None
    configured = read(settings).choice("region")
    if region in HOSTS and region != configured:
        return False, (
            f"These credentials belong to a workspace in the {region.upper()} region, but this destination "
            f"is set to {configured.upper()}: change Account Region to {region.upper()}."
        )
    if region in HOSTS:
        return True, f"Connected to Customer.io ({region.upper()} region)."
    return True, "Connected to Customer.io."


def delete_person(settings: dict[str, Any], identities: dict[str, str]) -> http.Exchange | None:
    """Forward a privacy deletion: a v2 person `delete`, naming the person by user id (else email).
    Customer.io cannot name a person by anonymous id alone: then nothing is sent (None)."""
    payload = {"person_id": identities.get("user_id"), "email": identities.get("email")}
    if person_identifiers(payload) is None:
        return None
    return send_operation(settings, build_delete_person(payload, settings))


def _validate(settings: dict[str, Any]) -> dict[str, str]:
    size = read(settings).integer("batch_size")
    if size is None or not 1 <= size <= MAX_BATCH_SIZE:
        return {"batch_size": f"Enter a number from 1 to {MAX_BATCH_SIZE}."}
    return {}


DEFINITION = DestinationDefinition(
    key=KIND,
    name="Customer.io",
    category="Messaging",
    mode="cloud",
    description="Send people, objects, devices and events to your Customer.io workspace to message people "
    "and trigger campaigns.",
    settings=FIELDS,
    actions=ACTIONS,
    check_credentials=check_credentials,
    validate=_validate,
    delete_person=delete_person,
)
