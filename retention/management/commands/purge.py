"""`python manage.py purge --before DATE [--workspace SLUG] [--dry-run]`: delete stored rows older than
DATE now, whatever the retention policies say (the beat task applies those)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from pipelines.models import Workspace
from retention import purge
from retention.models import DEDUPE_WINDOW_DAYS

TABLES = {
    "events": "ingest_event",
    "deliveries": "destinations_delivery",
    "exchanges": "destinations_deliveryexchange",
    "counts": "destinations_deliverycount",
}


def _moment(value: str) -> datetime:
    moment = parse_datetime(value)
    if moment is None:
        day = parse_date(value)
        if day is None:
            raise CommandError(f"--before {value!r}: expected a date (2026-01-31) or an ISO 8601 date and time.")
        moment = datetime.combine(day, time.min)
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=UTC)
    return moment


class Command(BaseCommand):
    help = ("Delete events, settled delivery records, their requests/responses and delivery counts older "
            "than --before (pending and retrying deliveries and the events they need are kept).")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--before", required=True, type=_moment,
                            help="Delete rows older than this (a date is midnight UTC). At least 24 hours ago: "
                                 "messageId dedupe needs the events of the last day.")
        parser.add_argument("--workspace", metavar="SLUG", help="Only this workspace (default: all).")
        parser.add_argument("--dry-run", action="store_true", help="Print how many rows would go, per table.")
        parser.add_argument("--batch", type=int, default=purge.DEFAULT_BATCH, help="Rows per transaction.")
        parser.add_argument("--pause", type=float, default=None,
                            help="After each batch, sleep this many times as long as it took (default: "
                                 "RETENTION_PURGE_PAUSE; 0: as fast as possible, at ingest's expense).")

    def handle(self, *args: Any, before: datetime, workspace: str | None, dry_run: bool, batch: int,
               pause: float | None, **options: Any) -> None:
        if before > timezone.now() - timedelta(days=DEDUPE_WINDOW_DAYS):
            raise CommandError("--before must be at least 24 hours ago: the events of the last day are what "
                               "messageId dedupe checks against.")
        if batch < 1:
            raise CommandError("--batch must be at least 1.")
        if pause is None:
            pause = settings.RETENTION_PURGE_PAUSE
        if pause < 0:
            raise CommandError("--pause cannot be negative.")
        workspaces = Workspace.objects.order_by("slug")
        if workspace is not None:
            workspaces = workspaces.filter(slug=workspace)
            if not workspaces.exists():
                raise CommandError(f"No workspace with slug {workspace!r}.")
        cutoffs = purge.Cutoffs(events=before, deliveries=before, counts=before)
        verb = "Would delete" if dry_run else "Deleted"
        self.stdout.write(f"{verb} rows older than {before.isoformat()}:")
        totals = dict.fromkeys(TABLES, 0)
        for ws in workspaces:
            if dry_run:
                counts = purge.count_expired(ws.id, cutoffs)
            else:
                counts = purge.purge_workspace(ws.id, cutoffs, batch=batch, pause=pause).as_dict()
            self.stdout.write(f"  {ws.slug}")
            for key, table in TABLES.items():
                totals[key] += counts[key]
                self.stdout.write(f"    {table:<32}{counts[key]:>12}")
        if workspace is None:
            # entries of the outbox belong to no workspace: only a purge of all of them looks at it
            leftovers = purge.count_outbox_leftovers() if dry_run else purge.purge_outbox_leftovers(batch=batch)
            self.stdout.write(f"  (all workspaces)\n    {'ingest_outboxentry':<32}{leftovers:>12}")
        if workspaces.count() > 1:
            self.stdout.write("  total")
            for key, table in TABLES.items():
                self.stdout.write(f"    {table:<32}{totals[key]:>12}")
