"""The buyer's and the admin's journeys with the shop on PortOne V2 (PAYMENTS_API=v2), in
Chromium, paying in the local sandbox's V2 window: the order page calls
`PortOne.requestPayment`, the shop verifies through the sandbox's V2 REST paths, and the
sandbox's webhooks arrive signed.
"""

from __future__ import annotations

import re
from datetime import timedelta
from io import StringIO
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect

from payments import portone_v2
from payments.models import Payment, Refund, WebhookDelivery
from payments.services.refunds import PG_FAILED_CANCEL
from sandbox.models import SandboxCancellation
from shop.models import Order
from tests.e2e.helpers import (
    VBANK,
    expect_window_closed,
    open_payment_window,
    place_order,
    reload_until_status,
    wait_until,
    won,
)
from tests.e2e.test_admin_refund import _log_in

pytestmark = pytest.mark.e2e

# Changes the amount on its way from the order page to the payment window, as a buyer with the
# browser's devtools open could: in #pay-params, and in the request pay.js hands to
# PortOne.requestPayment.
TAMPER_WITH_AMOUNT = """amount => {
  const node = document.getElementById("pay-params");
  node.textContent = JSON.stringify({...JSON.parse(node.textContent), totalAmount: amount});
  const requestPayment = window.PortOne.requestPayment;
  window.PortOne.requestPayment = request => requestPayment({...request, totalAmount: amount});
}"""
FORGERY_MESSAGE = re.compile("결제 금액이 주문 금액과 달라 결제를 취소(했|하고 있)습니다")


@pytest.fixture(autouse=True)
def _shop_takes_v2(settings, live_server):
    settings.PAYMENTS_API = "v2"
    settings.PORTONE_API_URL = f"{live_server.url}/sandbox/portone/"
    settings.PORTONE_SDK_URL = "/sandbox/portone/v2/browser-sdk.js"
    # The sandbox's channels are TEST channels, as a real test channel is; the test runner runs
    # with DEBUG off (as pytest-django does), where the shop would refuse them.
    settings.PORTONE_ALLOW_TEST_CHANNEL = True
    portone_v2._clients.clear()
    yield
    # A call made from the test itself (sync_payments) kept its connection to the live server
    # open, and with it the server thread's database session: close both.
    for client in portone_v2._clients.values():
        client.session.close()
    portone_v2._clients.clear()


def _order(merchant_uid: str) -> Order:
    return Order.objects.get(merchant_uid=merchant_uid)


def _stock(product) -> int:
    product.refresh_from_db()
    return product.stock


def wait_for_v2_webhook(merchant_uid: str, event: str) -> WebhookDelivery:
    """The sandbox's signed `Transaction.<event>` delivery for the order, processed."""
    return wait_until(
        lambda: WebhookDelivery.objects.filter(
            api="v2",
            merchant_uid=merchant_uid,
            status_hint=event,
            outcome=WebhookDelivery.Outcome.PROCESSED,
        ).first(),
        what=f"the shop to process the signed {event} webhook of {merchant_uid}",
    )


def _paid_v2_order(new_context, product) -> tuple[Page, Order, Payment]:
    """A buyer's order of two, paid in the V2 window, its Paid webhook processed: the buyer's
    page, the order and its payment."""
    buyer = new_context().new_page()
    merchant_uid = place_order(buyer, product, quantity=2)
    open_payment_window(buyer).locator("#sandbox-approve").click()
    expect(buyer.locator("#order-status")).to_have_attribute("data-status", "paid")
    order = _order(merchant_uid)
    wait_for_v2_webhook(merchant_uid, "Paid")
    return buyer, order, Payment.objects.get(order=order)


def _submit_refund(admin: Page, reason: str, amount: int | None = None) -> None:
    """Fill the open refund form (the amount it offers unless told) and submit it."""
    if amount is not None:
        admin.locator("#id_amount").fill(str(amount))
    admin.locator("#id_reason").fill(reason)
    admin.get_by_role("button", name="환불 요청").click()


