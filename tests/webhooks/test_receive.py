"""POST /v1/webhooks/{key}: bodies kept, mapped to events, signatures checked, limits applied."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest

from connections.models import Source
from connections.services import create_source, update_webhook_settings
from ingest import webhooks
from ingest.models import Event, WebhookBody
from ingest.webhook_mapping import message_id
from pipelines.models import Workspace

from .conftest import (
    SHOPIFY_MAPPING,
    SHOPIFY_ORDER,
    STRIPE_EVENT,
    STRIPE_MAPPING,
    HookClient,
    b64_hmac,
    hex_hmac,
)


def _events(source: Source) -> list[dict[str, Any]]:
    return [e.payload for e in Event.objects.filter(source=source).order_by("id")]


def test_stripe_event_becomes_a_track_event(stripe_hook: Source, post: HookClient) -> None:
    response = post.post(STRIPE_EVENT)
    assert response.status_code == 200, response.content
    assert response.json()["events"] == 1
    (event,) = _events(stripe_hook)
    assert event["type"] == "track"
    assert event["event"] == "charge.succeeded"
    assert event["userId"] == "cus_Q42"
    assert event["messageId"] == "evt_1PqR2sT3uV4wX5yZ"
    assert event["timestamp"] == "2024-05-01T12:00:00.000Z"  # Stripe's `created` is epoch seconds
    assert event["properties"] == {"amount": 2000, "currency": "usd", "email": "ada@example.com"}
    assert event["context"]["library"] == {"name": "webhook"}
    body = WebhookBody.objects.get(source=stripe_hook)
    assert body.status == "processed" and body.event_count == 1 and orjson.loads(bytes(body.raw)) == STRIPE_EVENT


def test_a_retried_body_is_stored_once(stripe_hook: Source, post: HookClient) -> None:
    assert post.post(STRIPE_EVENT).status_code == 200
    assert post.post(STRIPE_EVENT).status_code == 200
    assert Event.objects.filter(source=stripe_hook).count() == 1


def test_shopify_order_makes_one_event_per_line_item(hook: Source, post: HookClient) -> None:
    update_webhook_settings(hook, mapping=SHOPIFY_MAPPING, array_path="$.body.line_items")
    response = post.post(SHOPIFY_ORDER, HTTP_X_SHOPIFY_TOPIC="orders/create")
    assert response.status_code == 200, response.content
    first, second = _events(hook)
    assert first["event"] == second["event"] == "Shopify orders/create"
    assert first["userId"] == "7001"
    assert (first["messageId"], second["messageId"]) == ("5678901234-1", "5678901234-2")
    assert first["properties"] == {"order_id": 5678901234, "sku": "MUG-1", "quantity": 2, "price": "15.00",
                                   "currency": "EUR"}
    assert second["properties"]["sku"] == "TEE-9"
    assert first["timestamp"] == "2024-05-01T12:00:00.000Z"


def test_without_a_mapped_message_id_it_is_a_hash_of_the_body_and_index(hook: Source, post: HookClient) -> None:
    update_webhook_settings(hook, mapping={"event": "Pinged", "anonymousId": {"@path": "$.body.who"}})
    raw = b'{"who": "anon-1"}'
    assert post.post(raw=raw).status_code == 200
    assert post.post(raw=raw).status_code == 200
    (event,) = _events(hook)
    assert event["messageId"] == message_id(raw, 0)


def test_form_encoded_body_is_mapped(hook: Source, post: HookClient) -> None:
    update_webhook_settings(hook, mapping={
        "type": "identify", "userId": {"@path": "$.body.user_id"},
        "traits": {"email": {"@path": "$.body.email"}, "tags": {"@path": "$.body.tag"}},
    })
    response = post.post(raw=b"user_id=u-9&email=ada%40example.com&tag=a&tag=b",
                         content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200, response.content
    (event,) = _events(hook)
    assert event["type"] == "identify"
    assert event["traits"] == {"email": "ada@example.com", "tags": ["a", "b"]}


def test_a_body_the_mapping_cannot_use_is_kept_and_reprocessed_after_the_fix(
    hook: Source, post: HookClient
) -> None:
    update_webhook_settings(hook, mapping={"event": {"@path": "$.body.kind"},
                                           "userId": {"@path": "$.body.user.id"}})
    response = post.post({"type": "signup", "account": {"id": "acct-1"}})
    assert response.status_code == 202
    assert response.json()["success"] is True
    body = WebhookBody.objects.get(source=hook)
    assert body.status == "failed"
    assert "event is required" in body.reason and "userId or anonymousId is required" in body.reason
    assert not _events(hook)

    update_webhook_settings(hook, mapping={"event": {"@path": "$.body.type"},
                                           "userId": {"@path": "$.body.account.id"}})
    (done,) = webhooks.reprocess(hook)
    assert done.status == "processed" and done.reason == ""
    (event,) = _events(hook)
    assert (event["event"], event["userId"]) == ("signup", "acct-1")
    # Re-processing again adds nothing: the messageIds are deterministic.
    webhooks.reprocess(hook, WebhookBody.objects.filter(source=hook))
    assert len(_events(hook)) == 1


def test_invalid_json_and_a_missing_mapping_are_kept_with_their_reason(hook: Source, post: HookClient) -> None:
    assert post.post(raw=b"{not json").status_code == 202
    update_webhook_settings(hook, mapping={"event": "x", "userId": "u"})
    assert post.post(raw=b"[1, 2").status_code == 202
    reasons = list(WebhookBody.objects.filter(source=hook).order_by("id").values_list("reason", flat=True))
    assert reasons[0].startswith("The body is not valid JSON")
    assert reasons[1].startswith("The body is not valid JSON")
    empty = create_source(hook.workspace, name="New", kind="webhook")[0]
    assert HookClient(empty).post({"a": 1}).status_code == 202
    assert "no mapping yet" in WebhookBody.objects.get(source=empty).reason


def test_array_path_that_is_not_an_array_is_a_reason(hook: Source, post: HookClient) -> None:
    update_webhook_settings(hook, mapping={"event": "x", "userId": "u"}, array_path="$.body.items")
    assert post.post({"items": {"a": 1}}).status_code == 202
    assert "does not lead to an array" in WebhookBody.objects.get(source=hook).reason


def test_oversize_body_is_refused_clearly_and_not_stored(stripe_hook: Source, post: HookClient) -> None:
    big = {"id": "evt_big", "padding": "x" * (501 * 1024)}
    response = post.post(big)
    assert response.status_code == 400
    assert response.json()["code"] == "payload_too_large"
    assert "500 KB" in response.json()["message"]
    assert not WebhookBody.objects.exists()


def test_hmac_signature_hex_with_prefix(hook: Source, post: HookClient) -> None:
    update_webhook_settings(hook, mapping=STRIPE_MAPPING, signature_scheme="hmac_sha256",
                            signature_header="X-Hub-Signature-256", signature_prefix="sha256=",
                            signature_encoding="hex", secret="whsec-shared-1")
    raw = orjson.dumps(STRIPE_EVENT)
    good = post.post(raw=raw, HTTP_X_HUB_SIGNATURE_256="sha256=" + hex_hmac("whsec-shared-1", raw))
    assert good.status_code == 200, good.content
    body = WebhookBody.objects.get(source=hook)
    assert "x-hub-signature-256" not in body.headers  # the signature is not kept with the body


@pytest.mark.parametrize("header", [None, "sha256=00ff", "sha256=" + "0" * 64, "nope"])
def test_wrong_or_missing_signature_is_refused_and_nothing_stored(hook: Source, post: HookClient,
                                                                   header: str | None) -> None:
    update_webhook_settings(hook, mapping=STRIPE_MAPPING, signature_scheme="hmac_sha256",
                            signature_header="X-Hub-Signature-256", signature_prefix="sha256=",
                            secret="whsec-shared-1")
    extra = {} if header is None else {"HTTP_X_HUB_SIGNATURE_256": header}
    response = post.post(STRIPE_EVENT, **extra)
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_signature"
    assert not WebhookBody.objects.exists()
    assert not Event.objects.exists()


def test_base64_signature_like_shopify(hook: Source, post: HookClient) -> None:
    update_webhook_settings(hook, mapping=SHOPIFY_MAPPING, array_path="$.body.line_items",
                            signature_scheme="hmac_sha256", signature_header="X-Shopify-Hmac-Sha256",
                            signature_encoding="base64", secret="shpss_secret")
    raw = orjson.dumps(SHOPIFY_ORDER)
    ok = post.post(raw=raw, HTTP_X_SHOPIFY_HMAC_SHA256=b64_hmac("shpss_secret", raw),
                   HTTP_X_SHOPIFY_TOPIC="orders/paid")
    assert ok.status_code == 200, ok.content
    bad = post.post(raw=raw, HTTP_X_SHOPIFY_HMAC_SHA256=b64_hmac("other", raw))
    assert bad.status_code == 401


def test_stripe_signature_scheme(hook: Source, post: HookClient) -> None:
    update_webhook_settings(hook, mapping=STRIPE_MAPPING, signature_scheme="stripe", secret="whsec_test")
    raw = orjson.dumps(STRIPE_EVENT)
    now = int(time.time())
    good = f"t={now},v1={hex_hmac('whsec_test', str(now).encode() + b'.' + raw)}"
    assert post.post(raw=raw, HTTP_STRIPE_SIGNATURE=good).status_code == 200
    old = now - 3600
    stale = f"t={old},v1={hex_hmac('whsec_test', str(old).encode() + b'.' + raw)}"
    assert post.post(raw=raw, HTTP_STRIPE_SIGNATURE=stale).status_code == 401
    forged = f"t={now},v1={hex_hmac('whsec_other', str(now).encode() + b'.' + raw)}"
    assert post.post(raw=raw, HTTP_STRIPE_SIGNATURE=forged).status_code == 401
    assert WebhookBody.objects.count() == 1


def test_the_secret_is_encrypted_at_rest(hook: Source) -> None:
    settings = update_webhook_settings(hook, signature_scheme="hmac_sha256", secret="very-secret-value-1")
    assert "very-secret-value-1" not in settings.secret_encrypted
    assert settings.masked_secret.endswith("ue-1") and "very" not in settings.masked_secret


def test_other_kinds_of_source_and_unknown_keys_are_refused(workspace: Workspace) -> None:
    other = create_source(workspace, name="Backend", kind="python")[0]
    assert HookClient(other).post({"a": 1}).status_code == 404
    client = HookClient(other)
    client.source = Source(write_key="no-such-key")
    assert client.post({"a": 1}).status_code == 401
    assert not WebhookBody.objects.exists()


def test_only_post(post: HookClient) -> None:
    response = post.client.get(post.url)
    assert response.status_code == 405 and response.json()["code"] == "method_not_allowed"


def test_events_the_database_refuses_leave_the_body_kept_with_the_reason(stripe_hook: Source,
                                                                          post: HookClient) -> None:
    # PostgreSQL's jsonb refuses \u0000: the events' savepoint rolls back, the body is committed.
    raw = orjson.dumps({**STRIPE_EVENT, "type": "charge.\u0000succeeded"})
    response = post.post(raw=raw)
    assert response.status_code == 202, response.content
    body = WebhookBody.objects.get(source=stripe_hook)
    assert body.status == "failed" and body.reason.startswith("The events cannot be stored")
    assert bytes(body.raw) == raw
    assert not Event.objects.exists()


def test_gzip_body_is_accepted(stripe_hook: Source, post: HookClient) -> None:
    import gzip

    response = post.post(raw=gzip.compress(orjson.dumps(STRIPE_EVENT)), HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 200, response.content
    assert Event.objects.filter(source=stripe_hook).count() == 1
