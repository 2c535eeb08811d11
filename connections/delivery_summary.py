"""Delivery figures for the UI: each destination's status line and health badge on the Connections page and
the destination header, and the Event delivery tab's chart. Read-only; computed from
destinations.models.Delivery / DeliveryCount / DestinationCircuit.

Health, from the last HEALTH_WINDOW of outcomes (first match wins):
- circuit open: the delivery engine's breaker holds first attempts back now (DestinationCircuit);
- failing: something failed in the window, and at least as many deliveries failed as were delivered;
- retrying: events wait for another attempt (counted as events, not attempts);
- healthy: none of the above (including no traffic at all).
The reason shown beside a badge is the newest failed (or retrying) delivery's error.

Every query is bounded by an index: DeliveryCount by (destination, minute), Delivery by
(destination, status, -updated_at) with LIMIT; the per-destination queries run only for destinations
that are not healthy by the counts, so a page of healthy destinations costs no more than before."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar

from django.db.models import Max, Q, Sum
from django.utils import timezone

from destinations.counts import bucketed_counts
from destinations.models import Delivery, DeliveryCount, DeliveryStatus, DestinationCircuit
from pipelines.timeranges import TimeRange

from .models import Destination

HEALTH_WINDOW = timedelta(minutes=15)
# Retrying events are counted up to this many per destination ("1000+" beyond): the count stays one
# bounded index range however long a destination has been down.
RETRYING_COUNT_CAP = 1000


class Health:
    HEALTHY = "healthy"
    RETRYING = "retrying"
    FAILING = "failing"
    CIRCUIT_OPEN = "circuit_open"

    LABELS: ClassVar[dict[str, str]] = {HEALTHY: "Healthy", RETRYING: "Retrying", FAILING: "Failing", CIRCUIT_OPEN: "Circuit open"}


@dataclass
class DestinationStatus:
    last_delivery: datetime | None = None
    # Outcomes recorded in the last 24 h; retrying_24h counts retry *attempts* (an event retried five
    # times counts five), so the UI shows retrying_events instead.
    delivered_24h: int = 0
    retrying_24h: int = 0
    failed_24h: int = 0
    # the last HEALTH_WINDOW
    delivered_recent: int = 0
    retrying_recent: int = 0
    failed_recent: int = 0
    health: str = Health.HEALTHY
    reason: str = ""  # why it is not healthy: the newest error ("HTTP 401 from …")
    retrying_events: int = 0  # events waiting for another attempt now, up to RETRYING_COUNT_CAP
    circuit_until: datetime | None = None

    @property
    def error_rate(self) -> float | None:
        """Failed share of finished deliveries in the last 24 h, in percent; None when nothing finished."""
        done = self.delivered_24h + self.failed_24h
        return None if done == 0 else round(100.0 * self.failed_24h / done, 1)

    @property
    def error_level(self) -> str:
        """How to colour the error rate: "none" (no data), "ok" (0 %), "warn" (under 5 %), "fail"."""
        rate = self.error_rate
        if rate is None:
            return "none"
        return "ok" if rate == 0 else "warn" if rate < 5 else "fail"

    @property
    def health_label(self) -> str:
        return Health.LABELS[self.health]

    @property
    def retrying_capped(self) -> bool:
        return self.retrying_events >= RETRYING_COUNT_CAP

    @property
    def health_text(self) -> str:
        """The badge's words: "Healthy", "Retrying 3 events", "Failing", "Circuit open"."""
        if self.health == Health.RETRYING:
            n = f"{RETRYING_COUNT_CAP}+" if self.retrying_capped else str(self.retrying_events)
            return f"Retrying {n} event{'' if self.retrying_events == 1 else 's'}"
        return self.health_label


def _error_text(status_code: int | None, error: str) -> str:
    if status_code and f"HTTP {status_code}" not in error:
        return f"HTTP {status_code}: {error}" if error else f"HTTP {status_code}"
    return error


def _newest_error(destination_id: int, status: str) -> str:
    row = (Delivery.objects.filter(destination_id=destination_id, status=status)
           .order_by("-updated_at").values("last_status_code", "last_error").first())
    return _error_text(row["last_status_code"], row["last_error"]) if row else ""


def retrying_events(destination_id: int, cap: int = RETRYING_COUNT_CAP) -> int:
    """Distinct events with a delivery waiting to be retried, counted up to `cap` rows."""
    rows = (Delivery.objects.filter(destination_id=destination_id, status=DeliveryStatus.RETRYING)
            .order_by().values_list("event_id", flat=True)[:cap])
    return len(set(rows))


