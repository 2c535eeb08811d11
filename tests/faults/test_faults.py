"""Fault tests: real processes, a private PostgreSQL and Redis, the official Python client, local sinks.

The promise under test: an event we acknowledged reaches every matching destination at least once,
whatever fails in between. Each test sends a known set of events while one thing breaks, waits (bounded)
for the pipeline to drain, and checks at the sinks that every acknowledged messageId arrived (duplicates
allowed and counted, losses not). The figures are printed and kept in var/faults-report.json; the
numbers in docs/reliability.md come from there. Run with `make test-faults`.
"""

from __future__ import annotations

import base64
import statistics
import time
import uuid

import requests

from tests.helpers import wait_for

from .harness import Figures, Sender, Stack, await_delivery, duplicates, record, scenario

DRAIN_TIMEOUT = 120.0


def _post_track(stack: Stack, write_key: str, message_id: str) -> requests.Response:
    token = base64.b64encode(f"{write_key}:".encode()).decode()
    return requests.post(f"{stack.host}/v1/track", timeout=10, headers={"Authorization": f"Basic {token}"},
                         json={"userId": "probe", "event": "Probe", "messageId": message_id})


def _all_delivered(stack: Stack, destination_id: int, count: int) -> bool:
    return stack.delivery_statuses(destination_id).get("delivered", 0) >= count


def test_worker_killed_mid_delivery_loses_nothing(stack: Stack) -> None:
    """SIGKILL the whole worker (pool children included) while requests are in flight, then restart it."""
    with scenario(stack, ["killed"]) as sc:
        sink = sc.sinks["killed"]
        sink.behave("slow", delay=0.4)  # keeps deliveries in flight when the kill lands
        sender = Sender(stack.host, sc.write_key, 300, prefix=f"kill-{uuid.uuid4().hex[:6]}", pace=0.005)
        sender.start()
        wait_for(lambda: len(sink.requests) >= 20, timeout=60, what="deliveries under way")
        stack.worker.kill()
        in_flight_when_killed = len(sink.requests)
        sink.behave("ok")
        result = sender.finish()
        restarted = time.monotonic()
        stack.start_worker()
        drain = await_delivery([sink], result.acknowledged, timeout=DRAIN_TIMEOUT, since=restarted)
        acknowledged = result.acknowledged
        assert set(acknowledged) <= stack.stored_message_ids(sc.write_key)
        wait_for(lambda: _all_delivered(stack, sc.pipeline["destinations"]["killed"], len(acknowledged)),
                 timeout=60, what="delivery records to say delivered")
        record(Figures("worker SIGKILL mid-delivery", len(result.sent), len(acknowledged),
                       len(set(sink.delivered()) & set(acknowledged)), duplicates(sink, acknowledged),
                       len(set(acknowledged) - set(sink.delivered())), drain,
                       {"received_before_kill": in_flight_when_killed}))
        assert len(acknowledged) == len(result.sent)


def test_broker_lost_during_ingest_is_swept_and_delivered(stack: Stack) -> None:
    """Redis stopped (and restarted empty) while clients send: ingest keeps answering 200, the outbox
    sweep dispatches what was stored meanwhile, the delivery sweep re-sends tasks the broker lost."""
    with scenario(stack, ["broker"]) as sc:
        sink = sc.sinks["broker"]
        crashes_before = sum(stack.crashes.values())
        sender = Sender(stack.host, sc.write_key, 300, prefix=f"broker-{uuid.uuid4().hex[:6]}", pace=0.01)
        sender.start()
        wait_for(lambda: len(stack.stored_message_ids(sc.write_key)) >= 50, timeout=60, what="ingest under way")
        stack.redis.stop()
        probe_id = f"probe-{uuid.uuid4().hex}"
        probe = _post_track(stack, sc.write_key, probe_id)
        assert probe.status_code == 200, probe.text
        wait_for(lambda: sender.progress >= 250, timeout=60, what="sending during the broker outage")
        stored_during_outage = len(stack.stored_message_ids(sc.write_key))
        stack.redis.start()
        restarted = time.monotonic()
        result = sender.finish()
        assert result.failed == set(), "ingest refused events while the broker was down"
        acknowledged = [*result.acknowledged, probe_id]
        drain = await_delivery([sink], acknowledged, timeout=DRAIN_TIMEOUT, since=restarted)
        record(Figures("broker (Redis) stopped and restarted empty", len(result.sent) + 1, len(acknowledged),
                       len(set(sink.delivered()) & set(acknowledged)), duplicates(sink, acknowledged),
                       len(set(acknowledged) - set(sink.delivered())), drain,
                       {"stored_during_outage": stored_during_outage,
                        "worker_restarts_by_supervisor": sum(stack.crashes.values()) - crashes_before}))


