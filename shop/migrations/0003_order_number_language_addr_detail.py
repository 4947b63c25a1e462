"""Order.number (the short order number people read), Order.language, Order.buyer_addr_detail.

`number` is unique, so existing orders get one each before the constraint is added.
"""

from django.db import migrations, models
from django.utils import timezone

import shop.models
from shop.ids import new_order_number


def number_existing_orders(apps, schema_editor):
    Order = apps.get_model("shop", "Order")
    taken: set[str] = set()
    for order in Order.objects.filter(number__isnull=True).only("pk", "created_at").iterator():
        number = new_order_number(timezone.localdate(order.created_at))
        while number in taken:
            number = new_order_number(timezone.localdate(order.created_at))
        taken.add(number)
        Order.objects.filter(pk=order.pk).update(number=number)


class Migration(migrations.Migration):
    dependencies = [
        ("shop", "0002_outgoing_mail"),
    ]

    operations = [
        migrations.AddField(
            model_name="order",
            name="number",
            field=models.CharField(max_length=20, null=True, verbose_name="주문번호 (표시용)"),
        ),
        migrations.RunPython(number_existing_orders, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="order",
            name="number",
            field=models.CharField(
                default=shop.models.new_number,
                max_length=20,
                unique=True,
                verbose_name="주문번호 (표시용)",
            ),
        ),
        migrations.AddField(
            model_name="order",
            name="buyer_addr_detail",
            field=models.CharField(blank=True, max_length=100, verbose_name="상세주소"),
        ),
        migrations.AddField(
            model_name="order",
            name="language",
            field=models.CharField(default="ko", max_length=8, verbose_name="언어"),
        ),
    ]
