"""What the journeys do again and again: shop as a buyer, pay in the sandbox window, wait.

Waiting is always bounded and never a fixed sleep: Playwright's `expect` retries until its
timeout, and `wait_until` polls the database (or reloads a page) until a deadline.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import TypeVar

from playwright.sync_api import FrameLocator, Page, expect

TIMEOUT_MS = 15_000  # Playwright's default for every action and assertion here
WAIT_SECONDS = 15.0  # for what happens behind the page (webhooks)
POLL_SECONDS = 0.1

BUYER = {
    "buyer_name": "홍길동",
    "buyer_email": "buyer@example.com",
    "buyer_tel": "010-1234-5678",
    "buyer_postcode": "06236",
    "buyer_addr": "서울특별시 강남구 테헤란로 1",
}
STAFF_PASSWORD = "e2e-staff-password"
CARD = "신용카드"
VBANK = "가상계좌 (무통장입금)"

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], *, what: str, timeout: float = WAIT_SECONDS) -> T:
    """Poll `predicate` until it returns something truthy; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"Timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(POLL_SECONDS)


def won(amount: int) -> str:
    """The shop's (and the sandbox's) way of showing an amount: 12000 -> "12,000원"."""
    return f"{amount:,}원"


def expect_sandbox_banner(page: Page) -> None:
    expect(page.locator("#sandbox-banner")).to_be_visible()
    expect(page.locator("#sandbox-banner")).to_contain_text("SANDBOX")


def place_order(page: Page, product, *, quantity: int = 1, pay_method: str = CARD) -> str:
    """Product page -> cart -> checkout as the buyer; returns the new order's merchant_uid.

    Ends on the order page of the pending order, once its pay button is ready.
    """
    page.goto(product.get_absolute_url())
    page.locator("#quantity").fill(str(quantity))
    page.locator("#add-to-cart button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/cart/$"))
    page.get_by_role("link", name="주문하기").click()
    fill_checkout(page, pay_method=pay_method)
    merchant_uid = order_page_merchant_uid(page)
    expect_pay_button_ready(page)
    return merchant_uid


def expect_pay_button_ready(page: Page) -> None:
    """The Iamport script loads without blocking the page: pay.js enables the button only once
    `window.IMP` exists, so anything that touches `window.IMP` waits for this first."""
    expect(page.locator("#pay-button")).to_be_enabled()


def fill_checkout(page: Page, *, pay_method: str) -> None:
    expect(page).to_have_url(re.compile(r"/checkout/$"))
    for field, value in BUYER.items():
        page.locator(f"#id_{field}").fill(value)
    page.get_by_label(pay_method, exact=True).check()
    page.locator("#place-order").click()


def order_page_merchant_uid(page: Page) -> str:
    expect(page.locator("#order-status")).to_have_attribute("data-status", "pending")
    merchant_uid = page.locator("#merchant-uid").inner_text().strip()
    expect(page).to_have_url(re.compile(rf"/orders/{merchant_uid}/$"))
    return merchant_uid


def open_payment_window(page: Page) -> FrameLocator:
    """Click the pay button and wait for the sandbox's payment window (the desktop iframe)."""
    page.locator("#pay-button").click()
    window = page.frame_locator("#sandbox-pay-frame")
    expect(window.locator("#sandbox-approve")).to_be_visible()
    return window


def expect_window_closed(page: Page) -> None:
    expect(page.locator("#sandbox-pay-frame")).to_have_count(0)


def reload_until_status(page: Page, status: str, *, timeout: float = WAIT_SECONDS) -> None:
    """Reload the page until `#order-status` shows `status` (what a buyer would do)."""

    def shows_status() -> bool:
        page.reload()
        return page.locator("#order-status").get_attribute("data-status") == status

    wait_until(shows_status, what=f"the order page to say {status!r}", timeout=timeout)
    expect(page.locator("#order-status")).to_have_attribute("data-status", status)


def wait_for_webhook_processed(imp_uid: str, *, status_hint: str) -> None:
    """Wait until the shop has processed the sandbox's `status_hint` webhook for `imp_uid`."""
    from payments.models import WebhookDelivery

    wait_until(
        lambda: WebhookDelivery.objects.filter(
            imp_uid=imp_uid,
            status_hint=status_hint,
            outcome=WebhookDelivery.Outcome.PROCESSED,
        ).exists(),
        what=f"the shop to process the {status_hint!r} webhook of {imp_uid}",
    )