def test_database_restart_during_ingest_answers_503_and_clients_retry(stack: Stack) -> None:
    """PostgreSQL crashes (immediate stop) mid-ingest: requests fail with 503, never a 200 for an event
    not stored; the client's own retries deliver everything once the database is back."""
    with scenario(stack, ["database"]) as sc:
        sink = sc.sinks["database"]
        crashes_before = sum(stack.crashes.values())
        sender = Sender(stack.host, sc.write_key, 300, prefix=f"db-{uuid.uuid4().hex[:6]}", pace=0.01)
        sender.start()
        wait_for(lambda: len(stack.stored_message_ids(sc.write_key)) >= 50, timeout=60, what="ingest under way")
        stack.pg.stop("immediate")
        refused_id = f"refused-{uuid.uuid4().hex}"
        refused = _post_track(stack, sc.write_key, refused_id)
        assert refused.status_code == 503, refused.text
        assert refused.json()["code"] == "unavailable" and refused.json()["message"]
        wait_for(lambda: sender.progress >= 250, timeout=60, what="sending during the database outage")
        stack.pg.start()
        restarted = time.monotonic()
        result = sender.finish()
        acknowledged = result.acknowledged
        stored = stack.stored_message_ids(sc.write_key)
        assert set(acknowledged) <= stored, "a 200 was given for an event that was not stored"
        assert refused_id not in stored
        drain = await_delivery([sink], acknowledged, timeout=DRAIN_TIMEOUT, since=restarted)
        record(Figures("PostgreSQL crash-restarted during ingest", len(result.sent), len(acknowledged),
                       len(set(sink.delivered()) & set(acknowledged)), duplicates(sink, acknowledged),
                       len(set(acknowledged) - set(sink.delivered())), drain,
                       {"client_gave_up": len(result.failed), "probe_status": refused.status_code,
                        "worker_restarts_by_supervisor": sum(stack.crashes.values()) - crashes_before}))
        assert result.failed == set(), "the client gave up on events (its retries should outlast the outage)"


def test_failing_destination_recovers_and_a_rejecting_one_fails_once(stack: Stack) -> None:
    """One destination answers 500, then 429 with Retry-After, then hangs past the read timeout, then
    recovers: everything arrives. Another answers 400: each event is sent once and recorded as failed."""
    with scenario(stack, ["flaky", "rejecting"]) as sc:
        flaky, rejecting = sc.sinks["flaky"], sc.sinks["rejecting"]
        flaky.behave("status", status=500)
        rejecting.behave("status", status=400)
        sender = Sender(stack.host, sc.write_key, 60, prefix=f"flaky-{uuid.uuid4().hex[:6]}", pace=0.005)
        sender.start()
        result = sender.finish()
        acknowledged = result.acknowledged
        wait_for(lambda: len(flaky.requests) >= 10, timeout=60, what="500s answered")
        phases = {"500": len(flaky.requests)}
        for name, mode, kwargs, more in (("429", "status", {"status": 429, "retry_after": "1"}, 5),
                                         ("timeout", "hang", {"hang_seconds": 3.0}, 3)):
            seen = len(flaky.requests)
            flaky.behave(mode, **kwargs)
            wait_for(lambda seen=seen, more=more: len(flaky.requests) >= seen + more, timeout=90,
                     what=f"retries while the destination answers {name}")
            phases[name] = len(flaky.requests) - seen
        flaky.behave("ok")
        recovered = time.monotonic()
        drain = await_delivery([flaky], acknowledged, timeout=DRAIN_TIMEOUT, since=recovered)
        destination_ids = sc.pipeline["destinations"]
        wait_for(lambda: stack.delivery_statuses(destination_ids["rejecting"]).get("failed", 0) >= len(acknowledged),
                 timeout=60, what="the 400s to be recorded as failed")
        wait_for(lambda: _all_delivered(stack, destination_ids["flaky"], len(acknowledged)), timeout=60,
                 what="delivery records to say delivered")
        attempts_at_rejecting = rejecting.attempts()
        assert all(attempts_at_rejecting[m] == 1 for m in acknowledged), attempts_at_rejecting.most_common(3)
        assert stack.delivery_statuses(destination_ids["rejecting"]) == {"failed": len(acknowledged)}
        kept = stack.query("SELECT d.last_status_code, e.response IS NOT NULL FROM destinations_delivery d "
                           "JOIN destinations_deliveryexchange e ON e.id = d.exchange_id "
                           "WHERE d.destination_id = %s LIMIT 1", destination_ids["rejecting"])
        assert kept == [(400, True)]
        retried = stack.query("SELECT max(attempts) FROM destinations_delivery WHERE destination_id = %s",
                              destination_ids["flaky"])[0][0]
        record(Figures("destination 500 → 429 → timeout → recovered (+ a 400 destination)", len(result.sent),
                       len(acknowledged), len(set(flaky.delivered()) & set(acknowledged)),
                       duplicates(flaky, acknowledged), len(set(acknowledged) - set(flaky.delivered())), drain,
                       {"flaky_requests": len(flaky.requests), "requests_per_phase": phases,
                        "max_attempts": retried, "rejecting_requests": len(rejecting.requests)}))


