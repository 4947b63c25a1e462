"""Refunds through Iamport's cancel, and pre-registration of amounts.

Each test taking `api` runs twice, against Iamport (V1) and against PortOne V2 (tests/payments/
apis.py); the two taking `iamport` alone test V1's read-back of a registration, which V2 lacks.
"""

from __future__ import annotations

from unittest import mock

import pytest
import requests
from django.db import transaction

from payments.client import IamportNotFound, IamportRejected
from payments.models import Payment, Refund
from payments.services import (
    RefundAlreadyRequested,
    RefundError,
    payment_prepare,
    payment_refund,
)
from payments.services.records import reply_apply
from shop.locks import lock_order
from shop.models import Order
from tests.conftest import API
from tests.payments import apis

pytestmark = pytest.mark.django_db

IMP = "imp_123456789012"
api = apis.api  # the tests taking it run once per API


def key(tag: str) -> str:
    """A request key shaped as the refund form makes them (32 hex characters)."""
    return tag.encode().hex()[:32].ljust(32, "0")


@pytest.fixture
def paid(api, order_factory):
    """A paid 12,000원 order and the API's payment for it (in Iamport's words)."""
    order = order_factory(price=12000)
    payment = api.payment(order.merchant_uid)
    api.sync(IMP)
    order.refresh_from_db()
    return order, payment


def test_partial_then_full_refund(api, paid):
    order, payment = paid
    after_first = api.cancel_ok(payment, 5000, "부분 반품")

    first = payment_refund(order=order, amount=5000, reason="부분 반품", request_key=key("k1"))

    assert api.cancel_bodies() == [
        api.cancel_body(
            imp_uid=IMP,
            merchant_uid=order.merchant_uid,
            amount=5000,
            checksum=12000,
            reason="부분 반품",
        )
    ]
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (Order.Status.PARTIALLY_REFUNDED, 5000)
    assert (first.status, first.amount, first.checksum) == ("succeeded", 5000, 12000)
    assert first.cancellation_id == "cncl_001"

    api.cancel_ok(after_first, 7000, "전체 반품")
    second = payment_refund(order=order, amount=7000, reason="전체 반품", request_key=key("k2"))

    [_, sent] = api.cancels()
    assert (sent.amount, sent.checksum, sent.reason) == (7000, 7000, "전체 반품")
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (Order.Status.REFUNDED, 12000)
    assert second.payment.cancel_amount == 12000
    assert Refund.objects.filter(status="succeeded").count() == 2


@pytest.mark.parametrize("amount", [12001, 0, -5])
def test_a_refund_outside_the_balance_is_refused_without_asking_iamport(api, paid, amount):
    order, _ = paid

    with pytest.raises(RefundError):
        payment_refund(order=order, amount=amount, reason="x", request_key=key("k"))

    assert not api.cancels()
    assert not Refund.objects.exists()
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


def test_over_refund_after_a_partial_refund_is_refused(api, paid):
    order, payment = paid
    api.cancel_ok(payment, 10000)
    payment_refund(order=order, amount=10000, reason="x", request_key=key("k1"))
    order.refresh_from_db()

    with pytest.raises(RefundError, match="2,000원"):
        payment_refund(order=order, amount=2001, reason="x", request_key=key("k2"))

    assert len(api.cancels()) == 1


def test_the_same_request_key_refunds_once(api, paid):
    order, payment = paid
    api.cancel_ok(payment, 1000)
    payment_refund(order=order, amount=1000, reason="x", request_key=key("same"))
    order.refresh_from_db()

    with pytest.raises(RefundAlreadyRequested):
        payment_refund(order=order, amount=1000, reason="x", request_key=key("same"))

    assert len(api.cancels()) == 1
    order.refresh_from_db()
    assert order.refunded_amount == 1000


def test_an_iamport_rejection_changes_nothing_and_refreshes_our_figures(api, paid):
    order, payment = paid
    api.cancel_refused(payment, "취소 가능 잔액 검증에 실패하였습니다.")
    api.replace_payment(payment, cancel_amount=2000)  # refunded elsewhere meanwhile

    with pytest.raises(RefundError, match="취소 가능 잔액 검증에 실패"):
        payment_refund(order=order, amount=1000, reason="x", request_key=key("k"))

    refund = Refund.objects.get()
    assert refund.status == "failed" and "잔액 검증" in refund.message
    order.refresh_from_db()
    # The re-read shows the 2,000원 refunded at Iamport; our 1,000원 did not happen.
    assert (order.status, order.refunded_amount) == (Order.Status.PARTIALLY_REFUNDED, 2000)


def test_iamport_unreachable_during_a_refund_changes_nothing(api, paid):
    order, payment = paid
    api.cancel_fails(payment, requests.ConnectionError("down"))

    with pytest.raises(RefundError):
        payment_refund(order=order, amount=1000, reason="x", request_key=key("k"))

    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (Order.Status.PAID, 0)


@pytest.mark.parametrize("status", [Order.Status.PENDING, Order.Status.CANCELLED])
def test_an_unpaid_order_cannot_be_refunded(api, order_factory, status):
    order = order_factory()
    Order.objects.filter(pk=order.pk).update(status=status)
    order.refresh_from_db()

    with pytest.raises(RefundError, match="환불할 수 없습니다"):
        payment_refund(order=order, amount=1000, reason="x", request_key=key("k"))


def test_a_refund_needs_a_reason(api, paid):
    order, _ = paid
    with pytest.raises(RefundError, match="사유"):
        payment_refund(order=order, amount=1000, reason="  ", request_key=key("k"))


