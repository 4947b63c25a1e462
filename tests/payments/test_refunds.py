"""Refunds through Iamport's cancel, and pre-registration of amounts."""

from __future__ import annotations

from unittest import mock

import pytest
import requests
import responses
from django.db import transaction

from payments.client import IamportNotFound, IamportPayment, IamportRejected
from payments.models import Payment, Refund
from payments.services import (
    RefundAlreadyRequested,
    RefundError,
    payment_prepare,
    payment_refund,
    payment_sync,
)
from payments.services.records import reply_apply
from shop.locks import lock_order
from shop.models import Order
from tests.conftest import API, load_fixture

pytestmark = pytest.mark.django_db

IMP = "imp_123456789012"


@pytest.fixture
def paid(iamport, order_factory):
    """A paid 12,000원 order and Iamport's payment object for it."""
    order = order_factory(price=12000)
    payment = iamport.payment(order.merchant_uid)
    payment_sync(imp_uid=IMP)
    order.refresh_from_db()
    return order, payment


def test_partial_then_full_refund(iamport, paid):
    order, payment = paid
    after_first = iamport.cancel_ok(payment, 5000, "부분 반품")

    first = payment_refund(order=order, amount=5000, reason="부분 반품", request_key="k1")

    sent = iamport.body(iamport.calls("POST", "payments/cancel")[0])
    assert sent == {
        "imp_uid": IMP,
        "merchant_uid": order.merchant_uid,
        "amount": 5000,
        "checksum": 12000,
        "reason": "부분 반품",
    }
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (Order.Status.PARTIALLY_REFUNDED, 5000)
    assert (first.status, first.amount, first.checksum) == ("succeeded", 5000, 12000)
    assert first.cancellation_id == "cncl_001"

    iamport.rsps.reset()
    iamport.cancel_ok(after_first, 7000, "전체 반품")
    second = payment_refund(order=order, amount=7000, reason="전체 반품", request_key="k2")

    sent = iamport.body(iamport.calls("POST", "payments/cancel")[0])
    assert (sent["amount"], sent["checksum"]) == (7000, 7000)
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (Order.Status.REFUNDED, 12000)
    assert second.payment.cancel_amount == 12000
    assert Refund.objects.filter(status="succeeded").count() == 2


@pytest.mark.parametrize("amount", [12001, 0, -5])
def test_a_refund_outside_the_balance_is_refused_without_asking_iamport(iamport, paid, amount):
    order, _ = paid

    with pytest.raises(RefundError):
        payment_refund(order=order, amount=amount, reason="x", request_key="k")

    assert not iamport.calls("POST", "payments/cancel")
    assert not Refund.objects.exists()
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


def test_over_refund_after_a_partial_refund_is_refused(iamport, paid):
    order, payment = paid
    iamport.cancel_ok(payment, 10000)
    payment_refund(order=order, amount=10000, reason="x", request_key="k1")
    order.refresh_from_db()

    with pytest.raises(RefundError, match="2,000원"):
        payment_refund(order=order, amount=2001, reason="x", request_key="k2")

    assert len(iamport.calls("POST", "payments/cancel")) == 1


def test_the_same_request_key_refunds_once(iamport, paid):
    order, payment = paid
    iamport.cancel_ok(payment, 1000)
    payment_refund(order=order, amount=1000, reason="x", request_key="same")
    order.refresh_from_db()

    with pytest.raises(RefundAlreadyRequested):
        payment_refund(order=order, amount=1000, reason="x", request_key="same")

    assert len(iamport.calls("POST", "payments/cancel")) == 1
    order.refresh_from_db()
    assert order.refunded_amount == 1000


def test_an_iamport_rejection_changes_nothing_and_refreshes_our_figures(iamport, paid):
    order, payment = paid
    iamport.cancel_refused("취소 가능 잔액 검증에 실패하였습니다.")
    iamport.replace_payment(payment, cancel_amount=2000)  # refunded elsewhere meanwhile

    with pytest.raises(RefundError, match="취소 가능 잔액 검증에 실패"):
        payment_refund(order=order, amount=1000, reason="x", request_key="k")

    refund = Refund.objects.get()
    assert refund.status == "failed" and "잔액 검증" in refund.message
    order.refresh_from_db()
    # The re-read shows the 2,000원 refunded at Iamport; our 1,000원 did not happen.
    assert (order.status, order.refunded_amount) == (Order.Status.PARTIALLY_REFUNDED, 2000)


def test_iamport_unreachable_during_a_refund_changes_nothing(iamport, paid):
    order, _ = paid
    iamport.rsps.post(API + "payments/cancel", body=requests.ConnectionError("down"))

    with pytest.raises(RefundError):
        payment_refund(order=order, amount=1000, reason="x", request_key="k")

    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (Order.Status.PAID, 0)


@pytest.mark.parametrize("status", [Order.Status.PENDING, Order.Status.CANCELLED])
def test_an_unpaid_order_cannot_be_refunded(iamport, order_factory, status):
    order = order_factory()
    Order.objects.filter(pk=order.pk).update(status=status)
    order.refresh_from_db()

    with pytest.raises(RefundError, match="환불할 수 없습니다"):
        payment_refund(order=order, amount=1000, reason="x", request_key="k")


def test_a_refund_needs_a_reason(iamport, paid):
    order, _ = paid
    with pytest.raises(RefundError, match="사유"):
        payment_refund(order=order, amount=1000, reason="  ", request_key="k")


