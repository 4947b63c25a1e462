"""One way of writing a time across the admin: "2026-12-02 15:04", in Asia/Seoul, in list
columns, read-only fields, inlines, the order page's refund table and the refund form, in
Korean and in English, never Django's locale format ("2026년 12월 2일 3:04 오후").

The `paid` fixture is in tests/payments/conftest.py.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from payments.models import Payment, Refund, WebhookDelivery
from shop.models import Order, OutgoingMail, Product
from tests.payments.helpers import IMP_UID, change_url, refund_post

# 06:04:05 UTC is 15:04 in Seoul.
MOMENT = datetime(2026, 12, 2, 6, 4, 5, tzinfo=UTC)
SHOWN = "2026-12-02 15:04"
# (The date hierarchy above a list names days as "12월 2일": a date, not a time.)
LOCALE_FORMATS = ["오후", "오전", "p.m.", "a.m.", "2026년 12월 2일", "Dec. 2, 2026", "06:04"]


@pytest.fixture
def everything_at_one_moment(admin_client, paid, iamport):
    """An order with a payment, a refund, a webhook delivery and a mail, all stamped MOMENT."""
    order, remote = paid
    iamport.cancel_ok(remote, 1000)
    refund_post(admin_client, order, amount="1000")
    delivery = WebhookDelivery.objects.create(imp_uid=IMP_UID, merchant_uid=order.merchant_uid)
    OutgoingMail.objects.all().delete()
    mail = OutgoingMail.objects.create(key="paid-1", order=order, to="a@example.com", subject="x")
    Order.objects.update(created_at=MOMENT, paid_at=MOMENT, updated_at=MOMENT)
    Payment.objects.update(
        created_at=MOMENT, paid_at=MOMENT, updated_at=MOMENT, cancelled_at=MOMENT
    )
    Refund.objects.update(created_at=MOMENT, cancelled_at=MOMENT)
    WebhookDelivery.objects.update(received_at=MOMENT)
    OutgoingMail.objects.update(created_at=MOMENT, sent_at=MOMENT, next_attempt_at=MOMENT)
    Product.objects.update(created_at=MOMENT, updated_at=MOMENT)
    return {
        "order": order,
        "payment": Payment.objects.get(),
        "refund": Refund.objects.get(),
        "delivery": delivery,
        "mail": mail,
        "product": Product.objects.get(),
    }


def pages(objects) -> dict[str, int]:
    """Each admin page that shows times, with how many of them it shows at least."""
    order, payment, refund = objects["order"], objects["payment"], objects["refund"]
    return {
        reverse("admin:shop_order_changelist"): 1,
        change_url(order): 5,  # ordered, paid, updated; the payment inline; the refund table
        reverse("admin:payments_payment_changelist"): 1,
        reverse("admin:payments_payment_change", args=[payment.pk]): 4,
        reverse("admin:payments_refund_changelist"): 1,
        reverse("admin:payments_refund_change", args=[refund.pk]): 2,
        reverse("admin:payments_webhookdelivery_changelist"): 1,
        reverse("admin:payments_webhookdelivery_change", args=[objects["delivery"].pk]): 2,
        reverse("admin:shop_outgoingmail_changelist"): 2,
        reverse("admin:shop_outgoingmail_change", args=[objects["mail"].pk]): 3,
        reverse("admin:shop_product_changelist"): 1,
        reverse("admin:shop_product_change", args=[objects["product"].pk]): 2,
    }


@pytest.mark.parametrize("language", ["ko", "en"])
def test_every_admin_page_writes_times_one_way_in_seoul_time(
    admin_client, everything_at_one_moment, language
):
    for url, at_least in pages(everything_at_one_moment).items():
        response = admin_client.get(url, headers={"accept-language": language})
        assert response.status_code == 200, url
        content = response.content.decode()
        assert content.count(SHOWN) >= at_least, (url, content.count(SHOWN))
        for other in LOCALE_FORMATS:
            assert other not in content, (url, other)


def test_the_refund_table_on_the_order_page_writes_times_one_way(
    admin_client, everything_at_one_moment
):
    order = everything_at_one_moment["order"]

    content = admin_client.get(change_url(order)).content.decode()

    table = content[content.index("<table><thead><tr><th>요청일시") :]
    table = table[: table.index("</table>")]
    assert SHOWN in table


def test_a_webhook_delivery_is_named_by_its_seoul_time(everything_at_one_moment):
    delivery = WebhookDelivery.objects.get()

    assert str(delivery).startswith(f"{SHOWN} {IMP_UID}")
