"""Webhook notifications, sent to the shop the way Iamport sends them.

A notification is a JSON POST of `{"imp_uid", "merchant_uid", "status"}` (plus
`cancellation_id` for a cancellation) to the payment's `notice_url`, or to
`settings.SANDBOX_WEBHOOK_URL` when that is set (it overrides, like the console setting).

It is sent only after the transaction that changed the payment has committed, from a daemon
thread: the shop's handler calls back into the sandbox's REST API over HTTP on the same server,
so the sandbox must hold no transaction (and, on SQLite, no write lock) while it waits for the
answer. With `settings.SANDBOX_WEBHOOK_SYNC` true the POST happens in the calling thread
instead (still after commit), which lets tests intercept it with `responses`.

Every attempt is recorded as a `SandboxWebhookDelivery` with the shop's answer.
"""

from __future__ import annotations

import logging
import threading
from urllib.parse import urljoin

import requests
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from sandbox.models import SandboxPayment, SandboxWebhookDelivery

logger = logging.getLogger(__name__)

# Iamport's own timeouts: 10 s to connect, 30 s to read.
DEFAULT_TIMEOUT = (10.0, 30.0)
RESPONSE_EXCERPT_LENGTH = 2000


def webhook_url(payment: SandboxPayment) -> str | None:
    """Where this payment's notifications go, or None when nowhere is configured."""
    url = getattr(settings, "SANDBOX_WEBHOOK_URL", None) or payment.notice_url
    if not url:
        return None
    # A relative notice_url is taken relative to the site the sandbox runs on.
    site = getattr(settings, "SANDBOX_SITE_URL", "http://127.0.0.1:8000").rstrip("/") + "/"
    return urljoin(site, url)


def webhook_body(payment: SandboxPayment, *, cancellation_id: str | None = None) -> dict:
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


def dispatch(*, payment_id: int, body: dict, trigger: str) -> SandboxWebhookDelivery | None:
    """Record a delivery and send it (in a thread, or right here in synchronous mode)."""
    payment = SandboxPayment.objects.get(pk=payment_id)
    url = webhook_url(payment)
    if not url:
        logger.info("sandbox: no webhook URL for %s, %s not sent", payment.imp_uid, trigger)
        return None
    delivery = SandboxWebhookDelivery.objects.create(
        payment=payment, trigger=trigger, url=url, body=body
    )
    if getattr(settings, "SANDBOX_WEBHOOK_SYNC", False):
        deliver(delivery)
    else:
        threading.Thread(
            target=_deliver_in_thread,
            args=(delivery.pk,),
            name=f"sandbox-webhook-{delivery.pk}",
            daemon=True,
        ).start()
    return delivery


def deliver(delivery: SandboxWebhookDelivery) -> SandboxWebhookDelivery:
    """POST the delivery's body to its URL and record the answer. Never raises for HTTP."""
    timeout = tuple(getattr(settings, "SANDBOX_WEBHOOK_TIMEOUT", DEFAULT_TIMEOUT))
    try:
        reply = requests.post(
            delivery.url,
            json=delivery.body,
            timeout=timeout,
            headers={"User-Agent": "Iamport-Sandbox-Webhook/1.0"},
            allow_redirects=False,
        )
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
        update_fields=["outcome", "error", "http_status", "response_excerpt", "finished_at"]
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
    """Send the payment's current state again (the console's "웹훅 재전송")."""
    notify_after_commit(payment, trigger="resend")
