"""Giving money back for payments the shop will not accept (forged, duplicate, sold out).

Only one request cancels a given payment (a short-lived claim on the row); a funded virtual
account is never cancelled automatically, since Iamport refunds it only to an account a
person must supply.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from payments import gateways
from payments.client import (
    IamportAuthError,
    IamportError,
    IamportPayment,
    IamportRejected,
    PaymentStatus,
)
from payments.locks import lock_payment
from payments.models import Payment, Refund
from payments.services.records import claim_ttl, reply_apply
from shop.locks import lock_order

logger = logging.getLogger(__name__)

Verdict = Payment.Verdict

MANUAL_REFUND_NOTE = (
    " — 입금된 가상계좌는 환불 계좌가 있어야 돌려줄 수 있어 관리자 환불이 필요합니다"
)

CANCEL_REASONS = {
    Verdict.FORGED: "결제 금액 불일치 (위변조 의심)",
    Verdict.DUPLICATE: "이미 결제된 주문의 중복 결제",
    Verdict.UNFULFILLABLE: "재고 부족으로 주문 불가",
    Verdict.TEST_CHANNEL: "테스트 채널 결제는 받지 않음",
}


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
    """Whether the shop can give back what Iamport holds (money or an issued virtual account).
    What the PG is already giving back (a V2 cancel still in progress) is not asked for again."""
    return (
        remote.holds_money
        and not remote.is_funded_virtual_account
        and remote.cancel_pending < remote.remaining_amount
    )


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

    Called outside the decision's transaction, by the one request holding the cancel claim.
    The checksum is the balance Iamport showed: should another cancel have gone first, Iamport
    refuses this one and the payment is simply read again. Raises IamportError when Iamport
    could not be asked (the claim is then released, so that reconciliation retries).
    """
    remaining = remote.remaining_amount
    gateway = gateways.gateway_of(payment)
    try:
        answer = gateway.cancel(
            imp_uid=remote.imp_uid,
            merchant_uid=remote.merchant_uid,
            amount=remaining,
            checksum=remaining,
            reason=reason,
            key=cancel_key(remote),
        )
    except IamportRejected as exc:
        if isinstance(exc, IamportAuthError):
            release_cancel_claim(payment)
            raise
        logger.warning("payment %s: cancel refused (%s); re-reading it", remote.imp_uid, exc)
        _record(payment, gateway.find_record(payment), ours=None)
        return
    except gateways.CancelPending:
        # Taken; the PG gives the money back later. The payment shows the cancel in progress
        # (so it is not asked again) and its webhook, or reconciliation, records the refund.
        logger.info("payment %s: cancel of %s won pending at the PG", remote.imp_uid, remaining)
        release_cancel_claim(payment)
        _record(payment, gateway.find_record(payment), ours=None)
        return
    except IamportError:
        release_cancel_claim(payment)  # nothing happened at Iamport, or nobody knows: retry
        raise
    # Closing an unfunded virtual account moves no money: no refund to book for it.
    moved = remote.status == PaymentStatus.PAID
    ours = Refund(
        payment=payment,
        amount=remaining,
        checksum=remaining,
        reason=reason[:255],
        cancellation_id=answer.cancellation_id[:100],
    )
    _record(payment, answer.payment, ours=ours if moved else None)
    logger.info("payment %s: cancelled %s won at Iamport (%s)", remote.imp_uid, remaining, reason)


def cancel_key(remote: IamportPayment) -> str:
    """The idempotency key of giving back what `remote` shows. The same cancel asked again (a
    retry after a lost answer) carries the same key, so PortOne answers the first request
    instead of cancelling twice; once the PG has failed a cancel, the next one is a new
    request, which a key PortOne would answer with the old failure (for hours) would stop."""
    key = f"cancel-{remote.imp_uid}-{remote.remaining_amount}"
    failed = len(remote.cancellations_failed)
    return f"{key}-after-{failed}-failed" if failed else key


def _record(payment: Payment, updated: IamportPayment, *, ours: Refund | None) -> None:
    with transaction.atomic():
        locked = lock_order(payment.order_id)
        reply_apply(locked=locked, remote=updated, payment=lock_payment(payment.pk), ours=ours)


def cancel_superseded(payment: Payment) -> None:
    """Cancel an unfunded virtual account that another payment made unnecessary."""
    try:
        remote = gateways.gateway_of(payment).find_record(payment)
        if cancellable(remote):
            cancel_rejected_payment(payment, remote, CANCEL_REASONS[Verdict.DUPLICATE])
        elif remote.is_funded_virtual_account:  # the buyer paid into it meanwhile
            with transaction.atomic():
                lock_order(payment.order_id)
                note_manual_refund(lock_payment(payment.pk))
    except gateways.AttemptReplaced as exc:
        # PortOne V2 keeps one attempt per paymentId: the newer one replaced this account.
        release_cancel_claim(payment)
        logger.warning("payment %s: not cancelled, %s", payment.imp_uid, exc.message)
    except IamportError as exc:
        # The order is settled either way; the reconciliation command retries this cancel.
        release_cancel_claim(payment)
        logger.error("payment %s: could not cancel it: %s", payment.imp_uid, exc.message)
