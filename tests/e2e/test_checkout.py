"""A buyer's journeys through checkout, in Chromium, paying in the local Iamport sandbox.

Each journey checks what the buyer sees and what the database holds: the order's status, the
stock and the payment records, also after the sandbox's webhook has been processed.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from payments.models import Payment, Refund
from sandbox.models import SandboxCancellation, SandboxPayment, SandboxPrepare
from shop.models import Order
from tests.e2e.helpers import (
    BUYER,
    CARD,
    VBANK,
    expect_pay_button_ready,
    expect_sandbox_banner,
    expect_window_closed,
    open_payment_window,
    order_page_merchant_uid,
    place_order,
    reload_until_status,
    wait_for_webhook_processed,
    won,
)

pytestmark = pytest.mark.e2e

# Changes the amount on its way from the order page to the payment window, as a buyer with the
# browser's devtools open could: in #pay-params, and in the parameter object that pay.js (which
# read #pay-params when the page loaded) hands to IMP.request_pay.
TAMPER_WITH_AMOUNT = """amount => {
  const node = document.getElementById("pay-params");
  node.textContent = JSON.stringify({...JSON.parse(node.textContent), amount});
  const requestPay = window.IMP.request_pay;
  window.IMP.request_pay = (param, callback) => {
    param.amount = amount;
    return requestPay(param, callback);
  };
}"""
# "cancelled" once Iamport confirmed it; "being cancelled" while the webhook's request, which
# crossed the browser's, is still cancelling it.
FORGERY_MESSAGE = re.compile("결제 금액이 주문 금액과 달라 결제를 취소(했|하고 있)습니다")


def _order(merchant_uid: str) -> Order:
    return Order.objects.get(merchant_uid=merchant_uid)


def _stock(product) -> int:
    product.refresh_from_db()
    return product.stock


def test_card_purchase_from_the_product_list_to_a_paid_order(page: Page, product, screenshot):
    page.goto("/")
    expect_sandbox_banner(page)
    card = page.locator(f'#product-list [data-product-id="{product.pk}"]')
    expect(card.locator(".product-price")).to_have_text("12,000원")
    screenshot(page, "01-product-list")
    card.locator("a.product-card-link").click()

    expect(page.locator("h1.product-title")).to_have_text(product.name)
    expect(page.locator(".product-price")).to_have_text("12,000원")
    expect_sandbox_banner(page)
    page.locator("#quantity").fill("2")
    page.locator("#add-to-cart button[type=submit]").click()

    expect(page).to_have_url(re.compile(r"/cart/$"))
    expect(page.locator("#cart-count")).to_have_text("2")
    expect(page.locator("#cart-total")).to_have_text("24,000원")
    expect_sandbox_banner(page)
    screenshot(page, "02-cart")
    page.get_by_role("link", name="주문하기", exact=True).click()

    expect(page).to_have_url(re.compile(r"/checkout/$"))
    expect(page.locator("#checkout-total")).to_have_text("24,000원")
    expect_sandbox_banner(page)
    for field, value in BUYER.items():
        page.locator(f"#id_{field}").fill(value)
    page.get_by_label(CARD, exact=True).check()
    screenshot(page, "03-checkout")
    page.locator("#place-order").click()

    merchant_uid = order_page_merchant_uid(page)
    expect_sandbox_banner(page)
    expect(page.locator("#messages")).to_contain_text("주문이 접수되었습니다")
    expect(page.locator("#order-amount")).to_have_text("24,000원")
    expect(page.locator("#pay-button")).to_have_text("24,000원 결제하기")
    screenshot(page, "04-order-pending")
    assert _stock(product) == 10, "stock is taken when the order is paid, not when it is placed"

    window = open_payment_window(page)
    expect(window.locator("#sandbox-amount")).to_have_text("24,000원")
    expect(window.locator("#sandbox-pay-method")).to_have_text("신용카드")
    expect(window.locator("#sandbox-item-name")).to_have_text(product.name)
    screenshot(page, "05-sandbox-window")
    window.locator("#sandbox-approve").click()

    expect(page.locator("#order-status")).to_have_attribute("data-status", "paid")
    expect(page.locator("#order-status")).to_have_text("결제 완료")
    expect(page.locator("#pay-button")).to_have_count(0)
    expect_sandbox_banner(page)
    screenshot(page, "06-order-paid")

    order = _order(merchant_uid)
    assert order.status == Order.Status.PAID
    assert order.amount == 24000
    assert order.paid_at is not None
    payment = Payment.objects.get(order=order)
    assert (payment.status, payment.verdict, payment.amount) == ("paid", "accepted", 24000)
    assert _stock(product) == 8

    # The sandbox also notified the shop by webhook: processing it must change nothing.
    wait_for_webhook_processed(payment.imp_uid, status_hint="paid")
    assert _stock(product) == 8, "stock must be taken exactly once"
    assert Payment.objects.filter(order=order).count() == 1
    assert _order(merchant_uid).status == Order.Status.PAID


def test_declined_then_closed_window_keep_the_order_payable_until_approved(
    page: Page, product, screenshot
):
    merchant_uid = place_order(page, product)
    message = page.locator("#pay-message")

    window = open_payment_window(page)
    expect(window.locator("#sandbox-decline-reason")).to_have_value("F1002")
    window.locator("#sandbox-decline").click()
    expect_window_closed(page)
    expect(message).to_be_visible()
    expect(message).to_contain_text("카드 한도 초과")
    expect(page.locator("#order-status")).to_have_attribute("data-status", "pending")
    expect(page.locator("#pay-button")).to_be_enabled()
    screenshot(page, "07-order-declined", full_page=True)
    order = _order(merchant_uid)
    assert order.status == Order.Status.PENDING
    assert "카드 한도 초과" in order.status_message

    window = open_payment_window(page)
    window.locator("#sandbox-close").click()
    expect_window_closed(page)
    expect(message).to_contain_text("사용자가 결제를 취소하셨습니다")
    expect(page.locator("#order-status")).to_have_attribute("data-status", "pending")
    assert _order(merchant_uid).status == Order.Status.PENDING
    assert _stock(product) == 10

    window = open_payment_window(page)
    window.locator("#sandbox-approve").click()
    expect(page.locator("#order-status")).to_have_attribute("data-status", "paid")

    order = _order(merchant_uid)
    assert order.status == Order.Status.PAID
    attempts = Payment.objects.filter(order=order)
    assert sorted(attempts.values_list("status", flat=True)) == ["failed", "failed", "paid"]
    paid = attempts.get(status="paid")
    wait_for_webhook_processed(paid.imp_uid, status_hint="paid")
    assert _stock(product) == 9
    assert _order(merchant_uid).status == Order.Status.PAID


def test_after_a_declined_card_the_buyer_pays_by_bank_transfer_instead(
    page: Page, product, screenshot
):
    merchant_uid = place_order(page, product)
    window = open_payment_window(page)
    window.locator("#sandbox-decline").click()
    expect_window_closed(page)
    expect(page.locator("#pay-message")).to_contain_text("카드 한도 초과")

    page.locator("#order-options summary").click()
    page.locator("#pay-method-form").get_by_label(VBANK).check()
    screenshot(page, "07b-order-pay-another-way", full_page=True)
    page.locator("#pay-method-form button[type=submit]").click()

    expect(page.locator("#messages")).to_contain_text("결제 수단을 바꿨습니다")
    expect_pay_button_ready(page)
    window = open_payment_window(page)
    expect(window.locator("#sandbox-pay-method")).to_have_text("가상계좌")
    window.locator("#sandbox-approve").click()
    expect(page.locator("#order-status")).to_have_attribute("data-status", "awaiting_deposit")
    assert _order(merchant_uid).pay_method == "vbank"


def test_virtual_account_is_paid_by_a_deposit_in_the_sandbox_console(
    page: Page, product, screenshot
):
    merchant_uid = place_order(page, product, pay_method=VBANK)

    window = open_payment_window(page)
    expect(window.locator("#sandbox-pay-method")).to_have_text("가상계좌")
    expect(window.locator("#sandbox-approve")).to_have_text("가상계좌 발급")
    window.locator("#sandbox-approve").click()

    expect(page.locator("#order-status")).to_have_attribute("data-status", "awaiting_deposit")
    account = SandboxPayment.objects.get(merchant_uid=merchant_uid)
    expect(page.locator("#deposit-account")).to_be_visible()
    expect(page.locator("#deposit-account .deposit-amount")).to_have_text("12,000원")
    expect(page.locator("#deposit-bank")).to_have_text(account.vbank_name)
    expect(page.locator("#deposit-number")).to_have_text(account.vbank_num)
    screenshot(page, "08-order-awaiting-deposit")
    order = _order(merchant_uid)
    assert order.status == Order.Status.AWAITING_DEPOSIT
    assert (order.deposit_bank, order.deposit_account) == (account.vbank_name, account.vbank_num)
    assert order.deposit_account.isdigit()
    # The deadline the shop asked for (vbank_due: 23:59 shop time) is the one the buyer sees.
    assert timezone.localtime(order.deposit_due).strftime("%H:%M") == "23:59"
    assert _stock(product) == 10

    console = page.context.new_page()
    console.goto("/sandbox/console/")
    row = console.locator(f'#console-payments tr[data-imp-uid="{account.imp_uid}"]')
    expect(row).to_contain_text("입금 대기")
    row.get_by_role("link", name=merchant_uid).click()
    expect(console.locator("#console-payment")).to_have_attribute("data-imp-uid", account.imp_uid)
    console.locator("#console-deposit").click()
    expect(console.locator(".sb-message--success")).to_contain_text("입금 처리했습니다")
    expect(console.locator("#console-payment")).to_have_attribute("data-status", "paid")
    screenshot(console, "09-sandbox-console-deposit")

    reload_until_status(page, "paid")
    expect(page.locator("#deposit-account")).to_have_count(0)
    wait_for_webhook_processed(account.imp_uid, status_hint="paid")
    order = _order(merchant_uid)
    assert order.status == Order.Status.PAID
    assert Payment.objects.get(order=order).status == "paid"
    assert _stock(product) == 9


def test_tampered_amount_is_cancelled_at_iamport_and_the_order_stays_unpaid(
    settings, page: Page, product, screenshot
):
    # Without pre-registration the sandbox SDK lets any amount through to the payment window:
    # only the server's own check stands between the tampered amount and a paid order.
    settings.IAMPORT_PREPARE = False
    merchant_uid = place_order(page, product)
    expect(page.locator("#pay-box")).to_have_attribute("data-prepare-url", "")

    page.evaluate(TAMPER_WITH_AMOUNT, 100)
    window = open_payment_window(page)
    expect(window.locator("#sandbox-amount")).to_have_text("100원")
    window.locator("#sandbox-approve").click()

    expect_window_closed(page)
    expect(page.locator("#pay-message")).to_contain_text(FORGERY_MESSAGE)
    expect(page.locator("#order-status")).to_have_attribute("data-status", "pending")
    screenshot(page, "10-order-tampered-amount-refused", full_page=True)

    order = _order(merchant_uid)
    assert order.status == Order.Status.PENDING
    assert order.paid_at is None
    payment = Payment.objects.get(order=order)
    assert (payment.amount, payment.verdict) == (100, Payment.Verdict.FORGED)
    assert Refund.objects.get(payment=payment).amount == 100
    assert _stock(product) == 10

    at_iamport = SandboxPayment.objects.get(imp_uid=payment.imp_uid)
    assert (at_iamport.status, at_iamport.cancel_amount) == ("cancelled", 100)
    cancellation = at_iamport.cancellations.get()
    assert cancellation.source == SandboxCancellation.Source.API
    assert cancellation.amount == 100

    console = page.context.new_page()
    console.goto(f"/sandbox/console/payments/{payment.imp_uid}/")
    expect(console.locator("#console-payment")).to_have_attribute("data-status", "cancelled")
    expect(console.locator("#console-amount")).to_have_text("100원")
    expect(console.locator("#console-cancel-amount")).to_have_text("100원")
    expect(console.locator("#console-cancel-history")).to_contain_text("REST API")
    screenshot(console, "11-sandbox-console-forged-payment-cancelled", full_page=True)

    # The sandbox's "paid" webhook arrives too; it must not resurrect the payment.
    wait_for_webhook_processed(payment.imp_uid, status_hint="paid")
    assert _order(merchant_uid).status == Order.Status.PENDING
    assert Payment.objects.get(order=order).verdict == Payment.Verdict.FORGED
    assert _stock(product) == 10


def test_sold_out_while_the_window_is_open_is_given_back_and_the_button_retires(
    page: Page, product, screenshot
):
    merchant_uid = place_order(page, product)
    window = open_payment_window(page)
    type(product).objects.filter(pk=product.pk).update(stock=0)  # another buyer was quicker
    window.locator("#sandbox-approve").click()

    expect_window_closed(page)
    expect(page.locator("#pay-message")).to_contain_text("품절")
    expect(page.locator("#pay-button")).to_be_disabled()  # the order is no longer payable
    screenshot(page, "12-order-sold-out-while-paying")
    page.locator("#pay-message .pay-message-action").click()

    expect(page.locator("#order-status")).to_have_attribute("data-status", "failed")
    expect(page.locator("#pay-button")).to_have_count(0)
    payment = Payment.objects.get(order=_order(merchant_uid))
    assert payment.verdict == Payment.Verdict.UNFULFILLABLE
    at_iamport = SandboxPayment.objects.get(imp_uid=payment.imp_uid)
    assert (at_iamport.status, at_iamport.cancel_amount) == ("cancelled", 12000)


def test_a_pending_order_sold_out_meanwhile_offers_no_payment(page: Page, product, screenshot):
    merchant_uid = place_order(page, product)
    type(product).objects.filter(pk=product.pk).update(stock=0)

    page.reload()

    expect(page.locator("#sold-out")).to_contain_text(product.name)
    expect(page.locator("#pay-button")).to_have_count(0)
    screenshot(page, "13-order-sold-out-before-paying")
    type(product).objects.filter(pk=product.pk).update(stock=3)  # restocked
    page.reload()
    expect(page.locator("#pay-button")).to_be_enabled()
    assert _order(merchant_uid).status == Order.Status.PENDING


def test_prepared_amount_makes_the_sdk_refuse_a_tampered_amount(
    settings, page: Page, product, screenshot
):
    settings.IAMPORT_PREPARE = True
    merchant_uid = place_order(page, product)
    expect(page.locator("#pay-box")).to_have_attribute("data-prepare-url", "/payments/prepare/")
    windows_requested = []
    page.on(
        "request",
        lambda request: (
            "/sandbox/iamport/window/" in request.url and windows_requested.append(request.url)
        ),
    )

    page.evaluate(TAMPER_WITH_AMOUNT, 100)
    page.locator("#pay-button").click()

    message = page.locator("#pay-message")
    expect(message).to_contain_text(
        "사전 등록된 결제 금액(12,000원)과 요청한 결제 금액(100원)이 다릅니다"
    )
    expect(page.locator("#pay-button")).to_be_enabled()
    expect(page.locator("#sandbox-pay-overlay")).to_have_count(0)
    screenshot(page, "12-order-tampered-amount-refused-by-sdk", full_page=True)
    assert windows_requested == [], "no payment window may open for a refused amount"
    assert len(page.frames) == 1

    assert SandboxPrepare.objects.get(merchant_uid=merchant_uid).amount == 12000
    assert not SandboxPayment.objects.filter(merchant_uid=merchant_uid).exists()
    order = _order(merchant_uid)
    assert order.status == Order.Status.PENDING
    assert not Payment.objects.filter(order=order).exists()


def test_mobile_payment_goes_through_the_whole_page_and_the_redirect(
    new_context, playwright, product, screenshot
):
    iphone = dict(playwright.devices["iPhone 13"])
    iphone.pop("default_browser_type", None)  # a WebKit default; these tests run Chromium
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
    screenshot(page, "13-mobile-order-pending")

    page.locator("#pay-button").click()
    expect(page).to_have_url(re.compile(r"/sandbox/iamport/window/[^/]+/"))
    expect(page.locator("#sandbox-amount")).to_have_text(won(product.price))
    screenshot(page, "14-mobile-sandbox-window")
    page.locator("#sandbox-approve").click()

    expect(page).to_have_url(re.compile(rf"/orders/{merchant_uid}/$"))
    expect(page.locator("#order-status")).to_have_attribute("data-status", "paid")
    expect(page.locator("#messages")).to_contain_text("결제가 완료되었습니다")
    expect_sandbox_banner(page)
    screenshot(page, "15-mobile-order-paid")

    at_iamport = SandboxPayment.objects.get(merchant_uid=merchant_uid)
    assert at_iamport.channel == "mobile"
    redirects = [url for url in navigations if urlsplit(url).path == "/payments/complete/"]
    assert len(redirects) == 1, navigations
    query = parse_qs(urlsplit(redirects[0]).query)
    assert query["imp_uid"] == [at_iamport.imp_uid]
    assert query["merchant_uid"] == [merchant_uid]

    order = _order(merchant_uid)
    assert order.status == Order.Status.PAID
    wait_for_webhook_processed(at_iamport.imp_uid, status_hint="paid")
    assert Payment.objects.filter(order=order).count() == 1
    assert _stock(product) == 9
