"""The one synchronisation service: every verdict it can reach, and its idempotency.

Each test taking `api` runs twice, against Iamport (V1) and against PortOne V2 (tests/payments/
apis.py). The few taking `iamport` alone play scenarios V2 cannot have, each saying why.
"""

from __future__ import annotations

import pytest
import requests
import responses
from django.core import mail
from django.utils import timezone

from payments.client import IamportAuthError, IamportNotFound, IamportUnavailable
from payments.models import Payment, Refund
from payments.services import MESSAGES, SyncOutcome, payment_sync
from shop.models import Order
from tests.conftest import API, load_fixture
from tests.payments import apis

pytestmark = pytest.mark.django_db(transaction=False)

IMP = "imp_123456789012"
api = apis.api  # the tests taking it run once per API


@pytest.fixture
def order(order_factory):
    return order_factory(price=12000, stock=5, quantity=1)


def reload(obj):
    obj.refresh_from_db()
    return obj


def test_paid_with_equal_amount_marks_order_paid_and_takes_stock_once(
    api, order, django_capture_on_commit_callbacks
):
    api.payment(order.merchant_uid)

    with django_capture_on_commit_callbacks(execute=True):
        result = api.sync(IMP, merchant_uid=order.merchant_uid)

    assert result.outcome == SyncOutcome.PAID
    order = reload(order)
    assert order.status == Order.Status.PAID
    assert order.paid_at is not None
    assert order.lines.get().product.stock == 4
    payment = Payment.objects.get(imp_uid=IMP)
    assert (payment.order, payment.amount, payment.status, payment.verdict) == (
        order,
        12000,
        "paid",
        Payment.Verdict.ACCEPTED,
    )
    assert payment.api == api.name
    assert api.raw_pg_tid(payment.raw).startswith("Stdpay")
    assert len(mail.outbox) == 1
    assert order.number in mail.outbox[0].subject


def test_repeated_sync_changes_nothing_more(api, order, django_capture_on_commit_callbacks):
    api.payment(order.merchant_uid)
    with django_capture_on_commit_callbacks(execute=True):
        api.sync(IMP, merchant_uid=order.merchant_uid)
        again = api.sync(IMP)
        third = api.sync(IMP, merchant_uid=order.merchant_uid)

    assert again.outcome == third.outcome == SyncOutcome.PAID
    assert reload(order).lines.get().product.stock == 4
    assert Payment.objects.count() == 1
    assert len(mail.outbox) == 1
    assert not api.cancels()


def test_vbank_ready_stores_the_account_then_deposit_pays(api, order):
    payment = api.payment(order.merchant_uid, fixture="payment_vbank_ready")

    result = api.sync(IMP, merchant_uid=order.merchant_uid)

    assert result.outcome == SyncOutcome.AWAITING_DEPOSIT
    order = reload(order)
    assert order.status == Order.Status.AWAITING_DEPOSIT
    assert (order.deposit_bank, order.deposit_account, order.deposit_holder) == (
        "KB국민은행",
        "12345678901234",
        "아임포트 상점",
    )
    assert order.deposit_due is not None and order.deposit_due.timestamp() == 4102412399
    assert order.lines.get().product.stock == 5  # nothing taken before the money arrives

    api.replace_payment(payment, status="paid", paid_at=1764300000)
    assert api.sync(IMP).outcome == SyncOutcome.PAID
    order = reload(order)
    assert order.status == Order.Status.PAID
    assert order.lines.get().product.stock == 4


def test_a_stale_ready_after_the_deposit_does_not_move_anything_back(api, order):
    payment = api.payment(order.merchant_uid, fixture="payment_vbank_ready")
    api.sync(IMP)
    api.replace_payment(payment, status="paid", paid_at=1764300000)
    api.sync(IMP)

    api.replace_payment(payment)  # an out-of-order "ready" webhook arrives last
    result = api.sync(IMP)

    assert result.outcome == SyncOutcome.PAID
    assert reload(order).status == Order.Status.PAID
    assert Payment.objects.get().status == "paid"


