"""Alert rules: validation and changes (the API, the page and the admin call these), and the evaluator the
beat task "alerts.evaluate" runs every minute.

Every condition is read with a bounded query: DeliveryCount rows of one destination over the rule's window
(at most window_minutes rows, by the (destination, minute) unique index), the destination's circuit row,
and for source volume a count of the source's events in the window capped at the band's upper bound + 1
(by the (source, received_at) index), so a busy source costs at most that many index entries.

An incident opens the first time a rule's condition holds and is notified once; while it stays open the
evaluator says nothing more; when the condition clears the incident is closed and a "recovered" message
sent. A notification that fails is recorded on the incident and never stops the evaluation."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import get_connection, send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from connections.models import Connection, Destination, Source
from destinations import http
from destinations.errors import DeliveryError
from destinations.models import DeliveryCount, DestinationCircuit
from ingest.models import Event
from pipelines import crypto
from pipelines.models import Workspace

from .models import DESTINATION_KINDS, AlertIncident, AlertRule, RuleKind

log = logging.getLogger(__name__)

MAX_WINDOW_MINUTES = 24 * 60
MAX_EMAILS = 20
FIELDS = ("name", "kind", "destination", "source", "window_minutes", "threshold_percent", "min_events",
          "min_volume", "max_volume", "emails", "slack_url", "enabled")


def now() -> datetime:
    """The evaluator's clock. Tests freeze it with the ALERTS_FROZEN_NOW setting (an aware datetime)."""
    frozen = getattr(settings, "ALERTS_FROZEN_NOW", None)
    if frozen:
        return frozen if isinstance(frozen, datetime) else datetime.fromisoformat(str(frozen))
    return timezone.now()


# --- Validation and changes -----------------------------------------------------------------------------


def _clean(workspace: Workspace, values: dict[str, Any], rule: AlertRule | None) -> dict[str, Any]:
    """The values merged over `rule`'s, checked as a whole. Raises ValidationError with field errors."""
    # A new rule starts from the model's defaults (window 15 min, at least 10 attempts, enabled).
    current: dict[str, Any] = {"window_minutes": 15, "min_events": 10, "enabled": True, "emails": []}
    if rule is not None:
        current = {f: getattr(rule, f) for f in FIELDS if f != "slack_url"}
    merged = {**current, **values}
    errors: dict[str, str] = {}
    kind = merged.get("kind")
    if kind not in RuleKind.values:
        errors["kind"] = f"Expected one of: {', '.join(RuleKind.values)}."
    if not str(merged.get("name") or "").strip():
        errors["name"] = "Give the rule a name."
    destination, source = merged.get("destination"), merged.get("source")
    if isinstance(destination, Destination) and destination.workspace_id != workspace.id:
        destination = None
        errors["destination"] = "No such destination in this workspace."
    if isinstance(source, Source) and source.workspace_id != workspace.id:
        source = None
        errors["source"] = "No such source in this workspace."
    if kind in DESTINATION_KINDS:
        merged["source"] = None
        if destination is None and "destination" not in errors:
            errors["destination"] = "This kind of rule watches a destination: choose one."
    elif kind == RuleKind.SOURCE_VOLUME:
        merged["destination"] = None
        if source is None and "source" not in errors:
            errors["source"] = "A volume rule watches a source: choose one."
    window = merged.get("window_minutes")
    if not isinstance(window, int) or not 1 <= window <= MAX_WINDOW_MINUTES:
        errors["window_minutes"] = f"Expected a whole number of minutes from 1 to {MAX_WINDOW_MINUTES}."
    if kind == RuleKind.FAILURE_RATE:
        threshold = merged.get("threshold_percent")
        if not isinstance(threshold, (int, float)) or not 0 < threshold <= 100:
            errors["threshold_percent"] = "Expected a percentage above 0 and at most 100."
        min_events = merged.get("min_events")
        if not isinstance(min_events, int) or min_events < 1:
            errors["min_events"] = "Expected at least 1 event."
    if kind == RuleKind.SOURCE_VOLUME:
        low, high = merged.get("min_volume"), merged.get("max_volume")
        for key, value in (("min_volume", low), ("max_volume", high)):
            if value is not None and (not isinstance(value, int) or value < 0):
                errors[key] = "Expected a whole number of events, 0 or more."
        if low is None and high is None:
            errors["min_volume"] = "Set the band: a minimum, a maximum or both."
        elif isinstance(low, int) and isinstance(high, int) and low > high:
            errors["max_volume"] = "The maximum must be at least the minimum."
    emails = merged.get("emails") or []
    if not isinstance(emails, list) or len(emails) > MAX_EMAILS:
        errors["emails"] = f"Expected a list of at most {MAX_EMAILS} email addresses."
    else:
        cleaned = []
        for address in emails:
            try:
                validate_email(str(address).strip())
            except ValidationError:
                errors["emails"] = f"Not an email address: {address}"
                break
            cleaned.append(str(address).strip())
        merged["emails"] = cleaned
    slack_url = values.get("slack_url")
    if slack_url:
        try:
            http.check_url(slack_url)
        except http.UnsafeURL as exc:
            errors["slack_url"] = str(exc)
    if errors:
        raise ValidationError(errors)
    merged["name"] = str(merged["name"]).strip()
    return merged


