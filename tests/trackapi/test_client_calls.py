"""The official `customerio` client, pointed at our server, and the Pipelines events each call stores."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from customerio import CustomerIO, CustomerIOException

from connections.models import Source
from ingest.models import Event

from .conftest import stored

ULID = "01HZY3N4M5P6Q7R8S9T0V1W2X3"


def test_identify_by_id_becomes_identify_with_traits(cio: CustomerIO, track_source: tuple[Source, str]) -> None:
    source, _ = track_source
    response = cio.identify("u1", email="Ann@Example.com", first_name="Ann", created_at=1700000000, plan="pro")
    assert response.status_code == 200
    assert response.json() == {}

    [event] = Event.objects.filter(source=source)
    assert event.type == "identify"
    assert event.workspace_id == source.workspace_id
    p = event.payload
    assert p["type"] == "identify"
    assert p["userId"] == "u1"
    assert p["traits"] == {"email": "Ann@Example.com", "first_name": "Ann", "created_at": 1700000000, "plan": "pro"}
    assert p["context"]["library"] == {"name": "journeys-track-api", "version": "v1"}
    assert p["context"]["ip"] == "127.0.0.1"
    assert p["context"]["userAgent"].startswith("Customer.io Python Client/")
    assert p["messageId"] == event.message_id
    assert p["timestamp"] == p["originalTimestamp"] == p["receivedAt"]
    assert p["receivedAt"].endswith("Z")


def test_identify_by_email_sets_traits_email_and_lowercased_user_id(
    cio: CustomerIO, track_source: tuple[Source, str]
) -> None:
    source, _ = track_source
    cio.identify("Ann.Smith+news@Example.com", first_name="Ann")
    [p] = stored(source)
    assert p["userId"] == "ann.smith+news@example.com"
    assert p["traits"] == {"email": "Ann.Smith+news@Example.com", "first_name": "Ann"}


def test_identify_by_email_with_an_id_attribute_uses_that_id(cio: CustomerIO, track_source: tuple[Source, str]) -> None:
    source, _ = track_source
    # identify()'s own `id` parameter is the path identifier: send the body with the client's transport.
    cio.send_request("PUT", cio.get_customer_query_string("ann@example.com"), {"id": "u-77"})
    [p] = stored(source)
    assert p["userId"] == "u-77"
    assert p["traits"] == {"email": "ann@example.com", "id": "u-77"}


def test_identify_by_cio_id_keeps_it_in_context(cio: CustomerIO, track_source: tuple[Source, str]) -> None:
    source, _ = track_source
    cio.identify("cio_03000001", plan="team")
    [p] = stored(source)
    assert p["userId"] == "cio_03000001"
    assert p["context"]["cio_id"] == "03000001"
    assert p["traits"] == {"plan": "team"}


def test_identify_by_cio_id_with_email_attribute_uses_the_email(
    cio: CustomerIO, track_source: tuple[Source, str]
) -> None:
    source, _ = track_source
    cio.identify("cio_03000001", email="New@Example.com")
    [p] = stored(source)
    assert p["userId"] == "new@example.com"
    assert p["context"]["cio_id"] == "03000001"
    assert p["traits"] == {"email": "New@Example.com"}


def test_identify_reserved_keys_steer_the_call(cio: CustomerIO, track_source: tuple[Source, str]) -> None:
    source, _ = track_source
    cio.identify("u1", anonymous_id="anon-9", _timestamp=1700000000, _update=True, unsubscribed=False)
    [p] = stored(source)
    assert p["anonymousId"] == "anon-9"
    assert p["timestamp"] == "2023-11-14T22:13:20.000Z" == p["originalTimestamp"]
    assert p["context"]["cio_update_only"] is True
    assert p["traits"] == {"unsubscribed": False}


def test_identify_with_relationships_stores_identify_and_one_group_per_object(
    cio: CustomerIO, track_source: tuple[Source, str]
) -> None:
    source, _ = track_source
    cio.identify("u1", name="Ann", cio_relationships={
        "action": "add_relationships",
        "relationships": [
            {"identifiers": {"object_type_id": "1", "object_id": "acme"}, "relationship_attributes": {"role": "admin"}},
            {"identifiers": {"object_type_id": "2", "object_id": "course-7"}},
        ],
    })
    identify, first, second = stored(source)
    assert identify["type"] == "identify" and identify["traits"] == {"name": "Ann"}
    assert first["type"] == "group"
    assert first["userId"] == "u1"
    assert first["groupId"] == "acme"
    assert first["traits"] == {"object_type_id": "1"}
    assert first["context"]["relationship_attributes"] == {"role": "admin"}
    assert (second["groupId"], second["traits"]) == ("course-7", {"object_type_id": "2"})
    assert "relationship_attributes" not in second["context"]
    assert len({identify["messageId"], first["messageId"], second["messageId"]}) == 3


def test_identify_deleting_relationships_stores_relationship_deleted(
    cio: CustomerIO, track_source: tuple[Source, str]
) -> None:
    source, _ = track_source
    cio.identify("u1", cio_relationships={
        "action": "delete_relationships",
        "relationships": [{"identifiers": {"object_type_id": "1", "object_id": "acme"}}],
    })
    identify, deleted = stored(source)
    assert identify["type"] == "identify"
    assert deleted["type"] == "track"
    assert deleted["event"] == "Relationship Deleted"
    assert deleted["userId"] == "u1"
    assert deleted["properties"] == {"object_id": "acme", "object_type_id": "1"}


def test_track_becomes_track_with_the_ulid_as_message_id(cio: CustomerIO, track_source: tuple[Source, str]) -> None:
    source, _ = track_source
    cio.track("u1", "purchased", data={"price": 23.45, "sku": "X1"}, id=ULID.lower(), timestamp=1700000000)
    [event] = Event.objects.filter(source=source)
    p = event.payload
    assert event.type == "track"
    assert event.message_id == ULID
    assert p["event"] == "purchased"
    assert p["userId"] == "u1"
    assert p["properties"] == {"price": 23.45, "sku": "X1"}
    assert p["timestamp"] == "2023-11-14T22:13:20.000Z"
    assert p["originalTimestamp"] == "2023-11-14T22:13:20.000Z"
    assert p["receivedAt"] > p["timestamp"]


def test_track_event_with_an_id_is_stored_once(cio: CustomerIO, track_source: tuple[Source, str]) -> None:
    source, _ = track_source
    cio.track("u1", "purchased", data={"n": 1}, id=ULID)
    second = cio.track("u1", "purchased", data={"n": 1}, id=ULID)
    assert second.status_code == 200
    assert Event.objects.filter(source=source).count() == 1


def test_track_for_an_email_carries_it_in_context_traits(cio: CustomerIO, track_source: tuple[Source, str]) -> None:
    source, _ = track_source
    cio.track("ann@example.com", "signed_up")
    [p] = stored(source)
    assert p["userId"] == "ann@example.com"
    assert p["context"]["traits"] == {"email": "ann@example.com"}


def test_track_anonymous_becomes_track_with_anonymous_id(cio: CustomerIO, track_source: tuple[Source, str]) -> None:
    source, _ = track_source
    cio.track_anonymous("anon-1", "viewed_pricing", data={"plan": "pro"})
    [p] = stored(source)
    assert p["type"] == "track"
    assert p["anonymousId"] == "anon-1"
    assert "userId" not in p
    assert p["event"] == "viewed_pricing"
    assert p["properties"] == {"plan": "pro"}


def test_track_anonymous_without_anonymous_id_uses_the_message_id(
    cio: CustomerIO, track_source: tuple[Source, str]
) -> None:
    source, _ = track_source
    cio.track_anonymous(None, "newsletter_form_seen")
    [p] = stored(source)
    assert p["anonymousId"] == p["messageId"]


def test_pageview_becomes_page_named_by_its_url(cio: CustomerIO, track_source: tuple[Source, str]) -> None:
    source, _ = track_source
    cio.pageview("u1", "https://example.com/pricing?x=1", referrer="https://google.com")
    [event] = Event.objects.filter(source=source)
    p = event.payload
    assert event.type == "page"
    assert p["name"] == "https://example.com/pricing?x=1"
    assert p["userId"] == "u1"
    assert p["properties"] == {"referrer": "https://google.com", "url": "https://example.com/pricing?x=1"}
    assert p["context"]["page"] == {"url": "https://example.com/pricing?x=1"}


def test_screen_event_becomes_screen(cio: CustomerIO, track_source: tuple[Source, str]) -> None:
    source, _ = track_source
    cio.send_request("POST", cio.get_event_query_string("u1"), {"type": "screen", "name": "Settings",
                                                               "data": {"tab": "billing"}})
    [p] = stored(source)
    assert (p["type"], p["name"], p["properties"]) == ("screen", "Settings", {"tab": "billing"})


def test_add_device_becomes_device_created_or_updated(cio: CustomerIO, track_source: tuple[Source, str]) -> None:
    source, _ = track_source
    last_used = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    cio.add_device("u1", "tok-123", "ios", last_used=last_used, attributes={"app_version": "2.1"})
    [p] = stored(source)
    assert p["type"] == "track"
    assert p["event"] == "Device Created or Updated"
    assert p["userId"] == "u1"
    assert p["properties"] == {"device_id": "tok-123", "platform": "ios", "last_used": 1714564800,
                               "app_version": "2.1"}
    assert p["context"]["device"] == {"token": "tok-123", "type": "ios"}


def test_delete_device_becomes_device_deleted(cio: CustomerIO, track_source: tuple[Source, str]) -> None:
    source, _ = track_source
    cio.delete_device("u1", "tok:with/slash")
    [p] = stored(source)
    assert p["event"] == "Device Deleted"
    assert p["userId"] == "u1"
    assert p["properties"] == {"device_id": "tok:with/slash"}
    assert p["context"]["device"] == {"token": "tok:with/slash"}


@pytest.mark.parametrize(("method", "event"), [
    ("delete", "User Deleted"), ("suppress", "User Suppressed"), ("unsuppress", "User Unsuppressed"),
])
def test_person_lifecycle_calls_become_semantic_track_events(
    cio: CustomerIO, track_source: tuple[Source, str], method: str, event: str
) -> None:
    source, _ = track_source
    getattr(cio, method)("u1")
    [p] = stored(source)
    assert (p["type"], p["event"], p["userId"], p["properties"]) == ("track", event, "u1", {})


def test_merge_customers_becomes_alias(cio: CustomerIO, track_source: tuple[Source, str]) -> None:
    source, _ = track_source
    cio.merge_customers("id", "u1", "email", "Old@Example.com")
    [event] = Event.objects.filter(source=source)
    p = event.payload
    assert event.type == "alias"
    assert p["userId"] == "u1"
    assert p["previousId"] == "old@example.com"
    assert p["context"]["cio_merge"] == {"primary": {"id": "u1"}, "secondary": {"email": "Old@Example.com"}}


def test_identifier_with_slash_and_unicode_is_url_decoded(cio: CustomerIO, track_source: tuple[Source, str]) -> None:
    source, _ = track_source
    cio.identify("team/ann é", plan="x")
    cio.track("team/ann é", "opened")
    identify, track = stored(source)
    assert identify["userId"] == "team/ann é"
    assert (track["userId"], track["event"]) == ("team/ann é", "opened")


def test_region_answers_this_server_for_the_credentials(
    cio: CustomerIO, live_server: object, track_source: tuple[Source, str]
) -> None:
    source, _ = track_source
    response = cio.send_request("GET", cio.base_url + "/accounts/region", {})
    assert response.json() == {"url": live_server.url, "region": "us",  # type: ignore[attr-defined]
                               "environment_id": source.workspace_id}


def test_client_raises_on_bad_credentials(live_server: object, track_source: tuple[Source, str]) -> None:
    source, _ = track_source
    client = CustomerIO(source.site_id, "wrong-key", retries=0)
    client.base_url = live_server.url + "/api/v1"  # type: ignore[attr-defined]
    with pytest.raises(CustomerIOException, match="401"):
        client.identify("u1", plan="x")
    assert not Event.objects.exists()