def test_failed_payment_leaves_the_order_payable_with_the_reason(api, order):
    api.payment(order.merchant_uid, fixture="payment_failed")

    result = api.sync(IMP, merchant_uid=order.merchant_uid)

    assert result.outcome == SyncOutcome.NOT_PAID
    assert result.message == "결제에 실패했습니다: [F1002] 카드 한도 초과"  # the PG's words
    order = reload(order)
    assert order.status == Order.Status.PENDING and order.is_payable
    assert order.status_message == "결제에 실패했습니다: [F1002] 카드 한도 초과"
    payment = Payment.objects.get()
    assert (payment.verdict, payment.verdict_reason) == (
        Payment.Verdict.FAILED,
        "[F1002] 카드 한도 초과",
    )


def test_retry_after_a_failure_pays_the_same_order(api, order):
    api.payment(order.merchant_uid, fixture="payment_failed")
    api.sync(IMP)
    api.payment(order.merchant_uid, imp_uid="imp_000000000002")

    result = api.sync("imp_000000000002", merchant_uid=order.merchant_uid)

    assert result.outcome == SyncOutcome.PAID
    order = reload(order)
    assert order.status == Order.Status.PAID and order.status_message == ""
    assert order.payments.count() == 2


def test_an_open_payment_window_is_not_paid_yet(api, order):
    api.payment(order.merchant_uid, status="ready", paid_at=0)

    result = api.sync(IMP)

    assert result.outcome == SyncOutcome.NOT_PAID
    assert reload(order).status == Order.Status.PENDING


def test_cancelled_before_we_saw_it_paid_cancels_the_order(api, order):
    api.payment(order.merchant_uid, fixture="payment_cancelled")

    result = api.sync(IMP)

    assert result.outcome == SyncOutcome.CANCELLED
    order = reload(order)
    assert order.status == Order.Status.CANCELLED
    assert order.status_message == "고객 요청"


def test_cancelled_after_payment_refunds_the_order(api, order):
    payment = api.payment(order.merchant_uid)
    api.sync(IMP)
    api.replace_payment(payment, status="cancelled", cancel_amount=12000, cancelled_at=1764234000)

    result = api.sync(IMP)

    assert result.outcome == SyncOutcome.REFUNDED
    order = reload(order)
    assert (order.status, order.refunded_amount) == (Order.Status.REFUNDED, 12000)


def test_partial_cancel_from_the_console_partially_refunds(api, order):
    payment = api.payment(order.merchant_uid)
    api.sync(IMP)
    api.replace_payment(payment, cancel_amount=3000)

    result = api.sync(IMP)

    assert result.outcome == SyncOutcome.REFUNDED
    order = reload(order)
    assert (order.status, order.refunded_amount) == (Order.Status.PARTIALLY_REFUNDED, 3000)
    assert Payment.objects.get().cancel_amount == 3000


def test_vbank_cancelled_before_deposit_cancels_the_order(api, order):
    payment = api.payment(order.merchant_uid, fixture="payment_vbank_ready")
    api.sync(IMP)
    api.replace_payment(payment, status="cancelled", cancelled_at=1764234000)

    assert api.sync(IMP).outcome == SyncOutcome.CANCELLED
    assert reload(order).status == Order.Status.CANCELLED


@pytest.mark.parametrize("paid_amount", [100, 11999, 12001, 120000])
def test_amount_different_from_the_order_is_cancelled_at_iamport(api, order, paid_amount):
    payment = api.payment(order.merchant_uid, amount=paid_amount)
    api.cancel_ok(payment, paid_amount)

    result = api.sync(IMP, merchant_uid=order.merchant_uid)

    assert result.outcome == SyncOutcome.FORGED
    [cancel] = api.cancels()
    assert cancel.imp_uid == IMP and cancel.merchant_uid == order.merchant_uid
    assert cancel.amount == cancel.checksum == paid_amount
    assert cancel.reason
    order = reload(order)
    assert order.status == Order.Status.PENDING
    assert order.lines.get().product.stock == 5
    recorded = Payment.objects.get()
    assert recorded.verdict == Payment.Verdict.FORGED
    assert (recorded.status, recorded.cancel_amount) == ("cancelled", paid_amount)
    refund = Refund.objects.get()
    assert (refund.amount, refund.checksum, refund.status) == (
        paid_amount,
        paid_amount,
        "succeeded",
    )


