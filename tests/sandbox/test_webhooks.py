"""Webhooks: when they are sent, what they carry, and how each delivery is recorded."""

from __future__ import annotations

import json
import threading

import pytest
import requests
import responses

from sandbox import services
from sandbox.models import SandboxPayment, SandboxWebhookDelivery
from tests.sandbox.conftest import WEBHOOK_URL, window_action

pytestmark = pytest.mark.django_db


def sent_bodies(rsps: responses.RequestsMock) -> list[dict]:
    return [json.loads(call.request.body) for call in rsps.calls]


def test_approval_sends_paid_after_commit(
    client, start_payment, webhook_sink, django_capture_on_commit_callbacks
):
    imp_uid = start_payment()

    with django_capture_on_commit_callbacks() as callbacks:
        window_action(client, imp_uid, "approve")
        assert len(webhook_sink.calls) == 0  # nothing leaves before the transaction commits
    for callback in callbacks:
        callback()

    assert sent_bodies(webhook_sink) == [
        {"imp_uid": imp_uid, "merchant_uid": "order_0001", "status": "paid"}
    ]
    request = webhook_sink.calls[0].request
    assert request.headers["Content-Type"] == "application/json"
    delivery = SandboxWebhookDelivery.objects.get()
    assert delivery.trigger == "paid"
    assert delivery.url == WEBHOOK_URL
    assert delivery.outcome == "delivered"
    assert delivery.http_status == 200
    assert delivery.response_excerpt == '{"status": "ok"}'
    assert delivery.finished_at is not None


def test_virtual_account_issue_and_deposit_send_ready_then_paid(
    client, start_payment, webhook_sink, django_capture_on_commit_callbacks
):
    imp_uid = start_payment(pay_method="vbank")

    with django_capture_on_commit_callbacks(execute=True):
        window_action(client, imp_uid, "approve")
    with django_capture_on_commit_callbacks(execute=True):
        services.vbank_deposit(imp_uid=imp_uid)

    assert [body["status"] for body in sent_bodies(webhook_sink)] == ["ready", "paid"]
    assert list(
        SandboxWebhookDelivery.objects.order_by("created_at", "id").values_list(
            "trigger", flat=True
        )
    ) == ["vbank_issued", "vbank_deposit"]


def test_failures_send_no_webhook(
    client, start_payment, webhook_sink, django_capture_on_commit_callbacks
):
    declined, closed = start_payment(), start_payment()

    with django_capture_on_commit_callbacks(execute=True):
        window_action(client, declined, "decline")
        window_action(client, closed, "close")

    assert len(webhook_sink.calls) == 0
    assert not SandboxWebhookDelivery.objects.exists()


def test_api_cancel_sends_no_webhook_unless_asked(
    api, paid_payment, webhook_sink, django_capture_on_commit_callbacks
):
    imp_uid = paid_payment()
    webhook_sink.calls.reset()

    with django_capture_on_commit_callbacks(execute=True):
        api.post("payments/cancel", {"imp_uid": imp_uid, "amount": 1000})
    assert len(webhook_sink.calls) == 0

    with django_capture_on_commit_callbacks(execute=True):
        reply = api.post(
            "payments/cancel", {"imp_uid": imp_uid, "amount": 1000, "enable_webhook": True}
        )
    body = sent_bodies(webhook_sink)[0]
    assert body["status"] == "paid"  # a partial cancel keeps the payment paid
    history = reply.json()["response"]["cancel_history"]
    assert body["cancellation_id"] == history[-1]["cancellation_id"]


def test_sandbox_webhook_url_overrides_notice_url(
    client, start_payment, settings, django_capture_on_commit_callbacks
):
    settings.SANDBOX_WEBHOOK_URL = "http://elsewhere.test/hook"
    imp_uid = start_payment()

    with responses.RequestsMock() as rsps:
        rsps.post("http://elsewhere.test/hook", status=200)
        with django_capture_on_commit_callbacks(execute=True):
            window_action(client, imp_uid, "approve")
        assert len(rsps.calls) == 1


def test_relative_notice_url_is_resolved_against_the_site(
    client, start_payment, settings, django_capture_on_commit_callbacks
):
    settings.SANDBOX_SITE_URL = "http://127.0.0.1:8123"
    imp_uid = start_payment(notice_url="/payments/webhook/")

    with responses.RequestsMock() as rsps:
        rsps.post("http://127.0.0.1:8123/payments/webhook/", status=200)
        with django_capture_on_commit_callbacks(execute=True):
            window_action(client, imp_uid, "approve")

    assert SandboxWebhookDelivery.objects.get().url == "http://127.0.0.1:8123/payments/webhook/"


def test_no_url_means_no_delivery(client, start_payment, django_capture_on_commit_callbacks):
    imp_uid = start_payment(notice_url=None)

    with django_capture_on_commit_callbacks(execute=True):
        window_action(client, imp_uid, "approve")

    assert not SandboxWebhookDelivery.objects.exists()


def test_error_answer_is_recorded(client, start_payment, django_capture_on_commit_callbacks):
    imp_uid = start_payment()

    with responses.RequestsMock() as rsps:
        rsps.post(WEBHOOK_URL, status=503, body="Iamport unreachable, try again")
        with django_capture_on_commit_callbacks(execute=True):
            window_action(client, imp_uid, "approve")

    delivery = SandboxWebhookDelivery.objects.get()
    assert delivery.outcome == "rejected"
    assert delivery.http_status == 503
    assert delivery.response_excerpt == "Iamport unreachable, try again"


def test_network_error_is_recorded(client, start_payment, django_capture_on_commit_callbacks):
    imp_uid = start_payment()

    with responses.RequestsMock() as rsps:
        rsps.post(WEBHOOK_URL, body=requests.ConnectTimeout("timed out"))
        with django_capture_on_commit_callbacks(execute=True):
            window_action(client, imp_uid, "approve")

    delivery = SandboxWebhookDelivery.objects.get()
    assert delivery.outcome == "error"
    assert delivery.http_status is None
    assert "ConnectTimeout" in delivery.error
    # The payment itself is unaffected by a failed notification.
    assert SandboxPayment.objects.get(imp_uid=imp_uid).status == "paid"


def test_webhook_is_sent_with_a_timeout(
    client, start_payment, webhook_sink, settings, django_capture_on_commit_callbacks
):
    settings.SANDBOX_WEBHOOK_TIMEOUT = (1.5, 4.0)
    imp_uid = start_payment()

    with django_capture_on_commit_callbacks(execute=True):
        window_action(client, imp_uid, "approve")

    assert webhook_sink.calls[0].request.req_kwargs["timeout"] == (1.5, 4.0)


@pytest.mark.django_db(transaction=True)
def test_background_thread_delivers_after_commit(client, start_payment, webhook_sink, settings):
    settings.SANDBOX_WEBHOOK_SYNC = False
    imp_uid = start_payment()

    window_action(client, imp_uid, "approve")
    for thread in threading.enumerate():
        if thread.name.startswith("sandbox-webhook-"):
            assert thread.daemon
            thread.join(timeout=10)

    delivery = SandboxWebhookDelivery.objects.get()
    assert delivery.outcome == "delivered"
    assert sent_bodies(webhook_sink)[0]["status"] == "paid"
