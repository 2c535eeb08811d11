"""Identity resolution, each rule through the real path: stored events → fan-out → Profiles delivery."""

from __future__ import annotations

from typing import Any

import pytest

from destinations.models import Delivery
from profiles.models import Identifier, IdentityConflict, Person
from profiles.state import load_states

pytestmark = pytest.mark.django_db


def _ids(person: Person) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for kind, value in person.identifiers.values_list("kind", "value"):
        found.setdefault(kind, set()).add(value)
    return found


def _by(kind: str, value: str) -> Person:
    return Identifier.objects.get(kind=kind, value=value).person


def test_identify_creates_a_person_with_identifiers_and_traits(feed: Any) -> None:
    result = feed({"type": "identify", "userId": "u1", "anonymousId": "a1",
                   "traits": {"email": "Ann@Example.COM", "plan": "pro"}})
    assert result.delivered == 1
    assert Delivery.objects.get().status == "delivered"
    person = Person.objects.get()
    assert _ids(person) == {"user_id": {"u1"}, "email": {"ann@example.com"}, "anonymous_id": {"a1"}}
    assert person.traits == {"email": "Ann@Example.COM", "plan": "pro"}


def test_an_event_naming_nobody_creates_nobody(workspace: Any) -> None:
    from profiles.store import apply_events

    result = apply_events(workspace.id, [(1, {"type": "identify", "traits": {"plan": "pro"}}),
                                         (2, {"type": "alias", "userId": "u1"})])
    assert result.skipped == 2
    assert Person.objects.count() == 0


def test_user_id_is_case_sensitive_and_email_is_not(feed: Any) -> None:
    feed({"type": "identify", "userId": "U1", "traits": {"email": "x@example.com"}})
    feed({"type": "identify", "userId": "u1"})
    feed({"type": "identify", "userId": "U1", "traits": {"email": "X@EXAMPLE.com", "name": "X"}})
    assert Person.objects.count() == 2
    upper = _by("user_id", "U1")
    assert _ids(upper) == {"user_id": {"U1"}, "email": {"x@example.com"}}
    assert upper.traits["name"] == "X"
    assert _ids(_by("user_id", "u1")) == {"user_id": {"u1"}}


def test_found_by_email_gets_the_new_user_id(feed: Any) -> None:
    feed({"type": "identify", "anonymousId": "a1", "traits": {"email": "ann@example.com"}})
    feed({"type": "identify", "userId": "u1", "traits": {"email": "ANN@example.com"}})
    person = Person.objects.get()
    assert _ids(person) == {"anonymous_id": {"a1"}, "email": {"ann@example.com"}, "user_id": {"u1"}}


def test_found_by_user_id_gets_the_new_email(feed: Any) -> None:
    feed({"type": "identify", "userId": "u1"})
    feed({"type": "identify", "userId": "u1", "traits": {"email": "ann@example.com"}})
    assert _ids(Person.objects.get()) == {"user_id": {"u1"}, "email": {"ann@example.com"}}


def test_user_id_and_email_of_two_people_is_a_conflict_not_a_merge(feed: Any) -> None:
    feed({"type": "identify", "userId": "u1", "traits": {"email": "one@example.com"}})
    feed({"type": "identify", "userId": "u2", "traits": {"email": "two@example.com"}})
    feed({"type": "identify", "userId": "u1", "traits": {"email": "two@example.com", "plan": "pro"}})
    assert Person.objects.count() == 2
    one, two = _by("user_id", "u1"), _by("user_id", "u2")
    assert _ids(one) == {"user_id": {"u1"}, "email": {"one@example.com"}}
    assert _ids(two) == {"user_id": {"u2"}, "email": {"two@example.com"}}
    # the event's other traits apply to the userId's person, the conflicting email does not
    assert one.traits == {"email": "one@example.com", "plan": "pro"}
    conflict = IdentityConflict.objects.get()
    assert (conflict.user_id, conflict.email) == ("u1", "two@example.com")
    assert (conflict.user_person_id, conflict.email_person_id) == (one.id, two.id)


def test_email_of_a_person_with_another_user_id_is_a_conflict(feed: Any) -> None:
    feed({"type": "identify", "userId": "u1", "traits": {"email": "ann@example.com"}})
    feed({"type": "identify", "userId": "u9", "traits": {"email": "ann@example.com"}})
    assert Person.objects.count() == 2
    assert _ids(_by("user_id", "u9")) == {"user_id": {"u9"}}
    assert IdentityConflict.objects.get().email_person_id == _by("user_id", "u1").id