def test_a_forged_payment_is_cancelled_only_once(api, order):
    payment = api.payment(order.merchant_uid, amount=100)
    cancelled = api.cancel_ok(payment, 100)
    api.sync(IMP)
    api.replace_payment(cancelled)

    result = api.sync(IMP, merchant_uid=order.merchant_uid)

    assert result.outcome == SyncOutcome.FORGED
    assert len(api.cancels()) == 1


def test_a_forged_payment_found_cancelled_later_no_longer_says_being_cancelled(api, order):
    payment = api.payment(order.merchant_uid, amount=100)
    api.cancel_fails(payment, requests.ConnectionError("down"))
    assert api.sync(IMP).cancel_error is not None
    assert "취소하고 있습니다" in reload(order).status_message
    # Given back meanwhile (a retried cancel whose answer was lost, or Iamport's console).
    api.replace_payment(apis.cancelled_v1(payment, 100, "결제 금액 불일치"))

    result = api.sync(IMP)

    assert result.outcome == SyncOutcome.FORGED and result.cancel_error is None
    assert len(api.cancels()) == 1
    order = reload(order)
    assert order.status == Order.Status.PENDING
    assert order.status_message == str(MESSAGES[SyncOutcome.FORGED])
    assert result.order is not None and result.order.status_message == order.status_message


def test_a_refused_cancel_of_a_forged_payment_rereads_it(api, order):
    payment = api.payment(order.merchant_uid, amount=100)
    api.cancel_refused(payment, "이미 전액취소된 주문입니다.", v2_type="PAYMENT_ALREADY_CANCELLED")

    result = api.sync(IMP)

    assert result.outcome == SyncOutcome.FORGED
    assert api.lookups(IMP) == 2
    assert Refund.objects.count() == 0
    assert Payment.objects.get().verdict == Payment.Verdict.FORGED


# V1 only: V2 is asked by paymentId, so it never answers with another order's payment.
def test_someone_elses_imp_uid_changes_nothing(iamport, order, order_factory):
    other = order_factory(price=12000)
    iamport.payment(other.merchant_uid)

    result = payment_sync(imp_uid=IMP, merchant_uid=order.merchant_uid)

    assert result.outcome == SyncOutcome.MISMATCH
    assert reload(order).status == reload(other).status == Order.Status.PENDING
    assert not Payment.objects.exists()


def test_a_payment_for_no_order_of_ours_changes_nothing(api, order):
    api.payment("o20261127somebodyelse")

    result = api.sync(IMP)

    assert result.outcome == SyncOutcome.NOT_OURS
    assert not Payment.objects.exists()
    assert not api.cancels()


def test_unknown_imp_uid_raises_not_found(api, order):
    api.not_found("imp_nosuchpayment", order.merchant_uid)

    with pytest.raises(IamportNotFound) as caught:
        api.sync("imp_nosuchpayment", merchant_uid=order.merchant_uid)

    assert caught.value.message == api.not_found_message  # the provider's own words
    assert reload(order).status == Order.Status.PENDING


# V1 only: V2 refuses another payment for a paid paymentId.
def test_a_second_payment_for_a_paid_order_is_refunded_as_duplicate(iamport, order):
    iamport.payment(order.merchant_uid)
    payment_sync(imp_uid=IMP)
    second = iamport.payment(order.merchant_uid, imp_uid="imp_000000000002")
    iamport.cancel_ok(second, 12000)

    result = payment_sync(imp_uid="imp_000000000002")

    assert result.outcome == SyncOutcome.DUPLICATE
    body = iamport.body(iamport.calls("POST", "payments/cancel")[0])
    assert (body["imp_uid"], body["amount"], body["checksum"]) == ("imp_000000000002", 12000, 12000)
    order = reload(order)
    assert order.status == Order.Status.PAID and order.lines.get().product.stock == 4


def test_sold_out_while_paying_refunds_and_fails_the_order(api, order):
    product = order.lines.get().product
    product.stock = 0
    product.save()
    payment = api.payment(order.merchant_uid)
    api.cancel_ok(payment, 12000)

    result = api.sync(IMP)

    assert result.outcome == SyncOutcome.UNFULFILLABLE
    assert len(api.cancels()) == 1
    order = reload(order)
    assert order.status == Order.Status.FAILED and not order.stock_taken
    assert reload(product).stock == 0


# V1 only: V2 refuses another payment for a paid paymentId.
def test_a_forged_payment_for_a_paid_order_is_cancelled_and_the_order_stays_paid(iamport, order):
    iamport.payment(order.merchant_uid)
    payment_sync(imp_uid=IMP)
    forged = iamport.payment(order.merchant_uid, imp_uid="imp_000000000002", amount=100)
    iamport.cancel_ok(forged, 100)

    result = payment_sync(imp_uid="imp_000000000002")

    assert result.outcome == SyncOutcome.FORGED
    order = reload(order)
    assert order.status == Order.Status.PAID and order.status_message == ""


def test_a_repeated_virtual_account_notice_changes_nothing(api, order):
    api.payment(order.merchant_uid, fixture="payment_vbank_ready")
    api.sync(IMP)

    again = api.sync(IMP)

    assert again.outcome == SyncOutcome.AWAITING_DEPOSIT
    assert Payment.objects.count() == 1


# V1 only: V2 refuses another payment for a paid paymentId.
def test_a_virtual_account_for_an_order_paid_otherwise_is_cancelled(iamport, order):
    iamport.payment(order.merchant_uid)
    payment_sync(imp_uid=IMP)
    vbank = iamport.payment(
        order.merchant_uid, imp_uid="imp_000000000002", fixture="payment_vbank_ready"
    )
    iamport.cancel_ok(vbank, 12000)

    result = payment_sync(imp_uid="imp_000000000002")

    assert result.outcome == SyncOutcome.DUPLICATE
    assert (
        iamport.body(iamport.calls("POST", "payments/cancel")[0])["imp_uid"] == "imp_000000000002"
    )
    assert reload(order).status == Order.Status.PAID


def test_an_issued_virtual_account_that_fails_cancels_the_order(api, order):
    payment = api.payment(order.merchant_uid, fixture="payment_vbank_ready")
    api.sync(IMP)
    api.replace_payment(
        payment, status="failed", fail_reason="입금 기한 만료", failed_at=1764500000
    )

    result = api.sync(IMP)

    assert result.outcome == SyncOutcome.CANCELLED
    order = reload(order)
    assert (order.status, order.status_message) == (
        Order.Status.CANCELLED,
        "결제에 실패했습니다: 입금 기한 만료",
    )


def test_a_failure_reported_twice_keeps_its_first_verdict(api, order):
    api.payment(order.merchant_uid, fixture="payment_failed")
    api.sync(IMP)

    again = api.sync(IMP)

    assert again.outcome == SyncOutcome.NOT_PAID
    assert Payment.objects.get().verdict == Payment.Verdict.FAILED


# V1 only: V2 refuses another payment for a paid paymentId.
def test_a_failed_attempt_on_a_paid_order_leaves_its_message_alone(iamport, order):
    iamport.payment(order.merchant_uid)
    payment_sync(imp_uid=IMP)
    iamport.payment(order.merchant_uid, imp_uid="imp_000000000002", fixture="payment_failed")

    assert payment_sync(imp_uid="imp_000000000002").outcome == SyncOutcome.NOT_PAID
    order = reload(order)
    assert (order.status, order.status_message) == (Order.Status.PAID, "")


