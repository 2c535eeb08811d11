"""The audiences API: create/read/update/delete scoped to the workspace and role-checked, validation
errors as 400 {code, message} pointing at the node, members, history and the live estimate."""

from __future__ import annotations

from typing import Any

import pytest

from audiences import services
from audiences.models import Audience

from .conftest import NOW, hours_ago

URL = "/api/workspaces/acme/audiences/"
CART = {"all": [{"event": "Product Added", "within": "24h"}, {"not": {"event": "Order Completed", "within": "7d"}}]}


@pytest.fixture
def frozen(settings: Any) -> Any:
    settings.AUDIENCES_FROZEN_NOW = NOW
    return settings


def test_create_read_update_delete(owner_api: Any, person: Any, frozen: Any) -> None:
    person(events={"Product Added": [hours_ago(2)]})
    r = owner_api.post(URL, {"name": "Cart Abandon | 0-24h | Excl Purch 7d", "key": "cart-abandon",
                             "definition": CART, "enabled": True}, format="json")
    assert r.status_code == 201, r.json()
    body = r.json()
    assert (body["key"], body["size"], body["status"], body["definition"]) == ("cart-abandon", 0, "computing", CART)
    audience = Audience.objects.get(pk=body["id"])
    services.compute(audience.pk, audience.generation)  # what the background task does
    r = owner_api.get(f"{URL}{audience.pk}/")
    assert (r.json()["size"], r.json()["status"], r.json()["progress"]) == (1, "ready", {"done": 1, "total": 1})
    assert [a["key"] for a in owner_api.get(URL).json()] == ["cart-abandon"]
    r = owner_api.patch(f"{URL}{audience.pk}/", {"definition": {"event": "Order Completed"}}, format="json")
    assert r.status_code == 200
    assert r.json()["status"] == "computing"
    members = owner_api.get(f"{URL}{audience.pk}/members/").json()
    assert [m["person_id"] for m in members["results"]] and "next" in members
    assert owner_api.delete(f"{URL}{audience.pk}/").status_code == 204
    assert not Audience.objects.exists()


def test_bad_definitions_are_400_pointing_at_the_node(owner_api: Any) -> None:
    r = owner_api.post(URL, {"name": "X", "key": "x", "definition": {"all": [
        {"event": "A"}, {"not": {"event": "B", "within": "soon"}}]}}, format="json")
    assert r.status_code == 400
    assert r.json()["code"] == "invalid_request"
    assert r.json()["message"].startswith("definition: all[1].not.within: expected a duration")
    r = owner_api.post(URL, {"name": "X", "key": "Not a slug!", "definition": {"event": "A"}}, format="json")
    assert r.status_code == 400
    assert r.json()["message"].startswith("key:")


def test_cycles_are_refused(owner_api: Any, workspace: Any) -> None:
    a = owner_api.post(URL, {"name": "A", "key": "a", "definition": {"trait": "x", "op": "exists"}}, format="json")
    owner_api.post(URL, {"name": "B", "key": "b", "definition": {"audience": "a"}}, format="json")
    r = owner_api.patch(f"{URL}{a.json()['id']}/", {"definition": {"not": {"audience": "b"}}}, format="json")
    assert r.status_code == 400
    assert r.json()["message"] == "definition: not.audience: audience references form a cycle: a → b → a"
    r = owner_api.delete(f"{URL}{a.json()['id']}/")
    assert r.status_code == 400  # b uses a
    assert "\"B\"" in r.json()["message"]


def test_duplicate_key_is_400(owner_api: Any) -> None:
    body = {"name": "A", "key": "a", "definition": {"trait": "x", "op": "exists"}}
    assert owner_api.post(URL, body, format="json").status_code == 201
    r = owner_api.post(URL, body, format="json")
    assert r.status_code == 400
    assert r.json()["message"].startswith("key: An audience with key")


