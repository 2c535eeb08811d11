"""The background computation through the real broker and a real worker: creating an audience in the API
queues it after commit (JSON arguments), and the audience page's status and progress follow."""

from __future__ import annotations

from typing import Any

from audiences.models import Audience, Membership
from tests.helpers import wait_for


def test_a_new_audience_is_computed_by_a_worker(celery_worker: Any, owner_api: Any, person: Any) -> None:
    people = [person(traits={"plan": "pro" if i % 2 else "free"}) for i in range(6)]
    r = owner_api.post("/api/workspaces/acme/audiences/", {"name": "Pro", "key": "pro", "definition": {
        "trait": "plan", "op": "=", "value": "pro"}}, format="json")
    assert r.status_code == 201
    audience_id = r.json()["id"]
    wait_for(lambda: Audience.objects.get(pk=audience_id).status == "ready", what="the computation")
    body = owner_api.get(f"/api/workspaces/acme/audiences/{audience_id}/").json()
    assert (body["size"], body["progress"]) == (3, {"done": 6, "total": 6})
    assert set(Membership.objects.filter(audience_id=audience_id).values_list("person_id", flat=True)) == \
        {p.pk for p in people[1::2]}