# V1 only: V2 refuses another payment for a paid paymentId.
def test_a_cancelled_stranger_payment_does_not_touch_a_paid_order(iamport, order):
    iamport.payment(order.merchant_uid)
    payment_sync(imp_uid=IMP)
    iamport.payment(order.merchant_uid, imp_uid="imp_000000000002", fixture="payment_cancelled")

    assert payment_sync(imp_uid="imp_000000000002").outcome == SyncOutcome.CANCELLED
    assert reload(order).status == Order.Status.PAID


def test_a_stale_reply_after_a_failure_is_ignored(api, order):
    payment = api.payment(order.merchant_uid, fixture="payment_failed")
    api.sync(IMP)
    api.replace_payment(payment, status="ready", failed_at=0)

    result = api.sync(IMP)

    assert result.outcome == SyncOutcome.NOT_PAID
    assert Payment.objects.get().status == "failed"


def test_a_forged_payment_whose_cancel_failed_is_cancelled_on_the_next_delivery(api, order):
    payment = api.payment(order.merchant_uid, amount=100)
    api.cancel_fails(payment, requests.ConnectionError("down"))

    result = api.sync(IMP)

    assert isinstance(result.cancel_error, IamportUnavailable)
    assert result.outcome == SyncOutcome.FORGED
    assert "취소하고 있습니다" in result.message  # not "cancelled" while Iamport holds the money
    assert Payment.objects.get().cancel_requested_at is None  # the claim was released
    api.cancel_ok(payment, 100)  # the API can be reached again

    order.refresh_from_db()
    assert "취소하고 있습니다" in order.status_message  # the order page says the same

    retried = api.sync(IMP)
    assert retried.outcome == SyncOutcome.FORGED
    assert retried.cancel_error is None
    assert "취소했습니다" in retried.message
    order.refresh_from_db()
    assert "취소했습니다" in order.status_message
    assert Payment.objects.get().status == "cancelled"
    assert Refund.objects.get().amount == 100


def test_refused_credentials_while_cancelling_release_the_claim(api, order):
    payment = api.payment(order.merchant_uid, amount=100)
    api.cancel_unauthorized(payment)

    result = api.sync(IMP)

    assert isinstance(result.cancel_error, IamportAuthError)
    assert Payment.objects.get().cancel_requested_at is None


def test_a_recent_claim_leaves_the_cancel_to_its_owner(api, order):
    api.payment(order.merchant_uid, amount=100)
    payment_sync_claimed = Payment.objects.create(
        imp_uid=IMP,
        api=api.name,
        order=order,
        merchant_uid=order.merchant_uid,
        amount=100,
        status="paid",
        verdict=Payment.Verdict.FORGED,
        cancel_requested_at=timezone.now(),
    )

    assert api.sync(IMP).outcome == SyncOutcome.FORGED
    assert not api.cancels()
    payment_sync_claimed.refresh_from_db()
    assert payment_sync_claimed.verdict == Payment.Verdict.FORGED


def test_the_right_number_in_another_currency_is_cancelled_as_forged(api, order):
    payment = api.payment(order.merchant_uid, currency="VND")
    api.cancel_ok(payment, 12000)

    result = api.sync(IMP, merchant_uid=order.merchant_uid)

    assert result.outcome == SyncOutcome.FORGED
    assert "VND" in Payment.objects.get().verdict_reason
    assert len(api.cancels()) == 1
    order = reload(order)
    assert order.status == Order.Status.PENDING and order.lines.get().product.stock == 5


# V1 only: two live attempts of one order (V2 shows one per paymentId).
def test_paying_by_card_while_a_virtual_account_is_open_cancels_the_account(iamport, order):
    vbank = iamport.payment(order.merchant_uid, fixture="payment_vbank_ready")
    payment_sync(imp_uid=IMP)
    iamport.payment(order.merchant_uid, imp_uid="imp_000000000002")
    iamport.cancel_ok(vbank, 12000)

    result = payment_sync(imp_uid="imp_000000000002")

    assert result.outcome == SyncOutcome.PAID
    [cancel] = iamport.calls("POST", "payments/cancel")
    assert iamport.body(cancel)["imp_uid"] == IMP  # the unfunded virtual account
    accepted = Payment.objects.filter(verdict=Payment.Verdict.ACCEPTED)
    assert [p.imp_uid for p in accepted] == ["imp_000000000002"]
    assert Payment.objects.get(imp_uid=IMP).verdict == Payment.Verdict.DUPLICATE
    assert reload(order).lines.get().product.stock == 4


