"""Sandbox records as Iamport shows them: REST objects and the browser callback's `rsp`.

Field names follow the V1 OpenAPI definitions (PaymentAnnotation, PaymentCancelAnnotation,
PaymentPrepareAnnotation, AuthAnnotation). Times are unix seconds, 0 when not applicable;
strings that do not apply to a payment are null, as Iamport returns them.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from sandbox.models import SandboxCancellation, SandboxPayment, SandboxPrepare, SandboxToken


def unix(moment: datetime | None) -> int:
    return int(moment.timestamp()) if moment else 0


def _or_none(value: str) -> str | None:
    return value or None


def receipt_url(
    payment: SandboxPayment,
    request: HttpRequest,
    cancellation: SandboxCancellation | None = None,
) -> str | None:
    """The sandbox's sales slip (매출전표), once money has moved."""
    if payment.paid_at is None and cancellation is None:
        return None
    path = reverse("sandbox:receipt", args=[payment.imp_uid])
    if cancellation is not None:
        path += "?" + urlencode({"cancellation_id": cancellation.cancellation_id})
    return request.build_absolute_uri(path)


def cancellation_to_api(
    cancellation: SandboxCancellation, *, payment: SandboxPayment, request: HttpRequest
) -> dict[str, Any]:
    return {
        "pg_tid": cancellation.pg_tid,
        "amount": cancellation.amount,
        "cancelled_at": unix(cancellation.cancelled_at),
        "reason": cancellation.reason,
        "cancellation_id": cancellation.cancellation_id,
        "receipt_url": receipt_url(payment, request, cancellation),
    }


def payment_to_api(payment: SandboxPayment, *, request: HttpRequest) -> dict[str, Any]:
    """The REST payment object (`PaymentAnnotation`)."""
    history = [
        cancellation_to_api(cancellation, payment=payment, request=request)
        for cancellation in payment.cancellations.all()
        if cancellation.status == SandboxCancellation.Status.SUCCEEDED
    ]
    is_card = payment.pay_method == "card"
    return {
        "imp_uid": payment.imp_uid,
        "merchant_uid": payment.merchant_uid,
        "pay_method": payment.pay_method,
        "channel": payment.channel,
        "pg_provider": payment.pg_provider,
        "emb_pg_provider": None,
        "pg_tid": _or_none(payment.pg_tid),
        "pg_id": _or_none(payment.pg_id),
        "escrow": False,
        "apply_num": _or_none(payment.apply_num),
        "bank_code": _or_none(payment.bank_code),
        "bank_name": _or_none(payment.bank_name),
        "card_code": _or_none(payment.card_code),
        "card_name": _or_none(payment.card_name),
        "card_quota": 0 if is_card and payment.paid_at else None,
        "card_number": _or_none(payment.card_number),
        "card_type": 0 if is_card and payment.paid_at else None,
        "vbank_code": _or_none(payment.vbank_code),
        "vbank_name": _or_none(payment.vbank_name),
        "vbank_num": _or_none(payment.vbank_num),
        "vbank_holder": _or_none(payment.vbank_holder),
        "vbank_date": unix(payment.vbank_date),
        "vbank_issued_at": unix(payment.vbank_issued_at),
        "name": payment.name,
        "amount": payment.amount,
        "cancel_amount": payment.cancel_amount,
        "currency": payment.currency,
        "buyer_name": payment.buyer_name,
        "buyer_email": payment.buyer_email,
        "buyer_tel": payment.buyer_tel,
        "buyer_addr": payment.buyer_addr,
        "buyer_postcode": payment.buyer_postcode,
        "custom_data": _or_none(payment.custom_data),
        "user_agent": payment.user_agent,
        "status": payment.status,
        "started_at": unix(payment.started_at),
        "paid_at": unix(payment.paid_at),
        "failed_at": unix(payment.failed_at),
        "cancelled_at": unix(payment.cancelled_at),
        "fail_reason": _or_none(payment.fail_reason),
        "cancel_reason": _or_none(payment.cancel_reason),
        "receipt_url": receipt_url(payment, request),
        "cancel_history": history,
        "cancel_receipt_urls": [entry["receipt_url"] for entry in history],
        "cash_receipt_issued": False,
        "customer_uid": None,
        "customer_uid_usage": None,
        "sandbox": True,
    }


def _custom_data_for_browser(text: str) -> Any:
    """The SDK hands `custom_data` back as it was given: an object stays an object."""
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def payment_to_rsp(payment: SandboxPayment, *, request: HttpRequest) -> dict[str, Any]:
    """The `rsp` the browser callback receives (v1 semantics: no `success`; a non-null
    `error_code` means failure). Nothing in it proves a payment."""
    failed = payment.status == SandboxPayment.Status.FAILED
    has_money_moved = payment.paid_at is not None or payment.is_vbank_issued
    return {
        "imp_uid": payment.imp_uid,
        "merchant_uid": payment.merchant_uid,
        "pay_method": payment.pay_method,
        "paid_amount": payment.amount if has_money_moved else 0,
        "status": payment.status,
        "name": payment.name,
        "pg_provider": payment.pg_provider,
        "emb_pg_provider": None,
        "pg_tid": _or_none(payment.pg_tid),
        "pg_type": "payment",
        "currency": payment.currency,
        "buyer_name": payment.buyer_name,
        "buyer_email": payment.buyer_email,
        "buyer_tel": payment.buyer_tel,
        "buyer_addr": payment.buyer_addr,
        "buyer_postcode": payment.buyer_postcode,
        "custom_data": _custom_data_for_browser(payment.custom_data),
        "paid_at": unix(payment.paid_at),
        "receipt_url": receipt_url(payment, request),
        "apply_num": _or_none(payment.apply_num),
        "card_name": _or_none(payment.card_name),
        "card_number": _or_none(payment.card_number),
        "card_quota": 0 if payment.pay_method == "card" and payment.paid_at else None,
        "bank_name": _or_none(payment.bank_name),
        "vbank_code": _or_none(payment.vbank_code),
        "vbank_num": _or_none(payment.vbank_num),
        "vbank_name": _or_none(payment.vbank_name),
        "vbank_holder": _or_none(payment.vbank_holder),
        "vbank_date": unix(payment.vbank_date),
        "error_code": (payment.fail_code or "F0000") if failed else None,
        "error_msg": payment.fail_reason if failed else None,
    }


def prepare_to_api(prepared: SandboxPrepare) -> dict[str, Any]:
    return {
        "merchant_uid": prepared.merchant_uid,
        "amount": prepared.amount,
        "currency": prepared.currency,
    }


def token_to_api(token: SandboxToken) -> dict[str, Any]:
    return {
        "access_token": token.access_token,
        "expired_at": unix(token.expires_at),
        "now": unix(timezone.now()),
    }
