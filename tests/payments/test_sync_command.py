"""`manage.py sync_payments`: reconciling open orders when a webhook was lost."""

from __future__ import annotations

from io import StringIO

import pytest
import requests
from django.core.management import call_command

from payments.models import Payment
from shop.models import Order
from tests.conftest import load_fixture

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("sync_payments", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_a_deposit_whose_webhook_was_lost_is_found(iamport, order_factory):
    paid_order = order_factory(price=12000)
    never_paid = order_factory(price=3000)
    body = load_fixture("payment_paid")
    body["response"].update(imp_uid="imp_000000000001", merchant_uid=paid_order.merchant_uid)
    iamport.find(paid_order.merchant_uid, paid=body["response"])
    iamport.payment(paid_order.merchant_uid, imp_uid="imp_000000000001")
    iamport.find(never_paid.merchant_uid)

    out, err = run()
    assert err == ""

    assert f"{paid_order.merchant_uid}: pending -> paid" in out
    assert "checked 2 open orders: 1 changed, 0 failed" in out
    paid_order.refresh_from_db()
    never_paid.refresh_from_db()
    assert (paid_order.status, never_paid.status) == (Order.Status.PAID, Order.Status.PENDING)


def test_iamport_failures_are_reported_and_the_rest_goes_on(iamport, order_factory):
    order = order_factory()
    iamport.find(order.merchant_uid, paid=requests.ConnectionError("down"))

    out, err = run("--merchant-uid", order.merchant_uid)

    assert "Iamport failed" in err
    assert "1 failed" in out


def test_an_open_order_that_is_still_open_is_not_reported_as_changed(iamport, order_factory):
    order = order_factory()
    body = load_fixture("payment_failed")
    body["response"].update(merchant_uid=order.merchant_uid)
    iamport.find(order.merchant_uid, newest=body["response"])
    iamport.payment(order.merchant_uid, fixture="payment_failed")

    out, _ = run()

    assert "checked 1 open orders: 0 changed, 0 failed" in out
    order.refresh_from_db()
    assert order.status_message == "결제에 실패했습니다: [F1002] 카드 한도 초과"


def test_a_paid_attempt_behind_a_newer_failed_one_is_found(iamport, order_factory):
    order = order_factory(price=12000)
    paid = load_fixture("payment_paid")["response"]
    paid.update(imp_uid="imp_000000000001", merchant_uid=order.merchant_uid)
    failed = load_fixture("payment_failed")["response"]
    failed.update(imp_uid="imp_000000000002", merchant_uid=order.merchant_uid)
    iamport.find(order.merchant_uid, newest=failed, paid=paid)
    iamport.payment(order.merchant_uid, imp_uid="imp_000000000001")

    out, _ = run()

    assert f"{order.merchant_uid}: pending -> paid" in out
    assert not iamport.calls("GET", "payments/imp_000000000002")


def test_a_refused_payment_whose_cancel_failed_is_cancelled_on_the_next_run(iamport, order_factory):
    # The order is settled (so the open-order sweep skips it), but a duplicate payment for it
    # could not be cancelled when it arrived.
    order = order_factory(price=12000)
    Order.objects.filter(pk=order.pk).update(status=Order.Status.PAID)
    duplicate = iamport.payment(order.merchant_uid, imp_uid="imp_000000000002")
    iamport.cancel_ok(duplicate, 12000)
    Payment.objects.create(
        imp_uid="imp_000000000002",
        order=order,
        merchant_uid=order.merchant_uid,
        amount=12000,
        status="paid",
        verdict=Payment.Verdict.DUPLICATE,
    )

    out, err = run()

    assert err == ""
    assert "checked 0 open orders" in out
    assert "retried 1 refused payments still holding money" in out
    body = iamport.body(iamport.calls("POST", "payments/cancel")[0])
    assert (body["imp_uid"], body["amount"], body["checksum"]) == ("imp_000000000002", 12000, 12000)
    assert Payment.objects.get().status == "cancelled"


def test_an_unfunded_account_left_open_is_closed_on_the_next_run(iamport, order_factory):
    order = order_factory(price=12000)
    Order.objects.filter(pk=order.pk).update(status=Order.Status.PAID)
    vbank = iamport.payment(
        order.merchant_uid, imp_uid="imp_000000000003", fixture="payment_vbank_ready"
    )
    iamport.cancel_ok(vbank, 12000)
    Payment.objects.create(
        imp_uid="imp_000000000003",
        order=order,
        merchant_uid=order.merchant_uid,
        amount=12000,
        status="ready",
        pay_method="vbank",
        verdict=Payment.Verdict.DUPLICATE,
    )

    out, _ = run()

    assert "retried 1 refused payments still holding money" in out
    assert (
        iamport.body(iamport.calls("POST", "payments/cancel")[0])["imp_uid"] == "imp_000000000003"
    )


def test_a_sold_out_payment_whose_cancel_failed_is_cancelled_on_the_next_run(
    iamport, order_factory
):
    order = order_factory(price=12000)
    Order.objects.filter(pk=order.pk).update(status=Order.Status.FAILED)
    payment = iamport.payment(order.merchant_uid)
    iamport.cancel_ok(payment, 12000)
    Payment.objects.create(
        imp_uid=payment["imp_uid"],
        order=order,
        merchant_uid=order.merchant_uid,
        amount=12000,
        status="paid",
        verdict=Payment.Verdict.UNFULFILLABLE,
    )

    out, _ = run()

    assert "retried 1 refused payments still holding money" in out
    assert len(iamport.calls("POST", "payments/cancel")) == 1


# --- one run at a time, worker mode -------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_a_second_run_while_one_is_in_progress_does_nothing(iamport, order_factory):
    import threading

    from django.db import connection

    from guard.locks import exclusive

    order_factory()
    holding, release = threading.Event(), threading.Event()

    def other_machine():
        try:
            with exclusive("sync_payments") as acquired:
                assert acquired
                holding.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=other_machine)
    thread.start()
    assert holding.wait(10)
    try:
        out, _ = run()
    finally:
        release.set()
        thread.join(10)

    assert out.strip() == "another sync_payments run is in progress: nothing done"
    assert not iamport.rsps.calls  # not one order looked up twice
    again, _ = run()
    assert "checked 1 open orders" in again