def test_roles_and_scoping(owner_api: Any, teammate_api: Any, outsider_api: Any, workspace: Any) -> None:
    audience = services.create_audience(workspace, name="Pro", key="pro",
                                        definition={"trait": "plan", "op": "=", "value": "pro"})
    detail = f"{URL}{audience.pk}/"
    assert teammate_api.get(detail).status_code == 200  # reading needs only membership
    assert teammate_api.get(f"{detail}history/").status_code == 200
    assert teammate_api.patch(detail, {"name": "Mine"}, format="json").status_code == 403
    assert teammate_api.delete(detail).status_code == 403
    assert teammate_api.post(URL, {"name": "Y", "key": "y", "definition": {"event": "A"}},
                             format="json").status_code == 403
    for url in (detail, f"{detail}members/", f"{detail}history/", URL):
        assert outsider_api.get(url).status_code == 404
    assert outsider_api.get(f"/api/workspaces/globex/audiences/{audience.pk}/").status_code == 404
    assert Audience.objects.get().name == "Pro"


def test_history_counts_entries_and_exits_per_hour(owner_api: Any, workspace: Any, person: Any, frozen: Any) -> None:
    audience = services.create_audience(workspace, name="Cart", key="cart", definition=CART)
    p, q = person(events={"Product Added": [hours_ago(1)]}), person(events={"Product Added": [hours_ago(24.5)]})
    services.evaluate_people(workspace.pk, [p.pk, q.pk], now=hours_ago(2))  # q enters two hours ago
    services.evaluate_people(workspace.pk, [p.pk], now=NOW)
    services.sweep_due(now=NOW)  # q's view is 24.5 h old now: q leaves
    r = owner_api.get(f"{URL}{audience.pk}/history/?hours=3")
    assert r.status_code == 200
    hours = r.json()["hours"]
    assert [(h["entered"], h["exited"], h["size"]) for h in hours] == [(1, 0, 1), (0, 0, 1), (1, 1, 1)]
    assert [(c["kind"], c["person_id"]) for c in r.json()["latest"]] == [("exit", q.pk), ("enter", p.pk), ("enter", q.pk)]
    assert owner_api.get(f"{URL}{audience.pk}/history/?hours=x").status_code == 400


def test_estimate_and_vocabulary(teammate_api: Any, person: Any, frozen: Any) -> None:
    person(traits={"plan": "pro"}, events={"Product Added": [hours_ago(1)]})
    person(traits={"plan": "free"}, events={"Order Completed": [hours_ago(1)]})
    r = teammate_api.post(f"{URL}estimate/", {"definition": {"trait": "plan", "op": "=", "value": "pro"}}, format="json")
    assert r.json() == {"estimate": 1, "matched": 1, "sampled": 2, "total": 2}
    r = teammate_api.post(f"{URL}estimate/", {"definition": {"trait": "plan"}}, format="json")
    assert r.status_code == 400
    assert r.json()["message"].startswith("definition: op:")
    assert teammate_api.get(f"{URL}vocabulary/").json() == {"events": ["Order Completed", "Product Added"],
                                                            "traits": ["plan"]}


def test_history_by_chart_range_sums_buckets_and_rejects_an_unknown_range(
    owner_api: Any, workspace: Any, person: Any, frozen: Any
) -> None:
    audience = services.create_audience(workspace, name="Cart", key="cart", definition=CART)
    p, q = person(events={"Product Added": [hours_ago(1)]}), person(events={"Product Added": [hours_ago(24.5)]})
    services.evaluate_people(workspace.pk, [p.pk, q.pk], now=hours_ago(2))  # q enters two hours ago
    services.evaluate_people(workspace.pk, [p.pk], now=NOW)  # p enters now
    services.sweep_due(now=NOW)  # q leaves now
    hour = owner_api.get(f"{URL}{audience.pk}/history/", {"range": "1h"}).json()
    assert (hour["range"], hour["bucket_minutes"], len(hour["buckets"])) == ("1h", 5, 12)
    assert [(b["entered"], b["exited"], b["size"]) for b in hour["buckets"]][-2:] == [(0, 0, 1), (1, 1, 1)]
    week = owner_api.get(f"{URL}{audience.pk}/history/", {"range": "7d"}).json()
    assert (week["bucket_minutes"], len(week["buckets"])) == (360, 28)
    assert sum(b["entered"] for b in week["buckets"]) == 2 and sum(b["exited"] for b in week["buckets"]) == 1
    assert week["buckets"][-1]["size"] == 1
    bad = owner_api.get(f"{URL}{audience.pk}/history/", {"range": "5y"})
    assert bad.status_code == 400
    assert bad.json()["code"] == "invalid_request" and "1h, 24h, 7d" in bad.json()["message"]
    assert owner_api.get(f"{URL}{audience.pk}/history/", {"range": "1h", "hours": 3}).status_code == 400