def test_virtual_account_refund_passes_the_refund_account(iamport, paid):
    order, payment = paid
    iamport.cancel_ok(payment, 12000)
    account = {"refund_holder": "홍길동", "refund_bank": "04", "refund_account": "1234567890"}

    payment_refund(order=order, amount=12000, reason="x", request_key="k", refund_account=account)

    sent = iamport.body(iamport.calls("POST", "payments/cancel")[0])
    assert sent["refund_holder"] == "홍길동" and sent["refund_account"] == "1234567890"


def test_prepare_registers_the_order_amount(iamport, order_factory):
    order = order_factory(price=4500, quantity=2)
    iamport.rsps.post(
        API + "payments/prepare",
        json={
            "code": 0,
            "message": None,
            "response": {"merchant_uid": order.merchant_uid, "amount": 9000},
        },
    )

    assert payment_prepare(order=order) == 9000


def test_prepare_already_registered_with_the_same_amount_is_fine(iamport, order_factory):
    order = order_factory(price=4500)
    iamport.rsps.post(
        API + "payments/prepare", json={"code": 1, "message": "이미 등록됨", "response": None}
    )
    iamport.rsps.get(
        API + f"payments/prepare/{order.merchant_uid}",
        json={
            "code": 0,
            "message": None,
            "response": {"merchant_uid": order.merchant_uid, "amount": 4500},
        },
    )

    assert payment_prepare(order=order) == 4500
    assert not iamport.calls("PUT", "payments/prepare")


def test_prepare_refused_and_not_registered_raises_the_original_refusal(iamport, order_factory):
    order = order_factory()
    iamport.rsps.post(
        API + "payments/prepare",
        json={"code": 1, "message": "금액이 잘못되었습니다", "response": None},
    )
    iamport.rsps.get(
        API + f"payments/prepare/{order.merchant_uid}",
        status=404,
        json={"code": 1, "message": "없음"},
    )

    with pytest.raises(IamportRejected, match="금액이 잘못되었습니다"):
        payment_prepare(order=order)


def test_a_paid_order_without_an_accepted_payment_cannot_be_refunded(iamport, order_factory):
    order = order_factory()
    Order.objects.filter(pk=order.pk).update(status=Order.Status.PAID)
    order.refresh_from_db()

    with pytest.raises(RefundError, match="환불할 결제가 없습니다"):
        payment_refund(order=order, amount=1000, reason="x", request_key="k")


def test_two_submits_racing_past_the_key_check_refund_once(iamport, paid):
    order, payment = paid
    iamport.cancel_ok(payment, 1000)
    payment_refund(order=order, amount=1000, reason="x", request_key="same")
    order.refresh_from_db()

    # The second submit passed the early check just before the first one stored its key.
    with (
        mock.patch.object(Refund.objects, "filter") as early_check,
        pytest.raises(RefundAlreadyRequested),
    ):
        early_check.return_value.exists.return_value = False
        payment_refund(order=order, amount=1000, reason="x", request_key="same")

    assert len(iamport.calls("POST", "payments/cancel")) == 1


def test_a_refused_refund_whose_reread_fails_still_reports_the_refusal(iamport, paid):
    order, _ = paid
    iamport.cancel_refused("취소 가능 잔액 검증에 실패하였습니다.")
    iamport.rsps.replace(responses.GET, API + f"payments/{IMP}", body=requests.ConnectionError())

    with pytest.raises(RefundError, match="잔액 검증"):
        payment_refund(order=order, amount=1000, reason="x", request_key="k")

    order.refresh_from_db()
    assert order.refunded_amount == 0


def test_prepare_of_a_merchant_uid_iamport_calls_unknown_raises_not_found(iamport, order_factory):
    order = order_factory()
    iamport.rsps.post(
        API + "payments/prepare", status=404, json={"code": 1, "message": "없음", "response": None}
    )

    with pytest.raises(IamportNotFound):
        payment_prepare(order=order)


def test_an_older_reply_never_overwrites_a_newer_record(iamport, paid):
    _, payment = paid
    record = Payment.objects.get()
    record.status, record.cancel_amount = "cancelled", 12000
    record.save()
    older = IamportPayment.from_api(payment)

    with transaction.atomic():
        stored = reply_apply(locked=lock_order(record.order_id), remote=older, payment=record)

    stored.refresh_from_db()
    assert (stored.status, stored.cancel_amount) == ("cancelled", 12000)


def test_a_refund_that_timed_out_but_happened_is_confirmed_by_rereading(iamport, paid):
    order, payment = paid
    iamport.rsps.post(API + "payments/cancel", body=requests.ReadTimeout("slow"))
    done = iamport.cancel_ok(payment, 5000)  # what Iamport did after all
    iamport.rsps.reset()
    iamport.rsps.post(API + "users/getToken", json=load_fixture("token"))
    iamport.rsps.post(API + "payments/cancel", body=requests.ReadTimeout("slow"))
    iamport.rsps.get(API + f"payments/{IMP}", json={"code": 0, "message": None, "response": done})

    refund = payment_refund(order=order, amount=5000, reason="반품", request_key="k")

    assert refund.status == Refund.Status.SUCCEEDED
    assert Refund.objects.count() == 1  # the re-read matched the request, not a second record
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (Order.Status.PARTIALLY_REFUNDED, 5000)


def test_a_refund_that_timed_out_and_shows_nothing_yet_is_left_to_check(iamport, paid):
    order, _ = paid
    iamport.rsps.post(API + "payments/cancel", body=requests.ReadTimeout("slow"))

    with pytest.raises(RefundError, match="확인하지 못했습니다"):
        payment_refund(order=order, amount=5000, reason="반품", request_key="k")

    assert Refund.objects.get().status == Refund.Status.UNKNOWN
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (Order.Status.PAID, 0)
