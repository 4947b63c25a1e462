"""Re-syncing from Iamport in the admin, by button and by changelist action on orders and
payments: refunds made in Iamport's console reflected, Iamport errors reported, unknown
records, payments now filed under another order, orders the services refuse to move, and
orders whose payment we never heard about found by merchant_uid.

The `paid` fixture is in tests/payments/conftest.py, the URL and form helpers in
tests/payments/helpers.py.
"""

from __future__ import annotations

import pytest
import requests
import responses
from django.contrib.messages import get_messages
from django.urls import reverse

from payments.models import Payment
from shop.models import Order
from shop.services import OrderError
from tests.conftest import API, load_fixture
from tests.payments.helpers import IMP_UID, change_url, messages_of


# --- re-sync an order or a payment --------------------------------------------------------
def test_resync_button_reflects_a_refund_made_in_iamports_console(admin_client, paid, iamport):
    order, remote = paid
    iamport.replace_payment(remote, cancel_amount=3000)

    response = admin_client.post(reverse("admin:shop_order_resync", args=[order.pk]))

    assert response.status_code == 302
    assert response.url == change_url(order)
    [message] = messages_of(response)
    assert IMP_UID in message
    assert "부분 환불" in message
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (Order.Status.PARTIALLY_REFUNDED, 3000)
    assert "아임포트에서 다시 조회" in admin_client.get(change_url(order)).content.decode()


@pytest.mark.parametrize(
    ("reply", "shown"),
    [
        ({"body": requests.ConnectionError("down")}, "아임포트에서 조회하지 못했습니다"),
        (
            {"status": 404, "json": {"code": 1, "message": "존재하지 않는 결제정보입니다."}},
            "존재하지 않는 결제정보입니다.",
        ),
        ({"status": 502, "body": "<html>Bad Gateway</html>"}, "HTTP 502"),
    ],
)
def test_resync_reports_iamport_errors(admin_client, paid, iamport, reply, shown):
    order, _ = paid
    iamport.rsps.replace(responses.GET, API + f"payments/{IMP_UID}", **reply)

    response = admin_client.post(reverse("admin:shop_order_resync", args=[order.pk]))

    assert response.status_code == 302
    [message] = list(get_messages(response.wsgi_request))
    assert message.level_tag == "error"
    assert shown in str(message)
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


def test_resync_action_on_orders(admin_client, paid, order_factory, iamport):
    order, _ = paid
    unpaid = order_factory()
    iamport.find(unpaid.merchant_uid)
    response = admin_client.post(
        reverse("admin:shop_order_changelist"),
        {"action": "resync_selected", "_selected_action": [order.pk, unpaid.pk]},
    )
    assert response.status_code == 302
    shown = messages_of(response)
    assert any(IMP_UID in m and "결제 완료" in m for m in shown)
    assert f"{unpaid.merchant_uid}: 아임포트에 이 주문의 결제가 없습니다." in shown
    assert len(iamport.calls("GET", f"payments/{IMP_UID}")) == 2  # checkout + re-sync


def test_resync_action_and_button_on_payments(admin_client, paid, iamport):
    payment = Payment.objects.get()
    response = admin_client.post(
        reverse("admin:payments_payment_changelist"),
        {"action": "resync_selected", "_selected_action": [payment.pk]},
    )
    assert response.status_code == 302
    assert any("아임포트에서 다시 조회했습니다" in m for m in messages_of(response))

    iamport.rsps.replace(responses.GET, API + f"payments/{IMP_UID}", status=401, body="")
    button = reverse("admin:payments_payment_resync", args=[payment.pk])
    response = admin_client.post(button)
    assert response.status_code == 302
    assert response.url == reverse("admin:payments_payment_change", args=[payment.pk])
    assert any("조회하지 못했습니다" in m for m in messages_of(response))


def test_resync_of_an_unknown_record_redirects(admin_client, db):
    for name in ("shop_order_resync", "payments_payment_resync"):
        response = admin_client.post(reverse(f"admin:{name}", args=[999]))
        assert response.status_code == 302
        assert response.url == reverse("admin:index")


def test_resync_of_a_payment_iamport_now_files_under_another_order(admin_client, paid, iamport):
    order, remote = paid
    iamport.replace_payment(remote, merchant_uid="someone_elses_order")

    response = admin_client.post(reverse("admin:shop_order_resync", args=[order.pk]))

    [message] = list(get_messages(response.wsgi_request))
    assert message.level_tag == "warning"
    assert "이 상점의 주문이 아닙니다." in str(message)


def test_resync_reports_an_order_the_services_refuse_to_move(admin_client, paid, monkeypatch):
    order, _ = paid

    def refuse(payment):
        raise OrderError("환불 합계는 줄어들 수 없습니다.")

    monkeypatch.setattr("payments.admin.common.payment_resync", refuse)
    response = admin_client.post(reverse("admin:shop_order_resync", args=[order.pk]))

    assert response.status_code == 302
    [message] = list(get_messages(response.wsgi_request))
    assert message.level_tag == "error"
    assert "주문에 반영하지 못했습니다 — 환불 합계는 줄어들 수 없습니다." in str(message)


# --- orders whose payment we never heard about --------------------------------------------
def test_resync_of_an_order_we_never_heard_about_finds_its_payment(
    admin_client, order_factory, iamport
):
    order = order_factory(price=12000)
    found = load_fixture("payment_paid")
    found["response"].update(imp_uid="imp_000000000009", merchant_uid=order.merchant_uid)
    iamport.find(order.merchant_uid, paid=found["response"])

    response = admin_client.post(reverse("admin:shop_order_resync", args=[order.pk]))

    assert response.status_code == 302
    assert any("imp_000000000009" in m and "결제 완료" in m for m in messages_of(response))
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert order.payments.get().imp_uid == "imp_000000000009"
    # The lookup by merchant_uid answers the payment itself: it is not read again by imp_uid.
    assert len(iamport.calls("GET", f"payments/find/{order.merchant_uid}/paid")) == 1
    assert not iamport.calls("GET", "payments/imp_000000000009")


def test_resync_of_an_order_reports_iamport_failures(admin_client, order_factory, iamport):
    order = order_factory()
    iamport.find(order.merchant_uid, paid=requests.ConnectionError("down"))

    response = admin_client.post(reverse("admin:shop_order_resync", args=[order.pk]))

    assert response.status_code == 302
    assert any("아임포트에서 조회하지 못했습니다" in m for m in messages_of(response))
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING
