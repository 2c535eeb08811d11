"""`python manage.py sweep_outbox [--grace SECONDS]`: hand undispatched events to fan-out now."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ingest import outbox


class Command(BaseCommand):
    help = "Enqueue fan-out for stored events whose dispatch never happened (e.g. after a broker outage)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--grace", type=float, default=None,
            help="Only events stored more than this many seconds ago (default: OUTBOX_GRACE_SECONDS).",
        )
        parser.add_argument("--limit", type=int, default=outbox.DEFAULT_LIMIT,
                            help="Most outbox entries (stored requests) to enqueue.")

    def handle(self, *args: Any, grace: float | None, limit: int, **options: Any) -> None:
        sent = outbox.sweep(grace_seconds=grace, limit=limit)
        self.stdout.write(f"Enqueued {sent} events for fan-out.")