def test_card_purchase_through_portone_v2(page: Page, product, screenshot):
    merchant_uid = place_order(page, product, quantity=2)
    expect(page.locator("#pay-box")).to_have_attribute("data-api", "v2")

    window = open_payment_window(page)
    expect(window.locator("#sandbox-amount")).to_have_text("24,000원")
    screenshot(page, "v2-01-sandbox-window")
    window.locator("#sandbox-approve").click()

    expect(page.locator("#order-status")).to_have_attribute("data-status", "paid")
    expect(page.locator("#pay-button")).to_have_count(0)
    screenshot(page, "v2-02-order-paid")
    order = _order(merchant_uid)
    assert (order.status, order.amount) == (Order.Status.PAID, 24000)
    payment = Payment.objects.get(order=order)
    assert (payment.api, payment.status, payment.verdict) == ("v2", "paid", "accepted")
    assert payment.merchant_uid == merchant_uid
    assert _stock(product) == 8

    # The sandbox's signed webhook arrives too and changes nothing more.
    delivery = wait_for_v2_webhook(merchant_uid, "Paid")
    assert delivery.imp_uid == payment.imp_uid
    assert delivery.webhook_id
    assert _stock(product) == 8
    assert Payment.objects.filter(order=order).count() == 1


def test_declined_then_retried_under_the_same_payment_id(page: Page, product, screenshot):
    merchant_uid = place_order(page, product)
    message = page.locator("#pay-message")

    window = open_payment_window(page)
    window.locator("#sandbox-decline").click()
    expect_window_closed(page)
    expect(message).to_be_visible()
    expect(message).to_contain_text("카드 한도 초과")
    expect(page.locator("#pay-button")).to_be_enabled()
    screenshot(page, "v2-03-order-declined", full_page=True)
    assert _order(merchant_uid).status == Order.Status.PENDING

    window = open_payment_window(page)
    window.locator("#sandbox-close").click()
    expect_window_closed(page)
    expect(message).to_contain_text("사용자가 결제를 취소하셨습니다")
    assert _order(merchant_uid).status == Order.Status.PENDING

    window = open_payment_window(page)
    window.locator("#sandbox-approve").click()
    expect(page.locator("#order-status")).to_have_attribute("data-status", "paid")

    order = _order(merchant_uid)
    assert order.status == Order.Status.PAID
    paid = Payment.objects.get(order=order, status="paid")
    assert paid.api == "v2"
    wait_for_v2_webhook(merchant_uid, "Paid")
    assert _stock(product) == 9
    assert _order(merchant_uid).status == Order.Status.PAID


def test_virtual_account_then_deposit_in_the_console(page: Page, product, screenshot):
    merchant_uid = place_order(page, product, pay_method=VBANK)

    window = open_payment_window(page)
    expect(window.locator("#sandbox-approve")).to_have_text("가상계좌 발급")
    window.locator("#sandbox-approve").click()

    expect(page.locator("#order-status")).to_have_attribute("data-status", "awaiting_deposit")
    order = _order(merchant_uid)
    expect(page.locator("#deposit-number")).to_have_text(order.deposit_account)
    assert order.deposit_account
    # V2 names the bank by a code ("SHINHAN"); the buyer reads its name.
    assert re.search("[가-힣]", order.deposit_bank), order.deposit_bank
    expect(page.locator("#deposit-bank")).to_have_text(order.deposit_bank)
    screenshot(page, "v2-04-order-awaiting-deposit")
    payment = Payment.objects.get(order=order)

    console = page.context.new_page()
    console.goto("/sandbox/console/")
    console.get_by_role("link", name=merchant_uid).first.click()
    console.locator("#console-deposit").click()
    expect(console.locator(".sb-message--success")).to_be_visible()
    screenshot(console, "v2-05-sandbox-console-deposit")

    reload_until_status(page, "paid")
    wait_for_v2_webhook(merchant_uid, "Paid")
    order = _order(merchant_uid)
    assert order.status == Order.Status.PAID
    assert Payment.objects.get(pk=payment.pk).status == "paid"
    assert _stock(product) == 9