# V1 only: two live attempts of one order (V2 shows one per paymentId).
def test_a_deposit_into_a_superseded_account_is_flagged_for_a_manual_refund(iamport, order):
    vbank = iamport.payment(order.merchant_uid, fixture="payment_vbank_ready")
    payment_sync(imp_uid=IMP)
    iamport.payment(order.merchant_uid, imp_uid="imp_000000000002")
    iamport.cancel_refused("가상계좌 취소 실패")  # the account could not be closed in time
    payment_sync(imp_uid="imp_000000000002")
    iamport.replace_payment(vbank, status="paid", paid_at=1764300000)
    Payment.objects.filter(imp_uid=IMP).update(cancel_requested_at=None)

    result = payment_sync(imp_uid=IMP)

    assert result.outcome == SyncOutcome.DUPLICATE
    assert len(iamport.calls("POST", "payments/cancel")) == 1  # no refund without an account
    assert "관리자 환불이 필요합니다" in Payment.objects.get(imp_uid=IMP).verdict_reason
    order = reload(order)
    assert order.status == Order.Status.PAID and order.lines.get().product.stock == 4


def test_an_overlong_virtual_account_field_is_cut_to_fit(api, order):
    api.payment(order.merchant_uid, fixture="payment_vbank_ready", vbank_name="은행" * 40)

    assert api.sync(IMP).outcome == SyncOutcome.AWAITING_DEPOSIT
    assert reload(order).deposit_bank == ("은행" * 40)[:50]


def test_a_cancel_made_in_iamports_console_gets_a_refund_record(api, order):
    payment = api.payment(order.merchant_uid)
    api.sync(IMP)
    history = [
        {
            "pg_tid": payment["pg_tid"],
            "amount": 3000,
            "cancelled_at": 1764234000,
            "reason": "콘솔에서 부분 취소",
            "cancellation_id": "",
            "receipt_url": "https://iniweb.inicis.com/receipt/cancel/1",
        }
    ]
    api.replace_payment(payment, cancel_amount=3000, cancel_history=history)

    api.sync(IMP)
    api.sync(IMP)  # seen twice, recorded once

    refund = Refund.objects.get()
    assert (refund.amount, refund.checksum, refund.status) == (3000, 12000, "succeeded")
    assert refund.reason == "콘솔에서 부분 취소" and refund.request_key is None
    assert reload(order).refunded_amount == 3000


# --- edges that each guard one rule ---------------------------------------------------------
def test_a_reply_with_less_cancelled_than_we_stored_is_stale(api, order):
    payment = api.payment(order.merchant_uid)
    api.sync(IMP)
    api.replace_payment(payment, cancel_amount=5000)
    api.sync(IMP)

    api.replace_payment(payment, cancel_amount=2000)  # an older reply, delivered late
    api.sync(IMP)

    assert Payment.objects.get().cancel_amount == 5000
    assert reload(order).refunded_amount == 5000


# V1 only: two live attempts of one order (V2 shows one per paymentId).
def test_an_account_already_closed_at_iamport_is_not_cancelled_again(iamport, order):
    vbank = iamport.payment(order.merchant_uid, fixture="payment_vbank_ready")
    payment_sync(imp_uid=IMP)
    iamport.replace_payment(vbank, status="cancelled", cancel_amount=12000)
    iamport.payment(order.merchant_uid, imp_uid="imp_000000000002")

    assert payment_sync(imp_uid="imp_000000000002").outcome == SyncOutcome.PAID
    assert not iamport.calls("POST", "payments/cancel")


