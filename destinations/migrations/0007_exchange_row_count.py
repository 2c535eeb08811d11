from django.db import migrations, models


def count_rows(apps, schema_editor):
    """Count the rows pointing at each existing exchange, and delete the exchanges nobody points at any
    more (left behind by retries before the count existed). Exchanges written meanwhile by workers still
    running the previous code keep a null count and are never deleted by a retry."""
    Exchange = apps.get_model("destinations", "DeliveryExchange")
    last = Exchange.objects.order_by("-id").values_list("id", flat=True).first()
    if last is None:
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "UPDATE destinations_deliveryexchange SET row_count = c.n FROM (SELECT exchange_id, count(*) AS n "
            "FROM destinations_delivery WHERE exchange_id IS NOT NULL GROUP BY exchange_id) AS c "
            "WHERE destinations_deliveryexchange.id = c.exchange_id AND destinations_deliveryexchange.id <= %s",
            [last])
        cursor.execute("DELETE FROM destinations_deliveryexchange WHERE row_count IS NULL AND id <= %s", [last])


class Migration(migrations.Migration):

    dependencies = [
        ("destinations", "0006_delivery_chunk"),
    ]

    operations = [
        migrations.AddField(
            model_name="deliveryexchange",
            name="row_count",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.RunPython(count_rows, migrations.RunPython.noop),
    ]