def test_identify_merges_anonymous_activity(feed: Any) -> None:
    feed({"type": "track", "anonymousId": "a1", "event": "Product Viewed"},
         {"type": "track", "anonymousId": "a1", "event": "Product Viewed"})
    feed({"type": "identify", "userId": "u1"})
    assert Person.objects.count() == 2
    feed({"type": "identify", "userId": "u1", "anonymousId": "a1", "traits": {"plan": "pro"}})
    person = Person.objects.get()
    assert _ids(person) == {"user_id": {"u1"}, "anonymous_id": {"a1"}}
    state = load_states(person.workspace_id, [person.id])[person.id]
    assert sum(state.events["Product Viewed"].per_day.values()) == 2


def test_first_identify_of_an_anonymous_person_adds_the_user_id(feed: Any) -> None:
    feed({"type": "page", "anonymousId": "a1"})
    feed({"type": "identify", "userId": "u1", "anonymousId": "a1"})
    assert _ids(Person.objects.get()) == {"user_id": {"u1"}, "anonymous_id": {"a1"}}


def test_a_known_persons_anonymous_id_is_not_given_to_another_user(feed: Any) -> None:
    feed({"type": "identify", "userId": "u1", "anonymousId": "shared-device"})
    feed({"type": "identify", "userId": "u2", "anonymousId": "shared-device"})
    assert Person.objects.count() == 2
    assert _ids(_by("user_id", "u2")) == {"user_id": {"u2"}}
    assert _by("anonymous_id", "shared-device") == _by("user_id", "u1")


def test_alias_merges_the_previous_person(feed: Any) -> None:
    feed({"type": "identify", "userId": "old-id", "traits": {"name": "Ann"}},
         {"type": "track", "userId": "old-id", "event": "Signed Up"})
    feed({"type": "identify", "userId": "new-id", "traits": {"plan": "pro"}})
    feed({"type": "alias", "userId": "new-id", "previousId": "old-id"})
    person = Person.objects.get()
    assert _ids(person) == {"user_id": {"old-id", "new-id"}}
    assert person.traits == {"name": "Ann", "plan": "pro"}
    assert person.event_stats.get().name == "Signed Up"


def test_alias_of_an_unknown_previous_id_links_it(feed: Any) -> None:
    feed({"type": "identify", "userId": "u1"})
    feed({"type": "alias", "userId": "u1", "previousId": "anon-7"})
    feed({"type": "track", "anonymousId": "anon-7", "event": "Opened"})
    person = Person.objects.get()
    assert _ids(person) == {"user_id": {"u1"}, "anonymous_id": {"anon-7"}}
    assert person.event_stats.get().name == "Opened"


def test_rules_hold_inside_one_chunk(feed: Any) -> None:
    feed({"type": "track", "anonymousId": "a1", "event": "Product Viewed"},
         {"type": "identify", "userId": "u1", "anonymousId": "a1", "traits": {"email": "a@example.com"}},
         {"type": "track", "userId": "u1", "event": "Order Completed"},
         {"type": "identify", "anonymousId": "a2", "traits": {"email": "A@example.com"}})
    person = Person.objects.get()
    assert _ids(person) == {"user_id": {"u1"}, "anonymous_id": {"a1", "a2"}, "email": {"a@example.com"}}
    assert set(person.event_stats.values_list("name", flat=True)) == {"Product Viewed", "Order Completed"}


def test_a_privacy_deletion_forgets_the_person(feed: Any, workspace: Any) -> None:
    from privacy.services import delete_person_data
    from profiles.models import PersonEvent

    feed({"type": "identify", "userId": "u1", "anonymousId": "a1", "traits": {"email": "gone@example.com"}},
         {"type": "track", "userId": "u1", "event": "Bought"},
         {"type": "identify", "userId": "u2", "traits": {"email": "kept@example.com"}})
    feed({"type": "identify", "userId": "u2", "traits": {"email": "gone@example.com"}})  # a conflict naming u1
    counts = delete_person_data(workspace.id, {"email": "GONE@example.com"})
    assert counts["profiles.person"] == 1 and counts["profiles.identityconflict"] == 1
    assert list(Identifier.objects.values_list("value", flat=True).order_by("value")) == ["kept@example.com", "u2"]
    assert not PersonEvent.objects.exists() and not IdentityConflict.objects.exists()
