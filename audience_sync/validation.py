"""Sync validation (the guide's go-live gate): for one connected audience, our member count against what
was sent, what the destination acknowledged, what the platform says it received, matched and holds, and a
plain warning when the counts drift apart beyond what the platform's own delay explains.

Everything is read from rows we already keep: the connection's counters, the delivery records of its
internal source's events (acknowledged = delivered), the responses recorded for them (Meta's
num_received / num_invalid_entries / invalid_entry_samples, which hold hashes only) and the platform size
the sync fetches on a schedule (`refresh_platform_size`, Meta's approximate bounds)."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import orjson
from django.conf import settings
from django.db.models import Count, Max
from django.utils import timezone

from audiences.models import MembershipEvent
from destinations.errors import DeliveryError, PayloadError
from destinations.models import Delivery, DeliveryExchange

from .models import AudienceDestination
from .services import ENTERED, EXITED

log = logging.getLogger(__name__)

# How long each platform takes to show changes in its audience sizes (its documentation's figure).
PLATFORM_DELAY = {"facebook_custom_audiences": timedelta(hours=24), "google_customer_match": timedelta(hours=24)}
PLATFORM_NAMES = {"facebook_custom_audiences": "Meta", "google_customer_match": "Google"}
# Drift we don't warn about: a few people, or a small share of the audience.
TOLERANCE_PEOPLE, TOLERANCE_SHARE = 5, 0.05


def _delivery_counts(link: AudienceDestination) -> dict[str, Counter[str]]:
    """Per change kind (entered / exited): distinct events by delivery status (one event may reach
    several actions; it counts once per status)."""
    out: dict[str, Counter[str]] = {"entered": Counter(), "exited": Counter()}
    rows = (Delivery.objects.filter(event__source_id=link.source_id, event__type="track")
            .values("event__payload__event", "status").annotate(n=Count("event_id", distinct=True)))
    for row in rows:
        kind = {ENTERED: "entered", EXITED: "exited"}.get(row["event__payload__event"])
        if kind:
            out[kind][row["status"]] += row["n"]
    return out


def _meta_answers(link: AudienceDestination) -> dict[str, Any]:
    """Meta's answers to the users requests recorded for this connection: received and invalid totals,
    and how often each invalid reason came back (the sample values themselves are hashes; not shown)."""
    exchange_ids = (Delivery.objects.filter(event__source_id=link.source_id, exchange_id__isnull=False)
                    .values_list("exchange_id", flat=True).distinct())
    received = invalid = 0
    reasons: Counter[str] = Counter()
    for response in DeliveryExchange.objects.filter(pk__in=list(exchange_ids)).values_list("response", flat=True):
        body = response.get("body") if isinstance(response, dict) else None
        try:
            answer = orjson.loads(body) if isinstance(body, str) else None
        except orjson.JSONDecodeError:
            continue
        if not isinstance(answer, dict) or "num_received" not in answer:
            continue
        received += int(answer.get("num_received") or 0)
        invalid += int(answer.get("num_invalid_entries") or 0)
        samples = answer.get("invalid_entry_samples")
        if isinstance(samples, dict):
            reasons.update(str(reason) for reason in samples.values())
    return {"received": received, "invalid": invalid, "invalid_reasons": dict(reasons.most_common(5))}


def report(link: AudienceDestination, now: datetime | None = None) -> dict[str, Any]:
    """The validation panel's data (also GET .../audiences/{id}/destinations/{destination_id}/sync/)."""
    now = now or timezone.now()
    audience = link.audience
    kind = link.destination.kind
    counts = _delivery_counts(link)
    ours = audience.size

    def figures(name: str, sent: int) -> dict[str, int]:
        c = counts[name]
        done = c["delivered"] + c["failed"] + c["filtered"]
        return {"sent": sent, "acknowledged": c["delivered"], "failed": c["failed"], "not_sent": c["filtered"],
                "waiting": max(0, sent - done)}

    adds, removes = figures("entered", link.sent_adds), figures("exited", link.sent_removes)
    at_destination = adds["acknowledged"] - removes["acknowledged"]
    delay = PLATFORM_DELAY.get(kind)
    platform_name = PLATFORM_NAMES.get(kind)
    last_change = MembershipEvent.objects.filter(audience=audience, id__lte=link.cursor).aggregate(m=Max("at"))["m"]
    settled_since = max(filter(None, (last_change, link.backfilled_at)), default=None)
    out: dict[str, Any] = {
        "audience_size": ours, "adds": adds, "removes": removes, "at_destination": at_destination,
        "skipped": link.skipped, "dropped": link.dropped,
        "last_sync_at": link.last_sync_at, "next_sync_at": link.next_sync_at, "last_error": link.last_error,
        "platform": None, "match_rate": None, "platform_delay_hours": int(delay.total_seconds() // 3600) if delay
        else None, "warnings": [],
    }
    warnings: list[str] = out["warnings"]
    if link.last_error:
        warnings.append(link.last_error)
    if kind == "facebook_custom_audiences":
        meta = _meta_answers(link)
        size = link.platform.get("size") or {}
        meta.update({"last_session": link.platform.get("last_session"),
                     "approximate_lower": size.get("approximate_count_lower_bound"),
                     "approximate_upper": size.get("approximate_count_upper_bound"),
                     "size_fetched_at": (datetime.fromisoformat(link.platform["size_fetched_at"])
                                         if link.platform.get("size_fetched_at") else None)})
        out["platform"] = meta
        lower, upper = meta["approximate_lower"], meta["approximate_upper"]
        # Meta counts matched people only, so its size over ours is the share matched; a platform holding
        # more people than we have is drift (warned about below), not a match rate.
        if ours and upper is not None and (lower or 0) <= ours:
            out["match_rate"] = {"low": round((lower or 0) / ours, 3), "high": round(min(1.0, upper / ours), 3)}
        if meta["received"]:
            out["platform"]["valid_share"] = round((meta["received"] - meta["invalid"]) / meta["received"], 3)
        last = meta["last_session"] or {}
        if last.get("num_received") and "num_matched" in last:
            # Meta's own count for the latest upload: the match rate it computed itself
            meta["last_upload_match_rate"] = round(last["num_matched"] / last["num_received"], 3)
    tolerance = max(TOLERANCE_PEOPLE, round(ours * TOLERANCE_SHARE))
    failed = adds["failed"] + removes["failed"]
    if failed:
        last = (Delivery.objects.filter(event__source_id=link.source_id, status="failed").order_by("-updated_at")
                .values_list("last_error", flat=True).first())
        warnings.append(f"{failed} change{'s' if failed != 1 else ''} failed to reach {link.destination.name}"
                        f"{f' (last: {last})' if last else ''}: see its Event delivery tab.")
    waiting = adds["waiting"] + removes["waiting"]
    if link.backfilled_at and not waiting and abs(ours - at_destination) > tolerance:
        warnings.append(f"The audience has {ours} people but {at_destination} reached {link.destination.name} "
                        f"(adds minus removes acknowledged).")
    if out["platform"] and out["platform"].get("approximate_upper") is not None and delay:
        lower, upper = out["platform"]["approximate_lower"] or 0, out["platform"]["approximate_upper"]
        hours = out["platform_delay_hours"]
        settled = settled_since is not None and now - settled_since > delay
        if settled and (upper + tolerance < ours * 0.5 or lower > ours + tolerance):
            warnings.append(f"{platform_name} reports about {lower}–{upper} people but the audience has {ours}, "
                            f"and the last change was sent more than {hours} h ago ({platform_name} shows changes "
                            f"within {hours} h and counts only the people it matched): check the match rate, the "
                            "identifiers sent and failed deliveries.")
        elif not settled:
            out["note"] = (f"{platform_name} takes up to {hours} h to show changes in its size; the last change was "
                           "sent less than that ago.")
    return out


def _last_session(link: AudienceDestination) -> int | None:
    """The session id Meta answered for the latest users request of this connection."""
    exchange_ids = (Delivery.objects.filter(event__source_id=link.source_id, exchange_id__isnull=False)
                    .values_list("exchange_id", flat=True))
    latest = (DeliveryExchange.objects.filter(pk__in=exchange_ids).order_by("-created_at", "-id")
              .values_list("response", flat=True).first())
    body = latest.get("body") if isinstance(latest, dict) else None
    try:
        answer = orjson.loads(body) if isinstance(body, str) else None
    except orjson.JSONDecodeError:
        return None
    session = answer.get("session_id") if isinstance(answer, dict) else None
    return int(session) if isinstance(session, int) else None


def refresh_platform_size(link: AudienceDestination, now: datetime | None = None) -> bool:
    """Meta: fetch its approximate size bounds when the last fetch is older than
    AUDIENCE_SYNC_SIZE_INTERVAL, and the status of the latest upload session once it is answered (so at
    the sync after an upload). True when anything was fetched."""
    from destinations.catalog import facebook_custom_audiences

    now = now or timezone.now()
    if link.destination.kind != "facebook_custom_audiences" or not link.external_audience_id:
        return False
    platform = dict(link.platform)
    settings_ = link.destination.settings
    fetched = platform.get("size_fetched_at")
    if not fetched or now - datetime.fromisoformat(fetched) >= timedelta(seconds=settings.AUDIENCE_SYNC_SIZE_INTERVAL):
        try:
            platform["size"] = facebook_custom_audiences.audience_size(settings_, link.external_audience_id)
            platform["size_fetched_at"] = now.isoformat()
        except (DeliveryError, PayloadError) as exc:
            log.info("audience size of connection %s not fetched: %s", link.pk, exc)
    session = _last_session(link)
    if session is not None and (platform.get("last_session") or {}).get("session_id") != session:
        try:
            status = facebook_custom_audiences.session_status(settings_, link.external_audience_id, session)
        except (DeliveryError, PayloadError) as exc:
            log.info("session status of connection %s not fetched: %s", link.pk, exc)
        else:
            if status:
                platform["last_session"] = {"session_id": session, **status}
    if platform == link.platform:
        return False
    AudienceDestination.objects.filter(pk=link.pk).update(platform=platform)
    link.platform = platform
    return True
