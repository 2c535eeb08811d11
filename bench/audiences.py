"""Audiences benchmark (not a test): `make bench-audiences` or `python bench/audiences.py`.

In one process, on a PostgreSQL database of its own, with the code a worker runs called inline:
1. seeds --people people (default 100,000) through the profile store (identify events: ingest, fan-out,
   the Profiles destination), and --audiences (10) audiences of mixed conditions (event windows and
   counts, NOT, traits, a property filter, an audience reference), computed over everyone in batches
   (the background task, timed);
2. ingest only: track events stored with ingest.services.store_events, 100 per call, on a source
   connected to nothing → events/s;
3. the same number of events on a source connected to Profiles: stored, then fan-out + the profile store
   + incremental audience membership, timed apart from the storing → events/s, first with every
   audience disabled (profile store only), then with all enabled;
4. the time-window sweep: the clock moved on 25 h, `audiences.services.sweep_due` takes the memberships
   whose window passed → rows/s.
Each rate is printed next to the ingest-only rate of the same run. The target: profile + audience work
costs less than ingest per event (ratio >= 1.0).

Environment: BENCH_DATABASE_URL (default postgres://root@127.0.0.1:5432/pipelines_bench_audiences; created
if missing, its workspace "bench" replaced). --events per measured run (default 20,000).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://root@127.0.0.1:5432/pipelines_bench_audiences")
os.environ.update({
    "DATABASE_URL": DATABASE_URL,
    "CELERY_BROKER_URL": os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/13"),
    "SECRET_KEY": os.environ.get("SECRET_KEY") or "bench-only-secret-key-" + "a" * 40,
    "DJANGO_SETTINGS_MODULE": "pipelines.settings",
    "LOG_LEVEL": "WARNING",
})

AUDIENCES = [
    ("Cart Abandon | 0-24h | Excl Purch 7d", "cart-abandon", {"all": [
        {"event": "Product Added", "within": "24h"}, {"not": {"event": "Order Completed", "within": "7d"}}]}),
    ("Purchased | 7d", "purchased-7d", {"event": "Order Completed", "within": "7d"}),
    ("Browsers | 6h | 3+ views", "browsers-6h", {"event": "Product Viewed", "at_least": 3, "within": "6h"}),
    ("Big spenders | 30d", "big-spenders", {"event": "Order Completed", "within": "30d",
                                            "where": {"path": "properties.total", "op": ">", "value": 100}}),
    ("Pro plan", "pro", {"trait": "plan", "op": "=", "value": "pro"}),
    ("Pro buyers | 7d", "pro-buyers", {"all": [{"audience": "pro"}, {"audience": "purchased-7d"}]}),
    ("Lapsed | 7-30d", "lapsed", {"event": "Order Completed", "between": ["30d", "7d"]}),
    ("EU with email", "eu-email", {"all": [{"trait": "country", "op": "in", "value": ["DE", "FR", "ES"]},
                                           {"trait": "email", "op": "exists"}]}),
    ("Never bought", "never-bought", {"not": {"event": "Order Completed"}}),
    ("Heavy viewers | 7d | Excl Purch", "heavy-viewers", {"all": [
        {"event": "Product Viewed", "at_least": 5, "within": "7d"}, {"not": {"event": "Order Completed"}}]}),
]
EVENTS = ("Product Viewed", "Product Viewed", "Product Added", "Order Completed")


def _ensure_database() -> None:
    import psycopg

    name = DATABASE_URL.rsplit("/", 1)[1]
    admin = DATABASE_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin.replace("postgres://", "postgresql://"), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def _store(source: object, messages: list[dict], per_call: int = 100) -> list[int]:
    from django.utils import timezone

    from ingest.services import store_events

    ids: list[int] = []
    for i in range(0, len(messages), per_call):
        ids.extend(store_events(source, messages[i:i + per_call], timezone.now()))  # type: ignore[arg-type]
    return ids


def _deliver(ids: list[int], chunk: int = 500) -> None:
    """What the workers do with stored events: fan-out, then the deliveries (the profile store's)."""
    from destinations import fanout
    from destinations.delivery import deliver_chunks
    from destinations.models import DeliveryChunk

    for i in range(0, len(ids), chunk):
        fanout.fan_out(ids[i:i + chunk])
        deliver_chunks(list(DeliveryChunk.objects.order_by("id").values_list("id", flat=True)))


def _tracks(n: int, people: int, tag: str) -> list[dict]:
    from django.utils import timezone

    now = timezone.now().isoformat()
    base = uuid.uuid4().hex[:8]
    return [{"type": "track", "event": EVENTS[i % len(EVENTS)], "messageId": f"{tag}-{base}-{i}",
             "userId": f"user-{(i * 7919) % people}", "timestamp": now,
             "properties": {"total": (i % 200) + 0.5, "currency": "EUR", "sku": f"sku-{i % 50}"}}
            for i in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--reuse", action="store_true",
                        help="keep the people and audiences of a previous run (skip seeding and computing)")
    args = parser.parse_args()
    _ensure_database()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from audiences import services as audiences
    from audiences.models import Audience, Membership
    from connections import services
    from pipelines.models import Workspace
    from profiles.models import Person

    reuse = args.reuse and Person.objects.filter(workspace__slug="bench").count() >= args.people
    if reuse:
        ws = Workspace.objects.get(slug="bench")
        plain = ws.sources.get(name="ingest only")
        fed = ws.sources.get(name="profiles")
        created = list(Audience.objects.filter(workspace=ws))
        print(f"reusing {Person.objects.filter(workspace=ws).count():,} people and {len(created)} audiences")
    else:
        Workspace.objects.filter(slug="bench").delete()
        ws = Workspace.objects.create(name="Bench", slug="bench")
        plain, _ = services.create_source(ws, name="ingest only", kind="python")
        fed, _ = services.create_source(ws, name="profiles", kind="python")
        services.create_destination(ws, name="Profiles", kind="profiles", settings={}, sources=[fed])

        t = time.monotonic()
        countries = ("DE", "FR", "US", "ES", "GB")
        identifies = [{"type": "identify", "userId": f"user-{i}", "messageId": f"id-{uuid.uuid4().hex}",
                       "traits": {"email": f"user{i}@example.com", "plan": "pro" if i % 5 == 0 else "free",
                                  "country": countries[i % len(countries)]}} for i in range(args.people)]
        _deliver(_store(fed, identifies))
        seed = time.monotonic() - t
        print(f"seeded {args.people:,} people through the profile store in {seed:.1f} s "
              f"({args.people / seed:,.0f} identifies/s)")

        created = [audiences.create_audience(ws, name=n, key=k, definition=d) for n, k, d in AUDIENCES]
        t = time.monotonic()
        for a in created:
            audiences.compute(a.pk, a.generation)
        compute = time.monotonic() - t
        print(f"computed {len(created)} audiences over {args.people:,} people in {compute:.1f} s "
              f"({args.people * len(created) / compute:,.0f} person-audience evaluations/s)")

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    n = args.events
    t = time.monotonic()
    _store(plain, _tracks(n, args.people, "plain"))
    ingest_rate = n / (time.monotonic() - t)
    print(f"ingest only (store_events x100): {ingest_rate:,.0f} events/s")

    Audience.objects.filter(workspace=ws).update(enabled=False)
    ids = _store(fed, _tracks(n, args.people, "profile"))
    t = time.monotonic()
    _deliver(ids)
    profile_rate = n / (time.monotonic() - t)
    print(f"profile store only (fan-out + Profiles delivery): {profile_rate:,.0f} events/s "
          f"= {profile_rate / ingest_rate:.2f}x ingest")

    Audience.objects.filter(workspace=ws).update(enabled=True)
    ids = _store(fed, _tracks(n, args.people, "audiences"))
    before = Membership.objects.filter(audience__workspace=ws).count()
    # The audiences' own share: time spent in their person_changed receiver.
    from audiences import receivers
    from profiles.signals import person_changed

    spent = [0.0]

    def timed(*a: object, **kw: object) -> None:
        started = time.monotonic()
        receivers.on_person_changed(*a, **kw)  # type: ignore[arg-type]
        spent[0] += time.monotonic() - started

    person_changed.disconnect(dispatch_uid="audiences.person_changed")
    person_changed.connect(timed, dispatch_uid="bench.timed", weak=False)
    statements: dict[str, int] = {}

    def count(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        words = sql.split()
        verb = words[0].upper() if words else "?"
        names = (w.strip('"(').split('"')[0] for w in words[1:12])
        table = next((w for w in names if w.startswith(("profiles_", "audiences_"))), "other")
        statements[f"{verb} {table}"] = statements.get(f"{verb} {table}", 0) + 1
        return execute(sql, params, many, context)

    t = time.monotonic()
    with connection.execute_wrapper(count):
        _deliver(ids)
    full_rate = n / (time.monotonic() - t)
    after = Membership.objects.filter(audience__workspace=ws).count()
    print(f"profile store + {len(created)} audiences kept current: {full_rate:,.0f} events/s "
          f"= {full_rate / ingest_rate:.2f}x ingest (target >= 1.00); memberships {before:,} → {after:,}")
    audience_rate = n / spent[0] if spent[0] else float("inf")
    print(f"  of which audience membership: {spent[0] * 1000 / n:.3f} ms/event = {audience_rate:,.0f} events/s "
          f"= {audience_rate / ingest_rate:.2f}x ingest")
    chunks = -(-n // 500)
    ours = {k: v for k, v in statements.items() if not k.endswith(" other")}
    print(f"  statements per 500-event chunk: {sum(statements.values()) / chunks:.1f} in all, "
          f"{sum(ours.values()) / chunks:.1f} by the profile store and audiences: "
          + ", ".join(f"{k} {v / chunks:.1f}" for k, v in sorted(ours.items(), key=lambda kv: -kv[1])))

    from django.utils import timezone

    later = timezone.now() + timedelta(hours=25)
    due = Membership.objects.filter(audience__workspace=ws, due_at__lte=later).count()
    t = time.monotonic()
    swept = 0
    while True:
        result = audiences.sweep_due(now=later, limit=5000)
        swept += result.evaluated
        if not result.evaluated:
            break
    sweep = time.monotonic() - t
    print(f"time-window sweep 25 h later: {due:,} memberships due, {swept:,} re-evaluated in {sweep:.1f} s "
          f"({swept / sweep if sweep else 0:,.0f} rows/s = {swept / sweep / ingest_rate if sweep else 0:.2f}x the "
          f"ingest rate); members {after:,} → {Membership.objects.filter(audience__workspace=ws).count():,}")


if __name__ == "__main__":
    main()
