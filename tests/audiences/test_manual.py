"""Manual audiences: the Track API's POST /api/v1/segments/{id}/add_customers and remove_customers,
through the profile store, decide exactly who is in an audience of kind "manual"; it is read like any
other audience and has no definition to edit."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest
from django.test import Client

from audiences import services
from audiences.models import Audience, Membership
from connections.models import Source
from connections.services import create_destination, create_source
from ingest.models import Event
from profiles.models import Identifier

pytestmark = pytest.mark.django_db


@pytest.fixture
def track(workspace: Any) -> tuple[Source, dict[str, str]]:
    """A Track API source connected to Profiles, and the test client's credentials for it."""
    from destinations.fanout import clear_routing_cache

    clear_routing_cache()
    source, api_key = create_source(workspace, name="Backend", kind="journeys_track_api")
    create_destination(workspace, name="Profiles", kind="profiles", settings={}, sources=[source])
    token = base64.b64encode(f"{source.site_id}:{api_key}".encode()).decode()
    return source, {"HTTP_AUTHORIZATION": f"Basic {token}"}


def segment_call(track: tuple[Source, dict[str, str]], segment: int, change: str, ids: list[str],
                 id_type: str = "id") -> None:
    """POST the Track API call, then what the workers do: fan out, deliver to Profiles."""
    from destinations import fanout
    from tests.helpers import send_queued

    source, auth = track
    before = set(Event.objects.filter(source=source).values_list("id", flat=True))
    response = Client().post(f"/api/v1/segments/{segment}/{change}?id_type={id_type}",
                             data=orjson.dumps({"ids": ids}), content_type="application/json", **auth)
    assert response.status_code == 200, response.content
    fanout.fan_out(sorted(set(Event.objects.filter(source=source).values_list("id", flat=True)) - before))
    send_queued()


def members(audience: Audience) -> set[str]:
    ids = list(Membership.objects.filter(audience=audience).values_list("person_id", flat=True))
    return set(Identifier.objects.filter(person_id__in=ids, kind__in=["user_id", "email"])
               .values_list("value", flat=True))


def test_members_are_exactly_the_people_added_and_not_removed(workspace: Any, track: Any) -> None:
    vip = services.create_audience(workspace, name="VIP (manual)", key="vip", kind="manual", segment_id=12)
    other = services.create_audience(workspace, name="Beta (manual)", key="beta", kind="manual", segment_id=13)
    services.compute(vip.pk, vip.generation)
    assert vip.definition == {"segment": 12}
    segment_call(track, 12, "add_customers", ["u1", "u2", "u3"])
    assert members(vip) == {"u1", "u2", "u3"}
    assert members(other) == set()
    segment_call(track, 12, "remove_customers", ["u2"])
    segment_call(track, 13, "add_customers", ["u2"])
    assert members(vip) == {"u1", "u3"}
    assert members(other) == {"u2"}
    segment_call(track, 12, "add_customers", ["ann@example.com"], id_type="email")
    assert members(vip) == {"u1", "u3", "ann@example.com"}
    vip.refresh_from_db()
    assert vip.size == 3


def test_a_manual_audience_made_later_is_computed_from_the_calls_so_far(workspace: Any, track: Any) -> None:
    segment_call(track, 7, "add_customers", ["u1", "u2"])
    segment_call(track, 7, "remove_customers", ["u1"])
    later = services.create_audience(workspace, name="Seven", key="seven", kind="manual", segment_id=7)
    services.compute(later.pk, later.generation)
    assert members(later) == {"u2"}
    # and it composes with rules audiences
    uses = services.create_audience(workspace, name="In seven", key="uses",
                                    definition={"all": [{"audience": "seven"}]})
    services.compute(uses.pk, uses.generation)
    assert members(uses) == {"u2"}


def test_the_api_creates_and_shows_manual_audiences(owner_api: Any, workspace: Any) -> None:
    base = f"/api/workspaces/{workspace.slug}/audiences/"
    r = owner_api.post(base, {"name": "VIP", "key": "vip", "kind": "manual", "segment_id": 12}, format="json")
    assert r.status_code == 201, r.content
    body = r.json()
    assert (body["kind"], body["segment_id"], body["definition"]) == ("manual", 12, {"segment": 12})
    # no definition to edit, one audience per segment, and a segment id it needs
    r = owner_api.patch(f"{base}{body['id']}/", {"definition": {"trait": "plan", "op": "exists"}}, format="json")
    assert r.status_code == 400 and "definition" in r.json()["message"]
    r = owner_api.post(base, {"name": "Again", "key": "again", "kind": "manual", "segment_id": 12}, format="json")
    assert r.status_code == 400 and "segment" in r.json()["message"]
    r = owner_api.post(base, {"name": "None", "key": "none", "kind": "manual"}, format="json")
    assert r.status_code == 400 and r.json()["code"]
    r = owner_api.post(base, {"name": "Rules", "key": "rules", "segment_id": 3,
                              "definition": {"trait": "plan", "op": "exists"}}, format="json")
    assert r.status_code == 400
    r = owner_api.patch(f"{base}{body['id']}/", {"name": "VIP customers"}, format="json")
    assert r.status_code == 200 and r.json()["name"] == "VIP customers"


def test_the_pages_create_and_show_a_manual_audience(client: Client, owner: Any, workspace: Any) -> None:
    client.force_login(owner)
    r = client.post(f"/w/{workspace.slug}/audiences/new/", {"name": "VIP", "key": "vip", "enabled": "on",
                                                            "kind": "manual", "segment_id": "12"})
    assert r.status_code == 302, r.content.decode()[:2000]
    audience = Audience.objects.get(key="vip")
    assert (audience.kind, audience.segment_id) == ("manual", 12)
    page = client.get(r["Location"]).content.decode()
    assert "Manual segment" in page and "/api/v1/segments/12/add_customers" in page
    assert "data-audience-builder" not in page and "data-audience-definition" not in page
    r = client.post(f"/w/{workspace.slug}/audiences/new/", {"name": "X", "key": "x", "kind": "manual"})
    assert r.status_code == 400 and "needs the segment id" in r.content.decode()
