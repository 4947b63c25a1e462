"""The one writer of payment state: what Iamport said, applied to our records.

Every path that learns something about a payment from Iamport hands the reply to `reply_apply`,
under the order's row lock: a lookup (`sync.payment_sync`), the answer to the cancel of a
refused payment (`cancels`) and the answer to an admin's refund (`refunds`). Decisions (which
verdict, which order transition) are made by those callers; the payment's figures, its refunds
and the order's refunded total are written here, and only here.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from payments.client import CancelHistory, IamportPayment, PaymentStatus
from payments.models import Payment, Refund
from shop import services as shop_services
from shop.locks import LockedOrder

logger = logging.getLogger(__name__)

Verdict = Payment.Verdict
IN_FLIGHT = (Refund.Status.REQUESTED, Refund.Status.UNKNOWN)
REFUSED = (Verdict.FORGED, Verdict.DUPLICATE, Verdict.UNFULFILLABLE, Verdict.TEST_CHANNEL)
OUTSIDE_THE_SHOP = "상점 밖(아임포트 콘솔 등)에서 취소됨"
# A request outlives its budget on Iamport by at most this much.
CLAIM_MARGIN = timedelta(seconds=5)

# How far along a payment is at Iamport. A reply that is behind what we already stored (a
# webhook overtaken by a later one) is not allowed to move our record backwards.
PROGRESS = {
    PaymentStatus.READY: 0,
    PaymentStatus.FAILED: 1,
    PaymentStatus.PAID: 1,
    PaymentStatus.CANCELLED: 2,
}


def record_fields(remote: IamportPayment) -> dict[str, Any]:
    """Iamport's figures for a payment, as our record keeps them."""
    return {
        "amount": remote.amount,
        "cancel_amount": remote.cancel_amount,
        "cancel_pending": remote.cancel_pending,
        "status": remote.status,
        "pay_method": remote.pay_method[:20],
        "pg_provider": remote.pg_provider[:30],
        "pg_tid": remote.pg_tid[:100],
        "receipt_url": remote.receipt_url[:500],
        "fail_reason": remote.fail_reason[:255],
        "vbank_name": remote.vbank_name[:50],
        "vbank_num": remote.vbank_num[:50],
        "vbank_holder": remote.vbank_holder[:50],
        "vbank_date": remote.vbank_date,
        "paid_at": remote.paid_at,
        "failed_at": remote.failed_at,
        "cancelled_at": remote.cancelled_at,
        "raw": remote.raw,
    }


def claim_ttl() -> timedelta:
    """How long a request may still be at work on Iamport: a request spends at most
    IAMPORT_REQUEST_BUDGET seconds there, so a cancel claim or a requested refund older than
    this (plus a margin) belongs to a request that has ended or died."""
    return timedelta(seconds=settings.IAMPORT_REQUEST_BUDGET) + CLAIM_MARGIN


def awaiting_answer(refunds: QuerySet[Refund]) -> QuerySet[Refund]:
    """Those of `refunds` whose request may still be waiting for Iamport's answer: requested
    within `claim_ttl()`, with no cancel named to them (PortOne names one when it answers that
    the PG is still making it). Any cancel in the history named to nobody may be theirs."""
    return refunds.filter(
        status=Refund.Status.REQUESTED,
        cancellation_id="",
        created_at__gt=timezone.now() - claim_ttl(),
    )


def _progress(status: str, cancelled: int, amount: int) -> int:
    # A record stored when a partial cancel came as "cancelled" (`IamportPayment.from_api` now
    # reads it as "paid"): as far along as "paid". A full cancel may come without an amount.
    if status == PaymentStatus.CANCELLED and 0 < cancelled < amount:
        return PROGRESS[PaymentStatus.PAID]
    return PROGRESS.get(PaymentStatus(status), 0)


def is_behind(remote: IamportPayment, payment: Payment) -> bool:
    """Whether this reply says less than what our record already holds."""
    ours = _progress(payment.status, payment.cancel_amount, payment.amount)
    theirs = _progress(remote.status, remote.cancel_amount, remote.amount)
    return theirs < ours or (theirs == ours and remote.cancel_amount < payment.cancel_amount)


