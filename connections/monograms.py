"""The monogram icon of each destination type and source kind: a few letters on a coloured tile, drawn by us
(no vendor logos). Shown on the catalog cards of both wizards and on the data-flow picture of the
Connections page.

A type listed in DESTINATIONS / SOURCES gets its chosen letters and colour; any other type (a catalog entry
added later) still gets one: the initials of its name on a colour picked from PALETTE by its key, the same on
every page. To give a new type its own look, add a line below. Every colour carries white text at a WCAG AA
contrast of at least 4.5:1 (tests/ui/test_monograms.py checks)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

# Dark enough for white 15 px bold text at 4.5:1 or more.
PALETTE = (
    "#5b3fd6", "#0f6e5c", "#b3261e", "#1f5fb8", "#8a4b00", "#6b2fa0",
    "#a3145c", "#2d6a1f", "#34495e", "#005f73", "#9c3d00", "#4338ca",
)

DESTINATIONS: dict[str, tuple[str, str]] = {
    "customerio": ("Ci", "#0f6e5c"),
    "customerio_in_app": ("IA", "#005f73"),
    "webhook": ("Wh", "#34495e"),
    "mixpanel": ("Mx", "#6b2fa0"),
    "amplitude": ("Am", "#1f5fb8"),
    "ga4": ("G4", "#9c3d00"),
    "slack": ("Sl", "#a3145c"),
    "postgres": ("Pg", "#4338ca"),
    "profiles": ("Pr", "#5b3fd6"),
    "facebook_custom_audiences": ("FA", "#1d4e89"),
    "google_customer_match": ("CM", "#6d4c00"),
}

SOURCES: dict[str, tuple[str, str]] = {
    "javascript": ("JS", "#8a4b00"),
    "python": ("Py", "#1f5fb8"),
    "node": ("Nd", "#2d6a1f"),
    "go": ("Go", "#005f73"),
    "ios": ("iOS", "#34495e"),
    "android": ("An", "#2d6a1f"),
    "react_native": ("RN", "#4338ca"),
    "flutter": ("Fl", "#1f5fb8"),
    "http": ("API", "#5b3fd6"),
    "journeys_track_api": ("TA", "#0f6e5c"),
    "webhook": ("Wh", "#a3145c"),
    "audience": ("Au", "#7b2d8e"),
}


@dataclass(frozen=True)
class Monogram:
    letters: str
    color: str


def initials(name: str) -> str:
    """Up to two letters for a name: the first letters of its first two words ("Order Hook" → "OH"), or the
    first two letters of a single word ("Braze" → "Br")."""
    words = [w for w in re.split(r"[^0-9A-Za-z]+", name) if w]
    if not words:
        return "?"
    if len(words) == 1:
        return words[0][:2].capitalize()
    return (words[0][0] + words[1][0]).upper()


def _fallback(key: str, name: str) -> Monogram:
    index = int(hashlib.sha256(key.encode()).hexdigest(), 16) % len(PALETTE)
    return Monogram(initials(name), PALETTE[index])


def for_destination(kind: str, name: str) -> Monogram:
    """The monogram of a destination type (`kind` is its catalog key, `name` its display name)."""
    chosen = DESTINATIONS.get(kind)
    return Monogram(*chosen) if chosen else _fallback(f"destination:{kind}", name)


def for_source(kind: str, label: str) -> Monogram:
    """The monogram of a source kind (a SourceKind value and its label)."""
    chosen = SOURCES.get(kind)
    return Monogram(*chosen) if chosen else _fallback(f"source:{kind}", label)
