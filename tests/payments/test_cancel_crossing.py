"""A refused payment whose cancel failed while the browser and the webhook crossed.

The webhook's request decides "forged", claims the cancel and asks Iamport, which answers 500;
meanwhile the browser's request has read the payment row (claim and all) and is deciding too.
The failed request releases its claim; the other must not write the old claim back, or the
next reconciliation run would skip the payment while Iamport keeps the money.
"""

from __future__ import annotations

import io
import json
import threading

import pytest
import responses
from django.core.management import call_command
from django.db import connection

from payments.client import IamportError
from payments.models import Payment, Refund
from payments.services import payment_sync, sync
from tests.conftest import API

IMP = "imp_123456789012"
PG_DOWN = json.dumps({"code": -1, "message": "PG사 응답 없음", "response": None})


# On SQLite a writer locks the whole database, so the two requests cannot interleave like this.
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_failed_cancel_crossed_by_the_browser_is_retried_by_the_next_run(
    iamport, order_factory, monkeypatch
):
    order = order_factory(price=12000, quantity=1)
    forged = iamport.payment(order.merchant_uid, amount=1000)
    cancelled = iamport.cancel_ok(forged, 1000)
    browser_has_read_the_row, webhook_has_released = threading.Event(), threading.Event()

    def browser() -> None:
        try:
            payment_sync(imp_uid=IMP, merchant_uid=order.merchant_uid)
        finally:
            connection.close()

    browser_thread = threading.Thread(target=browser, name="browser")
    cancels = []

    def cancel(request):
        cancels.append(threading.current_thread().name)
        if len(cancels) == 1:  # the webhook's: answered once the browser holds the claimed row
            browser_thread.start()
            assert browser_has_read_the_row.wait(10)
            return 500, {}, PG_DOWN
        if len(cancels) == 2:  # the browser's own attempt, if it makes one: Iamport still down
            return 500, {}, PG_DOWN
        iamport.replace_payment(forged, **cancelled)
        return 200, {}, json.dumps({"code": 0, "message": None, "response": cancelled})

    iamport.rsps.remove(responses.POST, API + "payments/cancel")
    iamport.rsps.add_callback(responses.POST, API + "payments/cancel", callback=cancel)

    real_is_behind = sync.is_behind

    def is_behind(remote, payment):  # runs right after a request has read the payment row
        if threading.current_thread().name == "browser":
            browser_has_read_the_row.set()
            assert webhook_has_released.wait(10)
        return real_is_behind(remote, payment)

    monkeypatch.setattr(sync, "is_behind", is_behind)

    webhook = payment_sync(imp_uid=IMP)  # its cancel fails and it releases its claim
    assert isinstance(webhook.cancel_error, IamportError)
    webhook_has_released.set()
    browser_thread.join(15)
    assert not browser_thread.is_alive()

    call_command("sync_payments", stdout=io.StringIO(), stderr=io.StringIO())

    payment = Payment.objects.get(imp_uid=IMP)
    assert payment.verdict == "forged"
    assert (payment.status, payment.cancel_amount) == ("cancelled", 1000), cancels
    assert Refund.objects.filter(payment=payment, status="succeeded").count() == 1
