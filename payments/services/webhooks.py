"""Webhook deliveries: stored as they arrived (bounded), processed, settled with the outcome.

The endpoint is unauthenticated (Iamport V1 signs nothing), so what a delivery stores is
bounded: a capped body and only the headers worth keeping, never credentials or cookies. The
body is only a hint: the payment it names is fetched from Iamport and synced like any other.
Whatever happens while processing, the stored delivery says so, an unexpected error with its
traceback (as dj-stripe's WebhookEventTrigger does), so that an admin sees what broke.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from guard.text import storable_text
from payments import gateways
from payments.client import (
    IamportError,
    IamportNotFound,
    IamportTimeout,
    IamportUnavailable,
)
from payments.ids import is_imp_uid
from payments.models import Payment, WebhookDelivery
from payments.services.sync import (
    Recorder,
    SyncOutcome,
    SyncResult,
    payment_sync,
    payment_sync_v2,
)
from payments.v2_webhooks import V2Event, V2WebhookRejected, verify_delivery
from shop.ids import is_merchant_uid

logger = logging.getLogger(__name__)

# Headers worth keeping as evidence; anything else (Authorization, Cookie, API keys, ...) is
# dropped before the delivery is stored.
KEPT_HEADERS = frozenset(
    {
        "content-type",
        "content-length",
        "user-agent",
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-real-ip",
        "host",
        # PortOne V2's signature headers: evidence, not credentials (the secret never travels).
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    }
)
HEADER_VALUE_MAX = 500
DETAIL_MAX = 10_000


def kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {
        name: value[:HEADER_VALUE_MAX]
        for name, value in headers.items()
        if name.lower() in KEPT_HEADERS
    }


def webhook_store(
    *, remote_addr: str | None, headers: Mapping[str, str], body: bytes, api: str = "v1"
) -> WebhookDelivery:
    """Keep the delivery as it arrived, before anything is done with it."""
    limit = settings.IAMPORT_WEBHOOK_MAX_BODY
    return WebhookDelivery.objects.create(
        remote_addr=remote_addr,
        api=api,
        headers=kept_headers(headers),
        # NUL is replaced: PostgreSQL text cannot hold it, and the body is kept as evidence.
        body=body[:limit].decode("utf-8", errors="replace").replace("\x00", "\ufffd"),
    )


def webhook_finish(
    delivery: WebhookDelivery, outcome: str, detail: str, *, error: BaseException | None = None
) -> WebhookDelivery:
    """Record what came of a delivery; an unexpected error keeps its traceback for the admin."""
    if error is not None:
        trace = "".join(traceback.format_exception(error))
        detail = f"{detail}\n\n{trace}"
    delivery.outcome, delivery.detail = outcome, detail[:DETAIL_MAX]
    delivery.save(
        update_fields=["outcome", "detail", "imp_uid", "merchant_uid", "status_hint", "webhook_id"]
    )
    logger.info(
        "webhook %s: %s (%s)", delivery.pk, outcome, detail.splitlines()[0] if detail else ""
    )
    return delivery


Outcome = WebhookDelivery.Outcome
# What an anonymous caller is told when Iamport could not be asked; the details stay in the
# stored delivery and the log.
RETRY_DETAIL = "the payment could not be verified now; deliver again later"


class WebhookRejected(ValueError):
    """The delivery is unusable (no readable body, no imp_uid); the message says why."""


@dataclass(frozen=True)
class WebhookAnswer:
    """What to answer the sender: 200 once handled, 4xx for its mistakes, 5xx to retry."""

    status: int
    outcome: str
    detail: str  # fit for an anonymous caller


def retry_status(exc: IamportError) -> int:
    """The 5xx that tells Iamport a retry may help: 504 timeout, 503 unreachable, else 502."""
    if isinstance(exc, IamportTimeout):
        return 504
    return 503 if isinstance(exc, IamportUnavailable) else 502


def webhook_process(
    delivery: WebhookDelivery,
    *,
    sender_allowed: bool,
    read_payload: Callable[[], dict[str, Any]],
    read_imp_uid: Callable[[dict[str, Any]], str],
) -> WebhookAnswer:
    """Process a stored delivery and record what came of it, whatever happens."""
    with _errors_recorded(delivery):
        return _process(delivery, sender_allowed, read_payload, read_imp_uid)


@contextmanager
def _errors_recorded(delivery: WebhookDelivery) -> Iterator[None]:
    """An unexpected error is recorded on the delivery, with its traceback, and raised."""
    try:
        yield
    except Exception as exc:
        webhook_finish(delivery, Outcome.ERROR, "unexpected error", error=exc)
        raise


def _synced(
    delivery: WebhookDelivery, sync: Callable[[Recorder], SyncResult], *, api: str, unknown: str
) -> WebhookAnswer:
    """The sync's outcome as the answer; `unknown` when the API has no such payment, a 5xx
    asking for a retry when it could not be asked.

    The delivery's outcome is written inside the sync's own transaction, so that it commits
    with the decision it reports (and costs no commit of its own); it is written again only
    when what came after the commit (a refused payment's cancel) changed it."""
    try:
        result = sync(lambda decided: _verdict(decided).record(delivery))
    except IamportNotFound:
        return _done(delivery, 200, Outcome.IGNORED, unknown)
    except IamportError as exc:
        detail = f"{exc.__class__.__name__}: {exc.message}"
        logger.warning("webhook %s: %s failed: %s", delivery.pk, api, detail)
        return _done(delivery, retry_status(exc), Outcome.ERROR, detail, public=RETRY_DETAIL)
    return _settled(delivery, result)


def _process(delivery, sender_allowed, read_payload, read_imp_uid) -> WebhookAnswer:
    if not sender_allowed:
        return _done(delivery, 403, Outcome.REJECTED, f"sender {delivery.remote_addr} not allowed")
    try:
        payload = read_payload()
        delivery.imp_uid = read_imp_uid(payload)
    except WebhookRejected as exc:
        return _done(delivery, 400, Outcome.REJECTED, str(exc))
    _keep_hints(delivery, payload)
    if not gateways.is_configured(Payment.Api.V1):  # a V2-only shop: nothing to ask
        return _done(delivery, 400, Outcome.REJECTED, "this shop has no Iamport (V1) credentials")
    imp_uid = delivery.imp_uid
    # The payment is fetched by imp_uid; nothing else in the body is believed.
    return _synced(
        delivery,
        lambda record: payment_sync(imp_uid=imp_uid, record=record),
        api="Iamport",
        unknown="Iamport does not know this imp_uid",
    )


def _keep_hints(delivery: WebhookDelivery, payload: dict[str, Any]) -> None:
    """The body's merchant_uid and status are only hints, kept when they look sane."""
    hint = payload.get("merchant_uid")
    hint = hint.strip() if isinstance(hint, str) else ""
    delivery.merchant_uid = hint if is_merchant_uid(hint) else ""
    status = payload.get("status")
    delivery.status_hint = storable_text(status[:20]) if isinstance(status, str) else ""


@dataclass(frozen=True)
class _Verdict:
    """What a delivery came to, as the stored record says it."""

    status: int
    outcome: str
    detail: str

    def record(self, delivery: WebhookDelivery) -> None:
        """Store it on the delivery, unless the delivery already says exactly that."""
        if (delivery.outcome, delivery.detail) != (self.outcome, self.detail[:DETAIL_MAX]):
            webhook_finish(delivery, self.outcome, self.detail)

    def answer(self) -> WebhookAnswer:
        """The answer for the sender: an upstream failure's details stay in the record."""
        public = RETRY_DETAIL if self.outcome == Outcome.ERROR else self.detail
        return WebhookAnswer(self.status, self.outcome, public)


def _verdict(result: SyncResult) -> _Verdict:
    if result.outcome == SyncOutcome.NOT_OURS:
        return _Verdict(200, Outcome.IGNORED, str(result.message))
    order = result.order
    detail = f"{result.outcome}; order {order.status if order else '-'}"
    if result.cancel_error is not None:
        # Decided, but the refused payment's money is still at Iamport: a retry can help.
        exc = result.cancel_error
        detail += f"; cancel failed: {exc.__class__.__name__}: {exc.message}"
        return _Verdict(retry_status(exc), Outcome.ERROR, detail)
    return _Verdict(200, Outcome.PROCESSED, detail)


def _settled(delivery: WebhookDelivery, result: SyncResult) -> WebhookAnswer:
    order = result.order
    if delivery.merchant_uid and order and delivery.merchant_uid != order.merchant_uid:
        logger.warning(
            "webhook %s named %s but the payment is for %s",
            delivery.pk,
            delivery.merchant_uid,
            order.merchant_uid,
        )
    verdict = _verdict(result)
    verdict.record(delivery)
    return verdict.answer()


def _done(
    delivery: WebhookDelivery, status: int, outcome: str, detail: str, *, public: str = ""
) -> WebhookAnswer:
    webhook_finish(delivery, outcome, detail)
    return WebhookAnswer(status, outcome, public or detail)


# --- PortOne V2 -----------------------------------------------------------------------------
V2_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
# Outcomes after which a repeated webhook-id has nothing left to do; after an error (PortOne or
# a cancel failed) the repeat is PortOne's retry, and is processed.
SETTLED_OUTCOMES = (Outcome.PROCESSED, Outcome.IGNORED)


def is_v2_delivery(headers: Mapping[str, str]) -> bool:
    """PortOne V2 signs its deliveries (Standard Webhooks); Iamport's V1 ones carry none of
    these headers."""
    return any(headers.get(name) for name in V2_HEADERS)


def webhook_process_v2(
    delivery: WebhookDelivery, *, sender_allowed: bool, body: bytes, headers: Mapping[str, str]
) -> WebhookAnswer:
    """Verify a stored V2 delivery's signature, then sync the payment it names."""
    with _errors_recorded(delivery):
        return _process_v2(delivery, sender_allowed, body, headers)


def _process_v2(delivery, sender_allowed, body, headers) -> WebhookAnswer:
    if not sender_allowed:
        return _done(delivery, 403, Outcome.REJECTED, f"sender {delivery.remote_addr} not allowed")
    try:
        event = verify_delivery(body, headers, settings.PORTONE_WEBHOOK_SECRETS)
    except V2WebhookRejected as exc:
        return _done(delivery, 400, Outcome.REJECTED, f"signature: {exc.reason}")
    _keep_v2_hints(delivery, event)
    if _already_settled(delivery):
        return _done(
            delivery, 200, Outcome.IGNORED, f"webhook-id {event.webhook_id} handled before"
        )
    if not event.is_transaction:
        return _done(delivery, 200, Outcome.IGNORED, f"event type {event.type!r} not handled")
    return _sync_v2(delivery, event.payment_id)


def webhook_reprocess_v2(delivery: WebhookDelivery) -> WebhookAnswer:
    """Process a stored V2 delivery again (the admin's "다시 처리"). Its signature held when it
    arrived (that is when its paymentId was kept); it cannot be checked again, being more than
    5 minutes old by now. One that never passed stays rejected."""
    with _errors_recorded(delivery):
        if not delivery.webhook_id or not delivery.merchant_uid:
            return _done(delivery, 400, Outcome.REJECTED, "signature was never verified")
        return _sync_v2(delivery, delivery.merchant_uid)


def _sync_v2(delivery: WebhookDelivery, payment_id: str) -> WebhookAnswer:
    # The payment is fetched by paymentId; nothing else in the body is believed.
    return _synced(
        delivery,
        lambda record: payment_sync_v2(payment_id=payment_id, record=record),
        api="PortOne",
        unknown="PortOne does not know this paymentId",
    )


def _keep_v2_hints(delivery: WebhookDelivery, event: V2Event) -> None:
    """What the signed body says, kept for the admin (the payment is still fetched)."""
    delivery.webhook_id = storable_text(event.webhook_id[:100])
    delivery.merchant_uid = event.payment_id if is_merchant_uid(event.payment_id) else ""
    delivery.imp_uid = event.transaction_id if is_imp_uid(event.transaction_id) else ""
    delivery.status_hint = storable_text(event.type.removeprefix("Transaction.")[:20])


def _already_settled(delivery: WebhookDelivery) -> bool:
    earlier = WebhookDelivery.objects.filter(
        api=delivery.api, webhook_id=delivery.webhook_id, outcome__in=SETTLED_OUTCOMES
    )
    return bool(delivery.webhook_id) and earlier.exclude(pk=delivery.pk).exists()