def test_virtual_account_refund_passes_the_refund_account(api, paid):
    order, payment = paid
    api.cancel_ok(payment, 12000)
    account = {"refund_holder": "홍길동", "refund_bank": "004", "refund_account": "1234567890"}

    payment_refund(
        order=order, amount=12000, reason="x", request_key=key("k"), refund_account=account
    )

    [sent] = api.cancels()
    assert sent.refund_account == {
        "holder": "홍길동",
        "bank": api.bank("004"),
        "number": "1234567890",
    }


def test_a_deposited_virtual_account_is_refunded_only_to_the_account_given(api, order_factory):
    order = order_factory(price=12000, pay_method="vbank")
    issued = api.payment(order.merchant_uid, fixture="payment_vbank_ready")
    api.sync(IMP)
    deposited = api.replace_payment(issued, status="paid", paid_at=1764300000)
    api.sync(IMP)
    order.refresh_from_db()

    with pytest.raises(RefundError, match="환불받을 계좌"):
        payment_refund(order=order, amount=12000, reason="반품", request_key=key("none"))
    assert not api.cancels()

    api.cancel_ok(deposited, 12000, "반품")
    account = {"refund_holder": "홍길동", "refund_bank": "088", "refund_account": "110123456789"}
    refund = payment_refund(
        order=order, amount=12000, reason="반품", request_key=key("va"), refund_account=account
    )

    [sent] = api.cancels()
    assert (sent.amount, sent.checksum) == (12000, 12000)
    assert sent.refund_account == {
        "holder": "홍길동",
        "bank": api.bank("088"),
        "number": "110123456789",
    }
    assert refund.status == Refund.Status.SUCCEEDED
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (Order.Status.REFUNDED, 12000)


def test_prepare_registers_the_order_amount(api, order_factory):
    order = order_factory(price=4500, quantity=2)
    api.prepare_ok(order.merchant_uid, 9000)

    assert payment_prepare(order=order) == 9000


# V1 only: V2's pre-register is not read back (V1's GET payments/prepare/{merchant_uid}).
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


def test_prepare_refused_and_not_registered_raises_the_original_refusal(api, order_factory):
    order = order_factory()
    api.prepare_refused(order.merchant_uid, "금액이 잘못되었습니다")

    with pytest.raises(IamportRejected, match="금액이 잘못되었습니다"):
        payment_prepare(order=order)


def test_a_paid_order_without_an_accepted_payment_cannot_be_refunded(api, order_factory):
    order = order_factory()
    Order.objects.filter(pk=order.pk).update(status=Order.Status.PAID)
    order.refresh_from_db()

    with pytest.raises(RefundError, match="환불할 결제가 없습니다"):
        payment_refund(order=order, amount=1000, reason="x", request_key=key("k"))


def test_two_submits_racing_past_the_key_check_refund_once(api, paid):
    order, payment = paid
    api.cancel_ok(payment, 1000)
    payment_refund(order=order, amount=1000, reason="x", request_key=key("same"))
    order.refresh_from_db()

    # The second submit passed the early check just before the first one stored its key.
    with (
        mock.patch.object(Refund.objects, "filter") as early_check,
        pytest.raises(RefundAlreadyRequested),
    ):
        early_check.return_value.exists.return_value = False
        payment_refund(order=order, amount=1000, reason="x", request_key=key("same"))

    assert len(api.cancels()) == 1


def test_a_refused_refund_whose_reread_fails_still_reports_the_refusal(api, paid):
    order, payment = paid
    api.cancel_refused(payment, "취소 가능 잔액 검증에 실패하였습니다.")
    api.unreadable(payment, requests.ConnectionError())

    with pytest.raises(RefundError, match="잔액 검증"):
        payment_refund(order=order, amount=1000, reason="x", request_key=key("k"))

    order.refresh_from_db()
    assert order.refunded_amount == 0


# V1 only: V2's pre-register answers no 404 (its errors are 400, 401, 403 and 409).
def test_prepare_of_a_merchant_uid_iamport_calls_unknown_raises_not_found(iamport, order_factory):
    order = order_factory()
    iamport.rsps.post(
        API + "payments/prepare", status=404, json={"code": 1, "message": "없음", "response": None}
    )

    with pytest.raises(IamportNotFound):
        payment_prepare(order=order)


def test_an_older_reply_never_overwrites_a_newer_record(api, paid):
    _, payment = paid
    record = Payment.objects.get()
    record.status, record.cancel_amount = "cancelled", 12000
    record.save()
    older = api.parse(payment)

    with transaction.atomic():
        stored = reply_apply(locked=lock_order(record.order_id), remote=older, payment=record)

    stored.refresh_from_db()
    assert (stored.status, stored.cancel_amount) == ("cancelled", 12000)


def test_a_refund_that_timed_out_but_happened_is_confirmed_by_rereading(api, paid):
    order, payment = paid
    api.cancel_lost(payment, 5000)  # Iamport refunded, but its answer never arrived

    refund = payment_refund(order=order, amount=5000, reason="반품", request_key=key("k"))

    assert refund.status == Refund.Status.SUCCEEDED
    assert Refund.objects.count() == 1  # the re-read matched the request, not a second record
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (Order.Status.PARTIALLY_REFUNDED, 5000)


def test_a_refund_that_timed_out_and_shows_nothing_yet_is_left_to_check(api, paid):
    order, payment = paid
    api.cancel_fails(payment, requests.ReadTimeout("slow"))

    with pytest.raises(RefundError, match="확인하지 못했습니다"):
        payment_refund(order=order, amount=5000, reason="반품", request_key=key("k"))

    assert Refund.objects.get().status == Refund.Status.UNKNOWN
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (Order.Status.PAID, 0)