# V1 only: two live attempts of one order (V2 shows one per paymentId).
def test_a_superseded_account_claimed_by_another_request_is_left_to_it(iamport, order):
    iamport.payment(order.merchant_uid, fixture="payment_vbank_ready")
    payment_sync(imp_uid=IMP)
    Payment.objects.filter(imp_uid=IMP).update(cancel_requested_at=timezone.now())
    iamport.payment(order.merchant_uid, imp_uid="imp_000000000002")

    assert payment_sync(imp_uid="imp_000000000002").outcome == SyncOutcome.PAID
    assert not iamport.calls("POST", "payments/cancel")


# V1 only: two live attempts of one order (V2 shows one per paymentId).
def test_a_superseded_account_that_cannot_be_read_does_not_undo_the_payment(iamport, order):
    iamport.payment(order.merchant_uid, fixture="payment_vbank_ready")
    payment_sync(imp_uid=IMP)
    iamport.payment(order.merchant_uid, imp_uid="imp_000000000002")
    iamport.rsps.replace(responses.GET, API + f"payments/{IMP}", body=requests.ConnectionError())

    result = payment_sync(imp_uid="imp_000000000002")

    assert result.outcome == SyncOutcome.PAID
    assert reload(order).status == Order.Status.PAID
    superseded = Payment.objects.get(imp_uid=IMP)
    assert superseded.verdict == Payment.Verdict.DUPLICATE
    assert superseded.cancel_requested_at is None  # released: reconciliation retries it
    assert not iamport.calls("POST", "payments/cancel")


def test_a_payment_partly_cancelled_before_we_saw_it_is_paid_then_partly_refunded(api, order):
    api.payment(order.merchant_uid, cancel_amount=4000)

    result = api.sync(IMP)

    assert result.outcome == SyncOutcome.REFUNDED
    order = reload(order)
    assert (order.status, order.refunded_amount) == (Order.Status.PARTIALLY_REFUNDED, 4000)


def test_a_forged_payment_partly_cancelled_already_is_cancelled_for_what_is_left(api, order):
    payment = api.payment(order.merchant_uid, amount=5000, cancel_amount=1000)
    api.cancel_ok(payment, 4000)

    result = api.sync(IMP)

    cancel = api.cancels()[0]
    assert (cancel.amount, cancel.checksum) == (4000, 4000)
    assert result.payment.status == "cancelled"  # the result shows the record after the cancel


def test_each_console_cancel_records_the_balance_it_was_made_from(api, order):
    payment = api.payment(order.merchant_uid)
    api.sync(IMP)
    entry = {"pg_tid": payment["pg_tid"], "reason": "콘솔", "receipt_url": ""}
    history = [
        {**entry, "amount": 3000, "cancelled_at": 1764234000, "cancellation_id": "c1"},
        {**entry, "amount": 2000, "cancelled_at": 1764235000, "cancellation_id": "c2"},
    ]
    api.replace_payment(payment, cancel_amount=5000, cancel_history=history)

    api.sync(IMP)

    rows = list(Refund.objects.order_by("cancellation_id").values_list("amount", "checksum"))
    assert rows == [(3000, 12000), (2000, 9000)]


def test_a_waiting_refund_is_matched_only_by_its_own_amount(api, order):
    payment = api.payment(order.merchant_uid)
    api.sync(IMP)
    waiting = Refund.objects.create(
        payment=Payment.objects.get(),
        amount=1000,
        checksum=12000,
        reason="응답 없음",
        status=Refund.Status.UNKNOWN,
    )
    history = [
        {
            "pg_tid": payment["pg_tid"],
            "amount": 3000,
            "cancelled_at": 1764234000,
            "reason": "콘솔",
            "cancellation_id": "c1",
            "receipt_url": "",
        }
    ]
    api.replace_payment(payment, cancel_amount=3000, cancel_history=history)

    api.sync(IMP)

    waiting.refresh_from_db()
    assert waiting.status == Refund.Status.UNKNOWN
    assert Refund.objects.get(cancellation_id="c1").amount == 3000


