"""What the admin keeps read-only and how it shows records: payment, refund and webhook
records cannot be added, changed or deleted; orders cannot be added and their money fields
cannot be edited; only web links to receipts are shown; an automatic cancel of a forged
payment is listed as such.

The `paid` fixture is in tests/payments/conftest.py, the URL and form helpers in
tests/payments/helpers.py.
"""

from __future__ import annotations

from django.urls import reverse

from payments.models import Payment, Refund, WebhookDelivery
from payments.services import SyncOutcome, payment_sync
from tests.payments.helpers import IMP_UID, change_url, refund_post, refund_url


# --- read-only records --------------------------------------------------------------------
def test_payment_and_refund_records_cannot_be_added_changed_or_deleted(admin_client, paid, iamport):
    order, remote = paid
    iamport.cancel_ok(remote, 1000)
    refund_post(admin_client, order, amount="1000")
    payment, refund = Payment.objects.get(), Refund.objects.get()
    delivery = WebhookDelivery.objects.create(imp_uid=IMP_UID)

    for model, obj in [("payment", payment), ("refund", refund), ("webhookdelivery", delivery)]:
        assert admin_client.get(reverse(f"admin:payments_{model}_add")).status_code == 403
        change = reverse(f"admin:payments_{model}_change", args=[obj.pk])
        assert admin_client.post(change, {"amount": "1"}).status_code == 403
        delete = reverse(f"admin:payments_{model}_delete", args=[obj.pk])
        assert admin_client.post(delete, {"post": "yes"}).status_code == 403
        page = admin_client.get(change).content.decode()
        assert 'name="_save"' not in page

    payment.refresh_from_db()
    assert (payment.amount, payment.cancel_amount) == (12000, 1000)
    assert Refund.objects.count() == 1


def test_orders_cannot_be_added_and_money_fields_cannot_be_edited(admin_client, paid):
    order, _ = paid
    assert admin_client.get(reverse("admin:shop_order_add")).status_code == 403
    response = admin_client.post(
        change_url(order),
        {
            "buyer_name": "홍길순",
            "buyer_email": "buyer@example.com",
            "buyer_tel": "010-1234-5678",
            "buyer_addr": "서울특별시 강남구 테헤란로 2",
            "buyer_postcode": "06236",
            "amount": "1",
            "refunded_amount": "12000",
            "status": "refunded",
            "merchant_uid": "forged",
            "lines-TOTAL_FORMS": "1",
            "lines-INITIAL_FORMS": "1",
            "payments-TOTAL_FORMS": "1",
            "payments-INITIAL_FORMS": "1",
        },
    )
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.buyer_name == "홍길순"  # contact details may be corrected
    assert (order.amount, order.refunded_amount, order.status) == (12000, 0, "paid")
    assert order.merchant_uid != "forged"
    delete = reverse("admin:shop_order_delete", args=[order.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403


# --- how records are shown ----------------------------------------------------------------
def test_only_web_links_to_receipts_are_shown(admin_client, paid):
    Payment.objects.update(receipt_url="javascript:alert(1)")
    payment = Payment.objects.get()
    page = admin_client.get(reverse("admin:payments_payment_change", args=[payment.pk]))
    assert "javascript:alert(1)" not in page.content.decode()


def test_automatic_cancel_of_a_forged_payment_is_listed_as_such(
    admin_client, order_factory, iamport
):
    order = order_factory()
    remote = iamport.payment(order.merchant_uid, imp_uid=IMP_UID, amount=100)
    iamport.cancel_ok(remote, 100)
    assert payment_sync(imp_uid=IMP_UID).outcome == SyncOutcome.FORGED

    refunds = admin_client.get(reverse("admin:payments_refund_changelist")).content.decode()
    assert "자동 (결제 검증)" in refunds
    payments = admin_client.get(reverse("admin:payments_payment_changelist")).content.decode()
    assert "위변조 의심" in payments
    assert refund_url(order) not in admin_client.get(change_url(order)).content.decode()