def _latencies(sender_handed: dict[str, float], arrivals: dict[str, float], ids: list[str]) -> list[float]:
    return sorted(arrivals[m] - sender_handed[m] for m in ids if m in arrivals)


def _summary(values: list[float]) -> dict[str, float]:
    return {"p50_ms": round(statistics.median(values) * 1000),
            "p95_ms": round(values[int(len(values) * 0.95) - 1] * 1000),
            "max_ms": round(values[-1] * 1000)}


def test_one_destination_down_does_not_hold_up_the_others(stack: Stack) -> None:
    """Measurement: B's delivery latency with A healthy, then with A hanging past the read timeout.
    Asserted: B gets everything in both phases. The latency comparison is reported, not asserted.
    A warm-up round first, so the baseline is not charged for cold caches and connections."""
    with scenario(stack, ["a", "b"]) as sc:
        a, b = sc.sinks["a"], sc.sinks["b"]
        figures = {}
        warm = Sender(stack.host, sc.write_key, 40, prefix=f"warm-{uuid.uuid4().hex[:6]}", pace=0.05)
        warm.start()
        warmed = warm.finish()
        await_delivery([a, b], warmed.acknowledged, timeout=DRAIN_TIMEOUT, since=warmed.finished)
        for phase in ("baseline", "a_down"):
            if phase == "a_down":
                a.behave("hang", hang_seconds=3.0)
            sender = Sender(stack.host, sc.write_key, 100, prefix=f"{phase}-{uuid.uuid4().hex[:6]}", pace=0.05)
            sender.start()
            result = sender.finish()
            drain = await_delivery([b], result.acknowledged, timeout=DRAIN_TIMEOUT, since=result.finished)
            latencies = _latencies(result.handed, b.first_arrival(), result.acknowledged)
            figures[phase] = {**_summary(latencies), "drain_s": round(drain, 2), "events": len(result.acknowledged)}
            if phase == "baseline":
                await_delivery([a], result.acknowledged, timeout=DRAIN_TIMEOUT, since=result.finished)
        a.behave("ok")
        # and A, once it answers again, gets every event it missed (retried, or held back for a slot)
        recovered = await_delivery([a], result.acknowledged, timeout=DRAIN_TIMEOUT, since=time.monotonic())
        ratio = figures["a_down"]["p50_ms"] / max(1, figures["baseline"]["p50_ms"])
        ratio95 = figures["a_down"]["p95_ms"] / max(1, figures["baseline"]["p95_ms"])
        record(Figures("one destination down, another's latency", 200, 200,
                       len(b.delivered()) - len(warmed.acknowledged),
                       sum(n - 1 for n in b.delivered().values() if n > 1), 0, figures["a_down"]["drain_s"],
                       {**{f"b_{k}_{p}": v for p, f in figures.items() for k, v in f.items()},
                        "b_p50_ratio": round(ratio, 2), "b_p95_ratio": round(ratio95, 2),
                        "a_recovered_s": round(recovered, 1)}))
