import json

from django.db import migrations, models


def undispatched_to_outbox(apps, schema_editor):
    """Events still waiting for fan-out keep waiting: one outbox entry per 500 of them, dated like the
    oldest, so the sweep hands them over."""
    Event = apps.get_model("ingest", "Event")
    OutboxEntry = apps.get_model("ingest", "OutboxEntry")
    waiting = Event.objects.filter(dispatched_at__isnull=True).order_by("id").values_list("id", "received_at")
    batch = []
    for row in waiting.iterator(chunk_size=5000):
        batch.append(row)
        if len(batch) == 500:
            OutboxEntry.objects.create(event_ids=json.dumps([i for i, _ in batch]), handed_at=batch[0][1])
            batch = []
    if batch:
        OutboxEntry.objects.create(event_ids=json.dumps([i for i, _ in batch]), handed_at=batch[0][1])


class Migration(migrations.Migration):

    dependencies = [
        ('ingest', '0002_hot_tables_without_db_foreign_keys'),
    ]

    operations = [
        migrations.CreateModel(
            name='OutboxEntry',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('event_ids', models.TextField()),
                ('handed_at', models.DateTimeField()),
            ],
        ),
        migrations.RunPython(undispatched_to_outbox, migrations.RunPython.noop),
        migrations.RemoveIndex(
            model_name='event',
            name='event_undispatched',
        ),
        migrations.RemoveField(
            model_name='event',
            name='dispatched_at',
        ),
    ]
