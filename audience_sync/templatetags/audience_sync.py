"""`{% audience_destinations audience as section %}`: what the audience page's Destinations section shows
(its connections and the destinations it could still be connected to)."""

from __future__ import annotations

from typing import Any

from django import template

from audiences.models import Audience
from connections.models import Destination, DestinationMode

from ..models import AudienceDestination, SyncMode
from ..services import NOT_SYNCABLE, audience_trait
from ..validation import report

register = template.Library()


@register.simple_tag
def audience_destinations(audience: Audience) -> dict[str, Any]:
    links = list(AudienceDestination.objects.filter(audience=audience).select_related("destination", "audience"))
    for link in links:
        link.report = report(link)
    taken = {link.destination_id for link in links}
    available = [d for d in Destination.objects.filter(workspace_id=audience.workspace_id, mode=DestinationMode.CLOUD)
                 .exclude(kind__in=NOT_SYNCABLE).order_by("name") if d.pk not in taken]
    return {"links": links, "available": available, "modes": SyncMode.choices, "trait": audience_trait(audience.key)}
