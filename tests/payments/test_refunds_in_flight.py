"""Refunds whose request died (or lost Iamport's answer): never "requested" forever.

A refund row is written "requested" before Iamport is asked. If the worker dies before or after
asking, Iamport's cancel history decides: the next reconciliation run (or the admin submitting
the same form again) matches the row to Iamport's cancel, or records it as not applied.
"""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from payments.models import Refund
from payments.services import payment_sync
from payments.services.refunds import NOT_IN_HISTORY, refund_settle
from shop.models import Order

pytestmark = pytest.mark.django_db

IMP = "imp_123456789012"
KEY = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def paid(iamport, order_factory):
    order = order_factory(price=12000)
    remote = iamport.payment(order.merchant_uid)
    payment_sync(imp_uid=IMP)
    order.refresh_from_db()
    return order, remote


def left_by_a_dead_request(order: Order, *, amount: int, age: timedelta) -> Refund:
    """The row a refund request writes before it asks Iamport; its request then died."""
    refund = Refund.objects.create(
        payment=order.payments.get(),
        amount=amount,
        checksum=12000,
        reason="고객 요청",
        status=Refund.Status.REQUESTED,
        request_key=KEY,
    )
    Refund.objects.filter(pk=refund.pk).update(created_at=timezone.now() - age)
    refund.refresh_from_db()
    return refund


def sync_payments() -> str:
    out = StringIO()
    call_command("sync_payments", stdout=out, stderr=StringIO())
    return out.getvalue()


def resubmit(client, order: Order):
    url = reverse("admin:shop_order_refund", args=[order.pk])
    response = client.post(url, {"amount": "5000", "reason": "고객 요청", "request_key": KEY})
    return response, [str(m) for m in get_messages(response.wsgi_request)]


def test_a_refund_iamport_applied_is_recorded_by_the_next_run(iamport, paid):
    order, remote = paid
    refund = left_by_a_dead_request(order, amount=5000, age=timedelta(minutes=1))
    iamport.replace_payment(remote, **iamport.cancel_ok(remote, 5000, "고객 요청"))

    out = sync_payments()

    refund.refresh_from_db()
    order.refresh_from_db()
    assert (refund.status, refund.cancellation_id) == ("succeeded", "cncl_001")
    assert (order.status, order.refunded_amount) == ("partially_refunded", 5000)
    assert "settled refunds in flight: 1 applied, 0 not" in out
    assert Refund.objects.count() == 1  # matched, not booked twice


def test_a_refund_iamport_never_received_is_recorded_as_not_applied(iamport, paid):
    order, _ = paid
    refund = left_by_a_dead_request(order, amount=5000, age=timedelta(minutes=1))

    out = sync_payments()

    refund.refresh_from_db()
    order.refresh_from_db()
    assert (refund.status, refund.message) == ("failed", NOT_IN_HISTORY)
    assert (order.status, order.refunded_amount) == ("paid", 0)
    assert "0 applied, 1 not" in out


def test_a_refund_whose_request_may_still_be_running_is_left_alone(iamport, paid):
    order, _ = paid
    refund = left_by_a_dead_request(order, amount=5000, age=timedelta(seconds=1))

    assert refund_settle(refund=refund).status == "requested"
    assert not iamport.calls("GET", f"payments/{IMP}")[1:]  # not even looked up


def test_resubmitting_the_form_of_a_dead_request_says_it_was_not_applied(
    admin_client, iamport, paid
):
    order, _ = paid
    left_by_a_dead_request(order, amount=5000, age=timedelta(minutes=1))

    response, messages = resubmit(admin_client, order)

    assert response.status_code == 302
    assert any("환불되지 않았습니다" in m for m in messages), messages
    assert not any("이미 처리된" in m for m in messages)
    assert not iamport.calls("POST", "payments/cancel")


def test_resubmitting_the_form_of_an_applied_refund_says_so(admin_client, iamport, paid):
    order, remote = paid
    left_by_a_dead_request(order, amount=5000, age=timedelta(minutes=1))
    iamport.replace_payment(remote, **iamport.cancel_ok(remote, 5000))

    _, messages = resubmit(admin_client, order)

    assert any("5,000원이 환불되었습니다" in m for m in messages), messages
    order.refresh_from_db()
    assert order.refunded_amount == 5000


def test_resubmitting_while_the_first_is_still_running_says_it_is_in_progress(
    admin_client, iamport, paid
):
    order, _ = paid
    left_by_a_dead_request(order, amount=5000, age=timedelta(seconds=1))

    _, messages = resubmit(admin_client, order)

    assert any("아직 처리 중입니다" in m for m in messages), messages
    assert not iamport.calls("POST", "payments/cancel")


@pytest.mark.parametrize("key", ["a\x00b", "x" * 500, "not-hex", ""])
def test_a_malformed_request_key_never_reaches_the_database(admin_client, paid, key):
    order, _ = paid
    url = reverse("admin:shop_order_refund", args=[order.pk])

    response = admin_client.post(url, {"amount": "5000", "reason": "x", "request_key": key})

    assert response.status_code in (200, 400)  # the form again, or refused at the door
    assert not Refund.objects.exists()