def _keeps_secret(rule: AlertRule | None, value: Any) -> bool:
    """A Slack URL sent back empty-but-present as None clears; sent back masked means unchanged."""
    return rule is not None and isinstance(value, str) and value == rule.masked_slack_url and value != ""


def _apply(rule: AlertRule, values: dict[str, Any], merged: dict[str, Any]) -> None:
    for field in FIELDS:
        if field == "slack_url":
            if "slack_url" in values:
                rule.slack_url = values["slack_url"] or ""
            continue
        if field in merged:
            setattr(rule, field, merged[field])


def create_rule(workspace: Workspace, values: dict[str, Any]) -> AlertRule:
    merged = _clean(workspace, values, None)
    rule = AlertRule(workspace=workspace)
    _apply(rule, values, merged)
    rule.save()
    return rule


def update_rule(rule: AlertRule, values: dict[str, Any]) -> AlertRule:
    values = dict(values)
    if "slack_url" in values and _keeps_secret(rule, values["slack_url"]):
        del values["slack_url"]
    merged = _clean(rule.workspace, values, rule)
    _apply(rule, values, merged)
    rule.save()
    if not rule.enabled:  # a disabled rule is not watched: its open incident ends here, without a message
        AlertIncident.objects.filter(rule=rule, recovered_at__isnull=True).update(
            recovered_at=now(), recovery_summary="The rule was disabled.")
    return rule


def delete_rule(rule: AlertRule) -> None:
    rule.delete()


# --- Evaluation -----------------------------------------------------------------------------------------


@dataclass
class Finding:
    firing: bool
    text: str


def _window_counts(destination_id: int, since: datetime) -> dict[str, int]:
    totals = DeliveryCount.objects.filter(destination_id=destination_id, minute__gte=since).aggregate(
        delivered=Sum("delivered"), failed=Sum("failed"), retrying=Sum("retrying"))
    return {k: int(v or 0) for k, v in totals.items()}


def check(rule: AlertRule, at: datetime) -> Finding:
    """Whether the rule's condition holds at `at`, and a sentence saying what was seen."""
    since = at - timedelta(minutes=rule.window_minutes)
    window = f"the last {rule.window_minutes} min"
    if rule.kind == RuleKind.FAILURE_RATE:
        c = _window_counts(rule.destination_id, since)  # type: ignore[arg-type]
        # A retrying attempt is a failed attempt too (it may succeed later: then it counts as delivered).
        failed = c["failed"] + c["retrying"]
        total = failed + c["delivered"]
        rate = 100.0 * failed / total if total else 0.0
        firing = total >= rule.min_events and rate > (rule.threshold_percent or 0)
        return Finding(firing, f"{rate:.1f}% of {total} attempts failed in {window} "
                               f"(threshold {rule.threshold_percent:g}%, at least {rule.min_events} events).")
    if rule.kind == RuleKind.NO_DELIVERY:
        delivered = _window_counts(rule.destination_id, since)["delivered"]  # type: ignore[arg-type]
        # Only what the destination is expected to receive: its enabled connections from enabled sources.
        source_ids = Connection.objects.filter(destination_id=rule.destination_id, enabled=True,
                                               source__enabled=True).values("source_id")
        arrived = rule.destination.enabled and Event.objects.filter(  # type: ignore[union-attr]
            source_id__in=source_ids, received_at__gte=since, received_at__lte=at).exists()
        firing = arrived and delivered == 0
        if firing:
            return Finding(True, f"Nothing was delivered in {window} while events arrived from its sources.")
        return Finding(False, f"{delivered} events delivered in {window}.")
    if rule.kind == RuleKind.CIRCUIT_OPEN:
        circuit = DestinationCircuit.objects.filter(destination_id=rule.destination_id, open_until__gt=at).first()
        if circuit is not None:
            reason = f": {circuit.reason}" if circuit.reason else ""
            return Finding(True, f"The circuit is open until {circuit.open_until:%H:%M UTC}{reason}")
        return Finding(False, "The circuit is closed: deliveries are being sent again.")
    # Source volume: count at most one past the band's upper bound (or its lower one when it has none).
    cap = (rule.max_volume if rule.max_volume is not None else rule.min_volume or 0) + 1
    volume = Event.objects.filter(source_id=rule.source_id, received_at__gte=since, received_at__lte=at)\
        .order_by()[:cap].count()
    low, high = rule.min_volume, rule.max_volume
    shown = f"more than {high}" if high is not None and volume > high else str(volume)
    band = f"{low if low is not None else 0}–{high if high is not None else '∞'}"
    if low is not None and volume < low:
        return Finding(True, f"{shown} events in {window}, below the band {band}.")
    if high is not None and volume > high:
        return Finding(True, f"{shown} events in {window}, above the band {band}.")
    return Finding(False, f"{shown} events in {window}, within the band {band}.")


