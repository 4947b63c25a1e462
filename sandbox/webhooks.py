"""Webhook notifications, sent to the shop the way Iamport (V1) and PortOne V2 send them.

V1: a JSON POST of `{"imp_uid", "merchant_uid", "status"}` (plus `cancellation_id` for a
cancellation) to the payment's `notice_url`, or to `settings.SANDBOX_WEBHOOK_URL` when that is
set (it overrides, like the console setting).

V2 (webhook version 2024-04-25): a JSON POST of `{"type": "Transaction.Paid", "timestamp",
"data": {"storeId", "paymentId", "transactionId", "cancellationId"?}}` to every URL of the
payment's `noticeUrls` (none: to `SANDBOX_WEBHOOK_URL`, standing for the console's webhook
URL, when set; else nowhere), signed the Standard Webhooks way with the first of
`settings.PORTONE_WEBHOOK_SECRETS`: headers `webhook-id` (a new `msg_…` per message),
`webhook-timestamp` and `webhook-signature`. The event is the payment's current state (see
`v2_event`), so the console's resend sends the same event again, as a new message.

It is sent only after the transaction that changed the payment has committed, from a daemon
thread: the shop's handler calls back into the sandbox's REST API over HTTP on the same server,
so the sandbox must hold no transaction (and, on SQLite, no write lock) while it waits for the
answer. With `settings.SANDBOX_WEBHOOK_SYNC` true the POST happens in the calling thread
instead (still after commit), which lets tests intercept it with `responses`.

Every attempt is recorded as a `SandboxWebhookDelivery` with the shop's answer.
"""

from __future__ import annotations

import binascii
import json
import logging
import secrets
import threading
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import requests
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook

from sandbox.models import Api, SandboxCancellation, SandboxPayment, SandboxWebhookDelivery

logger = logging.getLogger(__name__)

# Iamport's own timeouts: 10 s to connect, 30 s to read.
DEFAULT_TIMEOUT = (10.0, 30.0)
RESPONSE_EXCERPT_LENGTH = 2000


def webhook_urls(payment: SandboxPayment) -> list[str]:
    """Where this payment's notifications go (empty when nowhere is configured)."""
    configured = getattr(settings, "SANDBOX_WEBHOOK_URL", None)
    if payment.api == Api.V2:
        urls = list(payment.notice_urls) or ([configured] if configured else [])
    else:
        url = configured or payment.notice_url
        urls = [url] if url else []
    # A relative URL is taken relative to the site the sandbox runs on.
    site = getattr(settings, "SANDBOX_SITE_URL", "http://127.0.0.1:8000").rstrip("/") + "/"
    return [urljoin(site, url) for url in urls]


def webhook_url(payment: SandboxPayment) -> str | None:
    """Where a V1 payment's notification goes, or None when nowhere is configured."""
    urls = webhook_urls(payment)
    return urls[0] if urls else None


