"""Two workers applying events of the same person at the same time create one person, and a real
worker builds profiles from stored events."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection, connections
from django.utils import timezone

from connections.models import Destination, Source
from profiles.models import Identifier, Person
from tests.helpers import wait_for

needs_postgres = pytest.mark.skipif(connection.vendor != "postgresql",
                                    reason="SQLite (embedded mode) serializes writers: no race to test")


def _race(workspace_id: int, chunks: list[list[tuple[int, dict[str, Any]]]]) -> list[BaseException]:
    from profiles.store import apply_events

    barrier = threading.Barrier(len(chunks))
    errors: list[BaseException] = []

    def run(chunk: list[tuple[int, dict[str, Any]]]) -> None:
        try:
            barrier.wait()
            apply_events(workspace_id, chunk)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(c,)) for c in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_same_new_person_make_one_person(workspace: Any) -> None:
    rounds = 15
    for n in range(rounds):
        a = [(1, {"type": "identify", "userId": f"racer-{n}", "traits": {"email": f"r{n}@example.com", "a": 1}}),
             (2, {"type": "track", "userId": f"racer-{n}", "event": "Raced"})]
        b = [(3, {"type": "identify", "userId": f"racer-{n}", "anonymousId": f"anon-{n}", "traits": {"b": 2}}),
             (4, {"type": "track", "anonymousId": f"anon-{n}", "event": "Raced"})]
        assert _race(workspace.id, [a, b]) == []
    assert Person.objects.count() == rounds
    for n in range(rounds):
        person = Identifier.objects.get(kind="user_id", value=f"racer-{n}").person
        assert person.traits == {"email": f"r{n}@example.com", "a": 1, "b": 2}
        assert sum(person.event_stats.get(name="Raced").per_day.values()) == 2


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_merge_and_events_keep_one_person(workspace: Any) -> None:
    from profiles.store import apply_events

    for n in range(10):
        apply_events(workspace.id, [(1, {"type": "track", "anonymousId": f"m-anon-{n}", "event": "Viewed"})])
        apply_events(workspace.id, [(2, {"type": "identify", "userId": f"m-user-{n}"})])
        merge = [(3, {"type": "identify", "userId": f"m-user-{n}", "anonymousId": f"m-anon-{n}"})]
        more = [(4, {"type": "track", "anonymousId": f"m-anon-{n}", "event": "Viewed"})]
        assert _race(workspace.id, [merge, more]) == []
    assert Person.objects.count() == 10
    for n in range(10):
        person = Identifier.objects.get(kind="user_id", value=f"m-user-{n}").person
        assert Identifier.objects.get(kind="anonymous_id", value=f"m-anon-{n}").person_id == person.id
        assert sum(person.event_stats.get(name="Viewed").per_day.values()) == 2


@pytest.mark.usefixtures("celery_worker")
def test_a_worker_builds_profiles_from_stored_events(source: Source, profiles_destination: Destination) -> None:
    from destinations.models import Delivery
    from ingest.services import store_events

    store_events(source, [
        {"type": "identify", "messageId": "w-1", "userId": "u1", "anonymousId": "a1",
         "timestamp": "2026-12-01T12:00:00Z", "traits": {"email": "w@example.com", "plan": "pro"}},
        {"type": "track", "messageId": "w-2", "userId": "u1", "event": "Order Completed",
         "timestamp": "2026-12-01T12:01:00Z", "properties": {"total": 12}},
    ], timezone.now())
    wait_for(lambda: Delivery.objects.filter(status="delivered").count() == 2, what="two deliveries")
    person = Person.objects.get()
    assert person.traits == {"email": "w@example.com", "plan": "pro"}
    assert person.event_stats.get().last_properties == {"total": 12}
