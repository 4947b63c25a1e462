"""Submitting the admin's refund form: partial then full refunds sent to Iamport with the
checksum and recorded on the order; Iamport's refusals shown without changing anything;
refunds made in Iamport's console meanwhile; double and simultaneous submits refunding once.

The `paid` fixture is in tests/payments/conftest.py, the URL and form helpers in
tests/payments/helpers.py.
"""

from __future__ import annotations

from payments.models import Payment, Refund
from payments.services import RefundAlreadyRequested
from shop.models import Order
from tests.payments.helpers import (
    CANCEL,
    IMP_UID,
    change_url,
    form_of,
    messages_of,
    refund_post,
    refund_url,
)


# --- refunds that go through --------------------------------------------------------------
def test_partial_then_full_refund_through_the_form(admin_client, paid, iamport):
    order, remote = paid
    after_first = iamport.cancel_ok(remote, 5000, reason="부분 환불")

    response, _ = refund_post(admin_client, order, amount="5,000", reason="부분 환불")

    assert response.status_code == 302
    assert response.url == change_url(order)
    [call] = iamport.calls(*CANCEL)
    assert iamport.body(call) == {
        "imp_uid": IMP_UID,
        "merchant_uid": order.merchant_uid,
        "amount": 5000,
        "checksum": 12000,
        "reason": "부분 환불",
    }
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (Order.Status.PARTIALLY_REFUNDED, 5000)
    refund = Refund.objects.get()
    assert (refund.amount, refund.checksum, refund.status) == (5000, 12000, "succeeded")
    assert refund.requested_by.username == "admin"
    assert refund.cancellation_id == "cncl_001"
    assert any("5,000원을 환불했습니다" in m and "부분 환불" in m for m in messages_of(response))

    iamport.cancel_ok(after_first, 7000, reason="나머지 환불")
    assert form_of(admin_client, order).initial["amount"] == 7000
    response, _ = refund_post(admin_client, order, reason="나머지 환불")

    assert response.status_code == 302
    second = iamport.calls(*CANCEL)[1]
    assert iamport.body(second) == {
        "imp_uid": IMP_UID,
        "merchant_uid": order.merchant_uid,
        "amount": 7000,
        "checksum": 7000,
        "reason": "나머지 환불",
    }
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (Order.Status.REFUNDED, 12000)
    assert Refund.objects.filter(status="succeeded").count() == 2
    assert Payment.objects.get().status == Payment.Status.CANCELLED
    assert any("환불 완료" in m for m in messages_of(response))


# --- Iamport refuses, or was changed meanwhile --------------------------------------------
def test_iamport_rejection_is_shown_and_changes_nothing(admin_client, paid, iamport):
    order, _ = paid
    iamport.cancel_refused("취소가능 금액을 초과했습니다.")

    response, used_key = refund_post(admin_client, order, amount="3000", reason="불량")

    assert response.status_code == 200
    assert any("취소가능 금액을 초과했습니다." in m for m in messages_of(response))
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (Order.Status.PAID, 0)
    assert Payment.objects.get().cancel_amount == 0
    assert not Refund.objects.filter(status="succeeded").exists()
    # The form comes back as typed, with a fresh key: the refused one has been spent.
    form = response.context["form"]
    assert (form.initial["amount"], form.initial["reason"]) == (3000, "불량")
    assert form.initial["request_key"] != used_key


def test_refund_made_elsewhere_meanwhile_is_refused_and_figures_refreshed(
    admin_client, paid, iamport
):
    """Someone refunded 3,000 won in Iamport's console after the form was opened: Iamport
    refuses the stale checksum, the figures are re-read and the form offers what is left."""
    order, remote = paid
    form = form_of(admin_client, order)
    iamport.replace_payment(remote, cancel_amount=3000)
    iamport.cancel_refused("요청하신 checksum이 취소가능금액과 일치하지 않습니다.")

    response = admin_client.post(
        refund_url(order),
        {"amount": "12000", "reason": "전액 환불", "request_key": form.initial["request_key"]},
    )

    assert response.status_code == 200
    assert any("checksum" in m for m in messages_of(response))
    assert iamport.body(iamport.calls(*CANCEL)[0])["checksum"] == 12000
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (Order.Status.PARTIALLY_REFUNDED, 3000)
    assert response.context["form"].initial["amount"] == 9000
    assert "9,000원" in response.content.decode()


def test_refund_after_a_full_cancel_in_the_console_ends_on_the_order_page(
    admin_client, paid, iamport
):
    order, remote = paid
    form = form_of(admin_client, order)
    iamport.replace_payment(remote, cancel_amount=12000, status="cancelled")
    iamport.cancel_refused("이미 전액취소된 주문입니다.")

    response = admin_client.post(
        refund_url(order),
        {"amount": "5000", "reason": "환불", "request_key": form.initial["request_key"]},
    )

    assert response.status_code == 302
    assert response.url == change_url(order)
    shown = messages_of(response)
    assert any("이미 전액취소된 주문입니다." in m for m in shown)
    assert any("'환불 완료' 상태의 주문은 환불할 수 없습니다." in m for m in shown)
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED


# --- double submits -----------------------------------------------------------------------
def test_double_submit_refunds_once(admin_client, paid, iamport):
    order, remote = paid
    iamport.cancel_ok(remote, 5000)

    first, key = refund_post(admin_client, order, amount="5000")
    second = admin_client.post(
        refund_url(order), {"amount": "5000", "reason": "고객 요청", "request_key": key}
    )

    assert first.status_code == second.status_code == 302
    assert len(iamport.calls(*CANCEL)) == 1
    assert any("이미 처리된 환불 요청입니다" in m for m in messages_of(second))
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (Order.Status.PARTIALLY_REFUNDED, 5000)
    assert Refund.objects.count() == 1


def test_double_submit_of_a_full_refund_is_named_a_duplicate(admin_client, paid, iamport):
    order, remote = paid
    iamport.cancel_ok(remote, 12000)

    _, key = refund_post(admin_client, order)
    second = admin_client.post(
        refund_url(order), {"amount": "12000", "reason": "고객 요청", "request_key": key}
    )

    assert len(iamport.calls(*CANCEL)) == 1
    assert any("이미 처리된 환불 요청입니다" in m for m in messages_of(second))
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED


def test_simultaneous_submits_that_race_past_the_check_are_reported(
    admin_client, paid, monkeypatch
):
    order, _ = paid

    def already(**kwargs):
        raise RefundAlreadyRequested("이미 처리된 환불 요청입니다 (중복 제출).")

    monkeypatch.setattr("payments.admin.orders.payment_refund", already)
    response, _ = refund_post(admin_client, order)
    assert response.status_code == 302
    assert any("이미 처리된 환불 요청입니다" in m for m in messages_of(response))
