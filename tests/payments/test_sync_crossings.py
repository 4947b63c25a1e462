"""The sync when notifications, refunds and attempts cross: each test is one such sequence."""

from __future__ import annotations

import copy
from unittest import mock

import pytest

from payments.client import IamportClient, IamportRejected, IamportTimeout
from payments.models import Payment, Refund
from payments.services import RefundError, SyncOutcome, payment_refund, payment_sync
from shop.models import Order, Product

pytestmark = pytest.mark.django_db

IMP = "imp_123456789012"
IMP2 = "imp_000000000002"


@pytest.fixture
def order(order_factory):
    return order_factory(price=12000, stock=5, quantity=1)


@pytest.fixture
def paid(iamport, order):
    payment = iamport.payment(order.merchant_uid)
    payment_sync(imp_uid=IMP)
    order.refresh_from_db()
    return order, payment


def _with_cancel(payment: dict, amount: int, cid: str, reason: str = "반품") -> dict:
    new = copy.deepcopy(payment)
    new["cancel_amount"] += amount
    new["status"] = "cancelled" if new["cancel_amount"] >= new["amount"] else new["status"]
    new["cancel_history"] = [
        *new["cancel_history"],
        {
            "pg_tid": new["pg_tid"],
            "amount": amount,
            "cancelled_at": 1764234000 + len(new["cancel_history"]),
            "reason": reason,
            "cancellation_id": cid,
            "receipt_url": "https://iniweb.inicis.com/receipt/cancel",
        },
    ]
    return new


# --- 1. a refund settled by a concurrent re-sync is turned back into "unknown" --------------
def test_refund_confirmed_by_a_concurrent_resync_is_not_reverted_to_unknown(iamport, paid):
    order, payment = paid
    done = _with_cancel(payment, 5000, "cncl_001")

    def hung_cancel(self, **kwargs):
        # Iamport refunds; while our POST hangs, an admin's re-sync (or a console webhook for
        # another cancel, or the refund page of a second admin) reads the payment.
        iamport.replace_payment(payment, **done)
        payment_sync(imp_uid=IMP)
        raise IamportTimeout("Iamport did not answer POST payments/cancel in time")

    with mock.patch.object(IamportClient, "cancel", hung_cancel):
        try:
            refund = payment_refund(order=order, amount=5000, reason="반품", request_key="k")
        except RefundError:
            refund = Refund.objects.get(request_key="k")

    refund.refresh_from_db()
    order.refresh_from_db()
    assert order.refunded_amount == 5000  # the order knows the money went back ...
    assert refund.status == Refund.Status.SUCCEEDED, refund.status  # ... the refund says "unknown"


# --- 2. a refused refund keeps the cancellation it was wrongly matched to ------------------
def test_a_console_cancel_matched_to_an_in_flight_refund_that_is_then_refused_keeps_a_record(
    iamport, paid
):
    order, payment = paid
    console = _with_cancel(payment, 5000, "cncl_console", reason="콘솔 취소")
    iamport.replace_payment(payment, **console)  # not synced yet (webhook in flight)

    def refused(self, **kwargs):
        payment_sync(imp_uid=IMP)  # the console cancel's webhook arrives meanwhile
        raise IamportRejected("checksum 불일치", code=1, http_status=200)

    with mock.patch.object(IamportClient, "cancel", refused), pytest.raises(RefundError):
        payment_refund(order=order, amount=5000, reason="반품", request_key="k")

    ours = Refund.objects.get(request_key="k")
    assert ours.status == Refund.Status.FAILED
    succeeded = Refund.objects.filter(status=Refund.Status.SUCCEEDED)
    # Iamport holds one 5,000 cancel; our ledger must hold one succeeded refund for it.
    assert sum(r.amount for r in succeeded) == 5000, list(
        Refund.objects.values("status", "amount", "cancellation_id")
    )


# --- 3. a funded virtual account IS cancelled automatically on its first judgement ---------
def test_a_funded_virtual_account_for_an_order_paid_otherwise_is_not_auto_cancelled(iamport, order):
    iamport.payment(order.merchant_uid, imp_uid=IMP2)  # card pays the order
    payment_sync(imp_uid=IMP2)
    # The buyer's vbank deposit: the "ready" notice was never seen, the first one is "paid".
    iamport.payment(order.merchant_uid, fixture="payment_vbank_ready", status="paid")
    iamport.cancel_refused("가상계좌 환불에는 환불 계좌 정보가 필요합니다.")

    result = payment_sync(imp_uid=IMP)

    assert result.outcome == SyncOutcome.DUPLICATE
    assert "관리자 환불이 필요합니다" in Payment.objects.get(imp_uid=IMP).verdict_reason
    assert not iamport.calls("POST", "payments/cancel")  # fails: a refund without an account


