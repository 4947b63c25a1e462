"""Every change of sandbox state: tokens, prepared amounts and the payment lifecycle.

The payment window, the console and the REST API all go through these functions, so a payment
moves the same way whoever moves it:

    ready (window open) --approve--> paid --cancel (part)--> paid --cancel (rest)--> cancelled
          |             --approve (vbank)--> ready, account issued --deposit--> paid
          |                                                        --cancel--> cancelled
          +--decline / close--> failed

A service that changes a payment locks its row (`select_for_update`) and re-reads it inside
the transaction, because the window, the console and the shop's refund calls can act on the
same payment at once; the second then sees what the first did and is refused if it no longer
applies. Webhooks are queued with `transaction.on_commit`, never sent inside the transaction.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from sandbox import selectors, webhooks
from sandbox.models import SandboxCancellation, SandboxPayment, SandboxPrepare, SandboxToken
from sandbox.params import (
    SDK_ALREADY_PAID,
    SDK_AMOUNT_MISMATCH,
    SDK_UNKNOWN_MERCHANT,
    PayRequest,
    default_vbank_due,
)

logger = logging.getLogger(__name__)

Status = SandboxPayment.Status

DEFAULT_TOKEN_LIFETIME = 30 * 60  # seconds, as Iamport
# Asked again in its last minute, a token is extended by five minutes (as Iamport).
TOKEN_EXTEND_WITHIN = timedelta(minutes=1)
TOKEN_EXTENSION = timedelta(minutes=5)

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
    pass


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
        prepared = SandboxPrepare.objects.select_for_update().filter(merchant_uid=merchant_uid)
        prepared = prepared.first()
        if prepared is None:
            raise NotFound(f"사전등록된 결제정보가 없습니다: {merchant_uid}")
        prepared.amount = amount
        prepared.currency = currency
        prepared.save(update_fields=["amount", "currency", "updated_at"])
        return prepared


# --- the payment window -------------------------------------------------------------------
def payment_start(
    *, pay_request: PayRequest, merchant_code: str, channel: str, user_agent: str = ""
) -> SandboxPayment:
    """Start a payment for `IMP.request_pay`: checks, then a `ready` record with a new imp_uid.

    Refused (SandboxRefusal with an SDK error_code) for an unknown merchant code, a
    merchant_uid that is already paid, or an amount that differs from the prepared one.
    """
    expected_code = getattr(settings, "IAMPORT_MERCHANT_CODE", "")
    if expected_code and merchant_code != expected_code:
        raise SandboxRefusal(
            f"등록되지 않은 가맹점 식별코드입니다: {merchant_code!r} (설정: {expected_code})",
            error_code=SDK_UNKNOWN_MERCHANT,
        )
    with transaction.atomic():
        if selectors.payment_paid_for_merchant_uid(pay_request.merchant_uid):
            raise SandboxRefusal(
                f"이미 결제가 완료된 주문번호입니다: {pay_request.merchant_uid}",
                error_code=SDK_ALREADY_PAID,
            )
        prepared = SandboxPrepare.objects.filter(merchant_uid=pay_request.merchant_uid).first()
        if prepared is not None and prepared.amount != pay_request.amount:
            raise SandboxRefusal(
                f"사전 등록된 결제 금액({prepared.amount:,}원)과 요청한 결제 금액"
                f"({pay_request.amount:,}원)이 다릅니다.",
                error_code=SDK_AMOUNT_MISMATCH,
            )
        return SandboxPayment.objects.create(
            imp_uid=_new_imp_uid(),
            merchant_uid=pay_request.merchant_uid,
            merchant_code=merchant_code,
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
        already_paid = selectors.payment_paid_for_merchant_uid(payment.merchant_uid)
        if already_paid is not None and already_paid.pk != payment.pk:
            payment.status = Status.FAILED
            payment.failed_at = now
            payment.fail_code = SDK_ALREADY_PAID
            payment.fail_reason = "이미 결제가 완료된 주문번호입니다."
            payment.save()
            return payment

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


def _fail(imp_uid: str, *, code: str, reason: str) -> SandboxPayment:
    with transaction.atomic():
        payment = _locked_open_payment(imp_uid)
        payment.status = Status.FAILED
        payment.failed_at = timezone.now()
        payment.fail_code = code
        payment.fail_reason = reason
        payment.save()
        return payment


def payment_decline(*, imp_uid: str, error_code: str = DEFAULT_DECLINE_CODE) -> SandboxPayment:
    """The PG declined (chosen in the window): `failed`. Ordinary failures send no webhook."""
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
    amount: int | None = None,
    checksum: int | None = None,
    reason: str = "",
    refund_account: RefundAccount | None = None,
    source: str = SandboxCancellation.Source.API,
    notify: bool = False,
) -> tuple[SandboxPayment, SandboxCancellation]:
    """Cancel (refund) all or part of a payment, with Iamport's rules.

    `imp_uid` wins over `merchant_uid`. `amount` None or 0 means everything left. `checksum`,
    when given, must equal what is left, which makes a retried partial refund safe. A partial
    cancel keeps `paid`; cancelling the rest makes it `cancelled`. An issued but unfunded
    virtual account can be cancelled as a whole. `notify` queues a `cancelled` webhook carrying
    the payment's status after the cancel (Iamport: console cancels, or `enable_webhook`).
    """
    with transaction.atomic():
        payment = _find_for_cancel(imp_uid=imp_uid, merchant_uid=merchant_uid)
        remaining = payment.remaining_amount
        if payment.status == Status.CANCELLED:
            raise CancelRefused("이미 전액취소된 주문입니다.")
        if payment.status == Status.FAILED:
            raise CancelRefused("결제에 실패한 건은 취소할 수 없습니다.")
        if not payment.is_cancellable:
            raise CancelRefused("아직 결제되지 않은 건은 취소할 수 없습니다.")
        if checksum is not None and checksum != remaining:
            raise CancelRefused(
                f"[checksum 불일치] 취소 가능 잔액은 {remaining:,}원인데 요청한 checksum은 "
                f"{checksum:,}원입니다."
            )
        amount = amount or remaining
        if amount > remaining:
            raise CancelRefused(
                f"취소 요청 금액({amount:,}원)이 취소 가능 잔액({remaining:,}원)보다 큽니다."
            )
        if payment.is_awaiting_deposit and amount != remaining:
            raise CancelRefused("입금 전 가상계좌는 부분취소할 수 없습니다.")
        refund = refund_account or RefundAccount()
        if (
            source == SandboxCancellation.Source.API
            and payment.pay_method == "vbank"
            and payment.status == Status.PAID
            and not (refund.holder and refund.bank and refund.account)
        ):
            # Money deposited into a virtual account goes back to the buyer's own account.
            raise CancelRefused(
                "가상계좌 환불에는 환불 계좌 정보(refund_holder, refund_bank, refund_account)가 "
                "필요합니다."
            )

        now = timezone.now()
        cancellation = SandboxCancellation.objects.create(
            payment=payment,
            cancellation_id=f"sbcancel_{secrets.token_hex(8)}",
            amount=amount,
            reason=reason[:200],
            pg_tid=_new_pg_tid(),
            cancelled_at=now,
            source=source,
            refund_holder=refund.holder[:100],
            refund_bank=refund.bank[:10],
            refund_account=refund.account[:40],
            refund_tel=refund.tel[:40],
        )
        payment.cancel_amount += amount
        if payment.cancel_amount >= payment.amount:
            payment.status = Status.CANCELLED
            payment.cancelled_at = now
            payment.cancel_reason = reason[:200]
        payment.save()
        if notify:
            webhooks.notify_after_commit(
                payment, trigger="cancelled", cancellation_id=cancellation.cancellation_id
            )
        return payment, cancellation


def _find_for_cancel(*, imp_uid: str, merchant_uid: str) -> SandboxPayment:
    if imp_uid:
        found = SandboxPayment.objects.filter(imp_uid=imp_uid)
    elif merchant_uid:
        # The attempt that holds money, else the newest one (refused below for its status).
        found = SandboxPayment.objects.filter(merchant_uid=merchant_uid).order_by(
            F("paid_at").desc(nulls_last=True), "-started_at", "-id"
        )
    else:
        raise CancelRefused("imp_uid 또는 merchant_uid 중 하나는 필요합니다.")
    payment = found.select_for_update().first()
    if payment is None:
        raise CancelRefused("취소할 결제건이 존재하지 않습니다.")
    return payment


def webhook_resend(*, imp_uid: str) -> SandboxPayment:
    """Notify the shop of the payment's current state again (the console's resend)."""
    payment = SandboxPayment.objects.filter(imp_uid=imp_uid).first()
    if payment is None:
        raise NotFound("존재하지 않는 결제정보입니다.")
    if webhooks.webhook_url(payment) is None:
        raise SandboxRefusal("웹훅 URL이 없습니다 (notice_url도 SANDBOX_WEBHOOK_URL도 없음).")
    webhooks.resend(payment)
    return payment
