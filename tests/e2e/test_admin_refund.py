"""A staff member refunds a paid order through the admin: part of it, then the rest."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from payments.models import Payment, Refund
from sandbox.models import SandboxPayment
from shop.models import Order
from tests.e2e.helpers import (
    STAFF_PASSWORD,
    open_payment_window,
    place_order,
    wait_for_webhook_processed,
)

pytestmark = pytest.mark.e2e


def _log_in(page: Page, user) -> None:
    page.goto("/admin/login/?next=/admin/")
    page.locator("#id_username").fill(user.get_username())
    page.locator("#id_password").fill(STAFF_PASSWORD)
    page.locator("#login-form [type=submit]").click()
    expect(page).to_have_url(re.compile(r"/admin/$"))


def test_admin_refunds_part_of_a_paid_order_then_the_rest(
    new_context, product, staff_user, screenshot
):
    buyer = new_context().new_page()
    merchant_uid = place_order(buyer, product, quantity=2)
    open_payment_window(buyer).locator("#sandbox-approve").click()
    expect(buyer.locator("#order-status")).to_have_attribute("data-status", "paid")
    order = Order.objects.get(merchant_uid=merchant_uid)
    payment = Payment.objects.get(order=order)
    # Let the sandbox's "paid" webhook land first, so that it cannot overtake a refund.
    wait_for_webhook_processed(payment.imp_uid, status_hint="paid")

    admin = new_context().new_page()
    _log_in(admin, staff_user)
    admin.goto("/admin/shop/order/")
    admin.get_by_role("link", name=order.number).click()  # the list shows the short number
    expect(admin).to_have_url(re.compile(rf"/admin/shop/order/{order.pk}/change/$"))
    expect(admin.locator("a.payments-refund")).to_be_visible()
    screenshot(admin, "16-admin-order-paid")

    admin.locator("a.payments-refund").click()
    expect(admin.locator(".refund-summary")).to_contain_text("24,000원")
    expect(admin.locator("#id_amount")).to_have_value("24000")
    admin.locator("#id_amount").fill("5000")
    admin.locator("#id_reason").fill("원두 1봉 파손 (부분 환불)")
    screenshot(admin, "17-admin-refund-form")
    admin.get_by_role("button", name="환불 요청").click()

    success = admin.locator("ul.messagelist li.success")
    expect(success).to_contain_text("5,000원을 환불했습니다")
    expect(success).to_contain_text("부분 환불")
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (Order.Status.PARTIALLY_REFUNDED, 5000)
    at_iamport = SandboxPayment.objects.get(imp_uid=payment.imp_uid)
    assert (at_iamport.status, at_iamport.cancel_amount) == ("paid", 5000)

    admin.locator("a.payments-refund").click()
    expect(admin.locator("#id_amount")).to_have_value("19000")  # the form offers what is left
    admin.locator("#id_reason").fill("고객 요청으로 나머지 환불")
    admin.get_by_role("button", name="환불 요청").click()

    expect(success).to_contain_text("19,000원을 환불했습니다")
    expect(success).to_contain_text("환불 완료")
    expect(admin.locator("a.payments-refund")).to_have_count(0)
    screenshot(admin, "18-admin-order-refunded", full_page=True)

    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (Order.Status.REFUNDED, order.amount)
    refunds = Refund.objects.filter(payment=payment).order_by("created_at", "id")
    assert [(r.amount, r.status) for r in refunds] == [(5000, "succeeded"), (19000, "succeeded")]
    at_iamport.refresh_from_db()
    assert at_iamport.status == SandboxPayment.Status.CANCELLED
    assert at_iamport.cancel_amount == order.amount == 24000
    assert at_iamport.cancellations.count() == 2

    console = admin.context.new_page()
    console.goto(f"/sandbox/console/payments/{payment.imp_uid}/")
    expect(console.locator("#console-payment")).to_have_attribute("data-status", "cancelled")
    expect(console.locator("#console-cancel-amount")).to_have_text("24,000원")
    expect(console.locator("#console-cancel-history tbody tr")).to_have_count(2)
    screenshot(console, "19-sandbox-console-refunded")

    buyer.reload()
    expect(buyer.locator("#order-status")).to_have_attribute("data-status", "refunded")
    expect(buyer.locator("#order-refunded")).to_have_text("−24,000원")
    screenshot(buyer, "20-order-refunded")
