"""destinations.timestamps: what becomes unix seconds, and what is left alone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from destinations.timestamps import convert_iso_values, to_unix_seconds

NOON = int(datetime(2024, 5, 1, 12, tzinfo=UTC).timestamp())


@pytest.mark.parametrize("value", [
    "2024-05-01T12:00:00Z", "2024-05-01T12:00:00.000Z", "2024-05-01T12:00:00.123456789Z",
    "2024-05-01T14:00:00+02:00", "2024-05-01 12:00:00", "2024-05-01T12:00", str(NOON), NOON, NOON * 1000,
    float(NOON), datetime(2024, 5, 1, 12, tzinfo=UTC),
])
def test_timestamps_in_any_usual_form_become_unix_seconds(value):
    assert to_unix_seconds(value) == NOON


@pytest.mark.parametrize("value", [None, True, "", "soon", "2024-05-01", "2024-13-01T00:00:00Z", {"a": 1}])
def test_values_that_are_not_timestamps_give_none(value):
    assert to_unix_seconds(value) is None


def test_convert_iso_values_reaches_nested_values_and_keeps_the_rest():
    assert convert_iso_values({
        "at": "2024-05-01T12:00:00Z", "day": "2024-05-01", "n": 5, "nested": {"at": "2024-05-01T12:00:00Z"},
        "list": ["2024-05-01T12:00:00Z", "text"],
    }) == {"at": NOON, "day": "2024-05-01", "n": 5, "nested": {"at": NOON}, "list": [NOON, "text"]}
