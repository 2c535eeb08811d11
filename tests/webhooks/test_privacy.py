"""A privacy deletion of a person also removes the incoming webhook bodies their events were made from."""

from __future__ import annotations

from connections.models import Source
from ingest.models import Event, WebhookBody
from privacy.services import delete_person_data

from .conftest import STRIPE_EVENT, HookClient


def test_deleting_a_person_deletes_the_bodies_of_their_events(stripe_hook: Source) -> None:
    post = HookClient(stripe_hook)
    post.post(STRIPE_EVENT)
    other = {**STRIPE_EVENT, "id": "evt_other",
             "data": {"object": {**STRIPE_EVENT["data"]["object"], "customer": "cus_OTHER"}}}
    post.post(other)
    mine = Event.objects.get(message_id=STRIPE_EVENT["id"])
    assert mine.payload["context"]["webhook"]["body_id"] == WebhookBody.objects.order_by("id").first().id
    counts = delete_person_data(stripe_hook.workspace_id, {"user_id": "cus_Q42"})
    assert counts["ingest.WebhookBody"] == 1
    assert list(Event.objects.values_list("message_id", flat=True)) == ["evt_other"]
    (left,) = WebhookBody.objects.all()
    assert b"cus_OTHER" in bytes(left.raw)
