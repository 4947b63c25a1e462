"""The webhook endpoint is unauthenticated (V1 has no signature): what it stores and spends is
bounded, and what it tells an anonymous caller is generic."""

from __future__ import annotations

import json
from unittest import mock

import pytest
import requests

from guard.models import RateCounter
from payments.models import WebhookDelivery
from shop.models import Order
from tests.conftest import API, load_fixture

pytestmark = pytest.mark.django_db

IMP = "imp_123456789012"
WEBHOOK = "/payments/webhook/"
IAMPORT_SENDER = "52.78.100.19"


@pytest.fixture
def order(order_factory):
    return order_factory(price=12000, stock=5)


def deliver(client, body=None, **extra):
    body = {"imp_uid": IMP} if body is None else body
    return client.post(WEBHOOK, json.dumps(body), content_type="application/json", **extra)


# --- rate limit ---------------------------------------------------------------------------
def test_a_flood_from_one_sender_is_refused_before_it_is_stored_or_looked_up(
    client, iamport, order, settings
):
    settings.IAMPORT_WEBHOOK_RATE = "3/60"
    iamport.payment(order.merchant_uid)

    statuses = [deliver(client, REMOTE_ADDR="198.51.100.7").status_code for _ in range(6)]

    assert statuses == [200, 200, 200, 429, 429, 429]
    assert WebhookDelivery.objects.count() == 3
    assert len(iamport.calls("GET", f"payments/{IMP}")) == 3


def test_iamport_s_own_senders_are_never_rate_limited(client, iamport, order, settings):
    settings.IAMPORT_WEBHOOK_RATE = "1/60"
    iamport.payment(order.merchant_uid)

    statuses = [deliver(client, REMOTE_ADDR=IAMPORT_SENDER).status_code for _ in range(4)]

    assert statuses == [200] * 4
    assert not RateCounter.objects.exists()


def test_allowlisted_senders_are_not_rate_limited_either(client, iamport, order, settings):
    settings.IAMPORT_WEBHOOK_RATE = "1/60"
    settings.IAMPORT_WEBHOOK_ALLOWED_IPS = ["10.1.2.3"]
    iamport.payment(order.merchant_uid)

    statuses = [deliver(client, REMOTE_ADDR="10.1.2.3").status_code for _ in range(3)]

    assert statuses == [200] * 3


def test_behind_a_proxy_each_sender_is_counted_on_its_own(client, iamport, order, settings):
    settings.IAMPORT_WEBHOOK_RATE = "1/60"
    settings.TRUSTED_PROXIES = 1
    iamport.payment(order.merchant_uid)
    via_proxy = {"REMOTE_ADDR": "10.0.0.1"}

    first = deliver(client, HTTP_X_FORWARDED_FOR="198.51.100.7", **via_proxy)
    again = deliver(client, HTTP_X_FORWARDED_FOR="198.51.100.7", **via_proxy)
    iamport_itself = deliver(client, HTTP_X_FORWARDED_FOR=IAMPORT_SENDER, **via_proxy)
    spoofed = deliver(client, HTTP_X_FORWARDED_FOR=f"{IAMPORT_SENDER}, 198.51.100.7", **via_proxy)

    assert [r.status_code for r in (first, again, iamport_itself, spoofed)] == [200, 429, 200, 429]
    assert WebhookDelivery.objects.filter(remote_addr=IAMPORT_SENDER).count() == 1


def test_the_allowlist_is_checked_against_the_address_behind_the_proxy(
    client, iamport, order, settings
):
    settings.TRUSTED_PROXIES = 1
    settings.IAMPORT_WEBHOOK_ALLOWED_IPS = [IAMPORT_SENDER]
    iamport.payment(order.merchant_uid)

    refused = deliver(client, REMOTE_ADDR=IAMPORT_SENDER, HTTP_X_FORWARDED_FOR="198.51.100.7")
    accepted = deliver(client, REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=IAMPORT_SENDER)

    assert (refused.status_code, accepted.status_code) == (403, 200)


