"""Fixtures for incoming webhook sources: a webhook source, a client posting to /v1/webhooks/{key}, and
payloads shaped like what Stripe and Shopify send."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from django.test import Client

from connections.models import Source
from connections.services import create_source, update_webhook_settings
from ingest import auth
from ingest.services import broker_breaker
from pipelines.models import Workspace


@pytest.fixture(autouse=True)
def _fresh_process_state() -> Iterator[None]:
    auth.forget()
    broker_breaker.reset()
    yield
    auth.forget()
    broker_breaker.reset()


@pytest.fixture
def hook(workspace: Workspace) -> Source:
    return create_source(workspace, name="Payments", kind="webhook")[0]


STRIPE_EVENT: dict[str, Any] = {
    "id": "evt_1PqR2sT3uV4wX5yZ", "object": "event", "type": "charge.succeeded", "created": 1714564800,
    "livemode": False,
    "data": {"object": {"id": "ch_3Ab", "object": "charge", "amount": 2000, "currency": "usd",
                        "customer": "cus_Q42", "receipt_email": "ada@example.com", "paid": True}},
}

# One event per Stripe event; the Stripe event id is the messageId (Stripe retries with the same id).
STRIPE_MAPPING: dict[str, Any] = {
    "type": "track",
    "event": {"@path": "$.body.type"},
    "userId": {"@path": "$.body.data.object.customer"},
    "messageId": {"@path": "$.body.id"},
    "timestamp": {"@path": "$.body.created"},
    "properties": {"amount": {"@path": "$.body.data.object.amount"},
                   "currency": {"@path": "$.body.data.object.currency"},
                   "email": {"@path": "$.body.data.object.receipt_email"}},
}

SHOPIFY_ORDER: dict[str, Any] = {
    "id": 5678901234, "email": "jon@example.com", "created_at": "2024-05-01T08:00:00-04:00",
    "total_price": "130.00", "currency": "EUR", "customer": {"id": 7001, "email": "jon@example.com"},
    "line_items": [{"id": 1, "sku": "MUG-1", "title": "Mug", "quantity": 2, "price": "15.00"},
                   {"id": 2, "sku": "TEE-9", "title": "T-shirt", "quantity": 1, "price": "100.00"}],
}

# Shopify says what happened in the X-Shopify-Topic header; one event per line item.
SHOPIFY_MAPPING: dict[str, Any] = {
    "event": {"@template": "Shopify {{headers.x-shopify-topic}}"},
    "userId": {"@path": "$.body.customer.id"},
    "messageId": {"@template": "{{body.id}}-{{item.id}}"},
    "timestamp": {"@path": "$.body.created_at"},
    "properties": {"order_id": {"@path": "$.body.id"}, "sku": {"@path": "$.item.sku"},
                   "quantity": {"@path": "$.item.quantity"}, "price": {"@path": "$.item.price"},
                   "currency": {"@path": "$.body.currency"}},
}


def hex_hmac(secret: str, raw: bytes) -> str:
    return hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def b64_hmac(secret: str, raw: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest()).decode()


class HookClient:
    """Posts bodies to a source's /v1/webhooks/{key} URL, as an external service would."""

    def __init__(self, source: Source) -> None:
        self.client = Client()
        self.source = source

    @property
    def url(self) -> str:
        return f"/v1/webhooks/{self.source.write_key}"

    def post(self, body: Any = None, *, raw: bytes | None = None, content_type: str = "application/json",
             **headers: Any) -> Any:
        data = raw if raw is not None else orjson.dumps(body)
        return self.client.generic("POST", self.url, data, content_type=content_type, **headers)


@pytest.fixture
def post(hook: Source) -> HookClient:
    return HookClient(hook)


@pytest.fixture
def stripe_hook(hook: Source) -> Source:
    update_webhook_settings(hook, mapping=STRIPE_MAPPING)
    return hook
