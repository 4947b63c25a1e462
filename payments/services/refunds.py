"""Refunds an admin asks for: Iamport's cancel with a checksum, recorded once per request."""

from __future__ import annotations

import logging
import re

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from payments import banks, gateways
from payments.client import (
    IamportError,
    IamportNotFound,
    IamportPayment,
    IamportRejected,
)
from payments.locks import lock_payment
from payments.models import Payment, Refund
from payments.selectors import NotRefundable, Refundable, refundable
from payments.services.records import IN_FLIGHT, awaiting_answer, claim_ttl, reply_apply
from payments.services.sync import payment_resync
from shop.locks import lock_order
from shop.models import Order
from shop.templatetags.shop_tags import won

logger = logging.getLogger(__name__)

Verdict = Payment.Verdict


class RefundError(Exception):
    """A refund that was refused; the message is fit for an admin and nothing changed."""


class RefundPending(RefundError):
    """PortOne took the cancel and the PG is still making it: the refund stays requested and
    is settled when it finishes (its webhook, or reconciliation)."""


class RefundAlreadyRequested(RefundError):
    """The submitted form has been used before; the message says what became of it."""

    def __init__(self, message: str, *, refund: Refund | None = None) -> None:
        super().__init__(message)
        self.refund = refund


REQUEST_KEY = re.compile(r"[0-9a-f]{32}")
NOT_IN_HISTORY = "아임포트의 취소 내역에 없어 환불되지 않은 것으로 확인했습니다."
PG_STILL_CANCELLING = "PG사가 취소를 처리하고 있습니다. 끝나면 완료로 바뀝니다."
PG_FAILED_CANCEL = "PG사가 취소에 실패해 환불되지 않았습니다."


def already_requested_message(refund: Refund | None) -> str:
    """What a repeated submit of a refund form is told: what really happened to the first."""
    if refund is None:
        return _("이미 처리된 환불 요청입니다. 다시 환불하지 않았습니다.")
    if refund.status == Refund.Status.SUCCEEDED:
        return _(
            "이미 처리된 환불 요청입니다: %(amount)s이 환불되었습니다. 다시 환불하지 않았습니다."
        ) % {"amount": won(refund.amount)}
    if refund.status == Refund.Status.FAILED:
        return _(
            "이 환불 요청은 환불되지 않았습니다 (%(why)s). "
            "다시 환불하려면 환불 양식을 새로 열어 주세요."
        ) % {"why": refund.message or _("거절됨")}
    return _("이 환불 요청은 아직 처리 중입니다. 잠시 뒤 주문을 다시 열어 결과를 확인해 주세요.")


def refund_for_request(*, request_key: str) -> Refund | None:
    """The refund an already submitted form made (None for a fresh or malformed key), settled
    first if the request that made it may have died."""
    if not REQUEST_KEY.fullmatch(request_key or ""):
        return None
    refund = Refund.objects.select_related("payment").filter(request_key=request_key).first()
    return refund_settle(refund=refund) if refund is not None else None


def refund_settle(*, refund: Refund) -> Refund:
    """Decide a refund left "requested" or "unknown" by a request that died or lost its answer.

    Iamport's cancel history is the truth: the payment is re-read (the sync matches the refund
    to its cancel). Once no request can still be waiting on Iamport for it (the claim time of a
    request's budget has passed), a refund still unmatched was not applied, unless the PG is
    still making its cancel (PortOne V2 `REQUESTED`: the one PortOne named when it took it, or
    for a refund whose answer was lost, one of at least its amount): then it stays requested.
    While another refund of the payment is still waiting for its answer, nothing is decided: the
    cancels in the history may be that one's. Raises IamportError when Iamport cannot be asked;
    the refund then stays as it is.
    """
    if refund.status not in IN_FLIGHT or timezone.now() - refund.created_at < claim_ttl():
        return refund
    if awaiting_answer(refund.payment.refunds.exclude(pk=refund.pk)).exists():
        return refund
    remote = gateways.gateway_of(refund.payment).find_record(refund.payment)
    payment_resync(refund.payment, remote)
    with transaction.atomic():
        lock_order(refund.payment.order_id)  # as the sync, which may match it meanwhile
        refund.refresh_from_db()
        if refund.status in IN_FLIGHT:
            Refund.objects.filter(pk=refund.pk).update(**_settled(refund, remote))
    refund.refresh_from_db()
    logger.info("refund %s of %s settled: %s", refund.pk, refund.payment.imp_uid, refund.status)
    return refund


