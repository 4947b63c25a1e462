"""The buyer's mails: order received, virtual account issued, paid, refunded, account expired.

Each is written once (its outbox key), as plain text with an HTML alternative, in the order's
language, with the short order number and absolute links.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from payments.services import SyncOutcome, payment_sync
from shop import services
from shop.locks import lock_order
from shop.mail import MailContent, mail_content, mail_send_due, order_mail_enqueue
from shop.models import Order, OutgoingMail

pytestmark = pytest.mark.django_db

IMP = "imp_123456789012"
BASE = "https://shop.example.com"


@pytest.fixture(autouse=True)
def in_production(settings):
    settings.SHOP_MAIL_SEND_NOW = False
    settings.SHOP_BASE_URL = BASE


def outbox(order: Order, kind: str) -> list[OutgoingMail]:
    return list(OutgoingMail.objects.filter(order=order, key__startswith=f"order_{kind}:"))


def the_mail(order: Order, kind: str) -> OutgoingMail:
    [one] = outbox(order, kind)
    return one


def words(mail: OutgoingMail) -> MailContent:
    """What a mail in the outbox will say when it is sent."""
    return mail_content(mail)


def sent_key(key: str):
    """The mail with this outbox key, as the backend got it."""
    mail_send_due()
    [message] = [m for m in mail.outbox if m.extra_headers["X-Shop-Mail"] == key]
    return message


def sent(order: Order, kind: str):
    return sent_key(the_mail(order, kind).key)


def html_of(message) -> str:
    [(html, kind)] = message.alternatives
    assert kind == "text/html"
    return html


def link(order: Order) -> str:
    return f"{BASE}/orders/{order.merchant_uid}/"


# --- 1. order received ----------------------------------------------------------------------
def test_checkout_mails_the_order_with_a_link_to_pay_it(order_factory):
    order = order_factory(price=12000, quantity=2, name="유기농 원두 200g")

    message = sent(order, "received")

    assert message.to == ["buyer@example.com"]
    assert order.number in message.subject and "주문이 접수되었습니다" in message.subject
    for part in (order.number, "유기농 원두 200g × 2", "24,000원", "신용카드", link(order)):
        assert part in message.body
    html = html_of(message)
    assert f'href="{link(order)}"' in html and "24,000원" in html and order.number in html


def test_the_order_received_mail_is_written_once(order_factory):
    order = order_factory()

    assert [m.key for m in outbox(order, "received")] == [f"order_received:{order.pk}"]
    mail_send_due()
    mail_send_due()
    assert len(mail.outbox) == 1


def test_a_failed_checkout_mails_nothing(product_factory):
    product = product_factory(stock=1)

    with pytest.raises(services.OutOfStock):
        services.order_create(
            items=[(product.pk, 2)],
            buyer=services.Buyer("홍길동", "b@example.com", "010", "서울", "06236"),
            pay_method="card",
        )

    assert not OutgoingMail.objects.exists()


# --- 2. virtual account issued --------------------------------------------------------------
def test_an_issued_account_is_mailed_once_with_its_deadline_in_korean_time(iamport, order_factory):
    order = order_factory(price=12000, pay_method="vbank")
    # 2099-12-31 14:59:59 UTC is 23:59 in Seoul.
    iamport.payment(order.merchant_uid, fixture="payment_vbank_ready", vbank_date=4102412399)

    payment_sync(imp_uid=IMP)
    payment_sync(imp_uid=IMP)  # the same notice again

    message = sent(order, "vbank_issued")
    assert "가상계좌" in message.subject and order.number in message.subject
    for part in ("KB국민은행", "12345678901234", "아임포트 상점", "12,000원", link(order)):
        assert part in message.body
    assert "2099-12-31 23:59 (한국 시간)" in message.body and "14:59" not in message.body
    html = html_of(message)
    assert "12345678901234" in html and "2099-12-31 23:59 (한국 시간)" in html


def test_a_new_account_after_an_expired_one_is_mailed_again(iamport, order_factory):
    order = order_factory(price=12000, pay_method="vbank")
    first = iamport.payment(order.merchant_uid, fixture="payment_vbank_ready")
    payment_sync(imp_uid=IMP)
    past = int((timezone.now() - timedelta(hours=1)).timestamp())
    iamport.replace_payment(first, vbank_date=past)
    payment_sync(imp_uid=IMP)  # released
    iamport.payment(
        order.merchant_uid,
        imp_uid="imp_000000000002",
        fixture="payment_vbank_ready",
        vbank_num="99988877766655",
    )

    assert payment_sync(imp_uid="imp_000000000002").outcome == SyncOutcome.AWAITING_DEPOSIT

    accounts = [words(m).body for m in outbox(order, "vbank_issued")]
    assert len(accounts) == 2
    assert any("99988877766655" in body for body in accounts)


# --- 3. paid --------------------------------------------------------------------------------
def test_the_paid_mail_shows_the_order_number_and_an_html_part(iamport, order_factory):
    order = order_factory(price=12000)
    iamport.payment(order.merchant_uid)

    payment_sync(imp_uid=IMP)
    payment_sync(imp_uid=IMP)

    message = sent(order, "paid")
    assert order.number in message.subject and "결제가 완료되었습니다" in message.subject
    assert order.number in message.body and "12,000원" in message.body
    assert link(order) in message.body
    assert f'href="{link(order)}"' in html_of(message)


# --- 4. refunded ----------------------------------------------------------------------------
def test_each_refund_is_mailed_once_with_what_came_back_and_what_is_left(iamport, order_factory):
    order = order_factory(price=12000)
    payment = iamport.payment(order.merchant_uid)
    payment_sync(imp_uid=IMP)
    payment = iamport.replace_payment(payment, cancel_amount=3000)

    payment_sync(imp_uid=IMP)
    payment_sync(imp_uid=IMP)  # a repeated sync sends nothing more

    [first] = outbox(order, "refunded")
    assert first.key == f"order_refunded:{order.pk}:3000"
    assert "이번 환불 금액: 3,000원" in words(first).body
    assert "환불된 금액 합계: 3,000원" in words(first).body
    assert "남은 결제 금액: 9,000원" in words(first).body
    assert order.number in words(first).subject

    iamport.replace_payment(payment, cancel_amount=12000, status="cancelled")
    payment_sync(imp_uid=IMP)

    second = OutgoingMail.objects.get(key=f"order_refunded:{order.pk}:12000")
    assert "이번 환불 금액: 9,000원" in words(second).body
    body = words(second).body
    assert "결제 금액 전부가 환불되었습니다." in body and "남은 결제 금액" not in body
    assert len(outbox(order, "refunded")) == 2
    assert "9,000원" in html_of(sent_key(second.key))


def test_recording_the_same_refund_total_again_mails_nothing(order_factory):
    order = order_factory(price=12000)
    services.order_mark_paid(order=order)
    services.order_record_refund(order=order, refunded_total=5000)

    services.order_record_refund(order=order, refunded_total=5000)

    assert [m.key for m in outbox(order, "refunded")] == [f"order_refunded:{order.pk}:5000"]


# --- 5. virtual account expired -------------------------------------------------------------
def test_an_expired_account_is_mailed_once_with_a_link_to_pay_again(iamport, order_factory):
    order = order_factory(price=12000, pay_method="vbank")
    vbank = iamport.payment(order.merchant_uid, fixture="payment_vbank_ready")
    payment_sync(imp_uid=IMP)
    due = datetime(2026, 12, 1, 14, 59, 59, tzinfo=UTC)  # 23:59 in Seoul
    Order.objects.filter(pk=order.pk).update(deposit_due=due)
    iamport.replace_payment(vbank, vbank_date=int(due.timestamp()))

    payment_sync(imp_uid=IMP)
    payment_sync(imp_uid=IMP)

    message = sent(order, "deposit_expired")
    assert "입금 기한" in message.subject and order.number in message.subject
    for part in ("KB국민은행", "12345678901234", "2026-12-01 23:59 (한국 시간)", link(order)):
        assert part in message.body
    assert "다시 결제" in message.body
    assert f'href="{link(order)}"' in html_of(message)
    assert "2026-12-01 23:59" in Order.objects.get(pk=order.pk).status_message


# --- language, escaping ---------------------------------------------------------------------
def test_an_english_order_is_rendered_in_its_own_language(order_factory):
    order = order_factory()
    Order.objects.filter(pk=order.pk).update(language="en")
    order.refresh_from_db()

    services.order_mark_paid(order=order)

    paid = words(the_mail(order, "paid"))
    assert '<html lang="en">' in paid.html_body
    assert order.number in paid.body  # the English catalogue comes later; Korean until then


def test_a_language_the_shop_does_not_speak_falls_back_to_korean(order_factory):
    order = order_factory()
    Order.objects.filter(pk=order.pk).update(language="xx")
    order.refresh_from_db()

    services.order_mark_paid(order=order)

    assert '<html lang="ko">' in words(the_mail(order, "paid")).html_body


def test_what_the_buyer_typed_is_plain_in_text_and_escaped_in_html(order_factory):
    order = order_factory(name="원두 & <컵>")
    Order.objects.filter(pk=order.pk).update(buyer_name="<b>홍&길동</b>")
    order.refresh_from_db()

    services.order_mark_paid(order=order)

    paid = words(the_mail(order, "paid"))
    assert "<b>홍&길동</b>님" in paid.body and "- 원두 & <컵> × 1" in paid.body
    assert "&lt;b&gt;홍&amp;길동&lt;/b&gt;님" in paid.html_body and "<b>홍" not in paid.html_body
    assert "원두 &amp; &lt;컵&gt; × 1" in paid.html_body


def test_the_html_uses_inline_styles_and_no_outside_resources(order_factory):
    order = order_factory()

    html = words(the_mail(order, "received")).html_body

    assert "<style" not in html and "<link" not in html and "<img" not in html
    assert 'style="' in html


# --- cost on the verification's path --------------------------------------------------------
def statements_of(order: Order, change) -> list[str]:
    """The kinds of SQL statement `change` runs on the order, as the payment sync calls it:
    under the order's lock, with its lines already read."""
    with transaction.atomic():
        locked = lock_order(order.pk)
        with CaptureQueriesContext(connection) as captured:
            change(locked)
    return [q["sql"].split()[0] for q in captured.captured_queries]