def test_worker_mode_runs_until_told_to_stop(monkeypatch, db):
    import os
    import signal

    from payments.management.commands import sync_payments

    runs = []

    def run_once(self, **kwargs):
        runs.append(kwargs)
        if len(runs) == 2:
            os.kill(os.getpid(), signal.SIGTERM)  # as a platform stopping the worker

    monkeypatch.setattr(sync_payments.Command, "run_once", run_once)
    before = signal.getsignal(signal.SIGTERM)

    out, _ = run("--every", "1", "--days", "3")

    assert runs == [{"days": 3, "merchant_uid": None}] * 2
    assert "stopped after the run in progress" in out
    assert signal.getsignal(signal.SIGTERM) == before


@pytest.mark.parametrize("args", [["--every", "0"], ["--merchant-uid", "o1\x00; DROP"]])
def test_bad_arguments_are_refused(db, args):
    from django.core.management import CommandError

    with pytest.raises(CommandError):
        run(*args)


def test_due_mail_is_sent_by_the_run(order_factory, settings, django_capture_on_commit_callbacks):
    from django.core import mail

    from shop import services

    settings.SHOP_MAIL_SEND_NOW = False
    with django_capture_on_commit_callbacks(execute=True):
        services.order_mark_paid(order=order_factory())
    assert mail.outbox == []

    out, _ = run()

    assert "sent 2 mails, 0 failed" in out  # the order received, then paid
    assert len(mail.outbox) == 2