def _settled(refund: Refund, remote: IamportPayment) -> dict[str, str]:
    """What an in-flight refund the history does not show becomes."""
    still = {"status": Refund.Status.REQUESTED, "message": PG_STILL_CANCELLING}
    not_applied = {"status": Refund.Status.FAILED, "message": NOT_IN_HISTORY}
    named = refund.cancellation_id  # PortOne's id of the cancel, when it answered REQUESTED
    if not named:  # the answer was lost: only the amounts can tell
        return still if remote.cancel_pending >= refund.amount else not_applied
    if named in remote.cancellations_pending:
        return still
    if named in remote.cancellations_failed:
        return {"status": Refund.Status.FAILED, "message": PG_FAILED_CANCEL}
    return not_applied


def refunds_in_flight() -> list[Refund]:
    """Refunds whose requests ended without an answer, oldest first (for reconciliation)."""
    cutoff = timezone.now() - claim_ttl()
    return list(
        Refund.objects.select_related("payment")
        .filter(status__in=IN_FLIGHT, created_at__lt=cutoff)
        .order_by("created_at", "id")
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
    submitted form: submitting it again raises RefundAlreadyRequested, saying what became of the
    first, instead of refunding twice. A virtual account is refunded to `refund_account`.
    """
    target = _check_request(order, amount, reason, request_key, refund_account)
    refund = _requested(target, amount, reason, request_key, user)
    try:
        gateway = gateways.gateway_of(target.payment)
        answer = gateway.cancel(
            imp_uid=target.payment.imp_uid,
            merchant_uid=target.payment.merchant_uid,
            amount=amount,
            checksum=target.balance,
            reason=reason.strip(),
            # One refund row is one request: a retry of it is the same cancel to PortOne.
            key=f"shop-refund-{refund.pk:08d}",
            refund_account=refund_account,
        )
    except IamportRejected as exc:
        _refused(refund, exc)
        raise RefundError(
            _("아임포트가 환불을 거절했습니다: %(message)s") % {"message": exc.message}
        ) from exc
    except gateways.CancelPending as exc:
        return _pending(refund, exc)
    except IamportError as exc:
        return _unanswered(refund, exc)
    with transaction.atomic():
        locked = lock_order(order.pk)
        payment = lock_payment(target.payment.pk)
        refund.cancellation_id = answer.cancellation_id[:100]  # the cancel PortOne named
        reply_apply(locked=locked, remote=answer.payment, payment=payment, ours=refund)
        if refund.status in IN_FLIGHT:
            # Answered, but its history did not show the cancel yet: confirmed, and given its
            # cancel when a later reply shows it (by the id PortOne named, else by amount).
            refund.status, refund.message = Refund.Status.SUCCEEDED, ""
            refund.save(update_fields=["status", "message", "cancellation_id"])
    refund.payment = payment
    logger.info("refunded %s won on %s (order %s)", amount, payment.imp_uid, order.merchant_uid)
    return refund


def _check_request(
    order: Order,
    amount: int,
    reason: str,
    request_key: str,
    refund_account: dict[str, str] | None,
) -> Refundable:
    """The rules of a refund request, in one place; RefundError says which one failed."""
    earlier = Refund.objects.filter(request_key=request_key).first()
    if earlier is not None:
        raise RefundAlreadyRequested(already_requested_message(earlier), refund=earlier)
    if not reason.strip():
        raise RefundError(_("환불 사유를 입력해 주세요."))
    try:
        target = refundable(order)
    except NotRefundable as exc:
        raise RefundError(str(exc)) from None
    if amount <= 0:
        raise RefundError(_("환불 금액은 1원 이상이어야 합니다."))
    if amount > target.offer:
        raise RefundError(
            _("환불 금액 %(amount)s이 환불 가능 잔액 %(balance)s보다 큽니다.")
            % {"amount": won(amount), "balance": won(target.offer)}
        )
    if target.needs_refund_account and not refund_account:
        raise RefundError(_("가상계좌 결제는 환불받을 계좌를 입력해야 환불할 수 있습니다."))
    if refund_account and not banks.is_code(refund_account.get("refund_bank", "")):
        raise RefundError(_("환불 계좌의 은행을 목록에서 골라 주세요."))
    return target


def _requested(target: Refundable, amount: int, reason: str, request_key: str, user) -> Refund:
    """The refund row, written before Iamport is asked, so a worker that dies leaves a trace."""
    try:
        with transaction.atomic():
            return Refund.objects.create(
                payment=target.payment,
                amount=amount,
                checksum=target.balance,
                reason=reason.strip()[:255],
                status=Refund.Status.REQUESTED,
                request_key=request_key,
                requested_by=user if user is not None and user.is_authenticated else None,
            )
    except IntegrityError:
        earlier = Refund.objects.filter(request_key=request_key).first()
        raise RefundAlreadyRequested(already_requested_message(earlier), refund=earlier) from None


def _refused(refund: Refund, exc: IamportRejected) -> None:
    with transaction.atomic():
        lock_order(refund.payment.order_id)  # serialise with the sync
        # A sync may have matched this request to someone else's cancel meanwhile: Iamport
        # refused this one, so that match was wrong; give the cancel back to the history.
        Refund.objects.filter(pk=refund.pk).update(
            status=Refund.Status.FAILED,
            message=exc.message[:255],
            cancellation_id="",
            receipt_url="",
        )
    logger.warning("refund %s on %s refused: %s", refund.pk, refund.payment.imp_uid, exc.message)
    if not isinstance(exc, IamportNotFound):
        _resync_quietly(refund.payment)  # our figures may be stale: the next try uses Iamport's


def _unanswered(refund: Refund, exc: IamportError) -> Refund:
    """No answer: Iamport may or may not have refunded. Re-reading the payment settles it when
    it can (the writer matches this row to the cancel in Iamport's history)."""
    logger.warning("refund %s on %s unanswered: %s", refund.pk, refund.payment.imp_uid, exc)
    unknown = {"status": Refund.Status.UNKNOWN, "message": exc.message[:255]}
    error = RefundError(
        _(
            "아임포트의 응답을 받지 못해 환불 여부를 확인하지 못했습니다. "
            "잠시 뒤 '아임포트에서 다시 조회'로 확인해 주세요."
        )
    )
    return _left_in_flight(refund, unknown, error, exc)


def _pending(refund: Refund, exc: gateways.CancelPending) -> Refund:
    """PortOne took the cancel; the PG finishes it later. The refund stays requested, saying so,
    and the cancel's webhook (or reconciliation) matches it to the finished cancel."""
    logger.info("refund %s on %s pending at the PG: %s", refund.pk, refund.payment.imp_uid, exc)
    error = RefundPending(
        _(
            "환불을 요청했습니다. PG사가 취소를 처리하고 있어, 끝나면 이 주문에 "
            "반영됩니다 (웹훅 또는 다음 대사 때)."
        )
    )
    fields = {"message": PG_STILL_CANCELLING, "cancellation_id": exc.cancellation_id[:100]}
    return _left_in_flight(refund, fields, error, exc)


def _left_in_flight(
    refund: Refund, fields: dict[str, str], error: RefundError, cause: IamportError
) -> Refund:
    """A cancel whose end the answer did not show: the requested refund gets `fields`, then
    the payment is re-read, which settles the refund if the cancel is in the history by now;
    otherwise `error` says so."""
    with transaction.atomic():
        lock_order(refund.payment.order_id)  # serialise with the sync
        Refund.objects.filter(pk=refund.pk, status=Refund.Status.REQUESTED).update(**fields)
    _resync_quietly(refund.payment)
    refund.refresh_from_db()
    if refund.status == Refund.Status.SUCCEEDED:
        return refund
    raise error from cause


def _resync_quietly(payment: Payment) -> None:
    """After a refused or unanswered refund, refresh our figures from Iamport's."""
    try:
        payment_resync(payment)
    except IamportError:
        logger.warning("could not re-read payment %s after a refund attempt", payment.imp_uid)
