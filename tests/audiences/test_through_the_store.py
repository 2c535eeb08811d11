"""Audiences fed by the real profile store (events stored, fanned out and delivered inline): exact
minute/hour windows at their edges, property filters that count every matching event, people who match
by absence alone entering on their first event, and manual segments from the Track API. The audience
clock is frozen (AUDIENCES_FROZEN_NOW) and moved by hand; nothing sleeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from audiences import services
from audiences.models import Audience, Membership, MembershipEvent
from profiles.models import Person

pytestmark = pytest.mark.django_db


@pytest.fixture
def now(settings: Any) -> datetime:
    """The audience clock, frozen at the start of the test (whole seconds), just after the real now."""
    at = timezone.now().replace(microsecond=0) + timedelta(seconds=1)
    settings.AUDIENCES_FROZEN_NOW = at
    return at


def iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def make(workspace: Any, key: str, definition: dict, at: datetime) -> Audience:
    audience = services.create_audience(workspace, name=key.title(), key=key, definition=definition)
    services.compute(audience.pk, audience.generation, now=at)
    return audience


def members(audience: Audience) -> set[str]:
    """The members' userIds."""
    from profiles.models import Identifier

    ids = Membership.objects.filter(audience=audience).values_list("person_id", flat=True)
    return set(Identifier.objects.filter(person_id__in=list(ids), kind="user_id").values_list("value", flat=True))


def track(user: str, event: str, at: datetime, **properties: Any) -> dict[str, Any]:
    return {"type": "track", "userId": user, "event": event, "timestamp": iso(at), "properties": properties}


# --- exact minute and hour windows -----------------------------------------------------------------------


def test_an_hour_window_counts_exactly_at_its_edge(workspace: Any, feed: Any, now: datetime) -> None:
    browsers = make(workspace, "browsers", {"event": "Product Viewed", "at_least": 2, "within": "6h"}, now)
    feed(track("inside", "Product Viewed", now - timedelta(hours=6) + timedelta(seconds=1)),
         track("inside", "Product Viewed", now - timedelta(hours=1)),
         # one second too old: the same day, so counts per day alone would have let it in
         track("outside", "Product Viewed", now - timedelta(hours=6, seconds=1)),
         track("outside", "Product Viewed", now - timedelta(hours=1)),
         track("edge", "Product Viewed", now - timedelta(hours=6)),  # exactly 6 h ago: the window is (now-6h, now]
         track("edge", "Product Viewed", now - timedelta(hours=1)))
    assert members(browsers) == {"inside"}
    m = Membership.objects.get(audience=browsers)
    assert m.due_at == now + timedelta(seconds=1)  # when its older view leaves the window
    services.sweep_due(now=now)
    assert members(browsers) == {"inside"}
    services.sweep_due(now=now + timedelta(seconds=1))
    assert members(browsers) == set()
    assert [e.kind for e in MembershipEvent.objects.filter(audience=browsers).order_by("id")] == ["enter", "exit"]


def test_a_minute_window_and_a_between_window_are_exact(workspace: Any, feed: Any, now: datetime) -> None:
    recent = make(workspace, "recent", {"event": "Clicked", "exactly": 1, "within": "30m"}, now)
    earlier = make(workspace, "earlier", {"event": "Clicked", "at_least": 2, "between": ["3h", "1h"]}, now)
    feed(track("a", "Clicked", now - timedelta(minutes=29, seconds=59)),
         track("b", "Clicked", now - timedelta(minutes=30)),
         track("b", "Clicked", now - timedelta(minutes=10)),
         track("c", "Clicked", now - timedelta(hours=2)), track("c", "Clicked", now - timedelta(minutes=61)),
         track("d", "Clicked", now - timedelta(hours=2)), track("d", "Clicked", now - timedelta(minutes=59)))
    assert members(recent) == {"a", "b"}  # b's first click is exactly 30 min ago: out
    assert members(earlier) == {"c"}  # d's second click is not yet an hour old
    services.sweep_due(now=now + timedelta(minutes=1))
    assert members(earlier) == {"c", "d"}
    assert members(recent) == {"b"}  # a's click left the window; b's only click left is inside


