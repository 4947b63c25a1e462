"""Giving money back for payments the shop will not accept (forged, duplicate, sold out).

Only one request cancels a given payment (a short-lived claim on the row); a funded virtual
account is never cancelled automatically, since Iamport refunds it only to an account a
person must supply.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from payments.client import (
    IamportAuthError,
    IamportError,
    IamportPayment,
    IamportRejected,
    PaymentStatus,
    get_client,
)
from payments.models import Payment, Refund
from payments.services.records import cancellation_fields, store_reply
from shop.models import Order

logger = logging.getLogger(__name__)

Verdict = Payment.Verdict

# A claim outlives its request by this much before another may take over the cancel.
CLAIM_MARGIN = timedelta(seconds=5)

MANUAL_REFUND_NOTE = (
    " — 입금된 가상계좌는 환불 계좌가 있어야 돌려줄 수 있어 관리자 환불이 필요합니다"
)

CANCEL_REASONS = {
    Verdict.FORGED: "결제 금액 불일치 (위변조 의심)",
    Verdict.DUPLICATE: "이미 결제된 주문의 중복 결제",
    Verdict.UNFULFILLABLE: "재고 부족으로 주문 불가",
}


def claim_ttl() -> timedelta:
    """How long a cancel claim protects its request. A request spends at most
    IAMPORT_REQUEST_BUDGET seconds on Iamport, so a claim older than that (plus a margin) belongs
    to a request that has died; the checksum makes the second cancel safe even then."""
    return timedelta(seconds=settings.IAMPORT_REQUEST_BUDGET) + CLAIM_MARGIN


def claim_cancel(payment: Payment) -> bool:
    """True for the one request that should cancel this payment at Iamport now.

    A compare-and-set on the row, so that the claim another request holds (or released) is
    decided by the database, never by a stale copy in memory.
    """
    now = timezone.now()
    free = Q(cancel_requested_at__isnull=True) | Q(cancel_requested_at__lt=now - claim_ttl())
    claimed = Payment.objects.filter(free, pk=payment.pk).update(
        cancel_requested_at=now, updated_at=now
    )
    if claimed:
        payment.cancel_requested_at = now
    return bool(claimed)


def release_cancel_claim(payment: Payment) -> None:
    Payment.objects.filter(pk=payment.pk).update(cancel_requested_at=None)
    payment.cancel_requested_at = None


def cancellable(remote: IamportPayment) -> bool:
    """Whether the shop can give back what Iamport holds (money or an issued virtual account)."""
    return remote.holds_money and not remote.is_funded_virtual_account


def needs_refund_account(remote: IamportPayment) -> bool:
    """A funded virtual account is refunded to the buyer's bank account, which only a person
    can supply (Iamport's refund_holder / refund_bank / refund_account)."""
    return remote.is_funded_virtual_account


def note_manual_refund(payment: Payment) -> None:
    if MANUAL_REFUND_NOTE not in payment.verdict_reason:
        logger.error(
            "payment %s needs a manual refund: %s", payment.imp_uid, payment.verdict_reason
        )
        room = 255 - len(MANUAL_REFUND_NOTE)
        payment.verdict_reason = payment.verdict_reason[:room] + MANUAL_REFUND_NOTE
        payment.save(update_fields=["verdict_reason", "updated_at"])


def cancel_rejected_payment(payment: Payment, remote: IamportPayment, reason: str) -> None:
    """Give the money back for a payment the shop will not accept (forged, duplicate, ...).

    Called outside the decision's transaction. When two requests race here, Iamport accepts the
    first cancel and refuses the second (its checksum is stale); the loser just re-reads.
    """
    remaining = remote.remaining_amount
    try:
        updated = get_client().cancel(
            imp_uid=remote.imp_uid,
            merchant_uid=remote.merchant_uid,
            amount=remaining,
            checksum=remaining,
            reason=reason,
        )
    except IamportRejected as exc:
        if isinstance(exc, IamportAuthError):
            release_cancel_claim(payment)
            raise
        logger.warning(
            "payment %s: cancel refused (%s); re-reading it", remote.imp_uid, exc.message
        )
        updated = get_client().find_by_imp_uid(remote.imp_uid)
        with transaction.atomic():
            store_reply(payment, updated)
        return
    except IamportError:
        release_cancel_claim(payment)  # nothing happened at Iamport: let a retry cancel it
        raise
    with transaction.atomic():
        Order.objects.select_for_update().filter(pk=payment.order_id).first()  # as the sync
        payment = store_reply(payment, updated)
        if remote.status != PaymentStatus.PAID:  # an unfunded account closed: no money moved
            return
        fields = cancellation_fields(updated, payment=payment, amount=remaining)
        if not payment.refunds.filter(cancellation_id=fields["cancellation_id"]).exists():
            Refund.objects.create(
                payment=payment,
                amount=remaining,
                checksum=remaining,
                reason=reason,
                status=Refund.Status.SUCCEEDED,
                **fields,
            )
    logger.info("payment %s: cancelled %s won at Iamport (%s)", remote.imp_uid, remaining, reason)


def cancel_superseded(payment: Payment) -> None:
    """Cancel an unfunded virtual account that another payment made unnecessary."""
    try:
        remote = get_client().find_by_imp_uid(payment.imp_uid)
        if cancellable(remote):
            cancel_rejected_payment(payment, remote, CANCEL_REASONS[Verdict.DUPLICATE])
        elif needs_refund_account(remote):  # the buyer paid into it meanwhile
            with transaction.atomic():
                note_manual_refund(Payment.objects.select_for_update().get(pk=payment.pk))
    except IamportError as exc:
        # The order is settled either way; the reconciliation command retries this cancel.
        release_cancel_claim(payment)
        logger.error("payment %s: could not cancel it: %s", payment.imp_uid, exc.message)
