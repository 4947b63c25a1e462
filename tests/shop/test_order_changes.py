"""The buyer's own changes to a pending order: another way to pay, or cancelling it.

Only the browser that placed (or looked up) the order, or its signed-in owner, may make them;
anyone else, staff included, gets the same 404 as for an order that does not exist.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from shop import services
from shop.models import Order
from tests.shop.helpers import page_messages

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(order_factory):
    return order_factory(price=12000, stock=5)


@pytest.fixture
def buyer(client, order):
    session = client.session
    session["shop_orders"] = [order.merchant_uid]
    session.save()
    return client


def change(browser: Client, order: Order, pay_method: str):
    url = reverse("shop:order_pay_method", args=[order.merchant_uid])
    return browser.post(url, {"pay_method": pay_method}, follow=True)


def cancel(browser: Client, order: Order):
    return browser.post(reverse("shop:order_cancel", args=[order.merchant_uid]), follow=True)


def test_the_buyer_pays_another_way_after_a_declined_card(buyer, order):
    response = change(buyer, order, "vbank")

    order.refresh_from_db()
    assert order.pay_method == "vbank" and order.status == Order.Status.PENDING
    assert "결제 수단을 바꿨습니다" in " ".join(page_messages(response))
    assert '"pay_method": "vbank"' in response.content.decode()  # the pay button's parameters


@pytest.mark.parametrize("pay_method", ["", "bitcoin", "vbank\x00"])
def test_a_way_of_paying_the_shop_does_not_take_changes_nothing(buyer, order, pay_method):
    response = change(buyer, order, pay_method)

    order.refresh_from_db()
    assert response.status_code in (200, 400)
    assert order.pay_method == "card"


def test_a_paid_order_keeps_its_way_of_paying_and_cannot_be_cancelled(buyer, order):
    services.order_mark_paid(order=order)

    changed = change(buyer, order, "vbank")
    cancelled = cancel(buyer, order)

    order.refresh_from_db()
    assert (order.pay_method, order.status) == ("card", Order.Status.PAID)
    assert "바꿀 수 없습니다" in " ".join(page_messages(changed))
    assert "취소할 수 없습니다" in " ".join(page_messages(cancelled))


def test_the_buyer_cancels_a_pending_order(buyer, order):
    response = cancel(buyer, order)

    order.refresh_from_db()
    html = response.content.decode()
    assert order.status == Order.Status.CANCELLED
    assert order.status_message == "주문하신 분의 요청으로 취소했습니다."
    assert 'id="pay-button"' not in html and 'id="order-options"' not in html


def test_only_the_buyer_is_offered_the_changes(buyer, order, django_user_model):
    staff = django_user_model.objects.create_user("staff", password="x", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_order"))
    staff_browser = Client()
    staff_browser.force_login(staff)

    assert 'id="order-options"' in buyer.get(order.get_absolute_url()).content.decode()
    for other in (Client(), staff_browser):
        assert 'id="order-options"' not in other.get(order.get_absolute_url()).content.decode()
        assert change(other, order, "vbank").status_code == 404
        assert cancel(other, order).status_code == 404
    order.refresh_from_db()
    assert (order.pay_method, order.status) == ("card", Order.Status.PENDING)


def test_the_signed_in_owner_may_change_it_from_another_browser(order, django_user_model):
    owner = django_user_model.objects.create_user("owner", password="x")
    Order.objects.filter(pk=order.pk).update(user=owner)
    browser = Client()
    browser.force_login(owner)

    change(browser, order, "vbank")

    order.refresh_from_db()
    assert order.pay_method == "vbank"


def test_the_changes_take_a_post(buyer, order):
    for name in ("shop:order_pay_method", "shop:order_cancel"):
        assert buyer.get(reverse(name, args=[order.merchant_uid])).status_code == 405


def test_a_payment_that_still_arrives_for_a_cancelled_order_is_given_back(buyer, order, iamport):
    from payments.services import SyncOutcome, payment_sync

    cancel(buyer, order)
    payment = iamport.payment(order.merchant_uid)  # a window left open in another tab
    iamport.cancel_ok(payment, 12000)

    result = payment_sync(imp_uid="imp_123456789012")

    assert result.outcome == SyncOutcome.DUPLICATE
    assert [iamport.body(c)["amount"] for c in iamport.calls("POST", "payments/cancel")] == [12000]
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
