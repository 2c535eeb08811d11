"""Membership kept current: the person_changed signal re-evaluates only affected audiences, enters and
exits are logged with their time, time-window exits come from the due sweep, a new or edited audience is
computed over everyone in batches. The clock is frozen (AUDIENCES_FROZEN_NOW) or passed in, never slept."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from audiences import services
from audiences.models import Audience, DueCheck, HourlyCount, Membership, MembershipEvent
from profiles.signals import person_changed

from .conftest import NOW, hours_ago, set_state

CART = {"all": [{"event": "Product Added", "within": "24h"}, {"not": {"event": "Order Completed", "within": "7d"}}]}


@pytest.fixture
def frozen(settings: Any) -> Any:
    settings.AUDIENCES_FROZEN_NOW = NOW
    return settings


def make(workspace: Any, key: str, definition: dict, **kw: Any) -> Audience:
    audience = services.create_audience(workspace, name=key.title(), key=key, definition=definition, **kw)
    services.compute(audience.pk, audience.generation, now=NOW)
    audience.refresh_from_db()
    return audience


def members(audience: Audience) -> set[int]:
    return set(Membership.objects.filter(audience=audience).values_list("person_id", flat=True))


def log(audience: Audience) -> list[tuple[str, int]]:
    return [(e.kind, e.person_id) for e in MembershipEvent.objects.filter(audience=audience).order_by("id")]


def changed(p: Any, events: tuple[str, ...] = (), traits: tuple[str, ...] = ()) -> None:
    person_changed.send(sender=None, workspace_id=p.workspace_id, person_ids=[p.pk], event_names=list(events),
                        trait_keys=list(traits))


def test_a_person_enters_on_an_event_and_exits_on_a_purchase(workspace: Any, person: Any, frozen: Any) -> None:
    cart = make(workspace, "cart-abandon", CART)
    p = person()
    assert members(cart) == set()
    set_state(p, events={"Product Added": [hours_ago(1)]})
    changed(p, events=("Product Added",))
    assert members(cart) == {p.pk}
    m = Membership.objects.get(audience=cart)
    assert m.entered_at == NOW
    assert m.due_at == hours_ago(1) + timedelta(hours=24)  # when the 24 h window passes
    set_state(p, events={"Product Added": [hours_ago(1)], "Order Completed": [NOW]})
    changed(p, events=("Order Completed",))
    assert members(cart) == set()
    assert log(cart) == [("enter", p.pk), ("exit", p.pk)]
    cart.refresh_from_db()
    assert cart.size == 0
    hour = HourlyCount.objects.get(audience=cart)
    assert (hour.entered, hour.exited, hour.size) == (1, 1, 0)


def test_only_audiences_naming_the_event_or_trait_are_evaluated(workspace: Any, person: Any, frozen: Any) -> None:
    pro = make(workspace, "pro", {"trait": "plan", "op": "=", "value": "pro"})
    p = person()
    set_state(p, traits={"plan": "pro"})
    changed(p, events=("Page Viewed",))  # says nothing about plan: pro is not looked at
    assert members(pro) == set()
    changed(p, traits=("plan",))
    assert members(pro) == {p.pk}


def test_exit_when_the_window_passes_comes_from_the_sweep(workspace: Any, person: Any) -> None:
    cart = make(workspace, "cart-abandon", CART)
    p = person(events={"Product Added": [hours_ago(1)]})
    q = person(events={"Product Added": [hours_ago(20)]})
    services.evaluate_people(workspace.pk, [p.pk, q.pk], now=NOW)
    assert members(cart) == {p.pk, q.pk}
    assert services.sweep_due(now=NOW + timedelta(hours=1)).evaluated == 0  # nobody is due yet
    result = services.sweep_due(now=NOW + timedelta(hours=5))  # q's view is now 25 h old
    assert result.evaluated == 1
    assert members(cart) == {p.pk}
    assert MembershipEvent.objects.filter(audience=cart, kind="exit").values_list("person_id", "at").get() == \
        (q.pk, NOW + timedelta(hours=5))
    services.sweep_due(now=NOW + timedelta(hours=24))
    assert members(cart) == set()


def test_time_alone_can_bring_a_person_in(workspace: Any, person: Any) -> None:
    lapsed = make(workspace, "lapsed", {"event": "Order Completed", "between": ["30d", "7d"]})
    p = person(events={"Order Completed": [hours_ago(2)]})
    services.evaluate_people(workspace.pk, [p.pk], now=NOW)
    assert members(lapsed) == set()
    assert DueCheck.objects.filter(audience=lapsed, person_id=p.pk).exists()
    services.sweep_due(now=NOW + timedelta(days=7))
    assert members(lapsed) == {p.pk}
    assert not DueCheck.objects.filter(audience=lapsed).exists()


def test_audience_of_audience_follows_its_parts(workspace: Any, person: Any, frozen: Any) -> None:
    make(workspace, "pro", {"trait": "plan", "op": "=", "value": "pro"})
    pro_carts = make(workspace, "pro-carts", {"all": [{"audience": "pro"}, {"event": "Product Added"}]})
    p = person(events={"Product Added": [hours_ago(1)]})
    changed(p, events=("Product Added",))
    assert members(pro_carts) == set()
    set_state(p, traits={"plan": "pro"}, events={"Product Added": [hours_ago(1)]})
    changed(p, traits=("plan",))  # pro-carts names plan only through "pro"
    assert members(pro_carts) == {p.pk}


def test_a_new_audience_is_computed_over_existing_people_in_batches(workspace: Any, person: Any) -> None:
    people = [person(traits={"n": i}) for i in range(7)]
    audience = services.create_audience(workspace, name="Big n", key="big-n",
                                        definition={"trait": "n", "op": ">", "value": 3})
    assert audience.status == "computing"
    assert services.compute(audience.pk, audience.generation, batch=2, now=NOW)
    audience.refresh_from_db()
    assert (audience.status, audience.progress_done, audience.progress_total, audience.size) == ("ready", 7, 7, 3)
    assert members(audience) == {p.pk for p in people[4:]}


def test_an_edited_definition_is_recomputed(workspace: Any, person: Any) -> None:
    people = [person(traits={"n": i}) for i in range(5)]
    audience = make(workspace, "big-n", {"trait": "n", "op": ">", "value": 2})
    assert members(audience) == {people[3].pk, people[4].pk}
    old_generation = audience.generation
    audience = services.update_audience(audience, {"definition": {"trait": "n", "op": "<", "value": 2}})
    assert audience.generation == old_generation + 1
    assert audience.status == "computing"
    assert not services.compute(audience.pk, old_generation, now=NOW)  # a stale computation stops
    assert services.compute(audience.pk, audience.generation, now=NOW)
    assert members(audience) == {people[0].pk, people[1].pk}
    assert sorted(log(audience)) == sorted([("enter", people[3].pk), ("enter", people[4].pk),
                                            ("exit", people[3].pk), ("exit", people[4].pk),
                                            ("enter", people[0].pk), ("enter", people[1].pk)])


def test_merged_people_leave_their_audiences(workspace: Any, person: Any, frozen: Any) -> None:
    audience = make(workspace, "pro", {"trait": "plan", "op": "=", "value": "pro"})
    survivor, merged = person(traits={"plan": "pro"}), person(traits={"plan": "pro"})
    services.evaluate_people(workspace.pk, [survivor.pk, merged.pk], now=NOW)
    merged_id = merged.pk  # the profile store may keep the merged row: its state must not matter
    person_changed.send(sender=None, workspace_id=workspace.pk, person_ids=[survivor.pk], event_names=[],
                        trait_keys=["plan"], merged_ids=[merged_id])
    assert members(audience) == {survivor.pk}
    assert ("exit", merged_id) in log(audience)


def test_disabled_audiences_are_not_kept(workspace: Any, person: Any, frozen: Any) -> None:
    audience = make(workspace, "pro", {"trait": "plan", "op": "=", "value": "pro"}, enabled=False)
    p = person(traits={"plan": "pro"})
    changed(p, traits=("plan",))
    assert members(audience) == set()


def test_other_workspaces_are_untouched(workspace: Any, other_workspace: Any, person: Any, frozen: Any) -> None:
    mine = make(workspace, "pro", {"trait": "plan", "op": "=", "value": "pro"})
    theirs = make(other_workspace, "pro", {"trait": "plan", "op": "=", "value": "pro"})
    p = person(traits={"plan": "pro"}, ws=other_workspace)
    changed(p, traits=("plan",))
    assert members(mine) == set()
    assert members(theirs) == {p.pk}


def test_evaluation_costs_a_fixed_number_of_queries(workspace: Any, person: Any,
                                                     django_assert_max_num_queries: Any) -> None:
    for i in range(4):
        make(workspace, f"a{i}", {"all": [{"event": "Product Added", "within": "1d"}, {"trait": "n", "op": ">", "value": i}]})
    ids = [person(traits={"n": i % 6}, events={"Product Added": [hours_ago(i % 30)]}).pk for i in range(60)]
    with django_assert_max_num_queries(20):
        services.evaluate_people(workspace.pk, ids, now=NOW, event_names=["Product Added"])
    assert Membership.objects.count() > 0
