"""`manage.py purge --before DATE [--workspace SLUG] [--dry-run]`."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import CommandError, call_command

from connections import services
from destinations.models import Delivery, DeliveryCount, DeliveryExchange
from ingest.models import Event
from pipelines.models import Workspace

from .conftest import days_ago, exists

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("purge", *args, stdout=out)
    return out.getvalue()


def counts_in(output: str, section: str) -> dict[str, int]:
    """The `table  count` lines under the `section` heading of the command's output."""
    lines = output.splitlines()
    start = lines.index(f"  {section}") + 1
    found = {}
    for line in lines[start:]:
        m = re.fullmatch(r"    (\w+)\s+(\d+)", line)
        if not m:
            break
        found[m.group(1)] = int(m.group(2))
    return found


@pytest.fixture
def old_rows(make_event, make_delivery, make_exchange, destination):
    old = [make_event(10), make_event(10)]
    exchange = make_exchange(row_count=1)
    make_delivery(old[0], "delivered", 10, exchange)
    make_delivery(old[1], "failed", 10)
    DeliveryCount.objects.create(destination=destination, minute=days_ago(10).replace(second=0, microsecond=0),
                                 delivered=3)
    young = make_event(2)
    make_delivery(young, "delivered", 2)
    return old, young


def test_dry_run_counts_per_table_and_deletes_nothing(old_rows):
    before = days_ago(5).date().isoformat()
    output = run("--before", before, "--dry-run")
    assert counts_in(output, "acme") == {"ingest_event": 2, "destinations_delivery": 2,
                                          "destinations_deliveryexchange": 1, "destinations_deliverycount": 1}
    assert Event.objects.count() == 3 and Delivery.objects.count() == 3 and DeliveryCount.objects.count() == 1


def test_it_deletes_what_the_dry_run_counted(old_rows):
    old, young = old_rows
    before = days_ago(5).date().isoformat()
    dry = counts_in(run("--before", before, "--dry-run"), "acme")
    done = counts_in(run("--before", before), "acme")
    assert done == dry
    assert not any(exists(e) for e in old) and exists(young)
    assert Delivery.objects.count() == 1 and DeliveryExchange.objects.count() == 0
    assert DeliveryCount.objects.count() == 0


def test_it_keeps_an_event_a_retry_needs(make_event, make_delivery):
    event = make_event(10)
    make_delivery(event, "retrying", 10)
    assert counts_in(run("--before", days_ago(5).isoformat()), "acme")["ingest_event"] == 0
    assert exists(event)


def test_workspace_option_leaves_the_others_alone(old_rows, make_event):
    other = Workspace.objects.create(name="Globex", slug="globex")
    other_source, _ = services.create_source(other, name="App", kind="javascript")
    theirs = make_event(10, src=other_source)
    output = run("--before", days_ago(5).isoformat(), "--workspace", "acme")
    assert "globex" not in output
    assert exists(theirs) and Event.objects.filter(workspace__slug="acme").count() == 1


def test_it_refuses_a_date_inside_the_dedupe_window(old_rows):
    with pytest.raises(CommandError, match="24 hours"):
        run("--before", days_ago(0.5).isoformat())
    assert Event.objects.count() == 3


def test_it_rejects_a_bad_date_and_an_unknown_workspace(db):
    with pytest.raises(CommandError, match="expected a date"):
        run("--before", "last tuesday")
    with pytest.raises(CommandError, match="No workspace"):
        run("--before", "2020-01-01", "--workspace", "nope")
