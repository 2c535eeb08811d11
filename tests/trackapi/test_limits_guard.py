"""The Track API routes share the /v1 API's brute-force guard and per-source rate limit."""

from __future__ import annotations

import orjson
from django.test import Client

from connections.models import Source
from ingest.models import Event

from .conftest import basic


def _identify(client: Client, auth: str, user: str = "u1") -> object:
    return client.put(f"/api/v1/customers/{user}", data=orjson.dumps({"plan": "pro"}),
                      content_type="application/json", HTTP_AUTHORIZATION=auth)


def test_guessing_api_keys_gets_429_after_the_failure_limit(client, settings, track_source) -> None:
    settings.AUTH_FAILURE_LIMIT = 3
    source, api_key = track_source
    for n in range(3):
        assert _identify(client, basic(source.site_id, f"guess-{n}")).status_code == 401
    blocked = _identify(client, basic(source.site_id, "guess-4"))
    assert blocked.status_code == 429
    assert int(blocked["Retry-After"]) >= 1
    assert blocked.json()["meta"]["errors"][0].startswith("Too many failed authentications")
    # the right key from the blocked address is refused too until the window ends: the guard runs first
    assert _identify(client, basic(source.site_id, api_key)).status_code == 429
    assert not Event.objects.exists()


def test_per_source_rate_limit_answers_429_in_the_track_api_shape(client, settings, track_source) -> None:
    settings.INGEST_RATE_LIMIT = 2
    source, api_key = track_source
    auth = basic(source.site_id, api_key)
    # 8 quick requests span at most two one-second windows: at most 4 can pass
    answers = [_identify(client, auth, f"u{n}") for n in range(8)]
    statuses = [a.status_code for a in answers]
    assert statuses[:2] == [200, 200]
    limited = [a for a in answers if a.status_code == 429]
    assert len(limited) >= 4
    assert int(limited[0]["Retry-After"]) >= 1 and "X-RateLimit-Reset" in limited[0]
    assert limited[0].json()["meta"]["errors"][0].startswith("Too many requests for this source")
    assert Event.objects.filter(source=source).count() == statuses.count(200)


def test_v2_rate_limit_uses_the_v2_error_shape(client, settings, track_source: tuple[Source, str]) -> None:
    settings.INGEST_RATE_LIMIT = 1
    source, api_key = track_source
    body = orjson.dumps({"type": "person", "identifiers": {"id": "u1"}, "action": "identify",
                         "attributes": {"plan": "pro"}})
    answers = [client.post("/api/v2/entity", data=body, content_type="application/json",
                           HTTP_AUTHORIZATION=basic(source.site_id, api_key)) for _ in range(3)]
    limited = [a for a in answers if a.status_code == 429]
    assert limited and limited[0].json()["errors"][0]["reason"] == "rate_limited"