def test_the_paid_mail_is_one_insert_and_nothing_more(order_factory):
    order = order_factory()

    statements = statements_of(order, lambda locked: services.order_mark_paid(order=locked))

    # Stock taken, the order updated, the mail written: no read for the mail.
    assert statements == ["UPDATE", "UPDATE", "INSERT"]


def test_the_account_and_refund_mails_are_one_insert_each(order_factory):
    order = order_factory()
    due = timezone.now() + timedelta(days=3)

    issued = statements_of(
        order,
        lambda locked: services.order_mark_awaiting_deposit(
            order=locked, bank="국민은행", account="123", holder="상점", due=due
        ),
    )
    services.order_mark_paid(order=order)
    refunded = statements_of(
        order, lambda locked: services.order_record_refund(order=locked, refunded_total=1)
    )

    assert issued == ["UPDATE", "INSERT"]
    assert refunded == ["UPDATE", "INSERT"]


def test_the_expired_account_mail_is_one_insert(order_factory):
    order = order_factory()
    services.order_mark_awaiting_deposit(
        order=order, bank="국민은행", account="123", holder="상점", due=timezone.now()
    )

    released = statements_of(order, lambda locked: services.order_release_deposit(order=locked))

    assert released == ["INSERT", "UPDATE"]


# --- the outbox in the admin ----------------------------------------------------------------
def test_the_admin_shows_the_html_body_in_a_sandboxed_frame(admin_client, order_factory):
    order = order_factory()
    received = the_mail(order, "received")

    page = admin_client.get(f"/admin/shop/outgoingmail/{received.pk}/change/").content.decode()

    assert '<iframe sandbox="" srcdoc="&lt;!DOCTYPE html&gt;' in page
    assert f"href=&quot;{link(order)}&quot;" in page  # escaped into the attribute, not the page


def test_the_outbox_is_searchable_by_the_short_order_number(admin_client, order_factory):
    order = order_factory()
    other = order_factory()

    page = admin_client.get("/admin/shop/outgoingmail/", {"q": order.number}).content.decode()

    assert f"order_received:{order.pk}" in page
    assert f"order_received:{other.pk}" not in page


def test_writing_a_mail_again_under_its_key_changes_nothing(order_factory):
    order = order_factory()
    first = the_mail(order, "received")

    with transaction.atomic():
        order_mail_enqueue(
            kind="order_received", key=first.key, order=order, lines=list(order.lines.all())
        )

    assert [m.pk for m in outbox(order, "received")] == [first.pk]