def evaluate(at: datetime | None = None, *, limit: int = 1000) -> dict[str, int]:
    """Check every enabled rule (at most `limit`, oldest first): open incidents for newly holding
    conditions, close those that cleared. Returns how many opened and recovered."""
    at = at or now()
    opened = recovered = 0
    rules = AlertRule.objects.filter(enabled=True, workspace__deleting_at__isnull=True).filter(
        Q(destination__isnull=False) | Q(source__isnull=False)).select_related(
        "workspace", "destination", "source").order_by("id")[:limit]
    for rule in rules:
        try:
            finding = check(rule, at)
        except Exception:
            log.exception("alert rule %s could not be evaluated", rule.pk)
            continue
        incident = AlertIncident.objects.filter(rule=rule, recovered_at__isnull=True).first()
        if finding.firing and incident is None:
            try:
                with transaction.atomic():
                    incident = AlertIncident.objects.create(rule=rule, opened_at=at, summary=finding.text)
            except IntegrityError:  # another evaluator opened it first
                continue
            notify(incident, "opened")
            opened += 1
        elif not finding.firing and incident is not None:
            closed = AlertIncident.objects.filter(pk=incident.pk, recovered_at__isnull=True).update(
                recovered_at=at, recovery_summary=finding.text)
            if closed:
                incident.recovered_at, incident.recovery_summary = at, finding.text
                notify(incident, "recovered")
                recovered += 1
    return {"opened": opened, "recovered": recovered}


# --- Notifications --------------------------------------------------------------------------------------


def message(incident: AlertIncident, event: str) -> tuple[str, str]:
    """(subject, text) of the notification of `event` ("opened" or "recovered")."""
    rule = incident.rule
    where = f"{rule.workspace.name} · {rule.target_name}"
    if event == "opened":
        text = (f"Alert “{rule.name}” fired for {rule.target_name} in {rule.workspace.name} at "
                f"{incident.opened_at:%Y-%m-%d %H:%M UTC}.\n{incident.summary}")
        return f"[Alert] {rule.name} ({where})", text
    text = (f"Recovered: “{rule.name}” for {rule.target_name} in {rule.workspace.name} at "
            f"{incident.recovered_at:%Y-%m-%d %H:%M UTC}.\n{incident.recovery_summary}")
    return f"[Recovered] {rule.name} ({where})", text


def notify(incident: AlertIncident, event: str) -> None:
    """Send the incident's `event` to the rule's recipients and Slack hook; record each outcome on the
    incident. Never raises for a failed channel."""
    rule = incident.rule
    subject, text = message(incident, event)
    stamp = now().isoformat()
    results: list[dict[str, Any]] = []
    if rule.emails:
        try:
            # A bounded wait: an SMTP server that hangs must not hold the evaluator (and the other rules).
            send_mail(subject, text, settings.DEFAULT_FROM_EMAIL, list(rule.emails),
                      connection=get_connection(timeout=settings.ALERTS_EMAIL_TIMEOUT))
            results.append({"at": stamp, "event": event, "channel": "email", "ok": True,
                            "to": ", ".join(rule.emails), "error": ""})
        except Exception as exc:  # noqa: BLE001 - SMTP down, bad configuration: recorded, not raised
            results.append({"at": stamp, "event": event, "channel": "email", "ok": False,
                            "to": ", ".join(rule.emails), "error": f"{type(exc).__name__}: {exc}"[:500]})
    if rule.slack_url_encrypted:
        try:
            url = rule.slack_url
            http.send("POST", url, json={"text": text}, user_url=True, secrets=(url,))
            results.append({"at": stamp, "event": event, "channel": "slack", "ok": True,
                            "to": "Slack webhook", "error": ""})
        except (DeliveryError, ValueError) as exc:  # ValueError: the URL cannot be decrypted any more
            error = exc.message if isinstance(exc, DeliveryError) else str(exc)
            results.append({"at": stamp, "event": event, "channel": "slack", "ok": False,
                            "to": "Slack webhook", "error": crypto_safe(error, rule)})
    if results:
        incident.notifications = [*incident.notifications, *results]
        AlertIncident.objects.filter(pk=incident.pk).update(notifications=incident.notifications)


def crypto_safe(text: str, rule: AlertRule) -> str:
    """`text` with the Slack URL (a secret) blanked out, should an error message quote it."""
    try:
        url = rule.slack_url
    except ValueError:
        return text[:500]
    return (text.replace(url, crypto.mask(url)) if url else text)[:500]
