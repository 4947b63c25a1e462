"""Storing what Iamport said: a payment reply onto its record, its cancels as refunds."""

from __future__ import annotations

from payments.client import (
    CancelHistory,
    IamportPayment,
)
from payments.models import Payment, Refund

# How far along a payment is at Iamport. A reply that is behind what we already stored (a
# webhook overtaken by a later one) is not allowed to move our record backwards.
PROGRESS = {"ready": 0, "failed": 1, "paid": 1, "cancelled": 2}


def record_fields(remote: IamportPayment) -> dict:
    return {
        "amount": remote.amount,
        "cancel_amount": min(remote.cancel_amount, remote.amount),
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


def is_behind(remote: IamportPayment, payment: Payment) -> bool:
    ours = PROGRESS.get(payment.status, 0)
    theirs = PROGRESS[remote.status]
    # Some sources report a partial cancel as "cancelled": it is as far along as "paid".
    if payment.status == "cancelled" and payment.cancel_amount < payment.amount:
        ours = PROGRESS["paid"]
    if remote.status == "cancelled" and remote.remaining_amount > 0:
        theirs = PROGRESS["paid"]
    return theirs < ours or (theirs == ours and remote.cancel_amount < payment.cancel_amount)


def copy_reply(payment: Payment, remote: IamportPayment) -> None:
    """Write Iamport's figures onto the record, and only those columns: a full save would also
    write back whatever else this copy of the row holds (a cancel claim another request has
    released meanwhile, a verdict)."""
    fields = record_fields(remote)
    for name, value in fields.items():
        setattr(payment, name, value)
    payment.save(update_fields=[*fields, "updated_at"])


def store_reply(payment: Payment, remote: IamportPayment) -> Payment:
    """Save a fresher Iamport reply onto the record (never an older one)."""
    payment = Payment.objects.select_for_update().get(pk=payment.pk)
    if not is_behind(remote, payment):
        copy_reply(payment, remote)
    return payment


def cancellation_key(entry: CancelHistory) -> str:
    """What identifies one cancel in Iamport's history (older payments lack cancellation_id)."""
    if entry.cancellation_id:
        return entry.cancellation_id[:100]
    stamp = int(entry.cancelled_at.timestamp()) if entry.cancelled_at else 0
    return f"{entry.pg_tid}:{entry.amount}:{stamp}"[:100]


def _when(entry: CancelHistory) -> float:
    return entry.cancelled_at.timestamp() if entry.cancelled_at else 0


def cancellation_fields(
    updated: IamportPayment, *, payment: Payment, amount: int, refund: Refund | None = None
) -> dict:
    """The cancel this request made. Iamport does not document the order of cancel_history, so
    it is the newest entry of the requested amount not yet recorded for the payment."""
    others = payment.refunds.exclude(cancellation_id="")
    if refund is not None:
        others = others.exclude(pk=refund.pk)
    known = set(others.values_list("cancellation_id", flat=True))
    entries = list(updated.cancel_history)
    entries = [e for e in entries if cancellation_key(e) not in known] or entries
    entries = [e for e in entries if e.amount == amount] or entries
    last = max(entries, key=_when) if entries else None
    return {
        "cancellation_id": cancellation_key(last) if last else "",
        "receipt_url": last.receipt_url[:500] if last else "",
        "raw": updated.raw,
    }


def record_cancellations(payment: Payment, remote: IamportPayment) -> None:
    """One Refund per cancel in Iamport's history, also for those made outside the shop (its
    console) or whose answer never reached us (a refund request that timed out)."""
    known = set(
        payment.refunds.exclude(cancellation_id="").values_list("cancellation_id", flat=True)
    )
    cancelled_before = 0
    for entry in sorted(remote.cancel_history, key=_when):  # oldest first, whatever Iamport sends
        key, balance = cancellation_key(entry), remote.amount - cancelled_before
        cancelled_before += entry.amount
        if key in known:
            continue
        waiting = (
            payment.refunds.filter(
                status__in=[Refund.Status.REQUESTED, Refund.Status.UNKNOWN],
                amount=entry.amount,
                cancellation_id="",
            )
            .order_by("created_at")
            .first()
        )
        refund = waiting or Refund(
            payment=payment,
            amount=entry.amount,
            checksum=balance,
            reason=(entry.reason or "아임포트에서 취소")[:255],
        )
        refund.status = Refund.Status.SUCCEEDED
        refund.message = "" if waiting else "상점 밖(아임포트 콘솔 등)에서 취소됨"
        refund.cancellation_id, refund.receipt_url = key, entry.receipt_url[:500]
        refund.raw = remote.raw
        refund.save()
