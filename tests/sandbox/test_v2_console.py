"""The merchant console with PortOne V2 payments: listed beside V1 ones, and deposit, cancel
and resend through the same services, notified as V2 events."""

from __future__ import annotations

import json

import pytest

from sandbox.models import SandboxCancellation, SandboxPayment, SandboxWebhookDelivery
from tests.sandbox.conftest import v2_window_action

pytestmark = pytest.mark.django_db

CONSOLE = "/sandbox/console/"


def detail_url(tx_id: str) -> str:
    return f"{CONSOLE}payments/{tx_id}/"


def messages_of(reply) -> list[str]:
    return [str(message) for message in reply.context["messages"]]


def sent_types(rsps) -> list[str]:
    return [json.loads(call.request.body)["type"] for call in rsps.calls]


@pytest.fixture
def v2_account(client, start_v2):
    tx_id = start_v2(payMethod="VIRTUAL_ACCOUNT")
    v2_window_action(client, tx_id, "approve")
    return tx_id


def test_list_shows_both_apis_with_ids_and_v2_status(client, paid_payment, approve_v2):
    v1 = paid_payment(merchant_uid="order_v1")
    v2 = approve_v2(paymentId="order_v2")

    page = client.get(CONSOLE).content.decode()

    assert f'data-imp-uid="{v1}" data-api="v1"' in page
    assert f'data-imp-uid="{v2}" data-api="v2"' in page
    assert "order_v2" in page and v2 in page  # paymentId and txId
    assert '<div class="sb-muted sb-mono sb-v2-status">PAID</div>' in page
    assert "paymentId / txId" in page


def test_list_filters_by_api(client, paid_payment, approve_v2):
    v1 = paid_payment(merchant_uid="order_v1")
    v2 = approve_v2(paymentId="order_v2")

    only_v2 = client.get(CONSOLE, {"api": "v2"}).content.decode()
    only_v1 = client.get(CONSOLE, {"api": "v1", "status": "paid"}).content.decode()
    everything = client.get(CONSOLE, {"api": "v3"}).content.decode()

    assert v2 in only_v2 and v1 not in only_v2
    assert v1 in only_v1 and v2 not in only_v1
    assert v1 in everything and v2 in everything


def test_list_shows_v2_statuses_v1_folds_away(client, portone, v2_account, approve_v2):
    approve_v2(paymentId="order_partial")
    portone.cancel("order_partial", amount=1000)

    page = client.get(CONSOLE).content.decode()

    assert "VIRTUAL_ACCOUNT_ISSUED" in page and "PARTIAL_CANCELLED" in page


def test_detail_names_v2_ids_and_webhooks(client, approve_v2, settings):
    tx_id = approve_v2()

    page = client.get(detail_url(tx_id)).content.decode()

    assert 'id="console-payment-id">order_v2_0001<' in page
    assert f'id="console-tx-id">{tx_id}<' in page
    assert 'id="console-v2-status">PAID<' in page
    assert settings.PORTONE_CHANNEL_KEY in page
    assert "http://shop.test/payments/webhook/" in page
    assert "webhook-id: msg_" in page
    assert 'id="console-resend-webhook"' in page


def test_detail_says_when_no_webhook_will_be_sent(client, start_v2):
    tx_id = start_v2(noticeUrls=None)

    page = client.get(detail_url(tx_id)).content.decode()

    assert "noticeUrls가 없어 웹훅을 보내지 않습니다" in page


def test_deposit_pays_the_account_and_sends_paid(
    client, v2_account, v2_webhook_sink, django_capture_on_commit_callbacks
):
    assert 'id="console-deposit"' in client.get(detail_url(v2_account)).content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        reply = client.post(f"{detail_url(v2_account)}deposit", follow=True)

    assert SandboxPayment.objects.get(imp_uid=v2_account).v2_status == "PAID"
    assert sent_types(v2_webhook_sink) == ["Transaction.Paid"]
    assert any("Transaction.Paid" in message for message in messages_of(reply))


def test_deposit_without_notice_urls_says_nothing_is_sent(client, start_v2):
    tx_id = start_v2(payMethod="VIRTUAL_ACCOUNT", noticeUrls=None)
    v2_window_action(client, tx_id, "approve")

    reply = client.post(f"{detail_url(tx_id)}deposit", follow=True)

    assert any("noticeUrls가 없어" in message for message in messages_of(reply))
    assert not SandboxWebhookDelivery.objects.exists()


def test_partial_then_full_console_cancel(
    client, portone, approve_v2, v2_webhook_sink, django_capture_on_commit_callbacks
):
    tx_id = approve_v2()
    v2_webhook_sink.calls.reset()

    with django_capture_on_commit_callbacks(execute=True):
        partial = client.post(
            f"{detail_url(tx_id)}cancel", {"amount": "3000", "reason": "일부 반품"}, follow=True
        )
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"{detail_url(tx_id)}cancel", {"amount": "", "reason": ""})

    assert sent_types(v2_webhook_sink) == ["Transaction.PartialCancelled", "Transaction.Cancelled"]
    assert any("PARTIAL_CANCELLED" in message for message in messages_of(partial))
    body = portone.payment()
    assert body["status"] == "CANCELLED"
    assert [c["trigger"] for c in body["cancellations"]] == ["CONSOLE", "CONSOLE"]
    assert set(SandboxCancellation.objects.values_list("source", flat=True)) == {"console"}


def test_console_closes_an_unfunded_account(client, portone, v2_account):
    client.post(f"{detail_url(v2_account)}cancel", {"amount": "", "reason": "발급 취소"})

    assert portone.payment()["status"] == "CANCELLED"


def test_console_cancel_of_a_deposited_account_needs_no_refund_account(client, v2_account):
    client.post(f"{detail_url(v2_account)}deposit")

    client.post(f"{detail_url(v2_account)}cancel", {"amount": "", "reason": ""})

    assert SandboxPayment.objects.get(imp_uid=v2_account).status == "cancelled"


def test_resend_sends_the_same_event_again(
    client, approve_v2, v2_webhook_sink, django_capture_on_commit_callbacks
):
    tx_id = approve_v2()

    with django_capture_on_commit_callbacks(execute=True):
        reply = client.post(f"{detail_url(tx_id)}resend-webhook", follow=True)

    first, again = (call.request for call in v2_webhook_sink.calls)
    assert first.body == again.body
    assert first.headers["webhook-id"] != again.headers["webhook-id"]
    assert any("Transaction.Paid" in message for message in messages_of(reply))


def test_resend_without_notice_urls_says_so(client, start_v2):
    tx_id = start_v2(noticeUrls=None)

    reply = client.post(f"{detail_url(tx_id)}resend-webhook", follow=True)

    assert any("noticeUrls" in message for message in messages_of(reply))