def test_a_tampered_amount_is_cancelled_and_the_order_stays_unpaid(
    settings, page: Page, product, screenshot
):
    # Without pre-registration nothing but the server's own check stands in the way.
    settings.IAMPORT_PREPARE = False
    merchant_uid = place_order(page, product)

    page.evaluate(TAMPER_WITH_AMOUNT, 100)
    window = open_payment_window(page)
    expect(window.locator("#sandbox-amount")).to_have_text("100원")
    window.locator("#sandbox-approve").click()

    expect_window_closed(page)
    expect(page.locator("#pay-message")).to_contain_text(FORGERY_MESSAGE)
    expect(page.locator("#order-status")).to_have_attribute("data-status", "pending")
    screenshot(page, "v2-06-tampered-amount-refused", full_page=True)
    order = _order(merchant_uid)
    payment = Payment.objects.get(order=order)
    assert (payment.api, payment.amount, payment.verdict) == ("v2", 100, "forged")
    assert Refund.objects.get(payment=payment).amount == 100
    wait_until(
        lambda: Payment.objects.get(pk=payment.pk).status == "cancelled",
        what="the forged payment to be cancelled at PortOne",
    )
    assert _order(merchant_uid).status == Order.Status.PENDING
    assert _stock(product) == 10


def test_a_pre_registered_amount_makes_the_sdk_refuse_a_tampered_one(settings, page: Page, product):
    settings.IAMPORT_PREPARE = True
    merchant_uid = place_order(page, product)

    page.evaluate(TAMPER_WITH_AMOUNT, 100)
    page.locator("#pay-button").click()

    expect(page.locator("#pay-message")).to_be_visible()
    expect(page.locator("#pay-button")).to_be_enabled()
    expect(page.locator("#sandbox-pay-overlay")).to_have_count(0)
    assert not Payment.objects.filter(order=_order(merchant_uid)).exists()


def test_mobile_payment_comes_back_through_the_redirect_url(
    new_context, playwright, product, screenshot
):
    iphone = dict(playwright.devices["iPhone 13"])
    iphone.pop("default_browser_type", None)
    page = new_context(**iphone).new_page()
    navigations: list[str] = []
    page.on(
        "request",
        lambda request: (
            request.is_navigation_request()
            and request.frame == page.main_frame
            and navigations.append(request.url)
        ),
    )
    merchant_uid = place_order(page, product)

    page.locator("#pay-button").click()
    expect(page.locator("#sandbox-approve")).to_be_visible()
    expect(page.locator("#sandbox-amount")).to_have_text(won(product.price))
    screenshot(page, "v2-07-mobile-sandbox-window")
    page.locator("#sandbox-approve").click()

    expect(page).to_have_url(re.compile(rf"/orders/{merchant_uid}/$"))
    expect(page.locator("#order-status")).to_have_attribute("data-status", "paid")
    expect(page.locator("#messages")).to_contain_text("결제가 완료되었습니다")
    screenshot(page, "v2-08-mobile-order-paid")
    redirects = [url for url in navigations if urlsplit(url).path == "/payments/complete/"]
    assert len(redirects) == 1, navigations
    assert parse_qs(urlsplit(redirects[0]).query)["paymentId"] == [merchant_uid]
    wait_for_v2_webhook(merchant_uid, "Paid")
    assert _stock(product) == 9


def test_admin_refunds_part_of_a_v2_payment_then_the_rest(
    new_context, product, staff_user, screenshot
):
    buyer, order, payment = _paid_v2_order(new_context, product)
    merchant_uid = order.merchant_uid

    admin = new_context().new_page()
    _log_in(admin, staff_user)
    admin.goto(f"/admin/shop/order/{order.pk}/change/")
    admin.locator("a.payments-refund").click()
    expect(admin.locator("#id_amount")).to_have_value("24000")
    _submit_refund(admin, "원두 1봉 파손 (부분 환불)", 5000)

    success = admin.locator("ul.messagelist li.success")
    expect(success).to_contain_text("5,000원을 환불했습니다")
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (Order.Status.PARTIALLY_REFUNDED, 5000)

    admin.locator("a.payments-refund").click()
    expect(admin.locator("#id_amount")).to_have_value("19000")
    _submit_refund(admin, "고객 요청으로 나머지 환불")
    expect(success).to_contain_text("19,000원을 환불했습니다")
    expect(admin.locator("a.payments-refund")).to_have_count(0)
    screenshot(admin, "v2-09-admin-order-refunded", full_page=True)

    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (Order.Status.REFUNDED, 24000)
    refunds = Refund.objects.filter(payment=payment).order_by("created_at", "id")
    assert [(r.amount, r.status) for r in refunds] == [(5000, "succeeded"), (19000, "succeeded")]
    assert all(r.cancellation_id for r in refunds)
    # The sandbox's signed cancel webhooks change nothing more.
    wait_for_v2_webhook(merchant_uid, "Cancelled")
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (Order.Status.REFUNDED, 24000)
    assert Refund.objects.filter(payment=payment).count() == 2

    buyer.reload()
    expect(buyer.locator("#order-status")).to_have_attribute("data-status", "refunded")


