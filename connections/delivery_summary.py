"""Delivery figures for the UI: each destination's status line on the Connections page and the Event
delivery tab's chart. Read-only; computed from destinations.models.Delivery / DeliveryCount."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Max, Sum
from django.db.models.functions import TruncHour
from django.utils import timezone

from destinations.models import Delivery, DeliveryCount, DeliveryStatus

from .models import Destination


@dataclass
class DestinationStatus:
    last_delivery: datetime | None = None
    delivered_24h: int = 0
    retrying_24h: int = 0
    failed_24h: int = 0

    @property
    def error_rate(self) -> float | None:
        """Failed share of finished deliveries in the last 24 h, in percent; None when nothing finished."""
        done = self.delivered_24h + self.failed_24h
        return None if done == 0 else round(100.0 * self.failed_24h / done, 1)


def statuses(destinations: list[Destination]) -> dict[int, DestinationStatus]:
    """Status per destination id, in two queries whatever the number of destinations."""
    ids = [d.id for d in destinations]
    result = {i: DestinationStatus() for i in ids}
    since = timezone.now() - timedelta(hours=24)
    counts = (
        DeliveryCount.objects.filter(destination_id__in=ids, minute__gte=since)
        .values("destination_id")
        .annotate(delivered=Sum("delivered"), retrying=Sum("retrying"), failed=Sum("failed"))
    )
    for row in counts:
        status = result[row["destination_id"]]
        status.delivered_24h = row["delivered"] or 0
        status.retrying_24h = row["retrying"] or 0
        status.failed_24h = row["failed"] or 0
    last = (
        Delivery.objects.filter(destination_id__in=ids, status=DeliveryStatus.DELIVERED)
        .values("destination_id")
        .annotate(last=Max("updated_at"))
    )
    for row in last:
        result[row["destination_id"]].last_delivery = row["last"]
    return result


def _nice_step(raw: float) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50, ... that is >= raw: round axis ticks."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= raw:
                return step * factor
        step *= 10


SERIES = (("delivered", "Delivered"), ("retrying", "Retrying"), ("failed", "Failed"))


@dataclass
class Chart:
    """An hourly stacked bar chart, already laid out in SVG user units."""

    width: int
    height: int
    plot_top: int
    plot_bottom: int
    bars: list[dict[str, Any]] = field(default_factory=list)
    gridlines: list[dict[str, Any]] = field(default_factory=list)
    labels: list[dict[str, Any]] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)
    peak: int = 0


def hourly_chart(destination: Destination, *, hours: int = 24, now: datetime | None = None) -> Chart:
    """Delivered / retrying / failed per hour over the last `hours` hours, as stacked bars."""
    now = now or timezone.now()
    end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    start = end - timedelta(hours=hours)
    rows = (
        DeliveryCount.objects.filter(destination=destination, minute__gte=start, minute__lt=end)
        .annotate(hour=TruncHour("minute"))
        .values("hour")
        .annotate(delivered=Sum("delivered"), retrying=Sum("retrying"), failed=Sum("failed"))
    )
    by_hour = {row["hour"]: row for row in rows}
    buckets = []
    for i in range(hours):
        hour = start + timedelta(hours=i)
        row = by_hour.get(hour, {})
        buckets.append((hour, {key: row.get(key) or 0 for key, _ in SERIES}))

    width, height, left, right, top, bottom = 720, 220, 44, 8, 10, 190
    chart = Chart(width=width, height=height, plot_top=top, plot_bottom=bottom)
    chart.totals = {key: sum(b[1][key] for b in buckets) for key, _ in SERIES}
    peak = max((sum(values.values()) for _, values in buckets), default=0)
    chart.peak = peak
    scale_max = 4 * _nice_step(peak / 4)
    slot = (width - left - right) / hours
    bar_width = max(slot * 0.7, 2)
    for step in range(5):
        value = scale_max * step // 4
        y = bottom - (bottom - top) * step / 4
        chart.gridlines.append({"y": round(y, 1), "value": value, "x1": left, "x2": width - right})
    for i, (hour, values) in enumerate(buckets):
        x = left + i * slot + (slot - bar_width) / 2
        y = float(bottom)
        for key, label in SERIES:
            if not values[key]:
                continue
            h = (bottom - top) * values[key] / scale_max
            y -= h
            chart.bars.append({
                "x": round(x, 1), "y": round(y, 1), "width": round(bar_width, 1), "height": round(h, 1),
                "series": key, "title": f"{hour:%H:00} UTC: {values[key]} {label.lower()}",
            })
        if i % 4 == 0:
            chart.labels.append({"x": round(x + bar_width / 2, 1), "y": bottom + 16, "text": f"{hour:%H:00}"})
    return chart
