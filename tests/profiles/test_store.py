"""Traits (last write wins by event time), the compact history, devices, groups, person_changed and
load_states, through the Profiles destination; the store fed by a real worker."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from profiles.models import Device, GroupMembership, Identifier, Person, PersonEvent
from profiles.signals import person_changed
from profiles.state import load_states

pytestmark = pytest.mark.django_db


def _iso(days_ago: float, hour: int = 12) -> str:
    at = (timezone.now() - timedelta(days=days_ago)).replace(hour=hour, minute=0, second=0, microsecond=0)
    return at.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_traits_last_write_wins_by_event_time_not_arrival(feed: Any) -> None:
    feed({"type": "identify", "userId": "u1", "timestamp": "2026-12-01T12:00:00Z",
          "traits": {"plan": "pro", "name": "Ann"}})
    # arrives later, happened earlier: loses on plan, adds what it alone has
    feed({"type": "identify", "userId": "u1", "timestamp": "2026-11-30T12:00:00Z",
          "traits": {"plan": "free", "city": "Oslo"}})
    feed({"type": "identify", "userId": "u1", "timestamp": "2026-12-02T08:00:00Z", "traits": {"name": "Anna"}})
    person = Person.objects.get()
    assert person.traits == {"plan": "pro", "name": "Anna", "city": "Oslo"}
    assert person.trait_times["plan"].startswith("2026-12-01T12:00:00")


def test_traits_order_inside_one_chunk_is_by_event_time(feed: Any) -> None:
    feed({"type": "identify", "userId": "u1", "timestamp": "2026-12-02T12:00:00Z", "traits": {"plan": "pro"}},
         {"type": "identify", "userId": "u1", "timestamp": "2026-12-01T12:00:00Z", "traits": {"plan": "free"}})
    assert Person.objects.get().traits == {"plan": "pro"}


def test_history_counts_per_day_first_last_and_last_properties(feed: Any) -> None:
    feed({"type": "track", "userId": "u1", "event": "Product Viewed", "timestamp": _iso(2),
          "properties": {"sku": "A"}},
         {"type": "track", "userId": "u1", "event": "Product Viewed", "timestamp": _iso(0, 9),
          "properties": {"sku": "C"}})
    # out of order: older than the last, so the last properties stay C's
    feed({"type": "track", "userId": "u1", "event": "Product Viewed", "timestamp": _iso(2, 15),
          "properties": {"sku": "B"}},
         {"type": "track", "userId": "u1", "event": "Order Completed", "timestamp": _iso(1),
          "properties": {"total": 30}},
         {"type": "page", "userId": "u1", "name": "Home"})
    person = Person.objects.get()
    state = load_states(person.workspace_id, [person.id])[person.id]
    assert set(state.events) == {"Product Viewed", "Order Completed"}  # page views are not track events
    viewed = state.events["Product Viewed"]
    today = timezone.now().date()
    assert viewed.per_day == {today - timedelta(days=2): 2, today: 1}
    assert viewed.first_at.isoformat().startswith((today - timedelta(days=2)).isoformat() + "T12:00")
    assert viewed.last_at.isoformat().startswith(today.isoformat() + "T09:00")
    assert viewed.last_properties == {"sku": "C"}
    assert state.events["Order Completed"].per_day == {today - timedelta(days=1): 1}
    assert state.identifiers == {"user_id": ["u1"]}


def test_history_keeps_no_day_beyond_the_window(feed: Any, settings: Any, workspace: Any) -> None:
    from retention.models import RetentionPolicy

    settings.PROFILES_HISTORY_DAYS = 90
    RetentionPolicy.objects.create(workspace=workspace, events_days=7)  # retention bounds the window
    feed({"type": "track", "userId": "u1", "event": "Bought", "timestamp": _iso(10)},
         {"type": "track", "userId": "u1", "event": "Bought", "timestamp": _iso(6)},
         {"type": "track", "userId": "u1", "event": "Bought", "timestamp": _iso(0)})
    row = PersonEvent.objects.get()
    today = timezone.now().date()
    assert set(row.per_day) == {(today - timedelta(days=6)).isoformat(), today.isoformat()}
    assert row.first_at.date() == today - timedelta(days=10)  # first seen is kept


def test_window_is_the_longest_audience_window(settings: Any, workspace: Any) -> None:
    from profiles import history

    settings.PROFILES_HISTORY_DAYS = 90
    assert history.window_days(workspace.id) == 30  # the default event retention bounds it
    provider = lambda workspace_id: 3
    history.register_window(provider)
    try:
        assert history.window_days(workspace.id) == 3
    finally:
        history._providers.remove(provider)


def test_devices_from_device_events_and_context(feed: Any) -> None:
    feed({"type": "track", "userId": "u1", "event": "Application Installed",
          "properties": {"device_id": "tok-1"}, "context": {"device": {"type": "ios", "model": "iPhone15,2"},
                                                            "os": {"name": "iOS", "version": "17.1"}}},
         {"type": "track", "userId": "u1", "event": "Screen Viewed",
          "context": {"device": {"id": "dev-2", "type": "android"}}})
    devices = {d.device_id: d for d in Device.objects.all()}
    assert set(devices) == {"tok-1", "dev-2"}
    assert devices["tok-1"].platform == "ios"
    assert devices["tok-1"].attributes["os"] == {"name": "iOS", "version": "17.1"}
    feed({"type": "track", "userId": "u1", "event": "Application Uninstalled", "properties": {"device_id": "tok-1"}})
    assert list(Device.objects.values_list("device_id", flat=True)) == ["dev-2"]


def test_group_call_makes_a_membership(feed: Any) -> None:
    feed({"type": "group", "userId": "u1", "groupId": "acme-inc", "traits": {"name": "Acme", "plan": "team"}})
    feed({"type": "group", "userId": "u1", "groupId": "acme-inc", "traits": {"plan": "enterprise"},
          "timestamp": "2026-12-02T00:00:00Z"})
    membership = GroupMembership.objects.get()
    assert membership.group_id == "acme-inc"
    assert membership.traits == {"name": "Acme", "plan": "enterprise"}
    assert Person.objects.get().traits == {}  # group traits are the group's, not the person's


def test_person_changed_is_sent_with_what_changed(feed: Any) -> None:
    received: list[dict[str, Any]] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        received.append(kwargs)

    person_changed.connect(receiver)
    try:
        feed({"type": "track", "anonymousId": "a1", "event": "Product Viewed"})
        anonymous = Identifier.objects.get(value="a1").person_id
        feed({"type": "identify", "userId": "u1", "traits": {"plan": "pro"}})
        received.clear()
        feed({"type": "identify", "userId": "u1", "anonymousId": "a1", "traits": {"plan": "pro", "seats": 3}},
             {"type": "track", "userId": "u1", "event": "Order Completed"})
    finally:
        person_changed.disconnect(receiver)
    survivor = Person.objects.get().id
    merge, batch = received
    assert merge["person_ids"] == {survivor} and merge["merged_ids"] == {anonymous}
    assert merge["event_names"] == {"Product Viewed"}
    assert batch["person_ids"] == {survivor} and batch["merged_ids"] == set()
    assert batch["event_names"] == {"Order Completed"}
    assert batch["trait_keys"] == {"seats"}  # plan was already pro


def test_a_chunk_costs_a_few_queries_whatever_its_size(workspace: Any) -> None:
    from profiles.store import apply_events

    if connection.vendor != "postgresql":
        pytest.skip("SQLite splits bulk statements by its parameter limit")

    def chunk(n: int, start: int) -> list[tuple[int, dict[str, Any]]]:
        return [(start + i, {"type": "track", "userId": f"user-{start + i}", "event": "Viewed",
                             "timestamp": "2026-12-01T12:00:00Z", "context": {"traits": {"email": f"{start + i}@x.io"}}})
                for i in range(n)]

    counts = []
    for n, start in ((5, 0), (200, 1000)):
        apply_events(workspace.id, chunk(n, start))  # new people
        with CaptureQueriesContext(connection) as queries:
            apply_events(workspace.id, chunk(n, start))  # the same people again
        counts.append(len(queries))
    assert counts[0] == counts[1] and counts[0] <= 14


def test_load_states_is_scoped_to_the_workspace(feed: Any, other_workspace: Any) -> None:
    feed({"type": "identify", "userId": "u1", "traits": {"plan": "pro"}})
    person = Person.objects.get()
    assert load_states(other_workspace.id, [person.id]) == {}
    state = load_states(person.workspace_id, [person.id, 999999])
    assert list(state) == [person.id] and state[person.id].traits == {"plan": "pro"}


def test_a_source_not_connected_pays_nothing(feed: Any, workspace: Any) -> None:
    from connections import services
    from destinations import fanout
    from ingest.services import store_events

    other, _ = services.create_source(workspace, name="Server", kind="python")
    ids = store_events(other, [{"type": "identify", "userId": "u1", "messageId": "x-1"}], timezone.now())
    assert fanout.fan_out(ids).pending == 0
    assert Person.objects.count() == 0


def test_pickers_and_the_walk_over_everyone(feed: Any, workspace: Any) -> None:
    from profiles import state

    feed({"type": "identify", "userId": "u1", "traits": {"plan": "pro", "email": "a@example.com"}},
         {"type": "track", "userId": "u1", "event": "Order Completed"},
         {"type": "track", "userId": "u2", "event": "Cart Viewed"})
    assert state.event_names(workspace.id) == ["Cart Viewed", "Order Completed"]
    assert state.trait_keys(workspace.id) == ["email", "plan"]
    first = state.all_person_ids(workspace.id, limit=1)
    assert len(first) == 1
    rest = state.all_person_ids(workspace.id, after=first[0])
    assert len(rest) == 1 and state.all_person_ids(workspace.id, after=rest[0]) == []


def test_trim_drops_days_past_the_window_for_people_without_new_events(feed: Any, workspace: Any) -> None:
    from profiles import history
    from retention.models import RetentionPolicy

    feed({"type": "track", "userId": "u1", "event": "Bought", "timestamp": _iso(5)},
         {"type": "track", "userId": "u1", "event": "Bought", "timestamp": _iso(1)},
         {"type": "track", "userId": "u2", "event": "Viewed", "timestamp": _iso(0)})
    RetentionPolicy.objects.create(workspace=workspace, events_days=3)  # the window shrinks to 3 days
    assert history.trim(batch=1) == 1
    today = timezone.now().date()
    assert {r.name: r.per_day for r in PersonEvent.objects.all()} == {
        "Bought": {(today - timedelta(days=1)).isoformat(): 1}, "Viewed": {today.isoformat(): 1}}
    assert history.trim() == 0