def reply_apply(
    *,
    locked: LockedOrder,
    remote: IamportPayment,
    payment: Payment,
    ours: Refund | None = None,
) -> Payment:
    """Apply Iamport's reply about `payment` to our records; the caller holds the order's lock.

    - the payment row: inserted when new, else its Iamport figures updated unless the reply is
      behind what is stored; the verdict the caller decided is written with it;
    - refunds: one per cancel in `cancel_history` of a payment that moved money, matched to the
      cancel this request made (`ours`), then to refunds left in flight, else recorded as made
      outside the shop (Iamport's console);
    - the order: its refunded total, when this payment is the one that paid it.
    """
    _write_payment(payment, remote)
    if remote.cancel_history and _moved_money(payment, remote):
        _record_cancellations(payment, remote, ours)
    if payment.verdict == Verdict.ACCEPTED:
        _reflect_refunded_total(locked, payment)
    return payment


def _write_payment(payment: Payment, remote: IamportPayment) -> None:
    if payment.pk is None:
        for name, value in record_fields(remote).items():
            setattr(payment, name, value)
        payment.save(force_insert=True)
        return
    fields = record_fields(remote) if not is_behind(remote, payment) else {}
    for name, value in fields.items():
        setattr(payment, name, value)
    # Only these columns: a full save would also write back whatever else this copy of the row
    # holds, such as a cancel claim another request has released meanwhile.
    payment.save(update_fields=[*fields, "verdict", "verdict_reason", "updated_at"])


def _moved_money(payment: Payment, remote: IamportPayment) -> bool:
    return payment.verdict == Verdict.ACCEPTED or (
        payment.verdict in REFUSED and remote.paid_at is not None
    )


def cancelled_total(payment: Payment) -> int:
    """What Iamport has given back of a payment (a full cancel may come without an amount)."""
    if payment.status == PaymentStatus.CANCELLED and not payment.cancel_amount:
        return payment.amount
    return payment.cancel_amount


def _reflect_refunded_total(locked: LockedOrder, payment: Payment) -> None:
    order = locked.order
    total = min(cancelled_total(payment), order.amount)
    if order.status not in (order.Status.PAID, order.Status.PARTIALLY_REFUNDED):
        return
    if total > order.refunded_amount:
        shop_services.order_record_refund(order=locked, refunded_total=total)
    elif total < order.refunded_amount:
        logger.warning(
            "payment %s: Iamport shows %s won refunded, the order %s; keeping the order's",
            payment.imp_uid,
            total,
            order.refunded_amount,
        )


# --- cancel history -> refunds --------------------------------------------------------------
def cancellation_key(entry: CancelHistory) -> str:
    """What identifies one cancel in Iamport's history (older payments lack cancellation_id)."""
    if entry.cancellation_id:
        return entry.cancellation_id[:100]
    stamp = int(entry.cancelled_at.timestamp()) if entry.cancelled_at else 0
    return f"{entry.pg_tid}:{entry.amount}:{stamp}"[:100]


def _when(entry: CancelHistory) -> float:
    return entry.cancelled_at.timestamp() if entry.cancelled_at else 0


