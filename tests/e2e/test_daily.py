"""Journeys of a shop in daily use, in Chromium: a buyer who finds their order again from a
second browser and pays it there, and an English-speaking buyer's whole purchase.
"""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from playwright.sync_api import Page, expect

from payments.models import Payment
from shop.models import Order, OutgoingMail
from tests.e2e.helpers import (
    BUYER,
    CARD,
    expect_pay_button_ready,
    open_payment_window,
    order_page_merchant_uid,
    place_order,
    wait_for_webhook_processed,
)

pytestmark = pytest.mark.e2e

HANGUL = re.compile(r"[\uac00-\ud7a3]")


def test_a_guest_finds_the_order_from_a_second_browser_and_pays_it_there(
    page: Page, new_context, product, screenshot
):
    merchant_uid = place_order(page, product)
    number = Order.objects.get(merchant_uid=merchant_uid).number
    expect(page.locator("body")).to_contain_text(number)

    other = new_context().new_page()  # another device: no session, no cookie of the first
    other.goto(f"/orders/{merchant_uid}/")
    expect(other.locator("#pay-button")).to_have_count(0)  # a stranger with the link
    other.goto("/")
    other.locator("#order-lookup-link").click()
    expect(other).to_have_url(re.compile(r"/orders/lookup/"))

    other.locator("#id_number").fill(number.replace("-", " ").lower())
    other.locator("#id_contact").fill("someone-else@example.com")
    other.locator("#lookup-submit").click()
    expect(other.locator("#lookup-errors")).to_be_visible()
    expect(other).to_have_url(re.compile(r"/orders/lookup/"))

    other.locator("#id_number").fill(number)
    other.locator("#id_contact").fill(BUYER["buyer_tel"].replace("-", ""))
    other.locator("#lookup-submit").click()
    expect(other).to_have_url(re.compile(rf"/orders/{merchant_uid}/$"))
    expect_pay_button_ready(other)
    screenshot(other, "daily-01-found-from-another-browser")

    window = open_payment_window(other)
    window.locator("#sandbox-approve").click()
    expect(other.locator("#order-status")).to_have_attribute("data-status", "paid")
    order = Order.objects.get(merchant_uid=merchant_uid)
    assert order.status == Order.Status.PAID
    payment = Payment.objects.get(order=order)
    wait_for_webhook_processed(payment.imp_uid, status_hint="paid")


def test_an_english_purchase_from_the_language_switch_to_the_english_mail(
    page: Page, product, screenshot
):
    page.goto("/")
    page.locator("#language-switch button[value=en]").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.goto(product.get_absolute_url())
    expect(page.locator(".product-price")).to_have_text("₩12,000")
    page.locator("#quantity").fill("2")
    page.locator("#add-to-cart button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/cart/$"))
    expect(page.locator("#cart-total")).to_have_text("₩24,000")
    page.locator("main a[href$='/checkout/']").click()

    expect(page).to_have_url(re.compile(r"/checkout/$"))
    for field, value in BUYER.items():
        page.locator(f"#id_{field}").fill(value)
    page.locator("#id_buyer_addr_detail").fill("Apt 101-1001")
    page.locator("input[name=pay_method][value=card]").check()
    page.locator("#place-order").click()

    merchant_uid = order_page_merchant_uid(page)
    expect(page.locator("#pay-button")).to_have_text("Pay ₩24,000")
    screenshot(page, "daily-02-english-order")
    visible = page.locator("main").inner_text()
    for data in (product.name, BUYER["buyer_name"], BUYER["buyer_addr"]):
        visible = visible.replace(data, "")
    assert not HANGUL.search(visible), visible

    window = open_payment_window(page)
    window.locator("#sandbox-approve").click()
    expect(page.locator("#order-status")).to_have_attribute("data-status", "paid")
    expect(page.locator("#order-status")).to_have_text(re.compile("Paid", re.I))

    order = Order.objects.get(merchant_uid=merchant_uid)
    assert (order.status, order.language, order.buyer_addr_detail) == (
        Order.Status.PAID,
        "en",
        "Apt 101-1001",
    )
    paid_mail = OutgoingMail.objects.get(key=f"order_paid:{order.pk}")
    assert order.number in paid_mail.subject
    assert not HANGUL.search(paid_mail.subject.replace(settings.SHOP_NAME, "")), paid_mail.subject
    assert "₩24,000" in paid_mail.body
    assert CARD not in paid_mail.body
