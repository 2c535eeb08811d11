"""The data-flow picture of the Connections page, as the server draws it: a curve per connection in the state
of what it joins, nodes placed without overlap, destinations ordered to keep curves from crossing."""

from __future__ import annotations

import itertools
import re
from typing import Any

from django.test import Client

from connections import services
from connections.models import Connection, Destination, Source, SourceKind
from destinations.catalog.base import DestinationDefinition
from pipelines.models import Workspace


def _curves(page: str) -> dict[tuple[str, str], str]:
    return {(m["s"], m["d"]): m["state"] for m in re.finditer(
        r'data-source="(?P<s>\d+)" data-destination="(?P<d>\d+)" data-state="(?P<state>[a-z_]+)"', page)}


def _hook(workspace: Workspace, name: str, *sources: Source) -> Destination:
    return services.create_destination(workspace, name=name, kind="webhook",
                                       settings={"url": "http://127.0.0.1:9/"}, sources=list(sources))


def test_a_curve_is_disabled_when_its_source_its_destination_or_itself_is_off(
    owner_client: Client, workspace: Workspace, js_source: Source, server_source: Source, settings: Any,
    direct_type: DestinationDefinition,
) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = True
    on = _hook(workspace, "On", js_source, server_source)
    off = _hook(workspace, "Off", js_source)
    services.update_destination(off, enabled=False)
    cut = _hook(workspace, "Cut", js_source)
    Connection.objects.filter(destination=cut).update(enabled=False)
    pixel = services.create_destination(workspace, name="Pixel", kind=direct_type.key, settings={"pixel_id": "1"},
                                        sources=[js_source])
    services.update_source(server_source, enabled=False)
    page = owner_client.get("/w/acme/connections/").content.decode()
    assert _curves(page) == {
        (str(js_source.id), str(on.id)): "healthy", (str(server_source.id), str(on.id)): "disabled",
        (str(js_source.id), str(off.id)): "disabled", (str(js_source.id), str(cut.id)): "disabled",
        (str(js_source.id), str(pixel.id)): "direct",
    }
    assert f'data-flow-destination="{pixel.id}" data-state="direct"' in page
    assert f'data-flow-destination="{off.id}" data-state="disabled"' in page
    assert "Disabled · Python" in page  # the disabled source says so in its node
    assert 'class="flow-swatch flow-swatch-direct"' in page


def test_nodes_never_overlap_and_destinations_follow_their_sources(
    owner_client: Client, workspace: Workspace, settings: Any
) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = True
    a, b, c = (services.create_source(workspace, name=n, kind=SourceKind.PYTHON)[0] for n in ("A", "B", "C"))
    _hook(workspace, "Alpha", c)  # first by name and by creation: still drawn last, beside C
    _hook(workspace, "Gamma", a)
    _hook(workspace, "Beta", b)
    page = owner_client.get("/w/acme/connections/").content.decode()
    flow = page[page.index("data-flow>"):page.index("</section>", page.index("data-flow>"))]
    destinations = flow[flow.index('aria-label="Destinations"'):]
    order = re.findall(r'<span class="flow-name">(Alpha|Beta|Gamma)</span>', destinations)
    assert order == ["Gamma", "Beta", "Alpha"]
    tops = [int(t) for t in re.findall(r'<li style="top: (\d+)px; height: 56px">', destinations)]
    assert tops == sorted(tops) and all(b - a >= 56 for a, b in itertools.pairwise(tops))


def test_no_picture_without_sources_or_destinations(owner_client: Client) -> None:
    assert "data-flow" not in owner_client.get("/w/acme/connections/").content.decode()
