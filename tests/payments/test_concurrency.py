"""The browser callback and several webhooks for one order, all at the same moment.

Runs on whichever database the suite uses: on PostgreSQL the order's row lock
(`select_for_update`) is what serialises them; on SQLite the IMMEDIATE transactions and the
busy timeout make them wait their turn instead of failing.
"""

from __future__ import annotations

import json
import threading

import pytest
from django.core import mail
from django.db import connection
from django.test import Client

from payments.models import Payment, Refund, WebhookDelivery
from shop.models import Order

IMP = "imp_123456789012"
WEBHOOKS = 5


def _deliver_all_at_once(requests_to_send: list[tuple[str, dict]]) -> list[int]:
    barrier = threading.Barrier(len(requests_to_send))
    statuses: list[int] = [0] * len(requests_to_send)

    def send(index: int, url: str, body: dict) -> None:
        try:
            barrier.wait(timeout=10)
            reply = Client().post(url, json.dumps(body), content_type="application/json")
            statuses[index] = reply.status_code
        finally:
            connection.close()

    threads = [
        threading.Thread(target=send, args=(i, url, body))
        for i, (url, body) in enumerate(requests_to_send)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return statuses


@pytest.mark.django_db(transaction=True)
def test_callback_and_webhooks_at_once_make_exactly_one_transition(iamport, order_factory, caplog):
    order = order_factory(price=12000, stock=3, quantity=2)
    iamport.payment(order.merchant_uid, amount=24000)
    body = {"imp_uid": IMP, "merchant_uid": order.merchant_uid, "status": "paid"}
    caplog.set_level("INFO", logger="shop.services")

    statuses = _deliver_all_at_once(
        [("/payments/complete/", body)] + [("/payments/webhook/", body)] * WEBHOOKS
    )

    assert statuses == [200] * (WEBHOOKS + 1), f"{connection.vendor}: {statuses}"
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert order.lines.get().product.stock == 1  # 3 - 2, taken once
    assert Payment.objects.count() == 1
    transitions = [r for r in caplog.records if "pending -> paid" in r.getMessage()]
    assert len(transitions) == 1
    paid_mails = [
        m for m in mail.outbox if m.extra_headers["X-Shop-Mail"].startswith("order_paid:")
    ]
    assert len(paid_mails) == 1  # beside the order-received mail of checkout
    assert WebhookDelivery.objects.filter(outcome="processed").count() == WEBHOOKS


@pytest.mark.django_db(transaction=True)
def test_concurrent_forged_deliveries_cancel_the_payment_once(iamport, order_factory):
    order = order_factory(price=12000, stock=3)
    payment = iamport.payment(order.merchant_uid, amount=100)
    iamport.cancel_ok(payment, 100)
    body = {"imp_uid": IMP, "merchant_uid": order.merchant_uid}

    statuses = _deliver_all_at_once([("/payments/complete/", body)] * 3)

    assert statuses == [409, 409, 409]
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING
    assert Payment.objects.get().verdict == Payment.Verdict.FORGED
    assert len(iamport.calls("POST", "payments/cancel")) == 1
    assert Refund.objects.count() == 1