def test_a_refund_the_pg_finishes_later(new_context, product, staff_user, screenshot):
    buyer, order, payment = _paid_v2_order(new_context, product)
    merchant_uid = order.merchant_uid

    admin = new_context().new_page()
    _log_in(admin, staff_user)
    # In the sandbox's console, this payment's PG now finishes its cancels later.
    admin.goto(f"/sandbox/console/payments/{payment.imp_uid}/")
    admin.locator("#console-pg-cancels-later").click()
    expect(admin.locator("body")).to_contain_text("나중에 처리합니다")

    admin.goto(f"/admin/shop/order/{order.pk}/change/")
    admin.locator("a.payments-refund").click()
    _submit_refund(admin, "원두 1봉 파손 (부분 환불)", 5000)
    expect(admin.locator("ul.messagelist li.warning")).to_contain_text("PG사가 취소를 처리하고")
    wait_for_v2_webhook(merchant_uid, "CancelPending")
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (Order.Status.PAID, 0)
    refund = Refund.objects.get(payment=payment)
    assert (refund.status, refund.amount) == (Refund.Status.REQUESTED, 5000)

    # The refund page offers only what the PG is not already giving back.
    admin.locator("a.payments-refund").click()
    expect(admin.locator(".refund-summary")).to_contain_text("PG 처리 중인 취소")
    expect(admin.locator("#id_amount")).to_have_value("19000")
    screenshot(admin, "v2-10-admin-refund-pg-pending")

    # The PG finishes the cancel: its webhook settles the admin's refund.
    at_the_pg = SandboxCancellation.objects.get(payment__imp_uid=payment.imp_uid)
    admin.goto(f"/sandbox/console/payments/{payment.imp_uid}/")
    row = admin.locator(f'tr[data-cancellation-id="{at_the_pg.cancellation_id}"]')
    expect(row).to_have_attribute("data-status", "REQUESTED")
    row.locator(".console-finish-succeeded").click()
    expect(row).to_have_attribute("data-status", "SUCCEEDED")
    wait_for_v2_webhook(merchant_uid, "PartialCancelled")
    refund.refresh_from_db()
    order.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    assert (order.status, order.refunded_amount) == (Order.Status.PARTIALLY_REFUNDED, 5000)
    assert Refund.objects.filter(payment=payment).count() == 1
    buyer.reload()
    expect(buyer.locator("#order-status")).to_have_attribute("data-status", "partially_refunded")

    # Another refund, which the PG fails: PortOne sends nothing; reconciliation finds it.
    admin.goto(f"/admin/shop/order/{order.pk}/change/")
    admin.locator("a.payments-refund").click()
    _submit_refund(admin, "고객 요청", 3000)
    expect(admin.locator("ul.messagelist li.warning")).to_contain_text("PG사가 취소를 처리하고")
    second = Refund.objects.get(payment=payment, amount=3000)
    admin.goto(f"/sandbox/console/payments/{payment.imp_uid}/")
    row = admin.locator(f'tr[data-cancellation-id="{second.cancellation_id}"]')
    row.locator(".console-finish-failed").click()
    expect(row).to_have_attribute("data-status", "FAILED")
    Refund.objects.filter(pk=second.pk).update(created_at=second.created_at - timedelta(minutes=5))
    call_command("sync_payments", stdout=StringIO(), stderr=StringIO())
    second.refresh_from_db()
    order.refresh_from_db()
    assert (second.status, second.message) == (Refund.Status.FAILED, PG_FAILED_CANCEL)
    assert (order.status, order.refunded_amount) == (Order.Status.PARTIALLY_REFUNDED, 5000)
