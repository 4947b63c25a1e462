"""`manage.py sync_payments`: reconciling open orders when a webhook was lost."""

from __future__ import annotations

from io import StringIO

import pytest
import requests
from django.core.management import call_command

from shop.models import Order
from tests.conftest import API, load_fixture

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
    iamport.rsps.get(API + f"payments/find/{paid_order.merchant_uid}", json=body)
    iamport.payment(paid_order.merchant_uid, imp_uid="imp_000000000001")
    iamport.rsps.get(
        API + f"payments/find/{never_paid.merchant_uid}", status=404, json=load_fixture("not_found")
    )

    out, err = run()
    assert err == ""

    assert f"{paid_order.merchant_uid}: pending -> paid" in out
    assert "checked 2 open orders: 1 changed, 0 failed" in out
    paid_order.refresh_from_db()
    never_paid.refresh_from_db()
    assert (paid_order.status, never_paid.status) == (Order.Status.PAID, Order.Status.PENDING)


def test_iamport_failures_are_reported_and_the_rest_goes_on(iamport, order_factory):
    order = order_factory()
    iamport.rsps.get(
        API + f"payments/find/{order.merchant_uid}", body=requests.ConnectionError("down")
    )

    out, err = run("--merchant-uid", order.merchant_uid)

    assert "Iamport failed" in err
    assert "1 failed" in out


def test_an_open_order_that_is_still_open_is_not_reported_as_changed(iamport, order_factory):
    order = order_factory()
    body = load_fixture("payment_failed")
    body["response"].update(merchant_uid=order.merchant_uid)
    iamport.rsps.get(API + f"payments/find/{order.merchant_uid}", json=body)
    iamport.payment(order.merchant_uid, fixture="payment_failed")

    out, _ = run()

    assert "checked 1 open orders: 0 changed, 0 failed" in out
    order.refresh_from_db()
    assert order.status_message == "[F1002] 카드 한도 초과"
