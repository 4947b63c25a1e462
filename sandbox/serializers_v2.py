"""Sandbox records as PortOne V2 shows them: the REST `Payment` and `PaymentCancellation`, and
the result `PortOne.requestPayment` resolves with.

Field names follow PortOne's V2 OpenAPI schema (`Payment` discriminated by `status`,
`PaymentAmount`, `SelectedChannel`, `PaymentMethod*`, `PaymentCancellation`). Every field the
schema requires for a status is present; optional ones appear only when they apply (never
null). Times are RFC 3339 in UTC with milliseconds, as PortOne writes them.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from sandbox.models import SandboxCancellation, SandboxPayment
from sandbox.serializers import receipt_url
from sandbox.services import DECLINE_REASONS, USER_CLOSED_CODE
from sandbox.webhooks import rfc3339

MERCHANT_ID = "merchant-00000000-0000-4000-8000-sandbox"
# The V2 REST `Bank` codes of the banks the sandbox itself uses (issued accounts, transfers).
V2_BANKS = {"004": "KOOKMIN", "088": "SHINHAN"}
PG_NAMES = {"TOSSPAYMENTS": "토스페이먼츠", "KAKAOPAY": "카카오페이"}
# Window failures the PG reports (declines, the buyer closing the window): V2's
# FAILURE_TYPE_PG. Others (another attempt was paid first) keep the sandbox's own code.
PG_FAILURE_CODES = {*DECLINE_REASONS, USER_CLOSED_CODE}
PG_FAILURE = "FAILURE_TYPE_PG"


def vat_of(amount: int) -> int:
    """The VAT included in a taxable amount (1/11, rounded), as Korean PGs report it."""
    return (amount + 5) // 11


def _time(moment: datetime | None) -> str | None:
    return rfc3339(moment) if moment else None


def _compact(data: dict[str, Any]) -> dict[str, Any]:
    """Optional fields that do not apply are left out, not null."""
    return {key: value for key, value in data.items() if value not in (None, "", {})}


def channel(payment: SandboxPayment) -> dict[str, Any]:
    """`SelectedChannel`: always a TEST channel, the sandbox takes no real money."""
    key = payment.channel_key
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return _compact(
        {
            "type": "TEST",
            "id": f"channel-id-sandbox-{digest}",
            "key": key,
            "name": f"{PG_NAMES.get(payment.pg_provider, payment.pg_provider)} 샌드박스 (테스트)",
            "pgProvider": payment.pg_provider,
            "pgMerchantId": payment.pg_id or "sandbox",
        }
    )


def _amount(payment: SandboxPayment) -> dict[str, int]:
    money_in = payment.paid_at is not None
    return {
        "total": payment.amount,
        "taxFree": 0,
        "vat": vat_of(payment.amount),
        "supply": payment.amount - vat_of(payment.amount),
        "discount": 0,
        "paid": payment.amount - payment.cancel_amount if money_in else 0,
        "cancelled": payment.cancel_amount,
        "cancelledTaxFree": 0,
    }


def _customer(payment: SandboxPayment) -> dict[str, Any]:
    return _compact(
        {
            "name": {"full": payment.buyer_name} if payment.buyer_name else None,
            "email": payment.buyer_email,
            "phoneNumber": payment.buyer_tel,
            "address": (
                {"type": "ONE_LINE", "oneLine": payment.buyer_addr} if payment.buyer_addr else None
            ),
            "zipcode": payment.buyer_postcode,
        }
    )


def _method(payment: SandboxPayment) -> dict[str, Any] | None:
    """`PaymentMethod`, once the window has done its part (an account issued, money in)."""
    if payment.paid_at is None and not payment.is_vbank_issued:
        return None
    if payment.pay_method == "vbank":
        return _compact(
            {
                "type": "PaymentMethodVirtualAccount",
                "bank": V2_BANKS.get(payment.vbank_code, payment.vbank_code),
                "accountNumber": payment.vbank_num,
                "accountType": "NORMAL",
                "remitteeName": payment.vbank_holder,
                "remitterName": payment.buyer_name,
                "expiredAt": _time(payment.vbank_date),
                "issuedAt": _time(payment.vbank_issued_at),
            }
        )
    if payment.pay_method == "trans":
        return {
            "type": "PaymentMethodTransfer",
            "bank": V2_BANKS.get(payment.bank_code, payment.bank_code),
        }
    if payment.pay_method == "kakaopay":
        return {"type": "PaymentMethodEasyPay", "provider": "KAKAOPAY"}
    return _compact(
        {
            "type": "PaymentMethodCard",
            "card": _compact({"name": payment.card_name, "number": payment.card_number}),
            "approvalNumber": payment.apply_num,
            "installment": {"month": 0, "isInterestFree": False},
            "pointUsed": False,
        }
    )


def cancellation_to_v2(
    cancellation: SandboxCancellation, *, payment: SandboxPayment, request: HttpRequest
) -> dict[str, Any]:
    """`PaymentCancellation` by its status: SUCCEEDED (with `cancelledAt` and a slip), or
    REQUESTED / FAILED when the PG cancels this payment later."""
    status = cancellation.status
    body = {
        "status": status,
        "id": cancellation.cancellation_id,
        "totalAmount": cancellation.amount,
        "taxFreeAmount": 0,
        "vatAmount": vat_of(cancellation.amount),
        "reason": cancellation.reason,
        "requestedAt": rfc3339(cancellation.requested_at),
        "trigger": "CONSOLE"
        if cancellation.source == SandboxCancellation.Source.CONSOLE
        else "API",
    }
    if status == SandboxCancellation.Status.SUCCEEDED:
        body["pgCancellationId"] = cancellation.pg_tid
        body["cancelledAt"] = rfc3339(cancellation.cancelled_at)
        body["receiptUrl"] = receipt_url(payment, request, cancellation)
    return body


def _failure(payment: SandboxPayment) -> dict[str, str]:
    return _compact(
        {
            "reason": payment.fail_reason,
            "pgCode": payment.fail_code,
            "pgMessage": pg_message(payment),
        }
    )


def pg_message(payment: SandboxPayment) -> str:
    """The PG's own words: a decline's reason without the "[code] " the sandbox adds."""
    return DECLINE_REASONS.get(payment.fail_code, payment.fail_reason)


def _status_changed_at(payment: SandboxPayment, last_cancel: datetime | None) -> datetime:
    moments = {
        "PAID": payment.paid_at,
        "FAILED": payment.failed_at,
        "VIRTUAL_ACCOUNT_ISSUED": payment.vbank_issued_at,
        "PARTIAL_CANCELLED": last_cancel,
        "CANCELLED": last_cancel,
    }
    return moments.get(payment.v2_status) or payment.started_at


def _by_status(payment: SandboxPayment, last_cancel: datetime | None) -> dict[str, Any]:
    """The fields a status requires besides the common ones."""
    status = payment.v2_status
    fields: dict[str, Any] = {}
    if payment.paid_at is not None:
        fields["paidAt"] = rfc3339(payment.paid_at)
    if status == "PAID":
        fields["disputes"] = []
    if status == "FAILED":
        fields["failedAt"] = rfc3339(payment.failed_at or payment.updated_at)
        fields["failure"] = _failure(payment)
    if status in ("CANCELLED", "PARTIAL_CANCELLED"):
        fields["cancelledAt"] = rfc3339(last_cancel or payment.cancelled_at or payment.updated_at)
    return fields


def payment_to_v2(payment: SandboxPayment, *, request: HttpRequest) -> dict[str, Any]:
    """The REST `Payment` object of `GET /payments/{paymentId}`."""
    history = list(payment.cancellations.all())
    last_cancel = max(
        (c.cancelled_at for c in history if c.status == SandboxCancellation.Status.SUCCEEDED),
        default=None,
    )
    body: dict[str, Any] = {
        "status": payment.v2_status,
        "id": payment.merchant_uid,
        "transactionId": payment.imp_uid,
        "merchantId": MERCHANT_ID,
        "storeId": payment.store_id or settings.PORTONE_STORE_ID,
        "version": "V2",
        "requestedAt": rfc3339(payment.started_at),
        "updatedAt": rfc3339(payment.updated_at),
        "statusChangedAt": rfc3339(_status_changed_at(payment, last_cancel)),
        "orderName": payment.name,
        "amount": _amount(payment),
        "currency": payment.currency,
        "customer": _customer(payment),
        "origin": {
            "platformType": "MOBILE" if payment.channel == "mobile" else "PC",
            "ipAddress": payment.ip_address or "127.0.0.1",
        },
        "channel": channel(payment),
        "cancellations": [
            cancellation_to_v2(cancellation, payment=payment, request=request)
            for cancellation in history
        ],
        "webhooks": [],
        "products": [],
        "isCulturalExpense": False,
    }
    body.update(
        _compact(
            {
                "method": _method(payment),
                "pgTxId": payment.pg_tid,
                "receiptUrl": receipt_url(payment, request),
                "customData": payment.custom_data,
            }
        )
    )
    body.update(_by_status(payment, last_cancel))
    return body


def browser_result(payment: SandboxPayment) -> dict[str, Any]:
    """What `PortOne.requestPayment` resolves with once the window is done: the attempt, and
    on failure `code`, `message`, `pgCode`, `pgMessage`. Nothing in it proves a payment."""
    result = {
        "transactionType": "PAYMENT",
        "paymentId": payment.merchant_uid,
        "txId": payment.imp_uid,
    }
    if payment.status == SandboxPayment.Status.FAILED:
        code = payment.fail_code or "F0000"
        result.update(
            {
                "code": PG_FAILURE if code in PG_FAILURE_CODES else code,
                "message": payment.fail_reason,
                "pgCode": code,
                "pgMessage": pg_message(payment),
            }
        )
    return result
