"""Deciding a payment's fate: the one function every entry point calls.

`payment_sync` is called by the browser callback, the mobile redirect, the webhook, the admin's
re-sync and the reconciliation command. It fetches the payment from Iamport by `imp_uid`,
never trusting what the caller said about it, compares it with our order under a row lock and
moves the order through `shop.services`. Calls to Iamport are made outside any database
transaction, so no lock is held while waiting on the network.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from django.db import transaction

from payments.client import (
    IamportError,
    IamportNotFound,
    IamportPayment,
    PaymentStatus,
    get_client,
)
from payments.models import Payment
from payments.services.cancels import (
    CANCEL_REASONS,
    MANUAL_REFUND_NOTE,
    cancel_rejected_payment,
    cancel_superseded,
    cancellable,
    claim_cancel,
    needs_refund_account,
    note_manual_refund,
)
from payments.services.records import (
    copy_reply,
    is_behind,
    record_cancellations,
    record_fields,
)
from shop import services as shop_services
from shop.models import Order

logger = logging.getLogger(__name__)

OrderStatus = Order.Status
Verdict = Payment.Verdict

ORDER_CURRENCY = "KRW"  # orders are priced in whole won


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
    # Why the cancel of a refused payment did not go through this time (reconciliation retries).
    cancel_error: IamportError | None = None

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

# A refused payment whose money Iamport still holds: said until the cancel has gone through.
CANCELLING_MESSAGES = {
    SyncOutcome.FORGED: (
        "결제 금액이 주문 금액과 달라 결제를 취소하고 있습니다. 취소가 끝나면 다시 시도해 주세요."
    ),
    SyncOutcome.DUPLICATE: "이미 처리된 주문이라 이번 결제를 취소하고 있습니다.",
    SyncOutcome.UNFULFILLABLE: "결제 중에 상품이 품절되어 결제를 취소하고 있습니다. 죄송합니다.",
}
MANUAL_REFUND_MESSAGE = (
    "이미 처리된 주문입니다. 입금하신 금액은 상점에서 확인한 뒤 환불해 드립니다."
)

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
        cancel_superseded(other)
    cancel_error = None
    if cancel_verdict is not None:
        try:
            cancel_rejected_payment(result.payment, remote, CANCEL_REASONS[cancel_verdict])
        except IamportError as exc:  # the claim is released: the next sync_payments run retries
            logger.error("payment %s: cancel failed: %s", remote.imp_uid, exc.message)
            cancel_error = exc
    if cancel_verdict is not None or superseded:
        payment = _fresh(result.payment)
        result = SyncResult(
            result.outcome,
            _refusal_message(result.outcome, payment) or result.message,
            Order.objects.get(pk=order.pk),
            payment,
            cancel_error,
        )
    return result


def _holds_money(payment: Payment) -> bool:
    """Whether Iamport still holds something of a refused payment (money, an open account)."""
    if payment.status == Payment.Status.PAID:
        return payment.refundable_amount > 0
    return payment.status == Payment.Status.READY and bool(payment.vbank_num)


def _refusal_message(outcome: SyncOutcome, payment: Payment | None) -> str | None:
    """For a refused payment, "cancelled" only once it is; until then, "being cancelled"."""
    if outcome not in CANCELLING_MESSAGES or payment is None or not _holds_money(payment):
        return None
    if MANUAL_REFUND_NOTE in payment.verdict_reason:
        return MANUAL_REFUND_MESSAGE
    return CANCELLING_MESSAGES[outcome]


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
            defaults={"order": order, "merchant_uid": remote.merchant_uid, **record_fields(remote)},
        )
        if not created:
            if is_behind(remote, payment):
                logger.info("payment %s: ignoring a stale %s reply", payment.imp_uid, remote.status)
                return _current(order, payment), None, []
            copy_reply(payment, remote)

        superseded: list[Payment] = []
        outcome, verdict_to_cancel = _decide(remote, order, payment, superseded)
        # Cancel only what Iamport still holds and the shop can give back, and only once.
        if verdict_to_cancel is not None and (not cancellable(remote) or not claim_cancel(payment)):
            verdict_to_cancel = None
        if payment.verdict == Verdict.ACCEPTED or (
            payment.verdict in _OUTCOME_OF_VERDICT and remote.paid_at is not None
        ):
            record_cancellations(payment, remote)
        if payment.verdict in _OUTCOME_OF_VERDICT and needs_refund_account(remote):
            note_manual_refund(payment)
        order.refresh_from_db()
        message = _message(outcome, remote, order)
        result = SyncResult(outcome, message, order, payment)
        return result, verdict_to_cancel, [p for p in superseded if claim_cancel(p)]


def _decide(
    remote: IamportPayment, order: Order, payment: Payment, superseded: list[Payment]
) -> tuple[SyncOutcome, Verdict | None]:
    accepted = payment.verdict == Verdict.ACCEPTED
    if payment.verdict in _OUTCOME_OF_VERDICT:
        # Already judged: cancel again (if Iamport still holds money; `_apply` checks).
        return _OUTCOME_OF_VERDICT[payment.verdict], payment.verdict

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
        return SyncOutcome.FORGED, Verdict.FORGED

    if remote.status == PaymentStatus.PAID:
        return _on_paid(remote, order, payment, accepted, superseded)
    if remote.status == PaymentStatus.READY:
        return _on_ready(remote, order, payment, accepted)
    if remote.status == PaymentStatus.FAILED:
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
        settled = (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED)
        if accepted and order.status in settled:  # settled by this payment; cancels may follow
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
    if not remote.is_issued_virtual_account:
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
    holds_order = order.payments.filter(verdict=Verdict.ACCEPTED).exclude(pk=payment.pk)
    if order.status in (OrderStatus.PENDING, OrderStatus.AWAITING_DEPOSIT) and (
        accepted or (not payment.verdict and not holds_order.exists())
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
    return SyncResult(
        outcome, _refusal_message(outcome, payment) or MESSAGES[outcome], order, payment
    )


def _message(outcome: SyncOutcome, remote: IamportPayment, order: Order) -> str:
    if (
        outcome == SyncOutcome.NOT_PAID
        and remote.status == PaymentStatus.FAILED
        and remote.fail_reason
    ):
        return remote.fail_reason
    return MESSAGES[outcome]
