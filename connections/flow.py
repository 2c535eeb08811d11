"""The data-flow picture of the Connections page: sources in a column on the left, destinations on the
right, one curve per connection between them, coloured by the health the destination cards show.

Laid out here, in CSS pixels, so the page needs no script to draw it: every node has a fixed height and a
`top`, and each curve runs in a strip between the two columns from the middle of its source to the middle of
its destination (templates/connections/_flow.html; the strip's SVG stretches horizontally only). The
shorter column is centred against the longer, and destinations are ordered by the mean position of their
sources, so curves cross as little as a simple rule allows."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .delivery_summary import DestinationStatus
from .models import Destination, DestinationMode, Source
from .monograms import Monogram, for_destination, for_source

NODE_HEIGHT = 56  # px: two lines (name; type and state) in a node
NODE_GAP = 12

# The states a curve (and a destination node) can be in, with the words the legend gives them. The first
# five are the health badges of the Connections cards; "direct" is a direct-mode destination, which the
# visitor's browser feeds, so we have no delivery outcomes to judge it by.
STATES: dict[str, str] = {
    "healthy": "Healthy",
    "retrying": "Retrying",
    "failing": "Failing",
    "circuit_open": "Circuit open",
    "disabled": "Disabled",
    "direct": "Direct mode",
}

DRAW_ORDER = {"disabled": 0, "healthy": 1, "direct": 2, "retrying": 3, "circuit_open": 4, "failing": 5}


@dataclass
class FlowNode:
    id: int
    name: str
    kind: str  # the type's name ("Webhook", "Python")
    url: str
    monogram: Monogram
    status: str = ""  # the state in words ("Failing", "Retrying 3 events", "Disabled"); "" for a working source
    top: int = 0
    state: str = ""  # destinations (and disabled sources): a key of STATES
    links: list[str] = field(default_factory=list)  # names at the other end, for screen readers

    @property
    def detail(self) -> str:
        """The second line: "Failing · Webhook", "Python"."""
        return f"{self.status} · {self.kind}" if self.status else self.kind

    @property
    def middle(self) -> int:
        return self.top + NODE_HEIGHT // 2


@dataclass
class FlowLink:
    source_id: int
    destination_id: int
    y1: int
    y2: int
    state: str
    title: str

    @property
    def path(self) -> str:
        """A horizontal S-curve across the 0..100 wide strip."""
        return f"M0 {self.y1} C50 {self.y1} 50 {self.y2} 100 {self.y2}"


@dataclass
class Flow:
    sources: list[FlowNode]
    destinations: list[FlowNode]
    links: list[FlowLink]
    height: int
    node_height: int = NODE_HEIGHT

    @property
    def legend(self) -> list[tuple[str, str]]:
        """The states present in the picture, in the order of STATES."""
        used = {link.state for link in self.links} | {d.state for d in self.destinations}
        return [(key, label) for key, label in STATES.items() if key in used]


def link_state(source: Source, destination: Destination, enabled: bool, status: DestinationStatus) -> str:
    """What a connection's curve shows: disabled when anything on it is off, else its destination's health."""
    if not (source.enabled and destination.enabled and enabled):
        return "disabled"
    if destination.mode == DestinationMode.DIRECT:
        return "direct"
    return status.health


def destination_state(destination: Destination, status: DestinationStatus) -> str:
    if not destination.enabled:
        return "disabled"
    return "direct" if destination.mode == DestinationMode.DIRECT else status.health


def natural_key(name: str) -> list[Any]:
    """Sorts "hook 2" before "hook 11"."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", name.lower())]


def _place(nodes: list[FlowNode], height: int) -> None:
    column = len(nodes) * NODE_HEIGHT + max(len(nodes) - 1, 0) * NODE_GAP
    top = (height - column) // 2
    for node in nodes:
        node.top = top
        top += NODE_HEIGHT + NODE_GAP


def build(
    sources: Iterable[Source],
    destinations: Iterable[Destination],
    connections: Iterable[tuple[int, int, bool]],
    statuses: Mapping[int, DestinationStatus],
    *,
    source_url: Any,
    destination_url: Any,
    type_names: Mapping[int, str],
) -> Flow:
    """The picture for these sources and destinations. `connections` are (source id, destination id,
    enabled) triples; `statuses` the delivery_summary.statuses of the destinations; `source_url` and
    `destination_url` turn a node into its page's URL; `type_names` gives each destination's type name."""
    sources, destinations = list(sources), list(destinations)
    by_source = {s.id: s for s in sources}
    by_destination = {d.id: d for d in destinations}
    pairs = [(s, d, on) for s, d, on in connections if s in by_source and d in by_destination]

    source_nodes = []
    for s in sources:
        kind = s.get_kind_display()
        source_nodes.append(FlowNode(
            id=s.id, name=s.display_name, kind=kind, status="" if s.enabled else STATES["disabled"],
            url=source_url(s), monogram=for_source(s.kind, kind), state="" if s.enabled else "disabled",
        ))
    order = {node.id: i for i, node in enumerate(source_nodes)}
    fed_by: dict[int, list[int]] = {d.id: [] for d in destinations}
    for s, d, _ in pairs:
        fed_by[d].append(s)

    def barycentre(d: Destination) -> tuple[float, list[Any]]:
        feeders = [order[s] for s in fed_by[d.id]]
        return (sum(feeders) / len(feeders) if feeders else float(len(source_nodes)), natural_key(d.name))

    destination_nodes = []
    for d in sorted(destinations, key=barycentre):
        state = destination_state(d, statuses[d.id])
        status_words = statuses[d.id].health_text if state not in ("disabled", "direct") else STATES[state]
        destination_nodes.append(FlowNode(
            id=d.id, name=d.name, kind=type_names.get(d.id, d.kind), status=status_words, url=destination_url(d), monogram=for_destination(d.kind, type_names.get(d.id, d.kind)), state=state,
        ))
    rows = max(len(source_nodes), len(destination_nodes), 1)
    height = rows * NODE_HEIGHT + (rows - 1) * NODE_GAP
    _place(source_nodes, height)
    _place(destination_nodes, height)

    source_at = {n.id: n for n in source_nodes}
    destination_at = {n.id: n for n in destination_nodes}
    links = []
    for s, d, on in pairs:
        source, destination = by_source[s], by_destination[d]
        state = link_state(source, destination, on, statuses[d])
        links.append(FlowLink(s, d, source_at[s].middle, destination_at[d].middle, state,
                              f"{source.display_name} → {destination.name}: {STATES[state]}"))
        source_at[s].links.append(destination.name)
        destination_at[d].links.append(source.display_name)
    for node in source_nodes + destination_nodes:
        node.links.sort(key=natural_key)
    # the worse a curve's state, the later it is drawn, so it stays on top where curves cross
    links.sort(key=lambda link: DRAW_ORDER[link.state])
    return Flow(source_nodes, destination_nodes, links, height)
