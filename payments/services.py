"""Deciding a payment's fate, refunding, and pre-registering amounts with Iamport.

`payment_sync` is the one function every entry point calls (browser callback, mobile
redirect, webhook, admin re-sync, reconciliation): it fetches the payment from Iamport by
`imp_uid`, never trusting what the caller said about it, compares it with our order under a
row lock and moves the order through `shop.services`. Calls to Iamport are made outside any
database transaction, so no lock is held while waiting on the network.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from django.db import IntegrityError, transaction
from django.utils import timezone

from payments.client import (
    CancelHistory,
    IamportAuthError,
    IamportError,
    IamportNotFound,
    IamportPayment,
    IamportRejected,
    get_client,
)
from payments.models import Payment, Refund
from shop import services as shop_services
from shop.models import Order

logger = logging.getLogger(__name__)

OrderStatus = Order.Status
Verdict = Payment.Verdict

# How far along a payment is at Iamport. A reply that is behind what we already stored (a
# webhook overtaken by a later one) is not allowed to move our record backwards.
_PROGRESS = {"ready": 0, "failed": 1, "paid": 1, "cancelled": 2}
CANCEL_CLAIM_TTL = timedelta(minutes=5)
ORDER_CURRENCY = "KRW"  # orders are priced in whole won
MANUAL_REFUND_NOTE = (
    " — 입금된 가상계좌는 환불 계좌가 있어야 돌려줄 수 있어 관리자 환불이 필요합니다"
)


class SyncOutcome(StrEnum):
    PAID = "paid"
    AWAITING_DEPOSIT = "awaiting_deposit"
    NOT_PAID = "not_paid"  # still open, failed or closed: the order stays payable
    CANCELLED = "cancelled"  # cancelled / refunded at Iamport, reflected on the order
    REFUNDED = "refunded"  # paid, then (partly) refunded
    FORGED = "forged"  # amount differs from the order: cancelled at Iamport
    DUPLICATE = "duplicate"  # the order was already settled: cancelled at Iamport
    UNFULFILLABLE = "unfulfillable"  # sold out meanwhile: cancelled at Iamport
    MISMATCH = "mismatch"  # the payment is for another order than the caller named
    NOT_OURS = "not_ours"  # no order of ours has this merchant_uid


@dataclass(frozen=True)
class SyncResult:
    outcome: SyncOutcome
    message: str  # fit to show the buyer
    order: Order | None = None
    payment: Payment | None = None

    @property
    def succeeded(self) -> bool:
        return self.outcome in (SyncOutcome.PAID, SyncOutcome.AWAITING_DEPOSIT)


MESSAGES = {
    SyncOutcome.PAID: "결제가 완료되었습니다. 주문해 주셔서 감사합니다.",
    SyncOutcome.AWAITING_DEPOSIT: "가상계좌가 발급되었습니다. 입금 기한 안에 입금해 주세요.",
    SyncOutcome.NOT_PAID: "결제가 완료되지 않았습니다. 다시 시도해 주세요.",
    SyncOutcome.CANCELLED: "취소된 결제입니다.",
    SyncOutcome.REFUNDED: "환불된 결제입니다.",
    SyncOutcome.FORGED: "결제 금액이 주문 금액과 달라 결제를 취소했습니다. 다시 시도해 주세요.",
    SyncOutcome.DUPLICATE: "이미 처리된 주문이라 이번 결제는 취소했습니다.",
    SyncOutcome.UNFULFILLABLE: "결제 중에 상품이 품절되어 결제를 취소했습니다. 죄송합니다.",
    SyncOutcome.MISMATCH: "결제 정보가 이 주문과 맞지 않습니다.",
    SyncOutcome.NOT_OURS: "이 상점의 주문이 아닙니다.",
}

CANCEL_REASONS = {
    Verdict.FORGED: "결제 금액 불일치 (위변조 의심)",
    Verdict.DUPLICATE: "이미 결제된 주문의 중복 결제",
    Verdict.UNFULFILLABLE: "재고 부족으로 주문 불가",
}

_OUTCOME_OF_VERDICT = {
    Verdict.FORGED: SyncOutcome.FORGED,
    Verdict.DUPLICATE: SyncOutcome.DUPLICATE,
    Verdict.UNFULFILLABLE: SyncOutcome.UNFULFILLABLE,
}


def payment_sync(*, imp_uid: str, merchant_uid: str | None = None) -> SyncResult:
    """Bring our records in line with Iamport's payment `imp_uid` and say what came of it.

    `merchant_uid`, when given, is the order the caller believes it paid: a payment for any other
    order changes nothing. Raises `IamportError` subclasses when Iamport cannot be asked
    (`IamportNotFound` for an unknown imp_uid); the caller maps them to its answer.
    Idempotent: calling it again for the same payment state changes nothing.
    """
    remote = get_client().find_by_imp_uid(imp_uid)
    if merchant_uid is not None and remote.merchant_uid != merchant_uid:
        logger.warning(
            "payment %s belongs to %s, not to %s as the caller said",
            remote.imp_uid,
            remote.merchant_uid,
            merchant_uid,
        )
        return SyncResult(SyncOutcome.MISMATCH, MESSAGES[SyncOutcome.MISMATCH])
    order = Order.objects.filter(merchant_uid=remote.merchant_uid).first()
    if order is None:
        logger.warning(
            "payment %s: merchant_uid %s is not ours", remote.imp_uid, remote.merchant_uid
        )
        return SyncResult(SyncOutcome.NOT_OURS, MESSAGES[SyncOutcome.NOT_OURS])

    result, cancel_verdict, superseded = _apply(remote, order)
    for other in superseded:
        _cancel_superseded(other)
    if cancel_verdict is not None:
        _cancel_rejected_payment(result.payment, remote, CANCEL_REASONS[cancel_verdict])
    if cancel_verdict is not None or superseded:
        result = SyncResult(
            result.outcome, result.message, Order.objects.get(pk=order.pk), _fresh(result.payment)
        )
    return result


def payment_sync_order(*, order: Order) -> SyncResult | None:
    """Look the order up at Iamport by merchant_uid and sync its newest payment.

    For orders whose browser callback and webhook never reached us. Returns None when Iamport
    has no payment for the order.
    """
    client = get_client()
    try:
        # A paid attempt wins over a newer failed or abandoned one.
        remote = client.find_by_merchant_uid(order.merchant_uid, status="paid")
    except IamportNotFound:
        try:
            remote = client.find_by_merchant_uid(order.merchant_uid)
        except IamportNotFound:
            return None
    return payment_sync(imp_uid=remote.imp_uid, merchant_uid=order.merchant_uid)


def _fresh(payment: Payment | None) -> Payment | None:
    return Payment.objects.get(pk=payment.pk) if payment is not None else None


def _apply(
    remote: IamportPayment, order: Order
) -> tuple[SyncResult, Verdict | None, list[Payment]]:
    """Decide under the order's row lock.

    Returns the result, the verdict to cancel this payment for (if any), and other payments of
    the order that this one superseded and that must be cancelled too.
    """
    with transaction.atomic():
        # The lock serialises the browser callback and the webhook(s) for one order: the second
        # one waits here, then re-reads and finds the work done.
        order = Order.objects.select_for_update().get(pk=order.pk)
        payment, created = Payment.objects.get_or_create(
            imp_uid=remote.imp_uid,
            defaults={"order": order, "merchant_uid": remote.merchant_uid, **_fields(remote)},
        )
        if not created:
            if _is_behind(remote, payment):
                logger.info("payment %s: ignoring a stale %s reply", payment.imp_uid, remote.status)
                return _current(order, payment), None, []
            for name, value in _fields(remote).items():
                setattr(payment, name, value)
            payment.save()

        superseded: list[Payment] = []
        outcome, verdict_to_cancel = _decide(remote, order, payment, superseded)
        if verdict_to_cancel is not None and not _claim_cancel(payment):
            verdict_to_cancel = None
        if payment.verdict == Verdict.ACCEPTED:
            _record_cancellations(payment, remote)
        elif payment.verdict in _OUTCOME_OF_VERDICT and _needs_refund_account(remote):
            _note_manual_refund(payment)
        order.refresh_from_db()
        message = _message(outcome, remote, order)
        result = SyncResult(outcome, message, order, payment)
        return result, verdict_to_cancel, [p for p in superseded if _claim_cancel(p)]


def _decide(
    remote: IamportPayment, order: Order, payment: Payment, superseded: list[Payment]
) -> tuple[SyncOutcome, Verdict | None]:
    accepted = payment.verdict == Verdict.ACCEPTED
    if payment.verdict in _OUTCOME_OF_VERDICT:
        # Already judged and (being) cancelled; cancel again only if Iamport still holds money.
        again = payment.verdict if _cancellable(remote) else None
        return _OUTCOME_OF_VERDICT[payment.verdict], again

    if remote.amount != order.amount or remote.currency != ORDER_CURRENCY:
        logger.error(
            "payment %s: %s %s differs from order %s, %s %s: cancelling it",
            remote.imp_uid,
            remote.amount,
            remote.currency,
            order.merchant_uid,
            order.amount,
            ORDER_CURRENCY,
        )
        _judge(
            payment,
            Verdict.FORGED,
            f"결제 금액 {remote.amount:,} {remote.currency} ≠ 주문 금액 {order.amount:,} KRW",
        )
        if order.is_payable:
            shop_services.order_note_payment_problem(
                order=order, message=MESSAGES[SyncOutcome.FORGED]
            )
        return SyncOutcome.FORGED, Verdict.FORGED if _cancellable(remote) else None

    if remote.status == "paid":
        return _on_paid(remote, order, payment, accepted, superseded)
    if remote.status == "ready":
        return _on_ready(remote, order, payment, accepted)
    if remote.status == "failed":
        return _on_failed(remote, order, payment, accepted), None
    return _on_cancelled(remote, order, payment, accepted), None


def _on_paid(
    remote: IamportPayment,
    order: Order,
    payment: Payment,
    accepted: bool,
    superseded: list[Payment],
) -> tuple[SyncOutcome, Verdict | None]:
    if order.status not in (OrderStatus.PENDING, OrderStatus.AWAITING_DEPOSIT):
        if accepted:  # already settled by this payment; a (partial) cancel may have followed
            _reflect_cancel_amount(remote, order)
            return _current_outcome(Order.objects.get(pk=order.pk).status), None
        _judge(payment, Verdict.DUPLICATE, f"주문이 이미 '{order.get_status_display()}' 상태")
        return SyncOutcome.DUPLICATE, Verdict.DUPLICATE
    # Pending, or waiting for a deposit. If another payment issued that virtual account, this
    # one settles the order instead, and the unfunded account is cancelled so that nobody can
    # pay the order twice.
    if not accepted:
        for other in order.payments.filter(verdict=Verdict.ACCEPTED).exclude(pk=payment.pk):
            _judge(other, Verdict.DUPLICATE, "다른 결제로 주문이 처리되어 가상계좌를 취소")
            superseded.append(other)
    try:
        shop_services.order_mark_paid(order=order, paid_at=remote.paid_at)
    except shop_services.OutOfStock as exc:
        _judge(payment, Verdict.UNFULFILLABLE, str(exc))
        shop_services.order_mark_failed(order=order, reason=MESSAGES[SyncOutcome.UNFULFILLABLE])
        return SyncOutcome.UNFULFILLABLE, Verdict.UNFULFILLABLE
    _judge(payment, Verdict.ACCEPTED, "결제 금액 일치")
    _reflect_cancel_amount(remote, order)
    return _current_outcome(Order.objects.get(pk=order.pk).status), None


def _on_ready(
    remote: IamportPayment, order: Order, payment: Payment, accepted: bool
) -> tuple[SyncOutcome, Verdict | None]:
    if not (remote.pay_method == "vbank" and remote.vbank_num):
        return SyncOutcome.NOT_PAID, None  # the payment window is still open
    if accepted:
        return _current_outcome(order.status), None
    if order.status != OrderStatus.PENDING:
        _judge(payment, Verdict.DUPLICATE, f"주문이 이미 '{order.get_status_display()}' 상태")
        return SyncOutcome.DUPLICATE, Verdict.DUPLICATE
    shop_services.order_mark_awaiting_deposit(
        order=order,
        bank=remote.vbank_name[:50],
        account=remote.vbank_num[:50],
        holder=remote.vbank_holder[:50],
        due=remote.vbank_date,
    )
    _judge(payment, Verdict.ACCEPTED, "가상계좌 발급, 금액 일치")
    return SyncOutcome.AWAITING_DEPOSIT, None


def _on_failed(
    remote: IamportPayment, order: Order, payment: Payment, accepted: bool
) -> SyncOutcome:
    reason = remote.fail_reason or "결제에 실패했습니다."
    if accepted and order.status == OrderStatus.AWAITING_DEPOSIT:
        shop_services.order_mark_cancelled(order=order, reason=reason)
        return SyncOutcome.CANCELLED
    if not payment.verdict:
        _judge(payment, Verdict.FAILED, reason)
    if order.is_payable:
        shop_services.order_note_payment_problem(order=order, message=reason)
    return SyncOutcome.NOT_PAID


def _on_cancelled(
    remote: IamportPayment, order: Order, payment: Payment, accepted: bool
) -> SyncOutcome:
    if accepted and order.status in (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED):
        shop_services.order_record_refund(
            order=order, refunded_total=remote.cancel_amount or remote.amount
        )
        return SyncOutcome.REFUNDED
    if order.status in (OrderStatus.PENDING, OrderStatus.AWAITING_DEPOSIT) and (
        accepted or not payment.verdict
    ):
        reason = remote.cancel_reason or "결제가 취소되었습니다."
        shop_services.order_mark_cancelled(order=order, reason=reason)
    return SyncOutcome.REFUNDED if order.status == OrderStatus.REFUNDED else SyncOutcome.CANCELLED


def _reflect_cancel_amount(remote: IamportPayment, order: Order) -> None:
    """A paid payment that Iamport shows partly cancelled (e.g. from its console)."""
    if remote.cancel_amount > 0:
        shop_services.order_record_refund(order=order, refunded_total=remote.cancel_amount)


def _judge(payment: Payment, verdict: Verdict, reason: str) -> None:
    payment.verdict = verdict
    payment.verdict_reason = reason[:255]
    payment.save(update_fields=["verdict", "verdict_reason", "updated_at"])


def _claim_cancel(payment: Payment) -> bool:
    """True for the one request that should cancel this payment at Iamport now.

    Another request that claimed it recently is still at it (or has done it); a claim older than
    CANCEL_CLAIM_TTL is taken to have died with its request, and the cancel is tried again.
    """
    now = timezone.now()
    if payment.cancel_requested_at and now - payment.cancel_requested_at < CANCEL_CLAIM_TTL:
        return False
    payment.cancel_requested_at = now
    payment.save(update_fields=["cancel_requested_at", "updated_at"])
    return True


def _cancellable(remote: IamportPayment) -> bool:
    """Whether the shop can give back what Iamport holds (money or an issued virtual account)."""
    if remote.remaining_amount <= 0 or _needs_refund_account(remote):
        return False
    return remote.status == "paid" or (remote.status == "ready" and bool(remote.vbank_num))


def _needs_refund_account(remote: IamportPayment) -> bool:
    """A funded virtual account is refunded to the buyer's bank account, which only a person
    can supply (Iamport's refund_holder / refund_bank / refund_account)."""
    return remote.pay_method == "vbank" and remote.status == "paid" and remote.remaining_amount > 0


def _note_manual_refund(payment: Payment) -> None:
    if MANUAL_REFUND_NOTE not in payment.verdict_reason:
        logger.error(
            "payment %s needs a manual refund: %s", payment.imp_uid, payment.verdict_reason
        )
        room = 255 - len(MANUAL_REFUND_NOTE)
        payment.verdict_reason = payment.verdict_reason[:room] + MANUAL_REFUND_NOTE
        payment.save(update_fields=["verdict_reason", "updated_at"])


def _cancellation_key(entry: CancelHistory) -> str:
    """What identifies one cancel in Iamport's history (older payments lack cancellation_id)."""
    if entry.cancellation_id:
        return entry.cancellation_id[:100]
    stamp = int(entry.cancelled_at.timestamp()) if entry.cancelled_at else 0
    return f"{entry.pg_tid}:{entry.amount}:{stamp}"[:100]


def _record_cancellations(payment: Payment, remote: IamportPayment) -> None:
    """One Refund per cancel in Iamport's history, also for those made outside the shop (its
    console) or whose answer never reached us (a refund request that timed out)."""
    known = set(
        payment.refunds.exclude(cancellation_id="").values_list("cancellation_id", flat=True)
    )
    cancelled_before = 0
    for entry in remote.cancel_history:
        key, balance = _cancellation_key(entry), remote.amount - cancelled_before
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


def _cancel_superseded(payment: Payment) -> None:
    """Cancel an unfunded virtual account that another payment made unnecessary."""
    try:
        remote = get_client().find_by_imp_uid(payment.imp_uid)
        if _cancellable(remote):
            _cancel_rejected_payment(payment, remote, CANCEL_REASONS[Verdict.DUPLICATE])
    except IamportError as exc:
        # The order is settled either way; the reconciliation command retries this cancel.
        _release_cancel_claim(payment)
        logger.error("payment %s: could not cancel it: %s", payment.imp_uid, exc.message)


def _is_behind(remote: IamportPayment, payment: Payment) -> bool:
    ours, theirs = _PROGRESS.get(payment.status, 0), _PROGRESS[remote.status]
    return theirs < ours or (theirs == ours and remote.cancel_amount < payment.cancel_amount)


def _current_outcome(status: str) -> SyncOutcome:
    return {
        OrderStatus.PAID: SyncOutcome.PAID,
        OrderStatus.AWAITING_DEPOSIT: SyncOutcome.AWAITING_DEPOSIT,
        OrderStatus.PARTIALLY_REFUNDED: SyncOutcome.REFUNDED,
        OrderStatus.REFUNDED: SyncOutcome.REFUNDED,
        OrderStatus.CANCELLED: SyncOutcome.CANCELLED,
        OrderStatus.FAILED: SyncOutcome.UNFULFILLABLE,
    }.get(status, SyncOutcome.NOT_PAID)


def _current(order: Order, payment: Payment) -> SyncResult:
    """What a stale or repeated notification finds: the state we already hold."""
    if payment.verdict in _OUTCOME_OF_VERDICT:
        outcome = _OUTCOME_OF_VERDICT[payment.verdict]
    elif payment.verdict == Verdict.ACCEPTED:
        outcome = _current_outcome(order.status)
    else:
        outcome = SyncOutcome.NOT_PAID
    return SyncResult(outcome, MESSAGES[outcome], order, payment)


def _message(outcome: SyncOutcome, remote: IamportPayment, order: Order) -> str:
    if outcome == SyncOutcome.NOT_PAID and remote.status == "failed" and remote.fail_reason:
        return remote.fail_reason
    return MESSAGES[outcome]


def _fields(remote: IamportPayment) -> dict:
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


def _store_reply(payment: Payment, remote: IamportPayment) -> Payment:
    """Save a fresher Iamport reply onto the record (never an older one)."""
    payment = Payment.objects.select_for_update().get(pk=payment.pk)
    if not _is_behind(remote, payment):
        for name, value in _fields(remote).items():
            setattr(payment, name, value)
        payment.save()
    return payment


def _cancel_rejected_payment(payment: Payment, remote: IamportPayment, reason: str) -> None:
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
            _release_cancel_claim(payment)
            raise
        logger.warning(
            "payment %s: cancel refused (%s); re-reading it", remote.imp_uid, exc.message
        )
        updated = get_client().find_by_imp_uid(remote.imp_uid)
        with transaction.atomic():
            _store_reply(payment, updated)
        return
    except IamportError:
        _release_cancel_claim(payment)  # nothing happened at Iamport: let a retry cancel it
        raise
    with transaction.atomic():
        payment = _store_reply(payment, updated)
        Refund.objects.create(
            payment=payment,
            amount=remaining,
            checksum=remaining,
            reason=reason,
            status=Refund.Status.SUCCEEDED,
            **_cancellation_fields(updated),
        )
    logger.info("payment %s: cancelled %s won at Iamport (%s)", remote.imp_uid, remaining, reason)


def _release_cancel_claim(payment: Payment) -> None:
    Payment.objects.filter(pk=payment.pk).update(cancel_requested_at=None)


def _cancellation_fields(updated: IamportPayment) -> dict:
    last = updated.cancel_history[-1] if updated.cancel_history else None
    return {
        "cancellation_id": _cancellation_key(last) if last else "",
        "receipt_url": last.receipt_url[:500] if last else "",
        "raw": updated.raw,
    }


# --- refunds ------------------------------------------------------------------------------
class RefundError(Exception):
    """A refund that was refused; the message is fit for an admin and nothing changed."""


class RefundAlreadyRequested(RefundError):
    pass


def refundable_payment(order: Order) -> Payment | None:
    """The payment that paid this order and still has money to give back."""
    return (
        order.payments.filter(verdict=Verdict.ACCEPTED, status=Payment.Status.PAID)
        .order_by("-created_at")
        .first()
    )


def payment_refund(
    *,
    order: Order,
    amount: int,
    reason: str,
    request_key: str,
    user=None,
    refund_account: dict[str, str] | None = None,
) -> Refund:
    """Refund `amount` won of a paid order through Iamport (partial or full).

    `checksum` is the refundable balance on our record, so Iamport refuses the cancel if its
    figure differs (a refund made elsewhere, a stale screen). `request_key` identifies one
    submitted form: submitting it again raises RefundAlreadyRequested instead of refunding twice.
    """
    if Refund.objects.filter(request_key=request_key).exists():
        raise RefundAlreadyRequested("이미 처리된 환불 요청입니다 (중복 제출).")
    reason = reason.strip()
    if not reason:
        raise RefundError("환불 사유를 입력해 주세요.")
    if not order.is_refundable:
        raise RefundError(f"'{order.get_status_display()}' 상태의 주문은 환불할 수 없습니다.")
    payment = refundable_payment(order)
    if payment is None:
        raise RefundError("이 주문에는 환불할 결제가 없습니다.")
    checksum = payment.refundable_amount
    if amount <= 0:
        raise RefundError("환불 금액은 1원 이상이어야 합니다.")
    if amount > checksum:
        raise RefundError(f"환불 금액 {amount:,}원이 환불 가능 잔액 {checksum:,}원보다 큽니다.")

    try:
        with transaction.atomic():
            refund = Refund.objects.create(
                payment=payment,
                amount=amount,
                checksum=checksum,
                reason=reason[:255],
                status=Refund.Status.REQUESTED,
                request_key=request_key,
                requested_by=user if user is not None and user.is_authenticated else None,
            )
    except IntegrityError:
        raise RefundAlreadyRequested("이미 처리된 환불 요청입니다 (중복 제출).") from None

    try:
        updated = get_client().cancel(
            imp_uid=payment.imp_uid,
            merchant_uid=payment.merchant_uid,
            amount=amount,
            checksum=checksum,
            reason=reason,
            extra=refund_account,
        )
    except IamportRejected as exc:
        refund.status, refund.message = Refund.Status.FAILED, exc.message[:255]
        refund.save(update_fields=["status", "message"])
        logger.warning("refund of %s won on %s refused: %s", amount, payment.imp_uid, exc.message)
        if not isinstance(exc, IamportNotFound):
            _resync_quietly(payment)  # our figures may be stale: the next attempt uses Iamport's
        raise RefundError(f"아임포트가 환불을 거절했습니다: {exc.message}") from exc
    except IamportError as exc:
        # No answer: Iamport may or may not have refunded. Re-reading the payment settles it when
        # it can (the sync matches this row to the cancel in Iamport's history).
        refund.status, refund.message = Refund.Status.UNKNOWN, exc.message[:255]
        refund.save(update_fields=["status", "message"])
        logger.warning(
            "refund of %s won on %s unanswered: %s", amount, payment.imp_uid, exc.message
        )
        _resync_quietly(payment)
        refund.refresh_from_db()
        if refund.status == Refund.Status.SUCCEEDED:
            return refund
        raise RefundError(
            "아임포트의 응답을 받지 못해 환불 여부를 확인하지 못했습니다. "
            "잠시 뒤 '아임포트에서 다시 조회'로 확인해 주세요."
        ) from exc

    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        payment = refund.payment = _store_reply(payment, updated)
        for name, value in _cancellation_fields(updated).items():
            setattr(refund, name, value)
        refund.status, refund.message = Refund.Status.SUCCEEDED, ""
        refund.save()
        shop_services.order_record_refund(order=locked, refunded_total=payment.cancel_amount)
    logger.info("refunded %s won on %s (order %s)", amount, payment.imp_uid, order.merchant_uid)
    return refund


def _resync_quietly(payment: Payment) -> None:
    """After a refused refund, refresh our figures so the next attempt uses Iamport's."""
    try:
        payment_sync(imp_uid=payment.imp_uid)
    except IamportError:
        logger.warning("could not re-read payment %s after a refused refund", payment.imp_uid)


# --- pre-registration ---------------------------------------------------------------------
def payment_prepare(*, order: Order) -> int:
    """Register the order's amount with Iamport so the payment window refuses any other.

    Safe to repeat: an existing registration is read back and corrected if it differs.
    Returns the registered amount.
    """
    client = get_client()
    try:
        return client.prepare(merchant_uid=order.merchant_uid, amount=order.amount).amount
    except IamportRejected as exc:
        if isinstance(exc, IamportNotFound):
            raise
        try:
            existing = client.find_prepared(order.merchant_uid)
        except IamportNotFound:
            raise exc from None
    if existing.amount != order.amount:
        return client.prepare_update(merchant_uid=order.merchant_uid, amount=order.amount).amount
    return existing.amount
