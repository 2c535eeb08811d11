"""The one timestamp parser (destinations/timestamps.py, docs/timestamps.md "How a time is read")."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from destinations import timestamps

NOON = datetime(2024, 5, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize("text", [
    "2024-05-01T12:00:00Z", "2024-05-01T12:00:00z", "2024-05-01T12:00:00.000Z",
    "2024-05-01 12:00:00", "2024-05-01T12:00", "2024-05-01T14:00:00+02:00", "2024-05-01T14:00:00+0200",
    "2024-05-01T14:00:00+02", "2024-05-01T12:00:00,000Z", " 2024-05-01T12:00:00Z ",
])
def test_iso_date_times_are_read_by_every_reader(text):
    assert timestamps.parse_iso(text) == NOON
    assert timestamps.parse(text) == NOON
    assert timestamps.epoch_ms(text) == int(NOON.timestamp()) * 1000


def test_fractions_past_microseconds_are_cut():
    assert timestamps.parse_iso("2024-05-01T12:00:00.123456789Z") == NOON.replace(microsecond=123456)


@pytest.mark.parametrize("text", ["1990-04-01", "2024-05-01T12", "20240501T120000Z", "2024-13-01T00:00:00Z",
                                  "soon", "", "2024-05-01T12:00:00Z" + " " * 60])
def test_what_is_not_an_iso_date_time(text):
    assert timestamps.parse_iso(text) is None
    assert timestamps.parse(text) is None


def test_numbers_and_digit_strings_are_unix_time_but_not_iso():
    seconds = int(NOON.timestamp())
    for value in (seconds, seconds * 1000, float(seconds), str(seconds), str(seconds * 1000)):
        assert timestamps.parse(value) == NOON
    assert timestamps.parse_iso(str(seconds)) is None
    assert timestamps.parse(True) is None and timestamps.parse(None) is None


def test_a_date_alone_is_a_date_not_an_instant():
    assert timestamps.is_iso_date("1990-04-01") and not timestamps.is_iso_date("1990-02-30")
    assert timestamps.parse_date("1990-04-01") == date(1990, 4, 1)
    assert timestamps.parse_date("2024-05-01T23:30:00-02:00") == date(2024, 5, 2)  # its UTC day
    assert timestamps.to_unix_seconds("1990-04-01") is None


def test_output_is_utc_with_milliseconds():
    assert timestamps.format_utc(datetime(2024, 5, 1, 14, tzinfo=timestamps.parse_iso("2024-05-01T14:00+02:00")
                                          .tzinfo)) == "2024-05-01T12:00:00.000Z"
