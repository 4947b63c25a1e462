"""Concurrent deliveries that cross the one-accepted-payment rule, and a refund in flight."""

import json
import threading

import pytest
import responses
from django.db import connection

from payments.models import Payment, Refund
from payments.services import payment_refund, payment_sync
from shop.models import Order
from tests.conftest import API
from tests.payments.test_concurrency import _deliver_all_at_once

IMP, IMP2 = "imp_123456789012", "imp_000000000002"


@pytest.mark.parametrize("round_", range(4))
@pytest.mark.django_db(transaction=True)
def test_deposit_and_card_for_one_order_at_once(iamport, order_factory, round_):
    order = order_factory(price=12000, stock=3, quantity=1)
    vbank = iamport.payment(order.merchant_uid, fixture="payment_vbank_ready")
    payment_sync(imp_uid=IMP)
    iamport.replace_payment(vbank, status="paid", paid_at=1764300000)  # deposited
    card = iamport.payment(order.merchant_uid, imp_uid=IMP2)  # and paid by card in another tab
    iamport.cancel_ok(card, 12000)

    a = {"imp_uid": IMP, "merchant_uid": order.merchant_uid, "status": "paid"}
    b = {"imp_uid": IMP2, "merchant_uid": order.merchant_uid, "status": "paid"}
    statuses = _deliver_all_at_once(
        [
            ("/payments/webhook/", a),
            ("/payments/webhook/", b),
            ("/payments/complete/", b),
            ("/payments/webhook/", a),
            ("/payments/webhook/", b),
        ]
    )

    assert 500 not in statuses and 503 not in statuses, (connection.vendor, statuses)
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert order.lines.get().product.stock == 2
    accepted = list(Payment.objects.filter(verdict="accepted").values_list("imp_uid", flat=True))
    assert len(accepted) == 1
    loser = Payment.objects.exclude(verdict="accepted").get()
    if loser.imp_uid == IMP:  # funded account lost: flagged, never auto-cancelled
        assert "관리자 환불" in loser.verdict_reason, loser.verdict_reason
    else:  # card lost: cancelled once
        assert loser.verdict == "duplicate"
        assert Refund.objects.filter(payment=loser).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_refund_in_flight_while_a_resync_runs(iamport, order_factory):
    order = order_factory(price=12000, stock=3, quantity=1)
    payment = iamport.payment(order.merchant_uid)
    payment_sync(imp_uid=IMP)
    order.refresh_from_db()
    done = iamport.cancel_ok(payment, 5000)
    in_flight, resynced = threading.Event(), threading.Event()

    def slow_cancel(request):
        iamport.replace_payment(payment, **done)  # Iamport has refunded ...
        in_flight.set()
        resynced.wait(10)  # ... and answers only after the re-sync
        return 200, {}, json.dumps({"code": 0, "message": None, "response": done})

    iamport.rsps.remove(responses.POST, API + "payments/cancel")
    iamport.rsps.add_callback(responses.POST, API + "payments/cancel", callback=slow_cancel)

    def resync():
        try:
            in_flight.wait(10)
            payment_sync(imp_uid=IMP)
        finally:
            resynced.set()
            connection.close()

    t = threading.Thread(target=resync)
    t.start()
    refund = payment_refund(order=order, amount=5000, reason="반품", request_key="k")
    t.join(10)
    order.refresh_from_db()
    assert refund.status == "succeeded"
    assert list(Refund.objects.values_list("amount", "status", "cancellation_id")) == [
        (5000, "succeeded", "cncl_001")
    ]
    assert (order.status, order.refunded_amount) == ("partially_refunded", 5000)