def rfc3339(moment: datetime) -> str:
    """A time as PortOne V2 writes it: UTC, milliseconds, "Z"."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _v2_state(payment: SandboxPayment) -> tuple[str, datetime | None, bool]:
    """The V2 event type of the payment's current state, when it happened, and whether it
    names a cancellation."""
    status = payment.v2_status
    if status == "FAILED":
        return "Transaction.Failed", payment.failed_at, False
    if status in ("CANCELLED", "PARTIAL_CANCELLED"):
        kind = "Cancelled" if status == "CANCELLED" else "PartialCancelled"
        return f"Transaction.{kind}", None, True
    if status == "PAID":
        return "Transaction.Paid", payment.paid_at, False
    if status == "VIRTUAL_ACCOUNT_ISSUED":
        return "Transaction.VirtualAccountIssued", payment.vbank_issued_at, False
    return "Transaction.Ready", payment.started_at, False


def v2_event(payment: SandboxPayment, *, cancellation_id: str | None = None) -> dict[str, Any]:
    """The 2024-04-25 webhook body for the payment's current state. A cancel event names the
    cancellation (the newest succeeded one unless told), and is timed by it; a cancellation
    the PG is still making is announced as Transaction.CancelPending."""
    event_type, moment, names_cancellation = _v2_state(payment)
    data = {
        "storeId": payment.store_id,
        "paymentId": payment.merchant_uid,
        "transactionId": payment.imp_uid,
    }
    named = (
        payment.cancellations.filter(cancellation_id=cancellation_id).first()
        if cancellation_id
        else None
    )
    if named is not None and named.status == SandboxCancellation.Status.REQUESTED:
        event_type, names_cancellation = "Transaction.CancelPending", True
    if names_cancellation:
        cancellation = named or (
            payment.cancellations.filter(status=SandboxCancellation.Status.SUCCEEDED)
            .order_by("-cancelled_at", "-id")
            .first()
        )
        if cancellation is not None:
            data["cancellationId"] = cancellation.cancellation_id
            moment = cancellation.cancelled_at
    return {
        "type": event_type,
        "timestamp": rfc3339(moment or payment.updated_at or timezone.now()),
        "data": data,
    }


def webhook_body(payment: SandboxPayment, *, cancellation_id: str | None = None) -> dict:
    if payment.api == Api.V2:
        return v2_event(payment, cancellation_id=cancellation_id)
    body = {
        "imp_uid": payment.imp_uid,
        "merchant_uid": payment.merchant_uid,
        "status": str(payment.status),
    }
    if cancellation_id:
        body["cancellation_id"] = cancellation_id
    return body


def notify_after_commit(
    payment: SandboxPayment, *, trigger: str, cancellation_id: str | None = None
) -> None:
    """Notify the shop about `payment` as it is now, once the current transaction commits.

    The body is taken now, so it carries the status of this event even if another change
    follows before the notification leaves.
    """
    body = webhook_body(payment, cancellation_id=cancellation_id)
    payment_id = payment.pk
    transaction.on_commit(
        lambda: dispatch(payment_id=payment_id, body=body, trigger=trigger), robust=True
    )


def dispatch(*, payment_id: int, body: dict, trigger: str) -> list[SandboxWebhookDelivery]:
    """Record a delivery per URL and send each (in a thread, or right here in synchronous
    mode). A V2 delivery is a message of its own, with its own webhook-id."""
    payment = SandboxPayment.objects.get(pk=payment_id)
    urls = webhook_urls(payment)
    if not urls:
        logger.info("sandbox: no webhook URL for %s, %s not sent", payment.imp_uid, trigger)
        return []
    v2 = payment.api == Api.V2
    deliveries = [
        SandboxWebhookDelivery.objects.create(
            payment=payment,
            api=payment.api,
            trigger=trigger,
            url=url,
            body=body,
            webhook_id=f"msg_{secrets.token_hex(12)}" if v2 else "",
            # The exact text signed and sent: the signature covers these bytes.
            raw_body=json.dumps(body, ensure_ascii=False, separators=(",", ":")) if v2 else "",
        )
        for url in urls
    ]
    for delivery in deliveries:
        if getattr(settings, "SANDBOX_WEBHOOK_SYNC", False):
            deliver(delivery)
        else:
            threading.Thread(
                target=_deliver_in_thread,
                args=(delivery.pk,),
                name=f"sandbox-webhook-{delivery.pk}",
                daemon=True,
            ).start()
    return deliveries


class SigningFailed(Exception):
    """The V2 webhook secret is missing or not a Standard Webhooks secret."""


def signed_headers(delivery: SandboxWebhookDelivery) -> dict[str, str]:
    """The Standard Webhooks headers of a V2 delivery, signed now with the first secret."""
    configured = list(getattr(settings, "PORTONE_WEBHOOK_SECRETS", None) or [])
    if not configured:
        raise SigningFailed("PORTONE_WEBHOOK_SECRETS is empty: nothing to sign with")
    now = datetime.now(UTC)
    try:
        signature = Webhook(configured[0]).sign(delivery.webhook_id, now, delivery.raw_body)
    except (EmptyWebhookSecretError, ValueError, binascii.Error) as exc:
        raise SigningFailed(f"the first PORTONE_WEBHOOK_SECRETS entry is unusable: {exc}") from exc
    return {
        "webhook-id": delivery.webhook_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }


def _post(delivery: SandboxWebhookDelivery, timeout: tuple) -> requests.Response:
    if delivery.api != Api.V2:
        return requests.post(
            delivery.url,
            json=delivery.body,
            timeout=timeout,
            headers={"User-Agent": "Iamport-Sandbox-Webhook/1.0"},
            allow_redirects=False,
        )
    delivery.request_headers = signed_headers(delivery)
    return requests.post(
        delivery.url,
        data=delivery.raw_body.encode("utf-8"),
        timeout=timeout,
        headers={
            **delivery.request_headers,
            "Content-Type": "application/json",
            "User-Agent": "PortOne-Sandbox-Webhook/1.0",
        },
        allow_redirects=False,
    )


def deliver(delivery: SandboxWebhookDelivery) -> SandboxWebhookDelivery:
    """POST the delivery's body to its URL and record the answer. Never raises for HTTP."""
    timeout = tuple(getattr(settings, "SANDBOX_WEBHOOK_TIMEOUT", DEFAULT_TIMEOUT))
    try:
        reply = _post(delivery, timeout)
    except SigningFailed as exc:
        delivery.outcome = SandboxWebhookDelivery.Outcome.ERROR
        delivery.error = str(exc)[:500]
        logger.warning("sandbox: webhook to %s not signed: %s", delivery.url, delivery.error)
    except requests.RequestException as exc:
        delivery.outcome = SandboxWebhookDelivery.Outcome.ERROR
        delivery.error = f"{exc.__class__.__name__}: {exc}"[:500]
        logger.warning("sandbox: webhook to %s failed: %s", delivery.url, delivery.error)
    else:
        delivery.http_status = reply.status_code
        delivery.response_excerpt = reply.text[:RESPONSE_EXCERPT_LENGTH]
        delivery.outcome = (
            SandboxWebhookDelivery.Outcome.DELIVERED
            if 200 <= reply.status_code < 300
            else SandboxWebhookDelivery.Outcome.REJECTED
        )
        logger.info(
            "sandbox: webhook %s to %s -> HTTP %s", delivery.body, delivery.url, reply.status_code
        )
    delivery.finished_at = timezone.now()
    delivery.save(
        update_fields=[
            "outcome",
            "error",
            "http_status",
            "response_excerpt",
            "finished_at",
            "request_headers",
        ]
    )
    return delivery


def _deliver_in_thread(delivery_id: int) -> None:
    try:
        deliver(SandboxWebhookDelivery.objects.get(pk=delivery_id))
    except Exception:
        logger.exception("sandbox: webhook delivery %s crashed", delivery_id)
    finally:
        # This thread opened its own database connection; nothing else will close it.
        connection.close()


def resend(payment: SandboxPayment) -> None:
    """Send the payment's current state again (the console's "웹훅 재전송"); for V2 the
    current state's event, as a new message."""
    notify_after_commit(payment, trigger="resend")
