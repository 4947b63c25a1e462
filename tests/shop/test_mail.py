"""Mail through the outbox: written with the payment, sent once, off the request's path."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail
from django.db import connection, transaction
from django.template import TemplateSyntaxError
from django.utils import timezone

from shop import services
from shop.mail import MAX_ATTEMPTS, mail_send_due, order_mail_enqueue
from shop.models import Order, OrderLine, OutgoingMail


@pytest.fixture
def in_production(settings):
    settings.SHOP_MAIL_SEND_NOW = False


def paid(order_factory, capture):
    """An order whose order-received mail has gone out, then paid: its paid mail is the one
    the outbox holds."""
    order = order_factory()
    mail_send_due()
    mail.outbox.clear()
    with capture(execute=True):
        return services.order_mark_paid(order=order)


def paid_mail(order) -> OutgoingMail:
    return OutgoingMail.objects.get(key=f"order_paid:{order.pk}")


def test_paying_writes_the_mail_and_sends_nothing_in_the_request(
    order_factory, django_capture_on_commit_callbacks, in_production
):
    order = paid(order_factory, django_capture_on_commit_callbacks)

    outbox = paid_mail(order)
    assert (outbox.status, outbox.to) == ("pending", "buyer@example.com")
    assert mail.outbox == []


def test_the_worker_sends_each_mail_once(
    order_factory, django_capture_on_commit_callbacks, in_production
):
    order = paid(order_factory, django_capture_on_commit_callbacks)

    first, second = mail_send_due(), mail_send_due()

    assert (first.sent, first.failed, second.sent) == (1, 0, 0)
    assert len(mail.outbox) == 1
    assert paid_mail(order).status == "sent"
    assert not OutgoingMail.objects.exclude(status="sent").exists()


def test_the_mail_links_to_the_order_on_the_public_address(
    order_factory, django_capture_on_commit_callbacks, in_production, settings
):
    settings.SHOP_BASE_URL = "https://shop.example.com"
    order = paid(order_factory, django_capture_on_commit_callbacks)

    mail_send_due()

    assert f"https://shop.example.com/orders/{order.merchant_uid}/" in mail.outbox[0].body
    [(html, kind)] = mail.outbox[0].alternatives
    assert kind == "text/html"
    assert f'href="https://shop.example.com/orders/{order.merchant_uid}/"' in html


def test_in_debug_without_a_public_address_the_link_is_still_absolute(
    order_factory, django_capture_on_commit_callbacks, in_production, settings
):
    # Debug may run without SHOP_BASE_URL; the shop is then where its own sandbox reaches it.
    settings.DEBUG, settings.SHOP_BASE_URL = True, ""
    settings.SANDBOX_SITE_URL = "http://127.0.0.1:8000"
    order = paid(order_factory, django_capture_on_commit_callbacks)

    mail_send_due()

    assert f"http://127.0.0.1:8000/orders/{order.merchant_uid}/" in mail.outbox[0].body


def test_every_mail_carries_its_outbox_key(
    order_factory, django_capture_on_commit_callbacks, in_production
):
    order = paid(order_factory, django_capture_on_commit_callbacks)

    mail_send_due()

    assert mail.outbox[0].extra_headers["X-Shop-Mail"] == f"order_paid:{order.pk}"


def test_a_mail_written_before_html_bodies_goes_out_as_plain_text(db, in_production):
    OutgoingMail.objects.create(key="old:1", to="buyer@example.com", subject="s", body="본문")

    assert mail_send_due().sent == 1

    assert mail.outbox[0].body == "본문" and mail.outbox[0].alternatives == []


def test_the_outbox_keeps_what_the_mail_reports_and_the_words_once_sent(
    order_factory, django_capture_on_commit_callbacks, in_production
):
    order = paid(order_factory, django_capture_on_commit_callbacks)

    written = paid_mail(order)
    assert (written.kind, written.language) == ("paid", "ko")
    assert written.facts["order"] == {
        "merchant_uid": order.merchant_uid,
        "number": order.number,
        "buyer_name": "홍길동",
        "amount": order.amount,
        "pay_method": "card",
    }
    [line] = order.lines.all()
    assert written.facts["lines"] == [
        {"product_name": line.product_name, "quantity": 1, "line_total": line.line_total}
    ]
    assert (written.subject, written.body, written.html_body) == ("", "", "")  # not yet rendered

    mail_send_due()

    sent = paid_mail(order)
    [message] = mail.outbox
    [(html, _kind)] = message.alternatives
    assert (sent.subject, sent.body, sent.html_body) == (message.subject, message.body, html)
    assert order.number in sent.subject and "결제가 완료되었습니다" in sent.body


def test_a_mail_says_what_was_true_when_it_was_written(
    order_factory, django_capture_on_commit_callbacks, in_production
):
    order = paid(order_factory, django_capture_on_commit_callbacks)
    # Changed after the payment, before the worker sends the paid mail.
    Order.objects.filter(pk=order.pk).update(buyer_name="김철수", amount=1)
    OrderLine.objects.filter(order=order).update(product_name="바뀐 이름")

    mail_send_due()

    body = mail.outbox[0].body
    assert "홍길동님" in body and "12,000원" in body and "× 1" in body
    assert "김철수" not in body and "바뀐 이름" not in body


def test_a_mail_that_cannot_be_rendered_waits_and_the_payment_stands(
    order_factory, django_capture_on_commit_callbacks, in_production
):
    order = paid(order_factory, django_capture_on_commit_callbacks)

    with mock.patch(
        "shop.mail.render_to_string", side_effect=TemplateSyntaxError("broken template")
    ):
        run = mail_send_due()

    assert (run.sent, run.failed) == (0, 1)
    waiting = paid_mail(order)
    assert (waiting.status, waiting.attempts) == ("pending", 1)
    assert "broken template" in waiting.last_error and waiting.subject == ""
    assert Order.objects.get(pk=order.pk).status == "paid"
    OutgoingMail.objects.update(next_attempt_at=timezone.now())
    assert mail_send_due().sent == 1  # the template mended, the mail goes out


def test_a_mail_the_shop_has_no_template_for_is_refused_before_it_is_written(order_factory):
    order = order_factory()

    with pytest.raises(ValueError, match="no such mail"), transaction.atomic():
        order_mail_enqueue(kind="welcome", key="welcome:1", order=order, lines=[])

    assert not OutgoingMail.objects.filter(key="welcome:1").exists()


def test_the_admin_shows_a_mail_it_cannot_render_without_failing(
    admin_client, order_factory, in_production
):
    order = order_factory()
    received = OutgoingMail.objects.get(order=order)
    OutgoingMail.objects.filter(pk=received.pk).update(facts={"order": {}})  # facts damaged

    page = admin_client.get(f"/admin/shop/outgoingmail/{received.pk}/change/")

    assert page.status_code == 200
    assert received.key in page.content.decode()


def test_with_debug_on_it_is_sent_right_after_the_commit(
    order_factory, django_capture_on_commit_callbacks, settings
):
    settings.SHOP_MAIL_SEND_NOW = True

    order = paid(order_factory, django_capture_on_commit_callbacks)

    assert len(mail.outbox) == 1
    assert paid_mail(order).status == "sent"


def test_a_rolled_back_payment_leaves_no_mail(order_factory, in_production):
    order = order_factory()
    with pytest.raises(RuntimeError), transaction.atomic():
        services.order_mark_paid(order=order)
        raise RuntimeError("the payment's transaction failed")

    assert not OutgoingMail.objects.filter(key__startswith="order_paid:").exists()


def test_a_failed_send_is_retried_later_then_given_up(
    order_factory, django_capture_on_commit_callbacks, in_production
):
    order = paid(order_factory, django_capture_on_commit_callbacks)

    with mock.patch("shop.mail.send_mail", side_effect=OSError("smtp down")):
        assert mail_send_due().failed == 1
        assert mail_send_due().failed == 0  # not due again yet
        outbox = paid_mail(order)
        assert (outbox.status, outbox.attempts) == ("pending", 1)
        assert outbox.next_attempt_at > timezone.now() + timedelta(seconds=50)
        assert "smtp down" in outbox.last_error
        for _ in range(MAX_ATTEMPTS - 1):
            OutgoingMail.objects.update(next_attempt_at=timezone.now())
            mail_send_due()

    outbox.refresh_from_db()
    assert (outbox.status, outbox.attempts) == ("failed", MAX_ATTEMPTS)


@pytest.mark.django_db(transaction=True)
def test_a_hanging_mail_server_does_not_hold_the_webhook(iamport, order_factory, settings):
    """The buyer's browser and Iamport's webhook never wait on SMTP in production."""
    from django.test import Client

    settings.SHOP_MAIL_SEND_NOW = False
    order = order_factory()
    iamport.payment(order.merchant_uid)

    with mock.patch("shop.mail.send_mail", side_effect=AssertionError("sent in the request")):
        reply = Client().post(
            "/payments/webhook/",
            json.dumps({"imp_uid": "imp_123456789012"}),
            content_type="application/json",
        )

    assert reply.status_code == 200
    assert paid_mail(order).status == "pending"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_send_a_mail_once(order_factory, settings):
    settings.SHOP_MAIL_SEND_NOW = False
    order = order_factory()
    OutgoingMail.objects.filter(order=order).delete()  # the order-received mail: not this test's
    services.order_mark_paid(order=order)
    sending, release = threading.Event(), threading.Event()
    sent = []

    def slow_send(subject, body, from_email, to, **alternatives):
        sent.append(to)
        sending.set()
        release.wait(10)

    def worker():
        try:
            mail_send_due()
        finally:
            connection.close()

    with mock.patch("shop.mail.send_mail", side_effect=slow_send):
        first = threading.Thread(target=worker)
        first.start()
        assert sending.wait(10)
        second = mail_send_due()  # the first worker holds the row: skipped, not waited for
        release.set()
        first.join(10)

    assert second.sent == 0
    assert len(sent) == 1
    assert paid_mail(order).status == "sent"
