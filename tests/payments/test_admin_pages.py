"""The admin's pages render: the index, every changelist and change page with data (prices
in won, product images, pretty-printed Iamport replies), an unreadable webhook body, an unpaid
order without a refund button; and finding orders and payments by search and filters.

The `paid` and `two_orders` fixtures are in tests/payments/conftest.py, the URL and form
helpers in tests/payments/helpers.py.
"""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from payments.models import Payment, Refund, WebhookDelivery
from shop.models import Product
from tests.payments.helpers import IMP_UID, change_url, refund_post, refund_url


# --- pages render -------------------------------------------------------------------------
def png() -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "teal").save(buffer, "PNG")
    return SimpleUploadedFile("beans.png", buffer.getvalue(), content_type="image/png")


def test_index_shows_the_shop_header(admin_client):
    response = admin_client.get(reverse("admin:index"))
    assert response.status_code == 200
    assert "아임포트 상점 관리" in response.content.decode()


@pytest.mark.parametrize(
    ("changelist", "title"),
    [("payment", "조회할 결제 선택"), ("refund", "조회할 환불 선택")],
)
def test_a_list_the_admin_may_only_look_at_is_titled_in_plain_korean(
    admin_client, changelist, title
):
    html = admin_client.get(reverse(f"admin:payments_{changelist}_changelist")).content.decode()

    assert f"<h1>{title}</h1>" in html
    assert "보기위한" not in html  # Django's own Korean for it


def test_every_changelist_and_change_page_renders_with_data(admin_client, paid, iamport):
    order, remote = paid
    iamport.cancel_ok(remote, 2000)
    refund_post(admin_client, order, amount="2000")
    product = Product.objects.get()
    product.image = png()
    product.save()
    Product.objects.create(name="드립백 10개입", price=9000, stock=0, is_active=False)
    delivery = WebhookDelivery.objects.create(
        remote_addr="52.78.100.19",
        headers={"Content-Type": "application/json"},
        body=f'{{"imp_uid": "{IMP_UID}", "merchant_uid": "{order.merchant_uid}"}}',
        imp_uid=IMP_UID,
        merchant_uid=order.merchant_uid,
        status_hint="paid",
        outcome=WebhookDelivery.Outcome.PROCESSED,
    )
    payment, refund = Payment.objects.get(), Refund.objects.get()

    pages = {
        reverse("admin:shop_product_changelist"): ["12,000원", "<img", "9,000원"],
        reverse("admin:shop_product_change", args=[product.pk]): ["<img"],
        reverse("admin:shop_order_changelist"): [order.number, "12,000원", "환불 2,000원"],
        change_url(order): [IMP_UID, "부분 환불", "환불 내역", "고객 요청", "10,000원"],
        reverse("admin:payments_payment_changelist"): [IMP_UID, order.number, order.merchant_uid],
        reverse("admin:payments_payment_change", args=[payment.pk]): [
            "StdpayCARDINIpayTest",  # pretty-printed raw reply
            "&quot;card_name&quot;: &quot;BC카드&quot;",
            "2,000원",
        ],
        reverse("admin:payments_refund_changelist"): [IMP_UID, "2,000원"],
        reverse("admin:payments_refund_change", args=[refund.pk]): ["cncl_001", "12,000원"],
        reverse("admin:payments_webhookdelivery_changelist"): [IMP_UID, "52.78.100.19"],
        reverse("admin:payments_webhookdelivery_change", args=[delivery.pk]): [
            "&quot;merchant_uid&quot;",
            "Content-Type",
        ],
    }
    for url, expected in pages.items():
        response = admin_client.get(url)
        assert response.status_code == 200, url
        content = response.content.decode()
        for text in expected:
            assert text in content, (url, text)


def test_webhook_delivery_with_unreadable_body_renders(admin_client, db):
    delivery = WebhookDelivery.objects.create(
        body="<html>not json</html>", outcome=WebhookDelivery.Outcome.REJECTED
    )
    response = admin_client.get(
        reverse("admin:payments_webhookdelivery_change", args=[delivery.pk])
    )
    assert response.status_code == 200
    assert "&lt;html&gt;not json&lt;/html&gt;" in response.content.decode()


def test_order_page_of_an_unpaid_order_has_no_refund_button(admin_client, order_factory):
    order = order_factory()
    response = admin_client.get(change_url(order))
    content = response.content.decode()
    assert response.status_code == 200
    assert "환불 내역이 없습니다." in content
    assert refund_url(order) not in content


# --- search -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "query",
    ["merchant_uid", IMP_UID, "홍길동", "buyer@example.com", "010-1234-5678"],
)
def test_orders_are_found_by_merchant_uid_imp_uid_and_buyer(admin_client, two_orders, query):
    order, _ = two_orders
    query = order.merchant_uid if query == "merchant_uid" else query
    response = admin_client.get(reverse("admin:shop_order_changelist"), {"q": query})
    assert list(response.context["cl"].result_list) == [order]


@pytest.mark.parametrize("query", ["merchant_uid", IMP_UID, "홍길동"])
def test_payments_are_found_by_imp_uid_merchant_uid_and_buyer(admin_client, two_orders, query):
    order, _ = two_orders
    query = order.merchant_uid if query == "merchant_uid" else query
    response = admin_client.get(reverse("admin:payments_payment_changelist"), {"q": query})
    assert [p.imp_uid for p in response.context["cl"].result_list] == [IMP_UID]
    response = admin_client.get(reverse("admin:payments_payment_changelist"), {"q": "김철수"})
    assert list(response.context["cl"].result_list) == []


def test_orders_filter_by_status_and_pay_method(admin_client, two_orders):
    order, other = two_orders
    url = reverse("admin:shop_order_changelist")
    assert list(admin_client.get(url, {"status": "paid"}).context["cl"].result_list) == [order]
    response = admin_client.get(url, {"pay_method": "trans"})
    assert list(response.context["cl"].result_list) == [other]
    assert "실시간 계좌이체" in response.content.decode()


@pytest.mark.parametrize("selected", ["javascript:alert(1)", "1" * 1000, "", "1.5", "-1", "１"])
@pytest.mark.parametrize("changelist", ["shop/order", "shop/product", "payments/payment"])
def test_an_action_posted_with_ids_that_are_not_ids_is_400(admin_client, selected, changelist):
    response = admin_client.post(
        f"/admin/{changelist}/",
        {"action": "delete_selected", "_selected_action": [selected], "index": "0"},
    )

    assert response.status_code == 400


def test_a_search_term_too_long_for_the_database_is_cut(admin_client, order_factory):
    order = order_factory()

    response = admin_client.get("/admin/shop/order/", {"q": order.merchant_uid + "x" * 20_000})

    assert response.status_code == 200