# --- property filters count every matching event ---------------------------------------------------------


BIG = {"path": "properties.total", "op": ">", "value": 100}


def test_a_property_filter_counts_the_events_that_match(workspace: Any, feed: Any, now: datetime) -> None:
    repeat = make(workspace, "big-repeat", {"event": "Order Completed", "at_least": 2, "within": "7d",
                                            "where": BIG}, now)
    once = make(workspace, "big-once", {"event": "Order Completed", "within": "7d", "where": BIG}, now)
    feed(track("ann", "Order Completed", now - timedelta(days=2), total=150),
         track("ann", "Order Completed", now - timedelta(days=1), total=300),
         track("ann", "Order Completed", now - timedelta(hours=1), total=20),  # the latest does not match
         track("bob", "Order Completed", now - timedelta(days=1), total=500),
         track("bob", "Order Completed", now - timedelta(hours=2), total=30))
    assert members(repeat) == {"ann"}
    assert members(once) == {"ann", "bob"}  # a big order this week, whatever came after
    feed(track("bob", "Order Completed", now - timedelta(minutes=5), total=101))
    assert members(repeat) == {"ann", "bob"}


def test_an_edited_filter_is_recomputed_and_counts_from_then_on(workspace: Any, feed: Any, now: datetime) -> None:
    audience = make(workspace, "orders", {"event": "Order Completed", "within": "7d", "where": BIG}, now)
    feed(track("ann", "Order Completed", now - timedelta(days=1), total=50))
    assert members(audience) == set()
    edited = {"event": "Order Completed", "at_least": 2, "within": "7d",
              "where": {"path": "properties.total", "op": ">", "value": 40}}
    audience = services.update_audience(audience, {"definition": edited})
    services.compute(audience.pk, audience.generation, now=now)  # what the background task runs
    assert members(audience) == set()  # one order of 50 so far
    feed(track("ann", "Order Completed", now - timedelta(hours=1), total=45))
    assert members(audience) == {"ann"}  # the earlier order (the latest before the edit) counts too


# --- people who match by absence alone enter on their first event ---------------------------------------


def test_people_matching_by_absence_enter_on_their_first_event(workspace: Any, feed: Any, now: datetime) -> None:
    quiet = make(workspace, "no-orders-no-plan", {"all": [
        {"not": {"event": "Order Completed", "within": "7d"}}, {"trait": "plan", "op": "not exists"}]}, now)
    assert members(quiet) == set()
    feed({"type": "identify", "userId": "ann", "traits": {"name": "Ann"}, "timestamp": iso(now)},
         track("bob", "Page Viewed", now - timedelta(minutes=1)),
         {"type": "identify", "userId": "cy", "traits": {"plan": "pro"}, "timestamp": iso(now)})
    assert members(quiet) == {"ann", "bob"}
    assert Person.objects.count() == 3
    feed(track("ann", "Order Completed", now - timedelta(minutes=1)))
    assert members(quiet) == {"bob"}


def test_filtered_histories_stay_out_of_the_person_page_and_api(workspace: Any, feed: Any, now: datetime,
                                                                owner_api: Any) -> None:
    from profiles.models import PersonEvent

    make(workspace, "big", {"event": "Order Completed", "within": "7d", "where": BIG}, now)
    feed(track("ann", "Order Completed", now - timedelta(hours=1), total=150))
    assert PersonEvent.objects.count() == 2  # the plain history and the filter's
    person = Person.objects.get()
    body = owner_api.get(f"/api/workspaces/{workspace.slug}/profiles/{person.id}/").json()
    assert [e["name"] for e in body["events"]] == ["Order Completed"]
    assert body["events"][0]["per_day"] == {(now - timedelta(hours=1)).astimezone(UTC).date().isoformat(): 1}
    assert [a["key"] for a in body["audiences"]] == ["big"]
