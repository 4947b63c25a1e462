"""The shop in English, with the committed catalogue (locale/en): every shop page, form error,
verdict message, mail and the custom admin pages, with no Korean left outside the data
(product names, the buyer's own fields, the bank's name) and the language names of the switch.
"""

from __future__ import annotations

import re
from datetime import datetime

import polib
import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from shop import services
from shop.mail import mail_send_due
from shop.models import Order, OutgoingMail
from shop.services import Buyer, order_create

HANGUL = re.compile(r"[\uac00-\ud7a3]+")
PRODUCT = "에티오피아 원두"
BUYER = Buyer(
    name="홍길동",
    email="buyer@example.com",
    tel="010-1234-5678",
    addr="서울특별시 강남구 테헤란로 1",
    addr_detail="101동 1001호",
    postcode="06236",
)
BANK, HOLDER = "국민은행", "아임포트상점"
# What may stay Korean on an English page: data (the merchant's SHOP_NAME is their brand),
# and Korean's own name in the language switch.
DATA = [PRODUCT, BUYER.name, BUYER.addr, BUYER.addr_detail, BANK, HOLDER, "한국어"]
LOCALE = settings.BASE_DIR / "locale" / "en" / "LC_MESSAGES"


def korean_left(text: str) -> list[str]:
    for data in [*DATA, settings.SHOP_NAME]:
        text = text.replace(data, "")
    # The brand mark and an image-less product show the first letter of their name.
    text = re.sub(r'aria-hidden="true">.</span>', "", text)
    return HANGUL.findall(text)


@pytest.fixture
def english() -> Client:
    browser = Client(HTTP_ACCEPT_LANGUAGE="en")
    browser.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return browser


@pytest.fixture
def product(product_factory):
    return product_factory(name=PRODUCT, price=18000, stock=10)


def english_order(product, browser: Client | None = None, **fields) -> Order:
    order = order_create(
        items=[(product.pk, 2)], buyer=BUYER, pay_method="card", language="en", **fields
    )
    if browser is not None:
        session = browser.session
        session["shop_orders"] = [order.merchant_uid]
        session.save()
    return order


def page(browser: Client, url: str, *, status: int = 200, **post) -> str:
    response = browser.post(url, post) if post else browser.get(url)
    assert response.status_code == status, (url, response.status_code)
    assert response.headers.get("Content-Language") == "en"
    return response.content.decode()


# --- the catalogue itself ------------------------------------------------------------------
def test_the_catalogue_translates_every_string_and_its_compiled_form_matches():
    po = polib.pofile(str(LOCALE / "django.po"))
    assert [e.msgid for e in po.untranslated_entries()] == []
    assert [e.msgid for e in po.fuzzy_entries()] == []
    compiled = {(e.msgctxt, e.msgid): e for e in polib.mofile(str(LOCALE / "django.mo"))}
    for entry in po.translated_entries():
        assert (entry.msgctxt, entry.msgid) in compiled, f"run `make messages`: {entry.msgid}"
        got = compiled[(entry.msgctxt, entry.msgid)]
        assert (got.msgstr, got.msgstr_plural) == (
            entry.msgstr,
            {int(k): v for k, v in entry.msgstr_plural.items()},
        ), f"django.mo is older than django.po: run `make messages` ({entry.msgid})"
    assert len(compiled) == len(po.translated_entries())


def test_placeholders_survive_translation():
    """Every placeholder of the Korean text is in the English one; a plural's singular form
    may leave out the count ("one item") but nothing else, and adds none."""
    placeholder = re.compile(r"%\(\w+\)[sd]|%[sd]")
    for entry in polib.pofile(str(LOCALE / "django.po")):
        if not entry.msgid_plural:
            assert sorted(placeholder.findall(entry.msgstr)) == sorted(
                placeholder.findall(entry.msgid)
            ), entry.msgid
            continue
        wanted = set(placeholder.findall(entry.msgid_plural))
        singular, plural = entry.msgstr_plural[0], entry.msgstr_plural[1]
        assert set(placeholder.findall(plural)) == wanted, entry.msgid
        assert set(placeholder.findall(singular)) <= wanted, entry.msgid


# --- every shop page -----------------------------------------------------------------------
def test_the_catalogue_pages_and_the_cart_are_english(english, product):
    assert korean_left(page(english, "/")) == []
    assert korean_left(page(english, reverse("shop:product_detail", args=[product.pk]))) == []
    assert korean_left(page(english, reverse("shop:cart"))) == []
    english.post(reverse("shop:cart_add", args=[product.pk]), {"quantity": "2"})
    cart = page(english, reverse("shop:cart"))
    assert "₩36,000" in cart
    assert korean_left(cart) == []


def test_checkout_and_its_errors_are_english(english, product):
    english.post(reverse("shop:cart_add", args=[product.pk]), {"quantity": "1"})
    assert korean_left(page(english, reverse("shop:checkout"))) == []
    refused = page(
        english,
        reverse("shop:checkout"),
        status=400,
        buyer_name="",
        buyer_email="not an email",
        buyer_tel="12",
        buyer_postcode="abc",
        buyer_addr="",
        pay_method="bitcoin",
    )
    assert korean_left(refused) == []


def test_placing_an_order_in_english_remembers_the_language(english, product):
    english.post(reverse("shop:cart_add", args=[product.pk]), {"quantity": "1"})
    response = english.post(
        reverse("shop:checkout"),
        {
            "buyer_name": BUYER.name,
            "buyer_email": BUYER.email,
            "buyer_tel": BUYER.tel,
            "buyer_postcode": BUYER.postcode,
            "buyer_addr": BUYER.addr,
            "buyer_addr_detail": BUYER.addr_detail,
            "pay_method": "card",
        },
        follow=True,
    )
    assert response.status_code == 200
    order = Order.objects.get()
    assert order.language == "en"
    assert korean_left(response.content.decode()) == []


