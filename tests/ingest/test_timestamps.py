"""The timestamp rule (docs/timestamps.md), one test per combination of timestamp / originalTimestamp /
sentAt, each sent to /v1/batch and read back from the stored event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connections.models import Source
from ingest.models import Event

from .conftest import TrackingClient

# The device clock runs two hours behind the server: its "now" is our now − 2 h.
SKEW = timedelta(hours=2)
HISTORICAL = "2024-01-02T03:04:05.678Z"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _send(api: TrackingClient, source: Source, fields: dict[str, str], batch_sent_at: str | None = None
          ) -> dict:
    message = {"type": "track", "userId": "u1", "event": "Historical", "messageId": "ts-1", **fields}
    body: dict = {"batch": [message]}
    if batch_sent_at is not None:
        body["sentAt"] = batch_sent_at
    response = api.post("/v1/batch", body)
    assert response.status_code == 200, response.content
    [event] = Event.objects.filter(source=source)
    return event.payload


@pytest.fixture
def device_now() -> datetime:
    return datetime.now(UTC) - SKEW


def test_no_client_time_is_the_receive_time(api: TrackingClient, source: Source):
    payload = _send(api, source, {})
    assert payload["timestamp"] == payload["receivedAt"]
    assert "originalTimestamp" not in payload and "sentAt" not in payload


def test_sent_at_alone_changes_nothing_but_is_kept(api: TrackingClient, source: Source, device_now):
    payload = _send(api, source, {"sentAt": _iso(device_now)})
    assert payload["timestamp"] == payload["receivedAt"]
    assert "originalTimestamp" not in payload
    assert payload["sentAt"] == _iso(device_now)


def test_timestamp_alone_is_kept(api: TrackingClient, source: Source):
    payload = _send(api, source, {"timestamp": "2024-01-02T04:04:05.678+01:00"})
    assert payload["timestamp"] == HISTORICAL
    assert payload["originalTimestamp"] == HISTORICAL  # the client time, in our format


def test_timestamp_with_sent_at_is_the_call_time_and_skew_corrected(api: TrackingClient, source: Source,
                                                                    device_now):
    # What Segment's libraries send: timestamp = call time (3 s before sending), on a slow device clock.
    call_time = device_now - timedelta(seconds=3)
    payload = _send(api, source, {"timestamp": _iso(call_time), "sentAt": _iso(device_now)})
    assert payload["originalTimestamp"] == _iso(call_time)
    assert _parse(payload["receivedAt"]) - _parse(payload["timestamp"]) == timedelta(seconds=3)
    assert payload["sentAt"] == _iso(device_now)


def test_timestamp_with_batch_sent_at_is_skew_corrected(api: TrackingClient, source: Source, device_now):
    call_time = device_now - timedelta(seconds=3)
    payload = _send(api, source, {"timestamp": _iso(call_time)}, batch_sent_at=_iso(device_now))
    assert _parse(payload["receivedAt"]) - _parse(payload["timestamp"]) == timedelta(seconds=3)


def test_original_timestamp_alone_is_kept_as_sent(api: TrackingClient, source: Source):
    payload = _send(api, source, {"originalTimestamp": "2024-01-02T04:04:05.678+01:00"})
    assert payload["originalTimestamp"] == "2024-01-02T04:04:05.678+01:00"  # the client's text
    assert payload["timestamp"] == HISTORICAL


def test_original_timestamp_with_sent_at_is_skew_corrected(api: TrackingClient, source: Source, device_now):
    call_time = device_now - timedelta(seconds=4)
    payload = _send(api, source, {"originalTimestamp": _iso(call_time), "sentAt": _iso(device_now)})
    assert payload["originalTimestamp"] == _iso(call_time)
    assert _parse(payload["receivedAt"]) - _parse(payload["timestamp"]) == timedelta(seconds=4)


def test_explicit_timestamp_beside_original_timestamp_is_kept(api: TrackingClient, source: Source):
    # No sentAt: both kept, the explicit one as the event time.
    payload = _send(api, source, {"timestamp": HISTORICAL, "originalTimestamp": "2026-05-01T10:00:00.000Z"})
    assert payload["timestamp"] == HISTORICAL
    assert payload["originalTimestamp"] == "2026-05-01T10:00:00.000Z"


def test_historical_import_keeps_the_callers_timestamp(api: TrackingClient, source: Source, device_now):
    # The reproduction: what rudder-sdk-node sends for track({..., timestamp: new Date(2024…)}).
    call_time = _iso(device_now - timedelta(milliseconds=250))
    payload = _send(api, source, {"timestamp": HISTORICAL, "originalTimestamp": call_time,
                                  "sentAt": _iso(device_now)})
    assert payload["timestamp"] == HISTORICAL  # not skew-corrected, not replaced by the call time
    assert payload["originalTimestamp"] == call_time
    assert payload["sentAt"] == _iso(device_now)


def test_explicit_timestamp_beside_original_timestamp_ignores_batch_sent_at(api: TrackingClient, source: Source,
                                                                            device_now):
    payload = _send(api, source, {"timestamp": "2024-01-02T03:04:05.678+00:00",
                                  "originalTimestamp": _iso(device_now)}, batch_sent_at=_iso(device_now))
    assert payload["timestamp"] == HISTORICAL  # same instant, our format
    assert payload["originalTimestamp"] == _iso(device_now)


def test_unparsable_original_timestamp_falls_back_to_timestamp(api: TrackingClient, source: Source,
                                                               device_now):
    call_time = device_now - timedelta(seconds=1)
    payload = _send(api, source, {"timestamp": _iso(call_time), "originalTimestamp": "not a time",
                                  "sentAt": _iso(device_now)})
    assert payload["originalTimestamp"] == _iso(call_time)
    assert _parse(payload["receivedAt"]) - _parse(payload["timestamp"]) == timedelta(seconds=1)


def test_a_date_alone_is_not_a_message_time(api: TrackingClient, source: Source):
    # One rule for every reader (docs/timestamps.md): a date without a time of day is no instant.
    payload = _send(api, source, {"timestamp": "2024-01-02"})
    assert payload["timestamp"] == payload["receivedAt"]
    assert "originalTimestamp" not in payload
