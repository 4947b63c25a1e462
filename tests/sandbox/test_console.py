"""The merchant console: list, detail, deposit, cancel and webhook resend."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from sandbox.models import SandboxCancellation, SandboxPayment, SandboxWebhookDelivery
from tests.sandbox.conftest import window_action

pytestmark = pytest.mark.django_db

CONSOLE = "/sandbox/console/"


def detail_url(imp_uid: str) -> str:
    return f"{CONSOLE}payments/{imp_uid}/"


def messages_of(reply) -> list[str]:
    return [str(message) for message in reply.context["messages"]]


@pytest.fixture
def vbank_issued(client, start_payment):
    imp_uid = start_payment(pay_method="vbank")
    window_action(client, imp_uid, "approve")
    return imp_uid


def test_list_shows_payments_newest_first(client, start_payment, paid_payment):
    older = paid_payment(merchant_uid="order_a")
    newer = start_payment(merchant_uid="order_b")

    reply = client.get(CONSOLE)

    assert reply.status_code == 200
    page = reply.content.decode()
    assert page.index(newer) < page.index(older)
    assert "12,000원" in page
    assert "SANDBOX — 실제 결제되지 않습니다" in page


def test_list_filters_by_status(client, start_payment, paid_payment):
    paid = paid_payment(merchant_uid="order_a")
    ready = start_payment(merchant_uid="order_b")

    page = client.get(CONSOLE, {"status": "paid"}).content.decode()

    assert paid in page and ready not in page


def test_empty_list(client, db):
    assert "아직 결제 내역이 없습니다" in client.get(CONSOLE).content.decode()


def test_detail_shows_actions_for_a_paid_payment(client, paid_payment):
    imp_uid = paid_payment()

    page = client.get(detail_url(imp_uid)).content.decode()

    assert 'id="console-cancel-form"' in page
    assert 'name="amount"' in page and 'name="reason"' in page
    assert 'id="console-resend-webhook"' in page
    assert 'id="console-deposit"' not in page
    assert "delivered" in page or "성공" in page  # the approval's webhook is listed


def test_detail_of_unknown_payment_is_404(client, db):
    assert client.get(detail_url("imps_000000000000")).status_code == 404


def test_deposit_pays_the_virtual_account_and_notifies(
    client, vbank_issued, webhook_sink, django_capture_on_commit_callbacks
):
    assert 'id="console-deposit"' in client.get(detail_url(vbank_issued)).content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        reply = client.post(f"{detail_url(vbank_issued)}deposit", follow=True)

    payment = SandboxPayment.objects.get(imp_uid=vbank_issued)
    assert payment.status == "paid"
    assert payment.paid_at is not None
    assert [json.loads(call.request.body)["status"] for call in webhook_sink.calls] == ["paid"]
    assert any("입금 처리" in message for message in messages_of(reply))


def test_deposit_refused_for_a_card_payment(client, paid_payment):
    imp_uid = paid_payment()

    reply = client.post(f"{detail_url(imp_uid)}deposit", follow=True)

    assert any("가상계좌가 아닙니다" in message for message in messages_of(reply))


def test_deposit_refused_after_the_deadline(client, vbank_issued):
    from datetime import timedelta

    from django.utils import timezone

    SandboxPayment.objects.filter(imp_uid=vbank_issued).update(
        vbank_date=timezone.now() - timedelta(minutes=1)
    )

    reply = client.post(f"{detail_url(vbank_issued)}deposit", follow=True)

    assert SandboxPayment.objects.get(imp_uid=vbank_issued).status == "ready"
    assert any("기한" in message for message in messages_of(reply))


def test_partial_console_cancel_keeps_paid_and_notifies(
    client, paid_payment, webhook_sink, django_capture_on_commit_callbacks
):
    imp_uid = paid_payment()
    webhook_sink.calls.reset()

    with django_capture_on_commit_callbacks(execute=True):
        reply = client.post(
            f"{detail_url(imp_uid)}cancel", {"amount": "3000", "reason": "일부 반품"}, follow=True
        )

    payment = SandboxPayment.objects.get(imp_uid=imp_uid)
    assert (payment.status, payment.cancel_amount) == ("paid", 3000)
    cancellation = SandboxCancellation.objects.get()
    assert (cancellation.reason, cancellation.source) == ("일부 반품", "console")
    body = json.loads(webhook_sink.calls[0].request.body)
    assert body["status"] == "paid"
    assert body["cancellation_id"] == cancellation.cancellation_id
    assert SandboxWebhookDelivery.objects.filter(trigger="cancelled").count() == 1
    assert any("3,000원" in message for message in messages_of(reply))


def test_full_console_cancel_sends_cancelled(
    client, paid_payment, webhook_sink, django_capture_on_commit_callbacks
):
    imp_uid = paid_payment()
    webhook_sink.calls.reset()

    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"{detail_url(imp_uid)}cancel", {"amount": "", "reason": ""})

    payment = SandboxPayment.objects.get(imp_uid=imp_uid)
    assert (payment.status, payment.cancel_amount) == ("cancelled", 12000)
    assert payment.cancel_reason == "가맹점 콘솔에서 취소"
    assert json.loads(webhook_sink.calls[0].request.body)["status"] == "cancelled"


def test_console_over_cancel_is_refused_with_a_message(client, paid_payment):
    imp_uid = paid_payment()

    reply = client.post(f"{detail_url(imp_uid)}cancel", {"amount": "13000"}, follow=True)

    assert SandboxPayment.objects.get(imp_uid=imp_uid).cancel_amount == 0
    assert any("12,000원" in message and "큽니다" in message for message in messages_of(reply))


def test_console_cancel_with_invalid_amount_shows_the_form_error(client, paid_payment):
    imp_uid = paid_payment()

    reply = client.post(f"{detail_url(imp_uid)}cancel", {"amount": "-5"})

    assert reply.status_code == 400
    assert 'id="console-cancel-form"' in reply.content.decode()
    assert SandboxPayment.objects.get(imp_uid=imp_uid).cancel_amount == 0


def test_resend_webhook_sends_the_current_status(
    client, paid_payment, webhook_sink, django_capture_on_commit_callbacks
):
    imp_uid = paid_payment()
    webhook_sink.calls.reset()

    with django_capture_on_commit_callbacks(execute=True):
        reply = client.post(f"{detail_url(imp_uid)}resend-webhook", follow=True)

    assert json.loads(webhook_sink.calls[0].request.body) == {
        "imp_uid": imp_uid,
        "merchant_uid": "order_0001",
        "status": "paid",
    }
    assert SandboxWebhookDelivery.objects.filter(trigger="resend").count() == 1
    assert reply.status_code == 200


def test_resend_without_a_webhook_url_says_so(client, start_payment):
    imp_uid = start_payment(notice_url=None)

    reply = client.post(f"{detail_url(imp_uid)}resend-webhook", follow=True)

    assert any("웹훅 URL이 없습니다" in message for message in messages_of(reply))


def test_console_forms_require_csrf(paid_payment):
    imp_uid = paid_payment()
    strict = Client(enforce_csrf_checks=True)

    reply = strict.post(f"{detail_url(imp_uid)}cancel", {"amount": "1000"})

    assert reply.status_code == 403
    assert SandboxPayment.objects.get(imp_uid=imp_uid).cancel_amount == 0


def test_console_actions_need_post(client, paid_payment):
    imp_uid = paid_payment()

    assert client.get(f"{detail_url(imp_uid)}cancel").status_code == 405


@pytest.mark.parametrize("action", ["deposit", "cancel", "resend-webhook"])
def test_actions_on_unknown_payment_are_404(client, db, action):
    assert client.post(f"{detail_url('imps_000000000000')}{action}").status_code == 404