def statuses(destinations: list[Destination], *, now: datetime | None = None) -> dict[int, DestinationStatus]:
    """Status and health per destination id: three queries whatever the number of destinations, plus
    two small indexed ones for each destination that is not healthy by its counts."""
    ids = [d.id for d in destinations]
    result = {i: DestinationStatus() for i in ids}
    now = now or timezone.now()
    since = now - timedelta(hours=24)
    recent = (now - HEALTH_WINDOW).replace(second=0, microsecond=0)
    counts = (
        DeliveryCount.objects.filter(destination_id__in=ids, minute__gte=since)
        .values("destination_id")
        .annotate(delivered_24h=Sum("delivered"), retrying_24h=Sum("retrying"), failed_24h=Sum("failed"),
                  delivered_recent=Sum("delivered", filter=Q(minute__gte=recent)),
                  retrying_recent=Sum("retrying", filter=Q(minute__gte=recent)),
                  failed_recent=Sum("failed", filter=Q(minute__gte=recent)))
    )
    for row in counts:
        status = result[row["destination_id"]]
        status.delivered_24h = row["delivered_24h"] or 0
        status.retrying_24h = row["retrying_24h"] or 0
        status.failed_24h = row["failed_24h"] or 0
        status.delivered_recent = row["delivered_recent"] or 0
        status.retrying_recent = row["retrying_recent"] or 0
        status.failed_recent = row["failed_recent"] or 0
    circuits = {c.destination_id: c for c in DestinationCircuit.objects.filter(destination_id__in=ids)}
    for destination_id, status in result.items():
        circuit = circuits.get(destination_id)
        # A retrying row had a retrying outcome (counted) within the retry window, so a destination with
        # none in 24 h has none waiting and needs no look at its rows.
        if status.retrying_24h or circuit is not None:
            status.retrying_events = retrying_events(destination_id)
        if circuit is not None and circuit.open_until > now:
            status.health, status.circuit_until = Health.CIRCUIT_OPEN, circuit.open_until
            status.reason = circuit.reason or _newest_error(destination_id, DeliveryStatus.RETRYING)
        elif status.failed_recent and status.failed_recent >= status.delivered_recent:
            status.health = Health.FAILING
            status.reason = _newest_error(destination_id, DeliveryStatus.FAILED)
        elif status.retrying_events:
            status.health = Health.RETRYING
            status.reason = _newest_error(destination_id, DeliveryStatus.RETRYING)
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
    """A stacked bar chart of one time range, already laid out in SVG user units. Time labels carry
    their instant (`time`, ISO 8601) so the browser can show them in its own time zone."""

    width: int
    height: int
    plot_top: int
    plot_bottom: int
    time_range: TimeRange
    bars: list[dict[str, Any]] = field(default_factory=list)
    gridlines: list[dict[str, Any]] = field(default_factory=list)
    labels: list[dict[str, Any]] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)
    peak: int = 0


def delivery_chart(destination: Destination, time_range: TimeRange, *, now: datetime | None = None) -> Chart:
    """Delivered / retrying / failed per bucket of `time_range`, as stacked bars."""
    buckets = bucketed_counts(destination.pk, time_range, now or timezone.now())
    width, height, left, right, top, bottom = 720, 220, 44, 8, 10, 190
    chart = Chart(width=width, height=height, plot_top=top, plot_bottom=bottom, time_range=time_range)
    chart.totals = {key: sum(b[key] for b in buckets) for key, _ in SERIES}
    peak = max((sum(b[key] for key, _ in SERIES) for b in buckets), default=0)
    chart.peak = peak
    scale_max = 4 * _nice_step(peak / 4)
    slot = (width - left - right) / len(buckets)
    bar_width = max(slot * 0.7, 2)
    for step in range(5):
        value = scale_max * step // 4
        y = bottom - (bottom - top) * step / 4
        chart.gridlines.append({"y": round(y, 1), "value": value, "x1": left, "x2": width - right})
    for i, bucket in enumerate(buckets):
        x = left + i * slot + (slot - bar_width) / 2
        y = float(bottom)
        for key, label in SERIES:
            if not bucket[key]:
                continue
            h = (bottom - top) * bucket[key] / scale_max
            y -= h
            chart.bars.append({
                "x": round(x, 1), "y": round(y, 1), "width": round(bar_width, 1), "height": round(h, 1),
                "series": key, "time": bucket["start"].isoformat(), "count": bucket[key], "what": label.lower(),
                "title": f"{bucket['start']:%d %b %H:%M} UTC: {bucket[key]} {label.lower()}",
            })
        if i % time_range.label_every == 0:
            # at the start of its bucket, reading rightwards: the time a label names is where the bucket begins
            chart.labels.append({"x": round(left + i * slot, 1), "y": bottom + 16,
                                 "time": bucket["start"].isoformat(), "text": time_range.axis_text(bucket["start"])})
    return chart