def test_a_funded_virtual_account_sold_out_meanwhile_is_not_auto_cancelled(iamport, order):
    vbank = iamport.payment(order.merchant_uid, fixture="payment_vbank_ready")
    payment_sync(imp_uid=IMP)
    Product.objects.update(stock=0)
    iamport.replace_payment(vbank, status="paid", paid_at=1764300000)
    iamport.cancel_refused("가상계좌 환불에는 환불 계좌 정보가 필요합니다.")

    result = payment_sync(imp_uid=IMP)

    assert result.outcome == SyncOutcome.UNFULFILLABLE
    assert not iamport.calls("POST", "payments/cancel")


# --- 4. an attempt the shop never accepted cancels an order waiting on another's deposit ---
def test_an_unaccepted_cancelled_attempt_does_not_cancel_an_order_awaiting_a_deposit(
    iamport, order
):
    vbank = iamport.payment(order.merchant_uid, fixture="payment_vbank_ready")
    payment_sync(imp_uid=IMP)
    # A card attempt we never saw paid, cancelled in Iamport's console (webhook "cancelled").
    iamport.payment(order.merchant_uid, imp_uid=IMP2, fixture="payment_cancelled")
    payment_sync(imp_uid=IMP2)
    order.refresh_from_db()
    cancelled_by_stranger = order.status == Order.Status.CANCELLED

    # The buyer deposits into the account the order page showed.
    iamport.replace_payment(vbank, status="paid", paid_at=1764300000)
    result = payment_sync(imp_uid=IMP)
    order.refresh_from_db()
    a = Payment.objects.get(imp_uid=IMP)

    money_kept_silently = (
        order.status == Order.Status.CANCELLED
        and a.verdict == Payment.Verdict.ACCEPTED
        and "관리자 환불" not in a.verdict_reason
    )
    assert not money_kept_silently, (result.outcome, order.status, a.verdict, order.stock_taken)
    assert not cancelled_by_stranger, "order awaiting A's deposit was cancelled by attempt B"


def test_accepted_account_funded_after_its_order_was_cancelled_then_console_refund_503s(
    iamport, order, client
):
    vbank = iamport.payment(order.merchant_uid, fixture="payment_vbank_ready")
    payment_sync(imp_uid=IMP)
    iamport.payment(order.merchant_uid, imp_uid=IMP2, fixture="payment_cancelled")
    payment_sync(imp_uid=IMP2)  # order cancelled (bug 4)
    funded = iamport.replace_payment(vbank, status="paid", paid_at=1764300000)
    payment_sync(imp_uid=IMP)
    # The merchant refunds part of it from Iamport's console: webhook.
    iamport.replace_payment(funded, **_with_cancel(funded, 2000, "cncl_001"))

    reply = client.post("/payments/webhook/", {"imp_uid": IMP, "status": "cancelled"})

    assert reply.status_code == 200, reply.status_code  # 503 (IllegalTransition) on every retry


# --- 5. cancel_history order is not documented: the newest entry is taken to be the last ----
def test_a_refund_reply_listing_the_newest_cancel_first_gets_no_duplicate_record(iamport, paid):
    order, payment = paid
    first = iamport.cancel_ok(payment, 5000)
    payment_refund(order=order, amount=5000, reason="부분 반품", request_key="k1")
    second = _with_cancel(first, 3000, "cncl_002")
    second["cancel_history"].reverse()  # newest first: the spec does not say which order
    iamport.rsps.replace(
        "POST",
        "https://api.iamport.kr/payments/cancel",
        json={"code": 0, "message": None, "response": second},
    )
    iamport.replace_payment(payment, **second)

    payment_refund(order=order, amount=3000, reason="추가 반품", request_key="k2")
    payment_sync(imp_uid=IMP)  # an admin re-sync

    rows = list(Refund.objects.values_list("amount", "cancellation_id", "status"))
    assert sum(r[0] for r in rows if r[2] == "succeeded") == 8000, rows


# --- 6. README: tolerate "cancelled" with a partial cancel_amount -------------------------
def test_a_partial_cancel_reported_as_cancelled_leaves_the_rest_refundable(iamport, paid):
    order, payment = paid
    partial = _with_cancel(payment, 5000, "cncl_001")
    partial["status"] = "cancelled"  # some sources report a partial cancel this way
    iamport.replace_payment(payment, **partial)
    payment_sync(imp_uid=IMP)
    order.refresh_from_db()
    assert (order.status, order.refundable_amount) == (Order.Status.PARTIALLY_REFUNDED, 7000)
    iamport.cancel_ok(partial, 7000)

    refund = payment_refund(order=order, amount=7000, reason="나머지", request_key="k")

    assert refund.status == Refund.Status.SUCCEEDED  # RefundError: 환불할 결제가 없습니다


