"""Incoming webhooks, the stored part: keeping each posted body and the events its mapping makes.

`receive` is what /v1/webhooks/{key} calls once the signature passed: in ONE transaction it inserts the
raw body first, then (in a savepoint) the events its mapping made, through the same
`services.store_events` as /v1 (so the outbox, the fan-out hand-off after commit and messageId
de-duplication are the same), and records the outcome on the body. A body the mapping cannot turn
into valid events, or whose events the database refuses, is committed all the same, with the reason:
the sender is answered only after that commit, so nothing acknowledged is lost. `reprocess` maps kept
bodies again with the current mapping (deterministic messageIds: a body already processed adds nothing).
The /v1 hot path is untouched: it never reads webhook settings.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import DataError, IntegrityError, transaction
from django.utils import timezone

from connections.models import Source, WebhookSettings
from pipelines.transactions import atomic_retrying_conflicts

from .models import WebhookBody
from .services import store_events
from .webhook_mapping import MappingConfig, Outcome, SignatureCheck, map_body

# How many bodies one re-process call takes (the oldest failed first); call again for more.
MAX_REPROCESS = 500


def settings_for(source: Source) -> WebhookSettings:
    """The source's webhook settings (unsaved defaults when it has none yet)."""
    found = WebhookSettings.objects.filter(source_id=source.id).first()
    return found if found is not None else WebhookSettings(source_id=source.id)


def signature_check(settings: WebhookSettings) -> SignatureCheck:
    return SignatureCheck(scheme=settings.signature_scheme, header=settings.signature_header,
                          encoding=settings.signature_encoding, prefix=settings.signature_prefix,
                          secret=settings.secret if settings.signature_scheme != "none" else "")


def mapping_config(settings: WebhookSettings) -> MappingConfig:
    return MappingConfig(mapping=settings.mapping or {}, array_path=settings.array_path or "")


def _store(source: Source, body: WebhookBody, outcome: Outcome) -> None:
    """Store the outcome's events for `body` (inside the caller's transaction) and record the result."""
    if outcome.messages:
        for message in outcome.messages:
            # Which body made the event: a privacy deletion of the person's events removes it too.
            message["context"]["webhook"] = {"body_id": body.id}
        try:
            # A savepoint (store_events inside an outer atomic): if PostgreSQL refuses the events
            # (a \u0000 that jsonb refuses), the body row stays and gets the reason instead.
            new_ids = store_events(source, outcome.messages, body.received_at)
        except (DataError, IntegrityError) as exc:
            outcome = Outcome(reason=f"The events cannot be stored: {str(exc).strip() or exc.__class__.__name__}")
        else:
            body.event_count = len(outcome.messages)
            del new_ids
    body.status = WebhookBody.Status.FAILED if outcome.reason else WebhookBody.Status.PROCESSED
    body.reason = outcome.reason
    if outcome.reason:
        body.event_count = 0
    body.processed_at = timezone.now()


def receive(source: Source, raw: bytes, content_type: str, headers: dict[str, str], ip: str,
            settings: WebhookSettings, received_at: datetime) -> WebhookBody:
    """Keep a posted body and store the events its mapping makes; return the body (its status says
    which). Raises django.db errors only when the database itself is unavailable."""
    outcome = map_body(mapping_config(settings), raw, content_type, headers, received_at, ip)

    def write() -> WebhookBody:
        body = WebhookBody(workspace_id=source.workspace_id, source_id=source.id, received_at=received_at,
                           content_type=content_type[:200], headers=headers, raw=raw, ip=ip or "",
                           status=WebhookBody.Status.FAILED, processed_at=received_at)
        body.save()
        _store(source, body, outcome)
        body.save(update_fields=["status", "reason", "event_count", "processed_at"])
        return body

    return atomic_retrying_conflicts(write)


def reprocess(source: Source, bodies: Iterable[WebhookBody] | None = None) -> list[WebhookBody]:
    """Map `bodies` (default: the source's bodies not mapped yet, oldest first, at most MAX_REPROCESS)
    again with the source's current mapping; store their events and record each outcome. Bodies of
    another source are ignored."""
    settings = settings_for(source)
    config = mapping_config(settings)
    if bodies is None:
        bodies = (WebhookBody.objects.filter(source_id=source.id, status=WebhookBody.Status.FAILED)
                  .order_by("id")[:MAX_REPROCESS])
    done: list[WebhookBody] = []
    for body in bodies:
        if body.source_id != source.id:
            continue
        outcome = map_body(config, bytes(body.raw), body.content_type, body.headers or {}, body.received_at,
                           body.ip)
        with transaction.atomic():
            _store(source, body, outcome)
            body.save(update_fields=["status", "reason", "event_count", "processed_at"])
        done.append(body)
    return done
