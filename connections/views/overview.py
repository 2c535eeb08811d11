"""The landing redirect and the Connections page (sources left, destinations right)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from destinations.catalog import get_definition
from pipelines.tenancy import workspaces_for

from .. import delivery_summary, flow
from ..models import Connection, Destination, Source
from .access import render_page, workspace_for


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Send the user to the Connections page of their first workspace."""
    workspace = workspaces_for(request.user).first()
    if workspace is None:  # e.g. a member who just left their only workspace
        return render(request, "connections/no_workspace.html")
    return redirect("connections:connections", slug=workspace.slug)


@login_required
def connections_page(request: HttpRequest, slug: str) -> HttpResponse:
    workspace = workspace_for(request, slug)
    sources = list(Source.objects.filter(workspace=workspace))
    destinations = list(Destination.objects.filter(workspace=workspace))
    connections = list(Connection.objects.filter(destination__workspace=workspace)
                       .values_list("source_id", "destination_id", "enabled"))
    links = [(s, d) for s, d, _ in connections]
    source_names = {s.id: s.display_name for s in sources}
    destination_names = {d.id: d.name for d in destinations}
    feeds: dict[int, list[str]] = {s.id: [] for s in sources}
    fed_by: dict[int, list[str]] = {d.id: [] for d in destinations}
    for source_id, destination_id in links:
        feeds[source_id].append(destination_names[destination_id])
        fed_by[destination_id].append(source_names[source_id])
    statuses = delivery_summary.statuses(destinations)
    for s in sources:
        s.feeds = sorted(feeds[s.id])  # type: ignore[attr-defined]
    for d in destinations:
        d.fed_by = sorted(fed_by[d.id])  # type: ignore[attr-defined]
        d.status = statuses[d.id]  # type: ignore[attr-defined]
        try:
            d.type_name = get_definition(d.kind).name  # type: ignore[attr-defined]
        except KeyError:  # a type removed from the catalog: still listed so it can be deleted
            d.type_name = d.kind  # type: ignore[attr-defined]
    listed = [s for s in sources if not s.is_internal] + [s for s in sources if s.is_internal]
    picture = flow.build(
        listed, destinations, connections, statuses,
        source_url=lambda s: reverse("connections:source", args=[workspace.slug, s.pk]),
        destination_url=lambda d: reverse("connections:destination", args=[workspace.slug, d.pk]),
        type_names={d.id: d.type_name for d in destinations},  # type: ignore[attr-defined]
    )
    return render_page(request, workspace, "connections/connections.html", {
        "flow": picture,
        "sources": [s for s in sources if not s.is_internal],
        "internal_sources": [s for s in sources if s.is_internal],
        "destinations": destinations,
        "nav": "connections",
    })