def test_a_partial_cancel_reported_as_cancelled_pays_a_pending_order(iamport, order):
    # Its paid webhook was lost; by the first sync 5,000 of it went back: 7,000 is still paid.
    payment = iamport.payment(order.merchant_uid)
    partial = _with_cancel(payment, 5000, "cncl_001")
    iamport.replace_payment(payment, **{**partial, "status": "cancelled"})

    payment_sync(imp_uid=IMP)

    order.refresh_from_db()
    record = Payment.objects.get()
    assert (order.status, order.refunded_amount) == (Order.Status.PARTIALLY_REFUNDED, 5000)
    assert (record.verdict, record.holds_money) == (Payment.Verdict.ACCEPTED, True)


def test_a_duplicate_partly_cancelled_and_reported_cancelled_is_given_back_in_full(iamport, paid):
    order, _ = paid
    second = iamport.payment(order.merchant_uid, imp_uid=IMP2)
    partial = iamport.replace_payment(
        second, **{**_with_cancel(second, 3000, "cncl_001"), "status": "cancelled"}
    )
    iamport.cancel_ok(partial, 9000)

    payment_sync(imp_uid=IMP2)

    cancels = iamport.calls("POST", "payments/cancel")
    assert [(iamport.body(c)["amount"], iamport.body(c)["checksum"]) for c in cancels] == [
        (9000, 9000)
    ]
    assert Payment.objects.get(imp_uid=IMP2).verdict == Payment.Verdict.DUPLICATE


def test_a_stale_paid_reply_does_not_undo_a_full_cancel_without_an_amount(iamport, paid):
    order, payment = paid
    cancelled = iamport.replace_payment(payment, status="cancelled", cancelled_at=1764234000)
    payment_sync(imp_uid=IMP)
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (Order.Status.REFUNDED, 12000)

    iamport.replace_payment(cancelled, status="paid", cancelled_at=0)  # an older read, late
    payment_sync(imp_uid=IMP)

    assert Payment.objects.get().status == "cancelled"


# --- 7. a forged payment whose cancel timed out but happened has no Refund record ---------
def test_a_forged_payment_cancelled_after_a_timeout_gets_a_refund_record(iamport, order):
    forged = iamport.payment(order.merchant_uid, amount=100)
    with mock.patch.object(IamportClient, "cancel", side_effect=IamportTimeout("slow")):
        assert isinstance(payment_sync(imp_uid=IMP).cancel_error, IamportTimeout)
    done = _with_cancel(forged, 100, "cncl_001", reason="결제 금액 불일치 (위변조 의심)")
    iamport.replace_payment(forged, **done)  # Iamport did cancel it

    payment_sync(imp_uid=IMP)  # the reconciliation command's retry

    assert Payment.objects.get().status == "cancelled"
    assert Refund.objects.filter(payment__imp_uid=IMP).count() == 1  # 0: money moved unrecorded


# --- 8. the flagged manual refund: no admin path, and its console refund leaves no record --
def test_the_manual_refund_of_a_flagged_deposit_is_recorded(iamport, order):
    iamport.payment(order.merchant_uid, imp_uid=IMP2)
    payment_sync(imp_uid=IMP2)  # card pays the order
    vbank = iamport.payment(
        order.merchant_uid, fixture="payment_vbank_ready", status="paid", paid_at=1764300000
    )
    iamport.cancel_refused("가상계좌 환불에는 환불 계좌 정보가 필요합니다.")
    payment_sync(imp_uid=IMP)  # flagged: "관리자 환불이 필요합니다"
    from payments.services import refundable_payment

    # The order's refund form would refund the card, not the flagged deposit:
    assert refundable_payment(order).imp_uid == IMP2
    # So the admin refunds the deposit in Iamport's console (with the buyer's account): webhook.
    iamport.replace_payment(vbank, **_with_cancel(vbank, 12000, "cncl_manual", "입금 환불"))
    payment_sync(imp_uid=IMP)

    assert Payment.objects.get(imp_uid=IMP).status == "cancelled"
    assert Refund.objects.filter(payment__imp_uid=IMP).count() == 1  # 0: README says every cancel


# --- 9. cancelling an unfunded account is booked as a 12,000원 refund on a paid order ------
def test_closing_an_unfunded_account_is_not_booked_as_a_refund(iamport, order):
    vbank = iamport.payment(order.merchant_uid, fixture="payment_vbank_ready")
    payment_sync(imp_uid=IMP)
    iamport.payment(order.merchant_uid, imp_uid=IMP2)
    iamport.cancel_ok(vbank, 12000)
    payment_sync(imp_uid=IMP2)
    order.refresh_from_db()

    booked = sum(
        Refund.objects.filter(payment__order=order, status="succeeded").values_list(
            "amount", flat=True
        )
    )
    assert (order.status, order.refunded_amount) == ("paid", 0)
    assert booked == order.refunded_amount, booked  # admin's 환불 내역 shows 12,000원 완료
