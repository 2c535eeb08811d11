# The last request/response of a delivery moves to DeliveryExchange, one row per request sent (a batch's
# rows share it), and two indexes that only repeated others are dropped. Existing records are carried over.

import django.db.models.deletion
from django.db import migrations, models

CHUNK = 2000


def carry_over(apps, schema_editor):
    Delivery = apps.get_model("destinations", "Delivery")
    Exchange = apps.get_model("destinations", "DeliveryExchange")
    pending = (Delivery.objects.filter(models.Q(request__isnull=False) | models.Q(response__isnull=False))
               .order_by("id").values_list("id", "destination_id", "request", "response", "updated_at"))
    last = 0
    while True:
        chunk = list(pending.filter(id__gt=last)[:CHUNK])
        if not chunk:
            return
        exchanges = Exchange.objects.bulk_create(
            Exchange(destination_id=dest, request=req, response=res, created_at=at) for _, dest, req, res, at in chunk)
        for (row_id, *_), exchange in zip(chunk, exchanges, strict=True):
            Delivery.objects.filter(id=row_id).update(exchange_id=exchange.id)
        last = chunk[-1][0]


class Migration(migrations.Migration):

    dependencies = [
        ('connections', '0001_initial'),
        ('destinations', '0003_destination_circuit'),
    ]

    operations = [
        migrations.CreateModel(
            name='DeliveryExchange',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('request', models.JSONField(blank=True, null=True)),
                ('response', models.JSONField(blank=True, null=True)),
                ('created_at', models.DateTimeField()),
                ('destination', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+',
                                                  to='connections.destination')),
            ],
        ),
        migrations.AddField(
            model_name='delivery',
            name='exchange',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True,
                                    on_delete=django.db.models.deletion.DO_NOTHING, related_name='+',
                                    to='destinations.deliveryexchange'),
        ),
        migrations.RunPython(carry_over, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name='delivery',
            name='request',
        ),
        migrations.RemoveField(
            model_name='delivery',
            name='response',
        ),
        migrations.RemoveIndex(
            model_name='delivery',
            name='delivery_event',
        ),
        migrations.AlterField(
            model_name='delivery',
            name='destination',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE,
                                    related_name='deliveries', to='connections.destination'),
        ),
    ]