def _record_cancellations(payment: Payment, remote: IamportPayment, ours: Refund | None) -> None:
    """One Refund per cancel in Iamport's history. Iamport documents no order for the history:
    the cancel this request made is the newest unrecorded one of its amount; the others go to
    refunds still waiting for one (the one whose cancel PortOne named when the PG took it, else
    one of the same amount, those Iamport already confirmed first), or become refunds made
    outside."""
    recorded = set(
        payment.refunds.exclude(cancellation_id="")
        .exclude(status__in=IN_FLIGHT)
        .values_list("cancellation_id", flat=True)
    )
    entries = sorted(remote.cancel_history, key=_when)
    new = {id(e): e for e in entries if cancellation_key(e) not in recorded}
    if not new:
        return
    if ours is not None:
        mine = _ours_among(ours, list(new.values()))
        if mine:  # else an admin's refund waits for a reply that shows its cancel
            _settle(ours, mine[-1], remote, message="")
            del new[id(mine[-1])]
    # Refunds in flight, and those Iamport confirmed before its history showed their cancel.
    unmatched = payment.refunds.filter(
        Q(status__in=IN_FLIGHT) | Q(status=Refund.Status.SUCCEEDED, cancellation_id="")
    )
    if ours is not None and ours.pk is not None:
        unmatched = unmatched.exclude(pk=ours.pk)
    waiting = list(unmatched.order_by("created_at", "id"))
    # While another request waits for its answer, a cancel named to nobody may be its own: no
    # refund is matched to one by amount, nor is it booked as made outside, until it answers.
    guessing = not awaiting_answer(unmatched).exists()
    cancelled_before = 0
    for entry in entries:
        balance, cancelled_before = (
            remote.amount - cancelled_before,
            cancelled_before + entry.amount,
        )
        if id(entry) not in new:
            continue
        match = _waiting_for(waiting, entry, by_amount=guessing)
        if match is not None:
            waiting.remove(match)
            _settle(match, entry, remote, message="")
            continue
        if not guessing:
            continue
        outside = Refund(
            payment=payment,
            amount=entry.amount,
            checksum=balance,
            reason=(entry.reason or "아임포트에서 취소")[:255],
        )
        # Every cancel of a refused payment is the shop giving money back; on the payment that
        # paid an order, one nobody in the shop asked for was made in Iamport's console.
        accepted = payment.verdict == Verdict.ACCEPTED
        _settle(outside, entry, remote, message=OUTSIDE_THE_SHOP if accepted else "")


def _ours_among(ours: Refund, new: list[CancelHistory]) -> list[CancelHistory]:
    """The history entries that may be the cancel this request made, the likeliest last: the
    one the API named (PortOne V2), else those of its amount; for a refused payment's cancel,
    which gave back whatever was left, any."""
    if ours.cancellation_id:
        return [e for e in new if cancellation_key(e) == ours.cancellation_id]
    mine = [e for e in new if e.amount == ours.amount]
    return mine if mine or ours.pk is not None else new


def cancels_not_booked(*, since: datetime) -> QuerySet[Payment]:
    """Payments that moved money, changed since `since`, whose cancels as Iamport last showed
    them add up to more than the refunds booked for them: a cancel left to a refund request's
    reply (while it waited) that ended without one showing it (refused and not read again, or
    answered before its history showed the cancel). Reading such a payment again books it."""
    booked = Coalesce(Sum("refunds__amount", filter=Q(refunds__status=Refund.Status.SUCCEEDED)), 0)
    moved_money = Q(verdict=Verdict.ACCEPTED) | Q(verdict__in=REFUSED, paid_at__isnull=False)
    return (
        Payment.objects.filter(moved_money, updated_at__gte=since)
        .annotate(booked=booked)
        .filter(booked__lt=F("cancel_amount"))
    )


def _waiting_for(waiting: list[Refund], entry: CancelHistory, *, by_amount: bool) -> Refund | None:
    """The refund waiting for this cancel: the one PortOne named it to, else (`by_amount`) one
    of its amount among those PortOne named nothing to: the oldest Iamport already confirmed,
    else the oldest in flight."""
    key = cancellation_key(entry)
    named = next((r for r in waiting if r.cancellation_id == key), None)
    if named is not None or not by_amount:
        return named
    unnamed = [r for r in waiting if not r.cancellation_id and r.amount == entry.amount]
    return min(unnamed, key=lambda r: r.status != Refund.Status.SUCCEEDED, default=None)


def _settle(refund: Refund, entry: CancelHistory, remote: IamportPayment, *, message: str) -> None:
    refund.status, refund.message = Refund.Status.SUCCEEDED, message
    refund.cancellation_id, refund.receipt_url = cancellation_key(entry), entry.receipt_url[:500]
    # The day the money went back, for the sales figures; Iamport's own time when it gives one.
    refund.cancelled_at = entry.cancelled_at or refund.created_at or timezone.now()
    refund.raw = remote.raw
    refund.save()
