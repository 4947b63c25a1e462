"""Deciding a payment's fate: the one function every entry point calls.

`payment_sync` is called by the browser callback, the mobile redirect, the webhook, the admin's
re-sync and the reconciliation command. It fetches the payment from Iamport by `imp_uid`,
never trusting what the caller said about it, compares it with our order under the order's row
lock, moves the order through `shop.services` and hands Iamport's reply to the one writer of
payment state (`records.reply_apply`). Calls to Iamport are made outside any database
transaction, so no lock is held while waiting on the network; money the shop refuses is given
back afterwards (`cancels`).

A virtual account whose deadline has passed without a deposit releases its order whenever it
is synced (`_release`): the order goes back to pending, payable again, and the account no longer
holds it. A deposit that still arrives late is then decided like any payment: it pays the order
if the order is still payable, and is a duplicate to give back if the order was paid otherwise
or closed meanwhile. `deadlines` runs this for overdue accounts whose notification never came.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.translation import gettext, gettext_lazy

from payments import gateways
from payments.client import (
    IamportError,
    IamportPayment,
    PaymentStatus,
)
from payments.locks import lock_payment
from payments.models import Payment
from payments.services.cancels import (
    CANCEL_REASONS,
    MANUAL_REFUND_NOTE,
    cancel_rejected_payment,
    cancel_superseded,
    cancellable,
    claim_cancel,
    note_manual_refund,
)
from payments.services.records import REFUSED, is_behind, reply_apply
from shop import services as shop_services
from shop.locks import LockedOrder, lock_order, lock_order_by_merchant_uid
from shop.models import Order
from shop.services import Message

logger = logging.getLogger(__name__)

OrderStatus = Order.Status
Verdict = Payment.Verdict

ORDER_CURRENCY = "KRW"  # orders are priced in whole won
OPEN = (OrderStatus.PENDING, OrderStatus.AWAITING_DEPOSIT)
SETTLED = (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED)


class SyncOutcome(StrEnum):
    PAID = "paid"
    AWAITING_DEPOSIT = "awaiting_deposit"
    NOT_PAID = "not_paid"  # still open, failed or closed: the order stays payable
    CANCELLED = "cancelled"  # cancelled / refunded at Iamport, reflected on the order
    REFUNDED = "refunded"  # paid, then (partly) refunded
    FORGED = "forged"  # amount differs from the order: cancelled at Iamport
    TEST_CHANNEL = "test_channel"  # paid through a PortOne V2 TEST channel: cancelled
    DUPLICATE = "duplicate"  # the order was already settled: cancelled at Iamport
    UNFULFILLABLE = "unfulfillable"  # sold out meanwhile: cancelled at Iamport
    MISMATCH = "mismatch"  # the payment is for another order than the caller named
    NOT_OURS = "not_ours"  # no order of ours has this merchant_uid


@dataclass(frozen=True)
class SyncResult:
    outcome: SyncOutcome
    message: Message  # fit to show the buyer, in the language of whoever reads it
    order: Order | None = None
    payment: Payment | None = None
    # Why the cancel of a refused payment did not go through this time (reconciliation retries).
    cancel_error: IamportError | None = None

    @property
    def succeeded(self) -> bool:
        return self.outcome in (SyncOutcome.PAID, SyncOutcome.AWAITING_DEPOSIT)


MESSAGES = {
    SyncOutcome.PAID: gettext_lazy("결제가 완료되었습니다. 주문해 주셔서 감사합니다."),
    SyncOutcome.AWAITING_DEPOSIT: gettext_lazy(
        "가상계좌가 발급되었습니다. 입금 기한 안에 입금해 주세요."
    ),
    SyncOutcome.NOT_PAID: gettext_lazy("결제가 완료되지 않았습니다. 다시 시도해 주세요."),
    SyncOutcome.CANCELLED: gettext_lazy("취소된 결제입니다."),
    SyncOutcome.REFUNDED: gettext_lazy("환불된 결제입니다."),
    SyncOutcome.FORGED: gettext_lazy(
        "결제 금액이 주문 금액과 달라 결제를 취소했습니다. 다시 시도해 주세요."
    ),
    SyncOutcome.TEST_CHANNEL: gettext_lazy(
        "테스트 결제는 이 상점에서 받지 않아 결제를 취소했습니다."
    ),
    SyncOutcome.DUPLICATE: gettext_lazy("이미 처리된 주문이라 이번 결제는 취소했습니다."),
    SyncOutcome.UNFULFILLABLE: gettext_lazy(
        "결제 중에 상품이 품절되어 결제를 취소했습니다. 죄송합니다."
    ),
    SyncOutcome.MISMATCH: gettext_lazy("결제 정보가 이 주문과 맞지 않습니다."),
    SyncOutcome.NOT_OURS: gettext_lazy("이 상점의 주문이 아닙니다."),
}
# A refused payment whose money Iamport still holds: said until the cancel has gone through.
CANCELLING_MESSAGES = {
    SyncOutcome.FORGED: gettext_lazy(
        "결제 금액이 주문 금액과 달라 결제를 취소하고 있습니다. 취소가 끝나면 다시 시도해 주세요."
    ),
    SyncOutcome.TEST_CHANNEL: gettext_lazy(
        "테스트 결제는 이 상점에서 받지 않아 결제를 취소하고 있습니다."
    ),
    SyncOutcome.DUPLICATE: gettext_lazy("이미 처리된 주문이라 이번 결제를 취소하고 있습니다."),
    SyncOutcome.UNFULFILLABLE: gettext_lazy(
        "결제 중에 상품이 품절되어 결제를 취소하고 있습니다. 죄송합니다."
    ),
}
DEPOSIT_EXPIRED_MESSAGE = gettext_lazy("가상계좌의 입금 기한이 지났습니다. 다시 결제해 주세요.")
FAILED_MESSAGE = gettext_lazy("결제에 실패했습니다.")
CANCELLED_MESSAGE = gettext_lazy("결제가 취소되었습니다.")
# A payment's verdict reason, for the shop's staff: stored in the shop's own language, as the
# other reasons are, whichever language the request that wrote it was in.
DEADLINE_PASSED = "입금 기한 경과: 입금 없이 만료되어 주문을 다시 결제할 수 있게 함"
MANUAL_REFUND_MESSAGE = gettext_lazy(
    "이미 처리된 주문입니다. 입금하신 금액은 상점에서 확인한 뒤 환불해 드립니다."
)

_OUTCOME_OF_VERDICT = {
    Verdict.FORGED: SyncOutcome.FORGED,
    Verdict.TEST_CHANNEL: SyncOutcome.TEST_CHANNEL,
    Verdict.DUPLICATE: SyncOutcome.DUPLICATE,
    Verdict.UNFULFILLABLE: SyncOutcome.UNFULFILLABLE,
}
_OUTCOME_OF_STATUS: dict[str, SyncOutcome] = {
    OrderStatus.PAID: SyncOutcome.PAID,
    OrderStatus.AWAITING_DEPOSIT: SyncOutcome.AWAITING_DEPOSIT,
    OrderStatus.PARTIALLY_REFUNDED: SyncOutcome.REFUNDED,
    OrderStatus.REFUNDED: SyncOutcome.REFUNDED,
    OrderStatus.CANCELLED: SyncOutcome.CANCELLED,
    OrderStatus.FAILED: SyncOutcome.UNFULFILLABLE,
}


# Called inside the decision's transaction with the result as decided, so that what a caller
# keeps of it (a webhook delivery's outcome) commits with the decision, or not at all.
Recorder = Callable[[SyncResult], None]


@dataclass
class _Decision:
    """What the decision found: the outcome (None: read it off the order afterwards), the
    verdict to cancel this payment for, and other payments it made unnecessary."""

    outcome: SyncOutcome | None = None
    cancel_for: Verdict | None = None
    superseded: list[Payment] = field(default_factory=list)


@dataclass(frozen=True)
class _Decided:
    result: SyncResult
    cancel_for: Verdict | None = None
    superseded: tuple[Payment, ...] = ()


def payment_sync(
    *, imp_uid: str, merchant_uid: str | None = None, record: Recorder | None = None
) -> SyncResult:
    """Bring our records in line with Iamport's (V1) payment `imp_uid` and say what came of it.

    `merchant_uid`, when given, is the order the caller believes it paid: a payment for any other
    order changes nothing. `record`, when given, is called with the result inside the decision's
    transaction (not when no order of ours has the payment); a refused payment's cancel, made
    after the commit, may still change the result returned. Raises `IamportError` subclasses
    when Iamport cannot be asked (`IamportNotFound` for an unknown imp_uid); the caller maps them
    to its answer. Idempotent: calling it again for the same payment state changes nothing.
    """
    return _sync(gateways.GATEWAYS[Payment.Api.V1], imp_uid, merchant_uid, record)


def payment_sync_v2(*, payment_id: str, record: Recorder | None = None) -> SyncResult:
    """The same for a PortOne V2 payment, named by its paymentId (the order's merchant_uid):
    PortOne answers with the attempt that matters, which is decided by the same rules."""
    return _sync(gateways.GATEWAYS[Payment.Api.V2], payment_id, payment_id, record)


def payment_resync(payment: Payment, remote: IamportPayment | None = None) -> SyncResult:
    """Sync a stored payment again through the API it was made through (`Payment.api`), with
    `remote` when the caller has just read it (`gateways.gateway_of(payment).find_record`).

    Raises `gateways.AttemptReplaced` (an IamportNotFound) when PortOne V2 now answers the
    payment's paymentId with a newer attempt: the stored one cannot be read any more."""
    gateway = gateways.gateway_of(payment)
    return _sync_remote(gateway.api, remote or gateway.find_record(payment), None)


def payment_release_replaced(payment: Payment) -> SyncResult:
    """A virtual account PortOne V2 no longer shows (a newer attempt under the same paymentId
    replaced it) whose own deadline has passed: the order it held is released, as a sync of the
    expired account would release it. Nothing else is decided without PortOne's word."""
    with transaction.atomic():
        locked = lock_order(payment.order_id)
        payment = lock_payment(payment.pk)
        order = locked.order
        expired = payment.vbank_date is not None and payment.vbank_date <= timezone.now()
        held = payment.verdict == Verdict.ACCEPTED and order.status == OrderStatus.AWAITING_DEPOSIT
        if not (expired and held):
            return _current(order, payment)
        _release(locked, payment)
        payment.save(update_fields=["verdict", "verdict_reason", "updated_at"])
    return SyncResult(SyncOutcome.NOT_PAID, DEPOSIT_EXPIRED_MESSAGE, order, payment)


def _sync(
    gateway: gateways.Gateway, ref: str, merchant_uid: str | None, record: Recorder | None = None
) -> SyncResult:
    return _sync_remote(gateway.api, gateway.find(ref), merchant_uid, record)


def _sync_remote(
    api: str, remote: IamportPayment, merchant_uid: str | None, record: Recorder | None = None
) -> SyncResult:
    if merchant_uid is not None and remote.merchant_uid != merchant_uid:
        logger.warning(
            "payment %s belongs to %s, not to %s as the caller said",
            remote.imp_uid,
            remote.merchant_uid,
            merchant_uid,
        )
        return SyncResult(SyncOutcome.MISMATCH, MESSAGES[SyncOutcome.MISMATCH])
    decided = _decide_under_lock(remote, api, record)
    if decided is None:
        logger.warning(
            "payment %s: merchant_uid %s is not ours", remote.imp_uid, remote.merchant_uid
        )
        return SyncResult(SyncOutcome.NOT_OURS, MESSAGES[SyncOutcome.NOT_OURS])
    return _give_back(decided, remote)


def payment_sync_order(*, order: Order) -> SyncResult | None:
    """Look the order up by merchant_uid and sync the payment that matters (a paid attempt
    first, else the newest). Both APIs answer that lookup with the whole payment, which is
    decided on as it came: it is not read again.

    For orders whose browser callback and webhook never reached us. Asked through the API new
    payments go through, then through any other API the order's payments were made through (an
    order begun before the shop switched). Returns None when no API has a payment for it.
    """
    current = gateways.gateway()
    used = set(order.payments.values_list("api", flat=True)) - {current.api}
    for gateway in (current, *(gateways.GATEWAYS[api] for api in sorted(used))):
        remote = gateway.find_for_order(order.merchant_uid)
        if remote is not None:
            return _sync_remote(gateway.api, remote, order.merchant_uid)
    return None


def _decide_under_lock(
    remote: IamportPayment, api: str, record: Recorder | None
) -> _Decided | None:
    """Decide and record in one transaction, under the order's row lock (None: not ours)."""
    with transaction.atomic():
        decided = _decide_locked(remote, api)
        if decided is not None and record is not None:
            record(decided.result)
        return decided


def _decide_locked(remote: IamportPayment, api: str) -> _Decided | None:
    """The decision, in the caller's transaction (None: no order of ours has the payment)."""
    # The lock serialises the browser callback and the webhook(s) for one order: the second
    # one waits here, then reads what the first wrote and finds the work done.
    locked = lock_order_by_merchant_uid(remote.merchant_uid)
    if locked is None:
        return None
    payment = Payment.objects.filter(imp_uid=remote.imp_uid).first()
    if payment is not None and is_behind(remote, payment):
        logger.info("payment %s: ignoring a stale %s reply", payment.imp_uid, remote.status)
        return _Decided(_current(locked.order, payment))
    if payment is None:
        payment = Payment(
            imp_uid=remote.imp_uid,
            api=api,
            order=locked.order,
            merchant_uid=remote.merchant_uid,
        )
    decision = _decide(remote, locked, payment)
    reply_apply(locked=locked, remote=remote, payment=payment)
    return _conclude(decision, remote, locked.order, payment)


def _conclude(
    decision: _Decision, remote: IamportPayment, order: Order, payment: Payment
) -> _Decided:
    # Cancel only what Iamport still holds and the shop can give back, and only once.
    cancel_for = decision.cancel_for
    if cancel_for is not None and not (cancellable(remote) and claim_cancel(payment)):
        cancel_for = None
    if payment.verdict in REFUSED and remote.is_funded_virtual_account:
        note_manual_refund(payment)
    outcome = decision.outcome or _OUTCOME_OF_STATUS.get(order.status, SyncOutcome.NOT_PAID)
    message = _refusal_message(outcome, payment) or _message(outcome, remote, order)
    superseded = tuple(other for other in decision.superseded if claim_cancel(other))
    return _Decided(SyncResult(outcome, message, order, payment), cancel_for, superseded)


def _give_back(decided: _Decided, remote: IamportPayment) -> SyncResult:
    """After the commit: cancel what the decision refused, and say where that leaves it."""
    for other in decided.superseded:
        cancel_superseded(other)
    result = decided.result
    if result.payment is None or result.order is None:
        return result  # never for a decision made under the lock; keeps the types honest
    if decided.cancel_for is None and not decided.superseded:
        if result.outcome in CANCELLING_MESSAGES and not result.payment.holds_money:
            # Given back since an earlier sync said "being cancelled" (its answer was lost, or
            # the PG cancelled later): the order page stops saying so.
            order = _say_cancelled(result.order.pk, result.outcome, MESSAGES[result.outcome])
            return SyncResult(result.outcome, result.message, order, result.payment)
        return result
    cancel_error = None
    if decided.cancel_for is not None:
        try:
            cancel_rejected_payment(result.payment, remote, CANCEL_REASONS[decided.cancel_for])
        except IamportError as exc:  # the claim is released: the next sync_payments run retries
            logger.error("payment %s: cancel failed: %s", remote.imp_uid, exc.message)
            cancel_error = exc
    payment = Payment.objects.get(pk=result.payment.pk)
    if payment.holds_money:  # not given back (yet): the order page says "being cancelled"
        message = _refusal_message(result.outcome, payment) or result.message
        order = Order.objects.get(pk=result.order.pk)
    else:
        message = MESSAGES[result.outcome]
        order = _say_cancelled(result.order.pk, result.outcome, message)
    return SyncResult(result.outcome, message, order, payment, cancel_error)


def _say_cancelled(order_id: int, outcome: SyncOutcome, message: Message) -> Order:
    """Once the refused payment is given back, the order page says so instead of "being
    cancelled" (the text the decision left on it)."""
    with transaction.atomic():
        locked = lock_order(order_id)
        cancelling = CANCELLING_MESSAGES.get(outcome)
        said = locked.order.status_message
        if cancelling is not None and said == shop_services.status_text(locked.order, cancelling):
            shop_services.order_note_payment_problem(order=locked, message=message)
    return locked.order


# --- the decision ---------------------------------------------------------------------------
def _decide(remote: IamportPayment, locked: LockedOrder, payment: Payment) -> _Decision:
    if payment.verdict in _OUTCOME_OF_VERDICT:
        # Already refused: cancel again (if Iamport still holds money; `_conclude` checks).
        verdict = Verdict(payment.verdict)
        return _Decision(_OUTCOME_OF_VERDICT[verdict], verdict)
    order = locked.order
    if refused_test_channel(remote):
        return _on_test_channel(remote, locked, payment)
    if remote.amount != order.amount or remote.currency != ORDER_CURRENCY:
        return _on_forged(remote, locked, payment)
    accepted = payment.verdict == Verdict.ACCEPTED
    if remote.status == PaymentStatus.PAID:
        return _on_paid(remote, locked, payment, accepted)
    if remote.status == PaymentStatus.READY:
        return _on_ready(remote, locked, payment, accepted)
    if remote.status == PaymentStatus.FAILED:
        return _on_failed(remote, locked, payment, accepted)
    return _on_cancelled(remote, locked, payment, accepted)


def _on_forged(remote: IamportPayment, locked: LockedOrder, payment: Payment) -> _Decision:
    order = locked.order
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
        # "Being cancelled" until Iamport confirms; `_give_back` then says it was.
        shop_services.order_note_payment_problem(
            order=locked, message=CANCELLING_MESSAGES[SyncOutcome.FORGED]
        )
    return _Decision(SyncOutcome.FORGED, Verdict.FORGED)


def refused_test_channel(remote: IamportPayment) -> bool:
    """A PortOne V2 payment through a TEST channel, in a shop taking real money (debug off),
    unless PORTONE_ALLOW_TEST_CHANNEL lets test payments through (a staging shop)."""
    if remote.channel != "TEST" or settings.DEBUG:
        return False
    return not settings.PORTONE_ALLOW_TEST_CHANNEL


def _on_test_channel(remote: IamportPayment, locked: LockedOrder, payment: Payment) -> _Decision:
    logger.error(
        "payment %s of order %s came through a TEST channel: cancelling it",
        remote.imp_uid,
        locked.order.merchant_uid,
    )
    _judge(payment, Verdict.TEST_CHANNEL, "테스트 채널(TEST)로 결제됨: 실결제 상점에서 받지 않음")
    if locked.order.is_payable:
        shop_services.order_note_payment_problem(
            order=locked, message=CANCELLING_MESSAGES[SyncOutcome.TEST_CHANNEL]
        )
    return _Decision(SyncOutcome.TEST_CHANNEL, Verdict.TEST_CHANNEL)


def _on_paid(
    remote: IamportPayment, locked: LockedOrder, payment: Payment, accepted: bool
) -> _Decision:
    order = locked.order
    if order.status not in OPEN:
        if accepted and order.status in SETTLED:  # settled by this payment; cancels may follow
            return _Decision()
        return _duplicate(payment, order)
    # Pending, or waiting for a deposit. If another payment issued that virtual account, this
    # one settles the order instead, and the unfunded account is cancelled so that nobody can
    # pay the order twice.
    superseded = [] if accepted else _supersede_others(order, payment)
    try:
        shop_services.order_mark_paid(order=locked, paid_at=remote.paid_at)
    except shop_services.OutOfStock as exc:
        _judge(payment, Verdict.UNFULFILLABLE, str(exc))
        shop_services.order_mark_failed(
            order=locked, reason=CANCELLING_MESSAGES[SyncOutcome.UNFULFILLABLE]
        )
        return _Decision(SyncOutcome.UNFULFILLABLE, Verdict.UNFULFILLABLE, superseded)
    _judge(payment, Verdict.ACCEPTED, "결제 금액 일치")
    return _Decision(superseded=superseded)


def _supersede_others(order: Order, payment: Payment) -> list[Payment]:
    if order.status != OrderStatus.AWAITING_DEPOSIT:
        return []  # a pending order has no accepted payment
    others = list(order.payments.filter(verdict=Verdict.ACCEPTED).exclude(pk=payment.pk))
    for other in others:
        _judge(other, Verdict.DUPLICATE, "다른 결제로 주문이 처리되어 가상계좌를 취소")
        other.save(update_fields=["verdict", "verdict_reason", "updated_at"])
    return others


def _on_ready(
    remote: IamportPayment, locked: LockedOrder, payment: Payment, accepted: bool
) -> _Decision:
    order = locked.order
    if not remote.is_issued_virtual_account:
        return _Decision(SyncOutcome.NOT_PAID)  # the payment window is still open
    if accepted:
        if order.status == OrderStatus.AWAITING_DEPOSIT and deposit_overdue(remote):
            return _release(locked, payment)
        return _Decision()
    if order.status != OrderStatus.PENDING:
        return _duplicate(payment, order)
    if deposit_overdue(remote):
        # Expired before the shop heard of it: nothing to pay into, the order stays payable.
        _judge(payment, Verdict.FAILED, DEADLINE_PASSED)
        return _Decision(SyncOutcome.NOT_PAID)
    shop_services.order_mark_awaiting_deposit(
        order=locked,
        bank=remote.vbank_name[:50],
        account=remote.vbank_num[:50],
        holder=remote.vbank_holder[:50],
        due=remote.vbank_date,
    )
    _judge(payment, Verdict.ACCEPTED, "가상계좌 발급, 금액 일치")
    return _Decision(SyncOutcome.AWAITING_DEPOSIT)


def deposit_overdue(remote: IamportPayment) -> bool:
    """Whether Iamport's deadline for depositing into this virtual account has passed."""
    return remote.vbank_date is not None and remote.vbank_date <= timezone.now()


def _release(locked: LockedOrder, payment: Payment) -> _Decision:
    """The account's deadline passed with no deposit: the order is payable again.

    Back to pending rather than cancelled, so that the buyer may pay another way and a late
    deposit into this account still finds a payable order and is honoured. The payment stops
    holding the order (no longer accepted): if the buyer pays otherwise meanwhile, that payment
    is the order's one accepted payment, and a late deposit here becomes a duplicate of a paid
    order, given back under the existing rule (one accepted payment per order).
    """
    _judge(payment, Verdict.FAILED, DEADLINE_PASSED)
    shop_services.order_release_deposit(order=locked)
    logger.info("payment %s: deposit deadline passed, order released", payment.imp_uid)
    return _Decision(SyncOutcome.NOT_PAID)


def _on_failed(
    remote: IamportPayment, locked: LockedOrder, payment: Payment, accepted: bool
) -> _Decision:
    reason = _failed_message(remote.fail_reason)
    if accepted and locked.order.status == OrderStatus.AWAITING_DEPOSIT:
        shop_services.order_mark_cancelled(order=locked, reason=reason)
        return _Decision(SyncOutcome.CANCELLED)
    if not payment.verdict:
        _judge(payment, Verdict.FAILED, remote.fail_reason or str(FAILED_MESSAGE))
    if locked.order.is_payable:
        shop_services.order_note_payment_problem(order=locked, message=reason)
    return _Decision(SyncOutcome.NOT_PAID)


def _on_cancelled(
    remote: IamportPayment, locked: LockedOrder, payment: Payment, accepted: bool
) -> _Decision:
    order = locked.order
    if accepted and order.status in (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED):
        return _Decision(SyncOutcome.REFUNDED)  # the writer books the refunded total
    if order.status in OPEN and (accepted or (not payment.verdict and not _held(order, payment))):
        reason = remote.cancel_reason or CANCELLED_MESSAGE
        shop_services.order_mark_cancelled(order=locked, reason=reason)
    return _Decision(
        SyncOutcome.REFUNDED if order.status == OrderStatus.REFUNDED else SyncOutcome.CANCELLED
    )


def _held(order: Order, payment: Payment) -> bool:
    """Whether another payment holds the order (an issued virtual account)."""
    if order.status == OrderStatus.PENDING:
        return False
    others = order.payments.filter(verdict=Verdict.ACCEPTED)
    return others.exclude(pk=payment.pk).exists() if payment.pk else others.exists()


def _duplicate(payment: Payment, order: Order) -> _Decision:
    _judge(payment, Verdict.DUPLICATE, f"주문이 이미 '{order.get_status_display()}' 상태")
    return _Decision(SyncOutcome.DUPLICATE, Verdict.DUPLICATE)


def _judge(payment: Payment, verdict: Verdict, reason: str) -> None:
    """The verdict, kept on the record by the writer with Iamport's figures."""
    payment.verdict = verdict
    payment.verdict_reason = reason[:255]


# --- what the buyer is told -----------------------------------------------------------------
def _current(order: Order, payment: Payment) -> SyncResult:
    """What a stale or repeated notification finds: the state we already hold."""
    if payment.verdict in _OUTCOME_OF_VERDICT:
        outcome = _OUTCOME_OF_VERDICT[Verdict(payment.verdict)]
    elif payment.verdict == Verdict.ACCEPTED:
        outcome = _OUTCOME_OF_STATUS.get(order.status, SyncOutcome.NOT_PAID)
    else:
        outcome = SyncOutcome.NOT_PAID
    return SyncResult(
        outcome, _refusal_message(outcome, payment) or MESSAGES[outcome], order, payment
    )


def _refusal_message(outcome: SyncOutcome, payment: Payment) -> Message | None:
    """For a refused payment, "cancelled" only once it is; until then, "being cancelled"."""
    if outcome not in CANCELLING_MESSAGES or not payment.holds_money:
        return None
    if MANUAL_REFUND_NOTE in payment.verdict_reason:
        return MANUAL_REFUND_MESSAGE
    return CANCELLING_MESSAGES[outcome]


def _failed_message(pg_reason: str) -> Message:
    """What the buyer reads of a failed attempt, in the language it is shown in, with the PG's
    own words (which come in Korean, or as the PG wrote them) after it."""
    if not pg_reason:
        return FAILED_MESSAGE
    return _lazy_text(lambda: gettext("결제에 실패했습니다: %(reason)s") % {"reason": pg_reason})


_lazy_text = lazy(lambda make: make(), str)


def _message(outcome: SyncOutcome, remote: IamportPayment, order: Order) -> Message:
    if outcome != SyncOutcome.NOT_PAID:
        return MESSAGES[outcome]
    if remote.status == PaymentStatus.FAILED and remote.fail_reason:
        return _failed_message(remote.fail_reason)
    if remote.is_issued_virtual_account and deposit_overdue(remote):
        return DEPOSIT_EXPIRED_MESSAGE
    return MESSAGES[outcome]
