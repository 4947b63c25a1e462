"""PortOne V2 webhooks: which events are sent, the 2024-04-25 body, Standard Webhooks
signatures the shop's own verifier accepts, and how each delivery is recorded."""

from __future__ import annotations

import json

import pytest
import requests
import responses
from django.conf import settings

from payments.v2_webhooks import V2WebhookRejected, verify_delivery
from sandbox import services, webhooks
from sandbox.models import SandboxCancellation, SandboxWebhookDelivery
from tests.sandbox.conftest import V2_WEBHOOK_URL, v2_window_action

pytestmark = pytest.mark.django_db


def events(rsps: responses.RequestsMock) -> list[dict]:
    """Every delivery the shop received, checked with the shop's own verifier."""
    verified = []
    for call in rsps.calls:
        body = call.request.body
        event = verify_delivery(body, call.request.headers, settings.PORTONE_WEBHOOK_SECRETS)
        payload = json.loads(body)
        assert event.type == payload["type"]
        assert event.webhook_id == call.request.headers["webhook-id"]
        verified.append(payload)
    return verified


def types(rsps: responses.RequestsMock) -> list[str]:
    return [event["type"] for event in events(rsps)]


def test_approval_sends_a_signed_paid_event_after_commit(
    client, start_v2, v2_webhook_sink, django_capture_on_commit_callbacks
):
    tx_id = start_v2()

    with django_capture_on_commit_callbacks() as callbacks:
        v2_window_action(client, tx_id, "approve")
        assert len(v2_webhook_sink.calls) == 0  # nothing leaves before the commit
    for callback in callbacks:
        callback()

    [event] = events(v2_webhook_sink)
    assert event["type"] == "Transaction.Paid"
    assert event["data"] == {
        "storeId": settings.PORTONE_STORE_ID,
        "paymentId": "order_v2_0001",
        "transactionId": tx_id,
    }
    assert event["timestamp"].endswith("Z")
    request = v2_webhook_sink.calls[0].request
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["webhook-id"].startswith("msg_")
    assert request.headers["webhook-signature"].startswith("v1,")
    assert int(request.headers["webhook-timestamp"]) > 0
    delivery = SandboxWebhookDelivery.objects.get()
    assert delivery.api == "v2" and delivery.trigger == "paid"
    assert delivery.outcome == "delivered" and delivery.http_status == 200
    assert delivery.raw_body.encode() == request.body  # what was signed is what was sent
    assert delivery.request_headers["webhook-id"] == delivery.webhook_id


def test_a_wrong_secret_does_not_verify(
    client, start_v2, v2_webhook_sink, django_capture_on_commit_callbacks
):
    tx_id = start_v2()
    with django_capture_on_commit_callbacks(execute=True):
        v2_window_action(client, tx_id, "approve")
    request = v2_webhook_sink.calls[0].request

    with pytest.raises(V2WebhookRejected):
        verify_delivery(request.body, request.headers, ["whsec_" + "A" * 32])


def test_signed_with_the_first_of_two_secrets(
    client, start_v2, v2_webhook_sink, django_capture_on_commit_callbacks, settings
):
    first = "whsec_c2FuZGJveC13ZWJob29rLXNlY3JldC0wMDAwMDAwMA=="
    settings.PORTONE_WEBHOOK_SECRETS = [first, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]
    tx_id = start_v2()
    with django_capture_on_commit_callbacks(execute=True):
        v2_window_action(client, tx_id, "approve")
    request = v2_webhook_sink.calls[0].request

    assert verify_delivery(request.body, request.headers, [first]).type == "Transaction.Paid"


def test_virtual_account_issue_then_deposit(
    client, start_v2, v2_webhook_sink, django_capture_on_commit_callbacks
):
    tx_id = start_v2(payMethod="VIRTUAL_ACCOUNT")

    with django_capture_on_commit_callbacks(execute=True):
        v2_window_action(client, tx_id, "approve")
    with django_capture_on_commit_callbacks(execute=True):
        services.vbank_deposit(imp_uid=tx_id)

    assert types(v2_webhook_sink) == ["Transaction.VirtualAccountIssued", "Transaction.Paid"]


