"""Webhook bodies mapped to events and delivered: a Stripe-like and a Shopify-like service post to
/v1/webhooks/{key}; a real Celery worker fans the events out to a webhook destination (a local
server), which receives them as track events."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from pytest_httpserver import HTTPServer

from connections import services
from connections.models import Source
from destinations.models import Delivery
from ingest import webhooks
from ingest.models import WebhookBody
from pipelines.models import Workspace
from tests.helpers import wait_for

from .conftest import SHOPIFY_MAPPING, SHOPIFY_ORDER, STRIPE_EVENT, STRIPE_MAPPING, HookClient, b64_hmac

pytestmark = pytest.mark.usefixtures("celery_worker")


@pytest.fixture
def receiver(settings: Any, workspace: Workspace, hook: Source, httpserver: HTTPServer) -> HTTPServer:
    settings.OUTBOUND_ALLOW_PRIVATE = True
    httpserver.expect_request("/in", method="POST").respond_with_data("ok")
    services.create_destination(workspace, name="Our webhook", kind="webhook", sources=[hook],
                                settings={"url": httpserver.url_for("/in")})
    return httpserver


def _received(server: HTTPServer, n: int) -> list[dict[str, Any]]:
    wait_for(lambda: len(server.log) >= n and Delivery.objects.filter(status="delivered").count() >= n,
             what=f"{n} deliveries")
    return [orjson.loads(request.get_data()) for request, _ in server.log]


def test_stripe_event_is_delivered_as_a_track_event(receiver: HTTPServer, hook: Source) -> None:
    services.update_webhook_settings(hook, mapping=STRIPE_MAPPING)
    assert HookClient(hook).post(STRIPE_EVENT).status_code == 200
    (sent,) = _received(receiver, 1)
    assert sent["type"] == "track" and sent["event"] == "charge.succeeded"
    assert sent["userId"] == "cus_Q42" and sent["messageId"] == "evt_1PqR2sT3uV4wX5yZ"
    assert sent["properties"]["amount"] == 2000
    assert sent["context"]["library"] == {"name": "webhook"}


def test_signed_shopify_order_is_delivered_one_event_per_line_item(receiver: HTTPServer, hook: Source) -> None:
    services.update_webhook_settings(hook, mapping=SHOPIFY_MAPPING, array_path="$.body.line_items",
                                     signature_scheme="hmac_sha256", signature_header="X-Shopify-Hmac-Sha256",
                                     signature_encoding="base64", secret="shpss_secret")
    raw = orjson.dumps(SHOPIFY_ORDER)
    response = HookClient(hook).post(raw=raw, HTTP_X_SHOPIFY_HMAC_SHA256=b64_hmac("shpss_secret", raw),
                                     HTTP_X_SHOPIFY_TOPIC="orders/create")
    assert response.status_code == 200, response.content
    sent = sorted(_received(receiver, 2), key=lambda e: e["messageId"])
    assert [e["event"] for e in sent] == ["Shopify orders/create"] * 2
    assert [e["properties"]["sku"] for e in sent] == ["MUG-1", "TEE-9"]
    assert {e["userId"] for e in sent} == {"7001"}


def test_a_kept_body_is_delivered_once_reprocessed(receiver: HTTPServer, hook: Source) -> None:
    services.update_webhook_settings(hook, mapping={"event": {"@path": "$.body.kind"},
                                                    "userId": {"@path": "$.body.customer"}})
    assert HookClient(hook).post(STRIPE_EVENT).status_code == 202
    assert WebhookBody.objects.get(source=hook).status == "failed"
    assert not receiver.log
    services.update_webhook_settings(hook, mapping=STRIPE_MAPPING)
    (body,) = webhooks.reprocess(hook)
    assert body.status == "processed"
    (sent,) = _received(receiver, 1)
    assert sent["event"] == "charge.succeeded"