# --- what is stored -----------------------------------------------------------------------
def test_a_body_over_the_cap_is_413_and_not_stored(client, iamport, settings):
    settings.IAMPORT_WEBHOOK_MAX_BODY = 100

    reply = deliver(client, {"imp_uid": IMP, "padding": "x" * 200})

    assert reply.status_code == 413
    delivery = WebhookDelivery.objects.get()
    assert (delivery.outcome, delivery.body) == (WebhookDelivery.Outcome.REJECTED, "")
    assert not iamport.rsps.calls


def test_only_the_headers_worth_keeping_are_stored(client, iamport, order):
    iamport.payment(order.merchant_uid)

    deliver(
        client,
        HTTP_AUTHORIZATION="Bearer secret-token",
        HTTP_COOKIE="sessionid=abc",
        HTTP_X_API_KEY="k3y",
        HTTP_X_IMP_SECRET="s3cret",
        HTTP_USER_AGENT="Iamport-Webhook/1.0",
        HTTP_X_FORWARDED_FOR="52.78.100.19",
    )

    headers = {k.lower(): v for k, v in WebhookDelivery.objects.get().headers.items()}
    assert headers["user-agent"] == "Iamport-Webhook/1.0"
    assert headers["content-type"] == "application/json"
    assert headers["x-forwarded-for"] == "52.78.100.19"
    stored = json.dumps(headers)
    for secret in ("secret-token", "sessionid", "k3y", "s3cret"):
        assert secret not in stored


def test_a_merchant_uid_hint_that_is_not_an_id_is_dropped_not_refused(client, iamport, order):
    iamport.payment(order.merchant_uid)

    reply = deliver(client, {"imp_uid": IMP, "merchant_uid": "주문 #1; DROP", "status": "paid"})

    assert reply.status_code == 200
    assert WebhookDelivery.objects.get().merchant_uid == ""
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


def test_deliveries_older_than_the_retention_are_pruned(client, iamport, order):
    from datetime import timedelta

    from django.core.management import call_command
    from django.utils import timezone

    iamport.payment(order.merchant_uid)
    deliver(client)
    deliver(client)
    WebhookDelivery.objects.filter(pk=WebhookDelivery.objects.first().pk).update(
        received_at=timezone.now() - timedelta(days=100)
    )

    call_command("prune_webhooks", "--days", "90", stdout=mock.MagicMock())

    assert WebhookDelivery.objects.count() == 1


# --- what an anonymous caller is told -----------------------------------------------------
def test_an_upstream_failure_is_generic_to_the_caller_and_detailed_on_the_record(
    client, iamport, order
):
    iamport.rsps.get(API + f"payments/{IMP}", status=401, json=load_fixture("unauthorized"))

    reply = deliver(client)

    assert reply.status_code == 502
    assert reply.json()["detail"] == "the payment could not be verified now; deliver again later"
    assert "IamportAuthError" not in reply.content.decode()
    assert "credentials" not in reply.content.decode()
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == WebhookDelivery.Outcome.ERROR
    assert "IamportAuthError" in delivery.detail


def test_a_refused_payment_whose_cancel_failed_asks_iamport_to_deliver_again(
    client, iamport, order
):
    iamport.payment(order.merchant_uid, amount=100)  # forged
    iamport.rsps.post(API + "payments/cancel", body=requests.ConnectionError("down"))

    reply = deliver(client)

    assert reply.status_code == 503
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == WebhookDelivery.Outcome.ERROR
    assert "cancel failed" in delivery.detail


def test_an_unexpected_error_is_kept_on_the_delivery_with_its_traceback(client, iamport, order):
    iamport.payment(order.merchant_uid)

    with mock.patch(
        "payments.services.webhooks.payment_sync", side_effect=ZeroDivisionError("bug")
    ):
        reply = deliver(client)

    assert reply.status_code == 503
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == WebhookDelivery.Outcome.ERROR
    assert "Traceback (most recent call last)" in delivery.detail
    assert "ZeroDivisionError: bug" in delivery.detail
