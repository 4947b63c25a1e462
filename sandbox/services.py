"""Every change of sandbox state: tokens, prepared amounts and the payment lifecycle.

The payment window, the console and the REST APIs (V1 and V2) all go through these functions,
so a payment moves the same way whoever moves it, whichever API it was started through:

    ready (window open) --approve--> paid --cancel (part)--> paid --cancel (rest)--> cancelled
          |             --approve (vbank)--> ready, account issued --deposit--> paid
          |                                                        --cancel--> cancelled
          +--decline / close--> failed

A service that changes a payment locks its row (`select_for_update`) and re-reads it inside
the transaction, because the window, the console and the shop's refund calls can act on the
same payment at once; the second then sees what the first did and is refused if it no longer
applies. Webhooks are queued with `transaction.on_commit`, never sent inside the transaction.

A PortOne V2 payment differs only where V2 does: its store and channel are checked instead of a
merchant code, a failure is notified too (`Transaction.Failed`), its paymentId is looked up
among V2 attempts only, and a cancel may carry an Idempotency-Key. A V2 payment may also have
the PG finish its cancels later (the console's switch): a cancel is then REQUESTED, keeps the
payment as it was, sends Transaction.CancelPending, and waits for the console to complete it
(SUCCEEDED, the money back, Transaction.Cancelled or PartialCancelled) or fail it (FAILED).
"""

from __future__ import annotations

import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from sandbox import selectors, webhooks
from sandbox.models import (
    Api,
    SandboxCancellation,
    SandboxIdempotencyKey,
    SandboxPayment,
    SandboxPrepare,
    SandboxToken,
)
from sandbox.params import (
    SDK_ALREADY_PAID,
    SDK_AMOUNT_MISMATCH,
    SDK_UNKNOWN_MERCHANT,
    PayRequest,
    default_vbank_due,
)
from sandbox.params_v2 import SDK_UNKNOWN_CHANNEL, SDK_UNKNOWN_STORE

logger = logging.getLogger(__name__)

Status = SandboxPayment.Status
CancelStatus = SandboxCancellation.Status

DEFAULT_TOKEN_LIFETIME = 30 * 60  # seconds, as Iamport
# Asked again in its last minute, a token is extended by five minutes (as Iamport).
TOKEN_EXTEND_WITHIN = timedelta(minutes=1)
TOKEN_EXTENSION = timedelta(minutes=5)
# How long PortOne V2 keeps an Idempotency-Key ("3 hours, may change"): a later request with the
# same key is a new request.
IDEMPOTENCY_KEY_KEPT = timedelta(hours=3)

# PG decline reasons offered by the payment window: code -> message.
DECLINE_REASONS = {
    "F1002": "카드 한도 초과",
    "F1003": "잔액 부족",
    "F1004": "분실 또는 도난 신고된 카드",
    "F1005": "유효기간이 지난 카드",
    "F1006": "카드사 승인 거절",
}
DEFAULT_DECLINE_CODE = "F1002"
USER_CLOSED_CODE = "F1001"
USER_CLOSED_MESSAGE = "사용자가 결제를 취소하셨습니다"

SANDBOX_CARD = {"card_code": "361", "card_name": "BC카드", "card_number": "536148******1234"}
SANDBOX_BANK = {"code": "004", "name": "KB국민은행"}


