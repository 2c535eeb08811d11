"""Identity hygiene (destinations.identity): known SHA-256 outputs of normalized inputs, per platform."""

from __future__ import annotations

import hashlib

import pytest

from destinations import identity
from destinations.identity import GOOGLE, META


def h(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def test_the_reference_vector() -> None:
    assert identity.value_for("email", "test@example.com", META) == \
        "973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b"
    assert identity.value_for("email", "  TEST@Example.COM ", GOOGLE) == \
        "973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b"


def test_gmail_dots_and_suffix_go_for_google_only() -> None:
    raw = " Test.User+promo@GMAIL.com "
    assert identity.normalize("email", raw, GOOGLE) == "testuser@gmail.com"  # every dot, not only the first
    assert identity.value_for("email", raw, GOOGLE) == h("testuser@gmail.com")
    assert identity.normalize("email", raw, META) == "test.user+promo@gmail.com"
    assert identity.value_for("email", raw, META) == h("test.user+promo@gmail.com")
    assert identity.normalize("email", "a.b.c+x@googlemail.com", GOOGLE) == "abc@googlemail.com"
    assert identity.normalize("email", "a.b+x@example.com", GOOGLE) == "a.b+x@example.com"  # other domains keep both


def test_phones_to_e164_with_trunk_zero_and_default_region() -> None:
    assert identity.normalize("phone", "+44 (0)20 7946 0958", META) == "442079460958"
    assert identity.normalize("phone", "020 7946 0958", GOOGLE, region="GB") == "+442079460958"
    assert identity.normalize("phone", "0044 20 7946 0958", META, region="US") == "442079460958"
    assert identity.value_for("phone", "(415) 555-2671", META) == h("14155552671")
    assert identity.value_for("phone", "(415) 555-2671", GOOGLE) == h("+14155552671")
    for bad in ("+0000000000", "12", "call me", ""):
        with pytest.raises(identity.InvalidValue):
            identity.normalize("phone", bad, META)


def test_names_cities_states_zips_and_countries() -> None:
    assert identity.normalize("first_name", "  Mary-Jane ", META) == "maryjane"
    assert identity.normalize("first_name", "  Mary-Jane ", GOOGLE) == "mary-jane"  # trimmed, lowercased
    assert identity.value_for("last_name", " Zoë ", META) == h("zoë")
    assert identity.normalize("city", "San Francisco", META) == "sanfrancisco"
    assert identity.normalize("state", "New York", META) == "ny"
    assert identity.normalize("state", "CA", META) == "ca"
    assert identity.normalize("zip", "94107-1234", META) == "94107"
    assert identity.normalize("zip", "SW1A 1AA", META) == "sw1a1aa"
    assert identity.value_for("zip", " SW1A 1AA ", GOOGLE) == "SW1A 1AA"  # Google: plain, not hashed
    assert identity.value_for("country", "gb", GOOGLE) == "GB"
    assert identity.value_for("country", "GB", META) == h("gb")
    assert identity.value_for("external_id", " user-42 ", META) == "user-42"  # never hashed


def test_hashes_pass_through_and_bad_values_are_dropped_not_raised() -> None:
    hashed = h("ada@example.com").upper()
    assert identity.value_for("email", hashed, META) == hashed.lower()
    prepared = identity.prepare(META, {"email": "ada@example", "phone": "+0000000000", "first_name": "Ada",
                                       "external_id": "user-1", "city": ""})
    assert prepared.values == {"first_name": h("ada"), "external_id": "user-1"}
    assert set(prepared.dropped) == {"email", "phone"}
    assert not identity.prepare(META, {"email": "nope"})