@pytest.mark.parametrize(
    "state", ["pending", "awaiting_deposit", "paid", "partially_refunded", "cancelled", "failed"]
)
def test_the_order_page_is_english_in_every_state(english, product, state):
    order = english_order(product, english)
    due = timezone.make_aware(datetime(2030, 5, 3, 23, 59))
    if state == "awaiting_deposit":
        services.order_mark_awaiting_deposit(
            order=order, bank=BANK, account="123456789012", holder=HOLDER, due=due
        )
    elif state in ("paid", "partially_refunded"):
        services.order_mark_paid(order=order)
        if state == "partially_refunded":
            services.order_record_refund(order=order, refunded_total=6000)
    elif state == "cancelled":
        services.order_close_unpaid(order=order, days=7)
    elif state == "failed":
        services.order_mark_failed(order=order, reason="sold out")
    html = page(english, order.get_absolute_url())
    assert order.number in html
    assert korean_left(html) == []
    # The order's total, whatever its state; only the paid mail speaks of an amount paid.
    assert "Order total" in html and "Amount paid" not in html
    assert korean_left(page(english, reverse("shop:order_list"))) == []


def test_a_verdict_message_is_english(english, product, iamport):
    order = english_order(product, english)
    iamport.payment(order.merchant_uid, amount=order.amount)
    response = english.post(
        reverse("payments:complete"),
        {"imp_uid": "imp_123456789012", "merchant_uid": order.merchant_uid},
        content_type="application/json",
    )
    assert response.status_code == 200
    message = response.json()["message"]
    assert message and korean_left(message) == [], message
    order.refresh_from_db()
    assert korean_left(page(english, order.get_absolute_url())) == []


def test_a_failed_payment_says_so_in_english_before_the_pgs_own_words(english, product, iamport):
    order = english_order(product, english)
    iamport.payment(order.merchant_uid, fixture="payment_failed", amount=order.amount)
    response = english.post(
        reverse("payments:complete"),
        {"imp_uid": "imp_123456789012", "merchant_uid": order.merchant_uid},
        content_type="application/json",
    )
    assert response.status_code == 402
    assert response.json()["message"] == "Payment failed: [F1002] 카드 한도 초과"
    assert "Payment failed: [F1002]" in page(english, order.get_absolute_url())


def test_the_lookup_and_the_not_found_page_are_english(english, product):
    order = english_order(product)
    url = reverse("shop:order_lookup")
    assert korean_left(page(english, url)) == []
    wrong = english.post(url, {"number": order.number, "contact": "someone@example.com"})
    assert wrong.status_code in (400, 200)
    assert korean_left(wrong.content.decode()) == []
    missing = english.get("/orders/o20990101ffffffffffffffffffffffff/")
    assert missing.status_code == 404
    assert korean_left(missing.content.decode()) == []


# --- mails -----------------------------------------------------------------------------------
def test_every_mail_of_an_english_order_is_english(product, settings):
    settings.SHOP_BASE_URL = "https://shop.example"
    order = english_order(product)
    due = timezone.make_aware(datetime(2030, 5, 3, 23, 59))
    services.order_mark_awaiting_deposit(
        order=order, bank=BANK, account="123456789012", holder=HOLDER, due=due
    )
    services.order_mark_paid(order=order)
    services.order_record_refund(order=order, refunded_total=6000)
    kinds = sorted(key.split(":")[0] for key in OutgoingMail.objects.values_list("key", flat=True))
    assert kinds == ["order_paid", "order_received", "order_refunded", "order_vbank_issued"]
    mail_send_due()
    assert len(mail.outbox) == 4
    for message in mail.outbox:
        html = message.alternatives[0][0]
        for text in (message.subject, message.body, html):
            assert korean_left(text) == [], (message.subject, korean_left(text))
        assert "https://shop.example/" in message.body
    totals = {m.subject: "Order total" in m.body for m in mail.outbox}
    assert sum(totals.values()) == 1, totals  # the order received, not yet paid
    assert sum("Amount paid" in m.body for m in mail.outbox) == 1  # the payment's mail


# --- the custom admin pages ------------------------------------------------------------------
@pytest.fixture
def english_staff(english, django_user_model):
    user = django_user_model.objects.create_user("staff", password="x", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_payment", "view_order", "change_order", "refund_payment"]
        )
    )
    english.force_login(user)
    return english


def content_of(html: str) -> str:
    """The page's own content, without the admin's menu of (Korean-named) models."""
    start = html.index('id="content"')
    return html[start:]


def test_the_sales_page_is_english(english_staff):
    html = page(english_staff, "/admin/sales/")
    assert korean_left(content_of(html)) == []


def test_the_refund_form_is_english(english_staff, product):
    from payments.models import Payment

    order = english_order(product)
    services.order_mark_paid(order=order)
    Payment.objects.create(
        imp_uid="imp_123456789012",
        order=order,
        merchant_uid=order.merchant_uid,
        amount=order.amount,
        status="paid",
        verdict="accepted",
        pay_method="card",
        pg_provider="html5_inicis",
        paid_at=timezone.now(),
    )
    url = reverse("admin:shop_order_refund", args=[order.pk])
    html = page(english_staff, url)
    assert korean_left(content_of(html)) == [], korean_left(content_of(html))
