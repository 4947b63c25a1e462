"""The admin's intermediate refund form before anything reaches Iamport: what the page shows
and offers, amount / reason / request-key validation, the refund account a virtual-account
payment needs, won typed with separators; and which orders the form (or the changelist's
refund action) opens for at all.

The `paid` and `two_orders` fixtures are in tests/payments/conftest.py, the URL and form
helpers in tests/payments/helpers.py.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from payments.forms import RefundForm
from payments.models import Payment, Refund
from payments.services import SyncOutcome, payment_sync
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


# --- the form and its validation ----------------------------------------------------------
@pytest.fixture
def paid_vbank(order_factory, iamport):
    """A virtual-account order whose deposit has arrived."""
    order = order_factory(pay_method="vbank")
    remote = iamport.payment(
        order.merchant_uid,
        imp_uid=IMP_UID,
        fixture="payment_vbank_ready",
        status="paid",
        paid_at=1764300000,
    )
    assert payment_sync(imp_uid=IMP_UID).outcome == SyncOutcome.PAID
    order.refresh_from_db()
    return order, remote


def test_refund_page_shows_the_order_and_what_is_left(admin_client, paid):
    order, _ = paid
    response = admin_client.get(refund_url(order))
    content = response.content.decode()
    assert response.status_code == 200
    assert order.merchant_uid in content
    assert "12,000원" in content
    assert "환불 계좌" not in content  # a card payment needs no refund account
    form = response.context["form"]
    assert form.initial["amount"] == 12000
    assert len(form.initial["request_key"]) == 32
    assert form.initial["request_key"] != form_of(admin_client, order).initial["request_key"]


def test_over_refund_is_refused_without_calling_iamport(admin_client, paid, iamport):
    order, _ = paid
    response, _ = refund_post(admin_client, order, amount="12001")

    assert response.status_code == 200
    assert "환불 가능 잔액 12,000원보다 큽니다" in response.content.decode()
    assert iamport.calls(*CANCEL) == []
    assert not Refund.objects.exists()
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (Order.Status.PAID, 0)


@pytest.mark.parametrize(
    ("amount", "error"),
    [
        ("1000.5", "원 단위의 정수"),
        ("천원", "원 단위의 정수"),
        ("", "필수 항목입니다"),
        ("0", "1원 이상"),
        ("-500", "1원 이상"),
    ],
)
def test_bad_amounts_are_form_errors(admin_client, paid, iamport, amount, error):
    order, _ = paid
    response, _ = refund_post(admin_client, order, amount=amount)

    assert response.status_code == 200
    assert error in response.content.decode()
    assert iamport.calls(*CANCEL) == []
    assert not Refund.objects.exists()


def test_a_reason_is_required(admin_client, paid, iamport):
    order, _ = paid
    response, _ = refund_post(admin_client, order, reason="   ")
    assert response.status_code == 200
    assert "환불 사유를 입력해 주세요." in response.content.decode()
    assert iamport.calls(*CANCEL) == []


def test_a_tampered_request_key_is_refused(admin_client, paid, iamport):
    order, _ = paid
    response, _ = refund_post(admin_client, order, key="not-a-key")
    assert response.status_code == 200
    assert "잘못된 요청입니다" in response.content.decode()
    assert iamport.calls(*CANCEL) == []


def test_virtual_account_refund_asks_for_the_refund_account(admin_client, paid_vbank, iamport):
    order, remote = paid_vbank
    iamport.cancel_ok(remote, 12000)

    page = admin_client.get(refund_url(order)).content.decode()
    assert "환불 계좌 (가상계좌 결제)" in page
    assert 'name="refund_bank"' in page

    missing, _ = refund_post(admin_client, order)
    assert missing.status_code == 200
    assert set(missing.context["form"].errors) == {
        "refund_holder",
        "refund_bank",
        "refund_account",
        "refund_tel",
    }
    assert iamport.calls(*CANCEL) == []

    response, _ = refund_post(
        admin_client,
        order,
        refund_holder="홍길동",
        refund_bank="088",
        refund_account="110-123-456789",
        refund_tel="010-1234-5678",
    )

    assert response.status_code == 302
    [call] = iamport.calls(*CANCEL)
    body = iamport.body(call)
    assert body["refund_holder"] == "홍길동"
    assert body["refund_bank"] == "088"
    assert body["refund_account"] == "110123456789"
    assert body["refund_tel"] == "010-1234-5678"
    assert (body["amount"], body["checksum"]) == (12000, 12000)
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED


def test_refund_account_number_must_be_digits(admin_client, paid_vbank, iamport):
    order, _ = paid_vbank
    response, _ = refund_post(
        admin_client,
        order,
        refund_holder="홍길동",
        refund_bank="088",
        refund_account="계좌번호",
        refund_tel="010-1234-5678",
    )
    assert response.status_code == 200
    assert "6~20자리 숫자" in response.content.decode()
    assert iamport.calls(*CANCEL) == []


@pytest.mark.parametrize("typed", [" 3,000원 ", "3000", 3000])
def test_form_reads_won_with_separators(typed):
    form = RefundForm(
        {"amount": typed, "reason": "x", "request_key": "b" * 32},
        refundable=5000,
        needs_refund_account=False,
    )
    assert form.is_valid(), form.errors
    assert form.cleaned_data["amount"] == 3000
    assert form.refund_account_details() is None


# --- which orders the form opens for ------------------------------------------------------
@pytest.mark.parametrize("status", ["pending", "awaiting_deposit", "cancelled", "failed"])
def test_non_refundable_order_is_refused(admin_client, order_factory, iamport, status):
    order = order_factory()
    Order.objects.filter(pk=order.pk).update(status=status)

    for response in (
        admin_client.get(refund_url(order)),
        admin_client.post(
            refund_url(order),
            {"amount": "1000", "reason": "x", "request_key": "a" * 32},
        ),
    ):
        assert response.status_code == 302
        assert response.url == change_url(order)
        assert any("상태의 주문은 환불할 수 없습니다" in m for m in messages_of(response))
    assert iamport.calls(*CANCEL) == []


def test_fully_refunded_order_is_refused(admin_client, paid, iamport):
    order, remote = paid
    iamport.cancel_ok(remote, 12000)
    refund_post(admin_client, order)

    response = admin_client.get(refund_url(order))
    assert response.status_code == 302
    assert any("'환불 완료' 상태의 주문은" in m for m in messages_of(response))
    assert refund_url(order) not in admin_client.get(change_url(order)).content.decode()


def test_paid_order_without_an_accepted_payment_is_refused(admin_client, paid, iamport):
    order, _ = paid
    Payment.objects.update(verdict=Payment.Verdict.PENDING)
    response = admin_client.get(refund_url(order))
    assert response.status_code == 302
    assert "이 주문에는 환불할 결제가 없습니다." in messages_of(response)


def test_unknown_order_redirects_to_the_admin(admin_client, db):
    response = admin_client.get(reverse("admin:shop_order_refund", args=[999]))
    assert response.status_code == 302
    assert response.url == reverse("admin:index")


def test_refund_action_opens_the_form_for_one_order(admin_client, two_orders):
    order, other = two_orders
    url = reverse("admin:shop_order_changelist")

    one = admin_client.post(url, {"action": "refund_selected", "_selected_action": [order.pk]})
    assert one.status_code == 302
    assert one.url == refund_url(order)

    both = admin_client.post(
        url, {"action": "refund_selected", "_selected_action": [order.pk, other.pk]}
    )
    assert both.status_code == 302
    assert "환불할 주문을 하나만 선택해 주세요." in messages_of(both)