@pytest.mark.parametrize("action", ["decline", "close"])
def test_failures_are_notified(
    client, start_v2, v2_webhook_sink, django_capture_on_commit_callbacks, action
):
    tx_id = start_v2()

    with django_capture_on_commit_callbacks(execute=True):
        v2_window_action(client, tx_id, action)

    [event] = events(v2_webhook_sink)
    assert event["type"] == "Transaction.Failed"
    assert event["data"]["transactionId"] == tx_id
    assert "cancellationId" not in event["data"]


def test_api_cancels_send_partial_then_cancelled_with_the_cancellation(
    portone, approve_v2, v2_webhook_sink, django_capture_on_commit_callbacks
):
    approve_v2()
    v2_webhook_sink.calls.reset()

    with django_capture_on_commit_callbacks(execute=True):
        first = portone.cancel(amount=2000).json()["cancellation"]
    with django_capture_on_commit_callbacks(execute=True):
        rest = portone.cancel().json()["cancellation"]

    partial, cancelled = events(v2_webhook_sink)
    assert partial["type"] == "Transaction.PartialCancelled"
    assert partial["data"]["cancellationId"] == first["id"]
    assert partial["timestamp"] == first["cancelledAt"]
    assert cancelled["type"] == "Transaction.Cancelled"
    assert cancelled["data"]["cancellationId"] == rest["id"]


def test_skip_webhook(portone, approve_v2, v2_webhook_sink, django_capture_on_commit_callbacks):
    approve_v2()
    v2_webhook_sink.calls.reset()

    with django_capture_on_commit_callbacks(execute=True):
        assert portone.cancel(amount=1000, skipWebhook=True).status_code == 200

    assert len(v2_webhook_sink.calls) == 0


def test_every_notice_url_gets_its_own_message(
    client, start_v2, django_capture_on_commit_callbacks
):
    other = "http://other.test/hook"
    tx_id = start_v2(noticeUrls=[V2_WEBHOOK_URL, other])

    with responses.RequestsMock() as rsps:
        rsps.post(V2_WEBHOOK_URL, status=200)
        rsps.post(other, status=204)
        with django_capture_on_commit_callbacks(execute=True):
            v2_window_action(client, tx_id, "approve")
        ids = {call.request.headers["webhook-id"] for call in rsps.calls}
        assert [call.request.url for call in rsps.calls] == [V2_WEBHOOK_URL, other]
        assert len(ids) == 2
        assert types(rsps) == ["Transaction.Paid", "Transaction.Paid"]
    assert SandboxWebhookDelivery.objects.filter(outcome="delivered").count() == 2


def test_no_notice_urls_no_delivery(client, start_v2, django_capture_on_commit_callbacks):
    tx_id = start_v2(noticeUrls=None)

    with responses.RequestsMock() as rsps, django_capture_on_commit_callbacks(execute=True):
        v2_window_action(client, tx_id, "approve")
        assert len(rsps.calls) == 0
    assert not SandboxWebhookDelivery.objects.exists()


def test_sandbox_webhook_url_stands_in_for_the_consoles_url(
    client, start_v2, settings, django_capture_on_commit_callbacks
):
    settings.SANDBOX_WEBHOOK_URL = "http://console-url.test/hook"
    tx_id = start_v2(noticeUrls=[])

    with responses.RequestsMock() as rsps:
        rsps.post("http://console-url.test/hook", status=200)
        with django_capture_on_commit_callbacks(execute=True):
            v2_window_action(client, tx_id, "approve")
        assert len(rsps.calls) == 1


def test_relative_notice_url_is_resolved_against_the_site(
    client, start_v2, settings, django_capture_on_commit_callbacks
):
    settings.SANDBOX_SITE_URL = "http://127.0.0.1:8123"
    tx_id = start_v2(noticeUrls=["/payments/webhook/"])

    with responses.RequestsMock() as rsps:
        rsps.post("http://127.0.0.1:8123/payments/webhook/", status=200)
        with django_capture_on_commit_callbacks(execute=True):
            v2_window_action(client, tx_id, "approve")
        assert len(rsps.calls) == 1