# --- errors -------------------------------------------------------------------------------
class SandboxRefusal(Exception):
    """A request the sandbox refuses, as Iamport would. `message` is for the caller."""

    def __init__(self, message: str, *, error_code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.error_code = error_code


class AuthenticationFailed(SandboxRefusal):
    pass


class NotFound(SandboxRefusal):
    pass


class AlreadyRegistered(SandboxRefusal):
    pass


class PaymentNotOpen(SandboxRefusal):
    """The window acted on a payment that is no longer waiting for it."""


class CancelRefused(SandboxRefusal):
    """A refused cancel; `error_code` is the V2 error type it is answered with (V1 answers
    every refusal alike)."""


# Why a cancel is refused, as PortOne V2 names it (`CancelRefused.error_code`).
CANCEL_NOT_FOUND = "PAYMENT_NOT_FOUND"
CANCEL_ALREADY_CANCELLED = "PAYMENT_ALREADY_CANCELLED"
CANCEL_NOT_PAID = "PAYMENT_NOT_PAID"
CANCEL_CONSISTENCY_BROKEN = "CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN"
CANCEL_EXCEEDS = "CANCEL_AMOUNT_EXCEEDS_CANCELLABLE_AMOUNT"
CANCEL_INVALID = "INVALID_REQUEST"


class DepositRefused(SandboxRefusal):
    pass


# --- small helpers ------------------------------------------------------------------------
def token_lifetime() -> timedelta:
    return timedelta(seconds=getattr(settings, "SANDBOX_TOKEN_LIFETIME", DEFAULT_TOKEN_LIFETIME))


def merchant_name() -> str:
    """The name shown as the merchant and used as virtual-account holder."""
    return (
        getattr(settings, "SANDBOX_MERCHANT_NAME", None)
        or getattr(settings, "SHOP_NAME", None)
        or "샌드박스 상점"
    )


def _digits(count: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(count))


def _new_imp_uid() -> str:
    while True:
        imp_uid = f"imps_{_digits(12)}"
        if not SandboxPayment.objects.filter(imp_uid=imp_uid).exists():
            return imp_uid


def _new_transaction_id() -> str:
    """A V2 attempt's transactionId: a UUID, as PortOne's."""
    return str(uuid.uuid4())


def _new_pg_tid() -> str:
    return f"sandbox_{timezone.localtime():%Y%m%d%H%M%S}_{secrets.token_hex(4)}"


def _locked_payment(imp_uid: str) -> SandboxPayment:
    try:
        return SandboxPayment.objects.select_for_update().get(imp_uid=imp_uid)
    except SandboxPayment.DoesNotExist:
        raise NotFound("존재하지 않는 결제정보입니다.") from None


# --- tokens -------------------------------------------------------------------------------
def token_issue(*, imp_key: str, imp_secret: str) -> SandboxToken:
    """`users/getToken`: the current token for this key, or a new one.

    Asking again before expiry returns the same token, so several servers can share it.
    """
    expected_key = getattr(settings, "IAMPORT_API_KEY", "")
    expected_secret = getattr(settings, "IAMPORT_API_SECRET", "")
    if not expected_key or not (
        # Bytes, not str: compare_digest refuses non-ASCII text, and any key may be typed.
        secrets.compare_digest(imp_key.encode(), expected_key.encode())
        and secrets.compare_digest(imp_secret.encode(), expected_secret.encode())
    ):
        raise AuthenticationFailed("imp_key 또는 imp_secret이 올바르지 않습니다.")
    now = timezone.now()
    with transaction.atomic():
        token = (
            SandboxToken.objects.select_for_update()
            .filter(imp_key=imp_key, expires_at__gt=now)
            .order_by("-expires_at")
            .first()
        )
        if token is None:
            SandboxToken.objects.filter(expires_at__lte=now).delete()
            return SandboxToken.objects.create(
                access_token=secrets.token_hex(20),
                imp_key=imp_key,
                created_at=now,
                expires_at=now + token_lifetime(),
            )
        if token.expires_at - now <= TOKEN_EXTEND_WITHIN:
            token.expires_at += TOKEN_EXTENSION
            token.save(update_fields=["expires_at"])
        return token


# --- prepared amounts ---------------------------------------------------------------------
def prepare_register(*, merchant_uid: str, amount: int, currency: str = "KRW") -> SandboxPrepare:
    """`POST payments/prepare`: register the amount a merchant_uid must be paid with."""
    try:
        with transaction.atomic():
            return SandboxPrepare.objects.create(
                merchant_uid=merchant_uid, amount=amount, currency=currency
            )
    except IntegrityError:
        raise AlreadyRegistered(f"이미 사전등록된 merchant_uid입니다: {merchant_uid}") from None


def prepare_update(*, merchant_uid: str, amount: int, currency: str = "KRW") -> SandboxPrepare:
    """`PUT payments/prepare`: change a registered amount."""
    with transaction.atomic():
        prepared = (
            SandboxPrepare.objects.select_for_update()
            .filter(api=Api.V1, merchant_uid=merchant_uid)
            .first()
        )
        if prepared is None:
            raise NotFound(f"사전등록된 결제정보가 없습니다: {merchant_uid}")
        prepared.amount = amount
        prepared.currency = currency
        prepared.save(update_fields=["amount", "currency", "updated_at"])
        return prepared


# --- the payment window -------------------------------------------------------------------
def _check_merchant_code(merchant_code: str) -> None:
    expected_code = getattr(settings, "IAMPORT_MERCHANT_CODE", "")
    if expected_code and merchant_code != expected_code:
        raise SandboxRefusal(
            f"등록되지 않은 가맹점 식별코드입니다: {merchant_code!r} (설정: {expected_code})",
            error_code=SDK_UNKNOWN_MERCHANT,
        )


def known_channel_keys() -> set[str]:
    """The V2 channels the sandbox knows: the default one and every pay method's own."""
    keys = {getattr(settings, "PORTONE_CHANNEL_KEY", "")}
    for method in getattr(settings, "SHOP_PAY_METHODS", {}).values():
        keys.add(str(method.get("channel_key") or ""))
    return keys - {""}


def _check_store_and_channel(pay_request: PayRequest) -> None:
    expected_store = getattr(settings, "PORTONE_STORE_ID", "")
    if pay_request.store_id != expected_store:
        raise SandboxRefusal(
            _("등록되지 않은 상점 아이디(storeId)입니다: %(store)s (설정: %(expected)s)")
            % {"store": pay_request.store_id, "expected": expected_store},
            error_code=SDK_UNKNOWN_STORE,
        )
    if not pay_request.channel_key:
        raise SandboxRefusal(
            _("channelKey는 필수 항목입니다 (샌드박스는 channelGroupId를 지원하지 않습니다)."),
            error_code=SDK_UNKNOWN_CHANNEL,
        )
    if pay_request.channel_key not in known_channel_keys():
        raise SandboxRefusal(
            _("등록되지 않은 채널 키(channelKey)입니다: %(key)s")
            % {"key": pay_request.channel_key},
            error_code=SDK_UNKNOWN_CHANNEL,
        )


def payment_start(
    *,
    pay_request: PayRequest,
    merchant_code: str,
    channel: str,
    user_agent: str = "",
    ip_address: str = "",
) -> SandboxPayment:
    """Start a payment for `IMP.request_pay`: checks, then a `ready` record with a new imp_uid.

    Refused (SandboxRefusal with an SDK error_code) for an unknown merchant code (V1) or
    store or channel (V2), a merchant_uid (paymentId) that is already paid, or an amount that
    differs from the prepared (pre-registered) one. A V2 attempt gets a UUID transactionId.
    """
    if pay_request.api == Api.V2:
        _check_store_and_channel(pay_request)
    else:
        _check_merchant_code(merchant_code)
    with transaction.atomic():
        if selectors.payment_paid_for_merchant_uid(pay_request.merchant_uid, api=pay_request.api):
            raise SandboxRefusal(
                f"이미 결제가 완료된 주문번호입니다: {pay_request.merchant_uid}",
                error_code=SDK_ALREADY_PAID,
            )
        prepared = SandboxPrepare.objects.filter(
            api=pay_request.api, merchant_uid=pay_request.merchant_uid
        ).first()
        if prepared is not None and prepared.amount != pay_request.amount:
            raise SandboxRefusal(
                f"사전 등록된 결제 금액({prepared.amount:,}원)과 요청한 결제 금액"
                f"({pay_request.amount:,}원)이 다릅니다.",
                error_code=SDK_AMOUNT_MISMATCH,
            )
        v2 = pay_request.api == Api.V2
        return SandboxPayment.objects.create(
            api=pay_request.api,
            imp_uid=_new_transaction_id() if v2 else _new_imp_uid(),
            merchant_uid=pay_request.merchant_uid,
            merchant_code="" if v2 else merchant_code,
            store_id=pay_request.store_id,
            channel_key=pay_request.channel_key,
            notice_urls=list(pay_request.notice_urls),
            ip_address=ip_address[:45],
            amount=pay_request.amount,
            currency=pay_request.currency,
            status=Status.READY,
            pay_method=pay_request.pay_method,
            pg_provider=pay_request.pg_provider,
            pg_id=pay_request.pg_id,
            channel=channel,
            name=pay_request.name,
            buyer_name=pay_request.buyer_name,
            buyer_email=pay_request.buyer_email,
            buyer_tel=pay_request.buyer_tel,
            buyer_addr=pay_request.buyer_addr,
            buyer_postcode=pay_request.buyer_postcode,
            custom_data=pay_request.custom_data,
            user_agent=user_agent[:500],
            notice_url=pay_request.notice_url,
            m_redirect_url=pay_request.m_redirect_url,
            vbank_due=pay_request.vbank_due,
        )


def _locked_open_payment(imp_uid: str) -> SandboxPayment:
    payment = _locked_payment(imp_uid)
    if not payment.is_open:
        raise PaymentNotOpen("이미 처리된 결제입니다.")
    return payment


def payment_approve(*, imp_uid: str) -> SandboxPayment:
    """The buyer approved in the window: `paid`, or for `vbank` an issued account (`ready`).

    Both notify the shop. If another attempt for the same merchant_uid got paid meanwhile (two
    windows), this one fails instead, as a merchant_uid cannot be paid twice.
    """
    with transaction.atomic():
        payment = _locked_open_payment(imp_uid)
        now = timezone.now()
        already_paid = selectors.payment_paid_for_merchant_uid(
            payment.merchant_uid, api=payment.api
        )
        if already_paid is not None and already_paid.pk != payment.pk:
            return _failed(
                payment, code=SDK_ALREADY_PAID, reason="이미 결제가 완료된 주문번호입니다."
            )

        payment.pg_tid = _new_pg_tid()
        if payment.pay_method == "vbank":
            payment.vbank_code = SANDBOX_BANK["code"]
            payment.vbank_name = SANDBOX_BANK["name"]
            payment.vbank_num = _digits(14)
            payment.vbank_holder = merchant_name()
            payment.vbank_date = payment.vbank_due or default_vbank_due()
            payment.vbank_issued_at = now
            payment.save()
            webhooks.notify_after_commit(payment, trigger="vbank_issued")
            return payment

        payment.status = Status.PAID
        payment.paid_at = now
        if payment.pay_method == "card":
            payment.apply_num = _digits(8)
            for field, value in SANDBOX_CARD.items():
                setattr(payment, field, value)
        elif payment.pay_method == "trans":
            payment.bank_code = SANDBOX_BANK["code"]
            payment.bank_name = SANDBOX_BANK["name"]
        payment.save()
        webhooks.notify_after_commit(payment, trigger="paid")
        return payment


def _failed(payment: SandboxPayment, *, code: str, reason: str) -> SandboxPayment:
    """Mark a locked, open payment failed. Iamport (V1) sends no webhook for an ordinary
    failure; PortOne V2 does (`Transaction.Failed`)."""
    payment.status = Status.FAILED
    payment.failed_at = timezone.now()
    payment.fail_code = code
    payment.fail_reason = reason
    payment.save()
    if payment.api == Api.V2:
        webhooks.notify_after_commit(payment, trigger="failed")
    return payment


def _fail(imp_uid: str, *, code: str, reason: str) -> SandboxPayment:
    with transaction.atomic():
        return _failed(_locked_open_payment(imp_uid), code=code, reason=reason)


def payment_decline(*, imp_uid: str, error_code: str = DEFAULT_DECLINE_CODE) -> SandboxPayment:
    """The PG declined (chosen in the window): `failed` (notified only for V2)."""
    if error_code not in DECLINE_REASONS:
        error_code = DEFAULT_DECLINE_CODE
    reason = f"[{error_code}] {DECLINE_REASONS[error_code]}"
    return _fail(imp_uid, code=error_code, reason=reason)


def payment_close(*, imp_uid: str) -> SandboxPayment:
    """The buyer closed the window: `failed` with Iamport's "user cancelled" message."""
    return _fail(imp_uid, code=USER_CLOSED_CODE, reason=USER_CLOSED_MESSAGE)


# --- after payment ------------------------------------------------------------------------
def vbank_deposit(*, imp_uid: str) -> SandboxPayment:
    """Money arrived in an issued virtual account: `paid`, and the shop is notified."""
    with transaction.atomic():
        payment = _locked_payment(imp_uid)
        if not payment.is_awaiting_deposit:
            raise DepositRefused("입금 대기 중인 가상계좌가 아닙니다.")
        now = timezone.now()
        if payment.vbank_date and payment.vbank_date < now:
            raise DepositRefused("입금 기한이 지난 가상계좌입니다.")
        payment.status = Status.PAID
        payment.paid_at = now
        payment.save()
        webhooks.notify_after_commit(payment, trigger="vbank_deposit")
        return payment


@dataclass(frozen=True)
class RefundAccount:
    """Where a refunded virtual-account payment goes back to (Iamport's refund_* fields)."""

    holder: str = ""
    bank: str = ""
    account: str = ""
    tel: str = ""


def payment_cancel(
    *,
    imp_uid: str = "",
    merchant_uid: str = "",
    api: str | None = Api.V1,
    amount: int | None = None,
    checksum: int | None = None,
    reason: str = "",
    refund_account: RefundAccount | None = None,
    source: str = SandboxCancellation.Source.API,
    notify: bool = False,
    idempotency_key: str = "",
) -> tuple[SandboxPayment, SandboxCancellation]:
    """Cancel (refund) all or part of a payment, with Iamport's (and PortOne V2's) rules.

    `imp_uid` wins over `merchant_uid` (V2: the paymentId); either is looked up among the
    payments of `api` (None: any, for the console). `amount` None or 0 means everything left.
    `checksum` (V2: currentCancellableAmount), when given, must equal what is left, which makes
    a retried partial refund safe. A partial cancel keeps `paid`; cancelling the rest makes it
    `cancelled`. An issued but unfunded virtual account can be cancelled as a whole. `notify`
    queues a `cancelled` webhook carrying the payment's status after the cancel (Iamport:
    console cancels, or `enable_webhook`; V2: unless skipWebhook).

    With an `idempotency_key` (V2's Idempotency-Key) a repeat answers the cancellation the
    first request made, and cancels nothing more. The key is looked up under the payment's
    lock, so two requests racing with one key are answered one after the other.
    """
    with transaction.atomic():
        payment = _find_for_cancel(imp_uid=imp_uid, merchant_uid=merchant_uid, api=api)
        if idempotency_key:
            earlier = _cancellation_for_key(idempotency_key, payment)
            if earlier is not None:
                return payment, earlier
        refund = refund_account or RefundAccount()
        amount = _cancel_amount(payment, amount=amount, checksum=checksum)
        if source == SandboxCancellation.Source.API and _needs_refund_account(payment, refund):
            raise CancelRefused(_refund_account_message(payment), error_code=CANCEL_INVALID)
        later = payment.api == Api.V2 and payment.pg_cancels_later
        status = CancelStatus.REQUESTED if later else CancelStatus.SUCCEEDED
        cancellation = _record_cancellation(payment, amount, reason, refund, source, status=status)
        if idempotency_key:
            _remember_key(idempotency_key, cancellation)
        if notify:
            webhooks.notify_after_commit(
                payment, trigger="cancelled", cancellation_id=cancellation.cancellation_id
            )
        return payment, cancellation


def _cancel_amount(payment: SandboxPayment, *, amount: int | None, checksum: int | None) -> int:
    """What this cancel takes back, or CancelRefused saying which rule it breaks.

    The checksum is compared with what has not been cancelled yet; cancels the PG is still
    making (V2, REQUESTED) are not in it, but a new cancel may not take their amount again.
    """
    remaining = payment.remaining_amount
    if payment.status == Status.CANCELLED:
        raise CancelRefused("이미 전액취소된 주문입니다.", error_code=CANCEL_ALREADY_CANCELLED)
    if payment.status == Status.FAILED:
        raise CancelRefused("결제에 실패한 건은 취소할 수 없습니다.", error_code=CANCEL_NOT_PAID)
    if not (payment.status == Status.PAID or payment.is_awaiting_deposit):
        raise CancelRefused(
            "아직 결제되지 않은 건은 취소할 수 없습니다.", error_code=CANCEL_NOT_PAID
        )
    if checksum is not None and checksum != remaining:
        raise CancelRefused(
            _checksum_message(payment, remaining, checksum), error_code=CANCEL_CONSISTENCY_BROKEN
        )
    available = payment.cancellable_now
    amount = amount or available
    if amount > available or not available:
        raise CancelRefused(_exceeds_message(payment, amount, available), error_code=CANCEL_EXCEEDS)
    if payment.is_awaiting_deposit and amount != remaining:
        raise CancelRefused(
            "입금 전 가상계좌는 부분취소할 수 없습니다.", error_code=CANCEL_NOT_PAID
        )
    return amount


def _exceeds_message(payment: SandboxPayment, amount: int, available: int) -> str:
    pending = payment.cancel_pending
    if pending:
        return _(
            "취소 요청 금액(%(amount)s원)이 취소 가능 잔액(%(available)s원)보다 큽니다: "
            "PG가 처리 중인 취소 %(pending)s원은 뺀 금액입니다."
        ) % {"amount": f"{amount:,}", "available": f"{available:,}", "pending": f"{pending:,}"}
    return f"취소 요청 금액({amount:,}원)이 취소 가능 잔액({available:,}원)보다 큽니다."


def _checksum_message(payment: SandboxPayment, remaining: int, checksum: int) -> str:
    if payment.api == Api.V2:
        return _(
            "취소 가능 잔액은 %(remaining)s원인데 요청한 currentCancellableAmount는 "
            "%(checksum)s원입니다."
        ) % {"remaining": f"{remaining:,}", "checksum": f"{checksum:,}"}
    return (
        f"[checksum 불일치] 취소 가능 잔액은 {remaining:,}원인데 요청한 checksum은 "
        f"{checksum:,}원입니다."
    )


def _needs_refund_account(payment: SandboxPayment, refund: RefundAccount) -> bool:
    """Money deposited into a virtual account goes back to the buyer's own account."""
    return (
        payment.pay_method == "vbank"
        and payment.status == Status.PAID
        and not (refund.holder and refund.bank and refund.account)
    )


def _refund_account_message(payment: SandboxPayment) -> str:
    if payment.api == Api.V2:
        return _("입금된 가상계좌의 환불에는 refundAccount(bank, number, holderName)가 필요합니다.")
    return (
        "가상계좌 환불에는 환불 계좌 정보(refund_holder, refund_bank, refund_account)가 필요합니다."
    )


def _record_cancellation(
    payment: SandboxPayment,
    amount: int,
    reason: str,
    refund: RefundAccount,
    source: str,
    *,
    status: str,
) -> SandboxCancellation:
    now = timezone.now()
    cancellation = SandboxCancellation.objects.create(
        payment=payment,
        cancellation_id=f"sbcancel_{secrets.token_hex(8)}",
        amount=amount,
        reason=reason[:500] if payment.api == Api.V2 else reason[:200],
        pg_tid=_new_pg_tid(),
        status=status,
        requested_at=now,
        cancelled_at=now,
        source=source,
        refund_holder=refund.holder[:100],
        refund_bank=refund.bank[:40],
        refund_account=refund.account[:40],
        refund_tel=refund.tel[:40],
    )
    if status == CancelStatus.SUCCEEDED:
        _take_back(payment, cancellation)
    else:
        payment.save()  # updated_at: PortOne's payment changes with a cancel in progress
    return cancellation


def _take_back(payment: SandboxPayment, cancellation: SandboxCancellation) -> None:
    """Book a succeeded cancellation on its payment."""
    payment.cancel_amount += cancellation.amount
    if payment.cancel_amount >= payment.amount:
        payment.status = Status.CANCELLED
        payment.cancelled_at = cancellation.cancelled_at
        payment.cancel_reason = cancellation.reason[:200]
    payment.save()


def pg_cancels_later_set(*, imp_uid: str, later: bool) -> SandboxPayment:
    """Whether the PG finishes this V2 payment's cancels later (console). Cancels already
    asked for keep their state; the console finishes them one by one."""
    with transaction.atomic():
        payment = _locked_payment(imp_uid)
        if payment.api != Api.V2:
            raise SandboxRefusal(_("PG의 비동기 취소는 PortOne V2 결제에만 있습니다."))
        payment.pg_cancels_later = later
        payment.save(update_fields=["pg_cancels_later", "updated_at"])
        return payment


def cancellation_finish(*, cancellation_id: str, succeeded: bool) -> SandboxCancellation:
    """The PG finishes a cancel it took (REQUESTED): it succeeds, giving the money back and
    sending Transaction.Cancelled or PartialCancelled, or it fails, which PortOne announces
    by no webhook (the payment shows the cancellation FAILED)."""
    with transaction.atomic():
        found = SandboxCancellation.objects.filter(cancellation_id=cancellation_id).first()
        if found is None:
            raise NotFound(_("존재하지 않는 취소 내역입니다."))
        payment = _locked_payment(found.payment.imp_uid)
        cancellation = payment.cancellations.select_for_update().get(pk=found.pk)
        if cancellation.status != CancelStatus.REQUESTED:
            raise SandboxRefusal(
                _("PG가 처리 중인 취소가 아닙니다 (상태: %(status)s).")
                % {"status": cancellation.status}
            )
        cancellation.status = CancelStatus.SUCCEEDED if succeeded else CancelStatus.FAILED
        cancellation.cancelled_at = timezone.now()
        cancellation.save(update_fields=["status", "cancelled_at"])
        if succeeded:
            _take_back(payment, cancellation)
            webhooks.notify_after_commit(
                payment, trigger="cancelled", cancellation_id=cancellation.cancellation_id
            )
        else:
            payment.save()
        return cancellation


def _cancellation_for_key(key: str, payment: SandboxPayment) -> SandboxCancellation | None:
    """The cancellation an earlier request with this Idempotency-Key made, if any. A key older
    than PortOne keeps one is forgotten here, and the request is judged afresh."""
    earlier = SandboxIdempotencyKey.objects.select_related("cancellation").filter(key=key).first()
    if earlier is None:
        return None
    if earlier.created_at <= timezone.now() - IDEMPOTENCY_KEY_KEPT:
        earlier.delete()
        return None
    if earlier.payment_id != payment.pk:
        raise CancelRefused(
            _("이 Idempotency-Key는 다른 결제의 취소에 이미 쓰였습니다."), error_code=CANCEL_INVALID
        )
    return earlier.cancellation


def _remember_key(key: str, cancellation: SandboxCancellation) -> None:
    try:
        with transaction.atomic():
            SandboxIdempotencyKey.objects.create(
                key=key, payment=cancellation.payment, cancellation=cancellation
            )
    except IntegrityError:
        # The same key, at the same moment, for another payment: this cancel is undone.
        raise CancelRefused(
            _("이 Idempotency-Key는 다른 결제의 취소에 이미 쓰였습니다."), error_code=CANCEL_INVALID
        ) from None


def _find_for_cancel(*, imp_uid: str, merchant_uid: str, api: str | None) -> SandboxPayment:
    payments = (
        SandboxPayment.objects.all() if api is None else SandboxPayment.objects.filter(api=api)
    )
    if imp_uid:
        found = payments.filter(imp_uid=imp_uid)
    elif merchant_uid:
        # The attempt that holds money, else the newest one (refused below for its status).
        found = selectors.attempts_money_first(payments.filter(merchant_uid=merchant_uid))
    else:
        raise CancelRefused("imp_uid 또는 merchant_uid 중 하나는 필요합니다.")
    payment = found.select_for_update().first()
    if payment is None:
        raise CancelRefused("취소할 결제건이 존재하지 않습니다.", error_code=CANCEL_NOT_FOUND)
    return payment


# --- PortOne V2 pre-registration ------------------------------------------------------------
def pre_register(*, payment_id: str, amount: int | None) -> SandboxPrepare | None:
    """V2 `POST payments/{paymentId}/pre-register`: the amount the SDK must be asked for.

    Registering again replaces the amount (the shop registers on every click of its pay
    button); refused (AlreadyRegistered, V2's ALREADY_PAID) once the paymentId is paid. Without
    an amount nothing is enforced, and nothing is stored.
    """
    with transaction.atomic():
        if selectors.payment_paid_for_merchant_uid(payment_id, api=Api.V2):
            raise AlreadyRegistered(
                _("이미 결제가 완료된 paymentId입니다: %(id)s") % {"id": payment_id}
            )
        if amount is None:
            return None
        prepared, _created = SandboxPrepare.objects.update_or_create(
            api=Api.V2, merchant_uid=payment_id, defaults={"amount": amount, "currency": "KRW"}
        )
        return prepared


def webhook_resend(*, imp_uid: str) -> SandboxPayment:
    """Notify the shop of the payment's current state again (the console's resend)."""
    payment = SandboxPayment.objects.filter(imp_uid=imp_uid).first()
    if payment is None:
        raise NotFound("존재하지 않는 결제정보입니다.")
    if not webhooks.webhook_urls(payment):
        if payment.api == Api.V2:
            raise SandboxRefusal(
                _("웹훅 URL이 없습니다 (noticeUrls도 SANDBOX_WEBHOOK_URL도 없음).")
            )
        raise SandboxRefusal("웹훅 URL이 없습니다 (notice_url도 SANDBOX_WEBHOOK_URL도 없음).")
    webhooks.resend(payment)
    return payment
