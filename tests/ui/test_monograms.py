"""Monograms: every catalog type and source kind has one, readable (white on its colour at WCAG AA), and a
type added to the catalog later still gets one."""

from __future__ import annotations

from connections import monograms
from connections.models import SourceKind
from destinations.catalog import all_definitions


def _luminance(colour: str) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(int(colour[i:i + 2], 16) / 255) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_every_colour_carries_white_text_at_aa_contrast() -> None:
    colours = set(monograms.PALETTE) | {c for _, c in monograms.DESTINATIONS.values()} | {
        c for _, c in monograms.SOURCES.values()}
    for colour in colours:
        assert 1.05 / (_luminance(colour) + 0.05) >= 4.5, colour


def test_every_type_has_letters_and_the_chosen_ones_differ() -> None:
    for d in all_definitions():
        m = monograms.for_destination(d.key, d.name)
        assert 1 <= len(m.letters) <= 3 and m.color.startswith("#")
    chosen = list(monograms.DESTINATIONS.values())
    assert len({c for _, c in chosen}) == len(chosen)  # a colour per destination type
    kinds = [monograms.for_source(value, label) for value, label in SourceKind.choices]
    assert all(value in monograms.SOURCES for value in SourceKind.values)
    assert len({(m.letters, m.color) for m in kinds}) == len(kinds)


def test_a_type_missing_from_the_table_gets_initials_and_a_stable_colour() -> None:
    first = monograms.for_destination("braze", "Braze")
    assert first == monograms.for_destination("braze", "Braze") and first.letters == "Br"
    assert first.color in monograms.PALETTE
    assert monograms.for_destination("x", "Order Hook").letters == "OH"
    assert monograms.initials("—") == "?"