def test_resend_is_the_same_event_as_a_new_message(
    client, approve_v2, v2_webhook_sink, django_capture_on_commit_callbacks
):
    tx_id = approve_v2()

    with django_capture_on_commit_callbacks(execute=True):
        services.webhook_resend(imp_uid=tx_id)

    original, again = events(v2_webhook_sink)
    assert again == original
    first, second = (call.request.headers["webhook-id"] for call in v2_webhook_sink.calls)
    assert first != second
    assert SandboxWebhookDelivery.objects.filter(trigger="resend").count() == 1


def test_resend_of_a_cancelled_payment_names_its_last_cancellation(
    portone, approve_v2, v2_webhook_sink, django_capture_on_commit_callbacks
):
    tx_id = approve_v2()
    portone.cancel(amount=1000)
    last = portone.cancel().json()["cancellation"]
    v2_webhook_sink.calls.reset()

    with django_capture_on_commit_callbacks(execute=True):
        services.webhook_resend(imp_uid=tx_id)

    [event] = events(v2_webhook_sink)
    assert event["type"] == "Transaction.Cancelled"
    assert event["data"]["cancellationId"] == last["id"]


def test_resend_without_urls_is_refused(start_v2):
    tx_id = start_v2(noticeUrls=None)

    with pytest.raises(services.SandboxRefusal, match="noticeUrls"):
        services.webhook_resend(imp_uid=tx_id)


def test_ready_payment_resends_a_ready_event(
    start_v2, v2_webhook_sink, django_capture_on_commit_callbacks
):
    tx_id = start_v2()

    with django_capture_on_commit_callbacks(execute=True):
        services.webhook_resend(imp_uid=tx_id)

    assert types(v2_webhook_sink) == ["Transaction.Ready"]


def test_rejection_and_network_errors_are_recorded(
    client, start_v2, django_capture_on_commit_callbacks
):
    refused, broken = start_v2(paymentId="order_a"), start_v2(paymentId="order_b")

    with responses.RequestsMock() as rsps:
        rsps.post(V2_WEBHOOK_URL, status=400, body="bad signature")
        with django_capture_on_commit_callbacks(execute=True):
            v2_window_action(client, refused, "approve")
        rsps.replace(responses.POST, V2_WEBHOOK_URL, body=requests.ConnectionError("refused"))
        with django_capture_on_commit_callbacks(execute=True):
            v2_window_action(client, broken, "approve")

    first, second = SandboxWebhookDelivery.objects.order_by("id")
    assert (first.outcome, first.http_status, first.response_excerpt) == (
        "rejected",
        400,
        "bad signature",
    )
    assert second.outcome == "error" and "ConnectionError" in second.error


@pytest.mark.parametrize("secrets", [[], ["whsec_"], ["whsec_a"]])
def test_an_unusable_secret_is_recorded_not_raised(
    client, start_v2, settings, django_capture_on_commit_callbacks, secrets
):
    settings.PORTONE_WEBHOOK_SECRETS = secrets
    tx_id = start_v2()

    with responses.RequestsMock() as rsps, django_capture_on_commit_callbacks(execute=True):
        assert v2_window_action(client, tx_id, "approve").status_code == 200
        assert len(rsps.calls) == 0

    delivery = SandboxWebhookDelivery.objects.get()
    assert delivery.outcome == "error" and "PORTONE_WEBHOOK_SECRETS" in delivery.error


def test_v2_event_of_a_cancel_is_timed_by_it(portone, approve_v2):
    tx_id = approve_v2()
    portone.cancel(amount=1000)
    cancellation = SandboxCancellation.objects.get()

    event = webhooks.v2_event(cancellation.payment, cancellation_id=cancellation.cancellation_id)

    assert event["type"] == "Transaction.PartialCancelled"
    assert event["timestamp"] == webhooks.rfc3339(cancellation.cancelled_at)
    assert event["data"]["transactionId"] == tx_id