def test_the_manual_refund_note_is_added_once(api, order):
    api.payment(order.merchant_uid, fixture="payment_vbank_ready", status="paid", amount=100)

    api.sync(IMP)
    api.sync(IMP)

    reason = Payment.objects.get().verdict_reason
    assert reason.count("관리자 환불이 필요합니다") == 1
    assert not api.cancels()


# V1 only: two live attempts of one order (V2 shows one per paymentId).
def test_a_superseded_account_funded_meanwhile_is_flagged_not_cancelled(iamport, order):
    vbank = iamport.payment(order.merchant_uid, fixture="payment_vbank_ready")
    payment_sync(imp_uid=IMP)
    iamport.replace_payment(vbank, status="paid", paid_at=1764300000)  # its webhook is late
    iamport.payment(order.merchant_uid, imp_uid="imp_000000000002")

    assert payment_sync(imp_uid="imp_000000000002").outcome == SyncOutcome.PAID

    assert not iamport.calls("POST", "payments/cancel")
    superseded = Payment.objects.get(imp_uid=IMP)
    assert superseded.verdict == Payment.Verdict.DUPLICATE
    assert "관리자 환불이 필요합니다" in superseded.verdict_reason


def test_two_unanswered_refunds_of_one_amount_are_settled_oldest_first(api, order):
    payment = api.payment(order.merchant_uid)
    api.sync(IMP)
    record = Payment.objects.get()
    older, newer = (
        Refund.objects.create(
            payment=record, amount=1000, checksum=12000, reason=r, status=Refund.Status.UNKNOWN
        )
        for r in ("첫 요청", "두 번째 요청")
    )
    history = [
        {
            "pg_tid": payment["pg_tid"],
            "amount": 1000,
            "cancelled_at": 1764234000,
            "reason": "첫 요청",
            "cancellation_id": "c1",
            "receipt_url": "",
        }
    ]
    api.replace_payment(payment, cancel_amount=1000, cancel_history=history)

    api.sync(IMP)

    older.refresh_from_db()
    newer.refresh_from_db()
    assert (older.status, newer.status) == (Refund.Status.SUCCEEDED, Refund.Status.UNKNOWN)


# V1 only: two live attempts of one order (V2 shows one per paymentId).
def test_settling_an_order_leaves_its_failed_attempts_as_they_were(iamport, order):
    iamport.payment(order.merchant_uid, imp_uid="imp_000000000001", fixture="payment_failed")
    payment_sync(imp_uid="imp_000000000001")
    iamport.payment(order.merchant_uid, fixture="payment_vbank_ready")
    payment_sync(imp_uid=IMP)
    iamport.payment(order.merchant_uid, imp_uid="imp_000000000002")
    iamport.cancel_ok(load_fixture("payment_vbank_ready")["response"] | {"imp_uid": IMP}, 12000)

    payment_sync(imp_uid="imp_000000000002")

    verdicts = dict(Payment.objects.values_list("imp_uid", "verdict"))
    assert verdicts == {
        "imp_000000000001": Payment.Verdict.FAILED,
        IMP: Payment.Verdict.DUPLICATE,
        "imp_000000000002": Payment.Verdict.ACCEPTED,
    }


def test_console_cancel_balances_do_not_depend_on_the_order_iamport_lists_them(api, order):
    payment = api.payment(order.merchant_uid)
    api.sync(IMP)
    entry = {"pg_tid": payment["pg_tid"], "reason": "콘솔", "receipt_url": ""}
    newest_first = [
        {**entry, "amount": 2000, "cancelled_at": 1764235000, "cancellation_id": "c2"},
        {**entry, "amount": 3000, "cancelled_at": 1764234000, "cancellation_id": "c1"},
    ]
    api.replace_payment(payment, cancel_amount=5000, cancel_history=newest_first)

    api.sync(IMP)

    rows = list(Refund.objects.order_by("cancellation_id").values_list("amount", "checksum"))
    assert rows == [(3000, 12000), (2000, 9000)]
