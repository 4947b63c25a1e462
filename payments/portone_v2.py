"""PortOne V2's REST API, answered in the shop's own types.

The payment comes back as the same `IamportPayment` the synchronisation service already
consumes for Iamport (V1), and failures raise the exception tree of `payments.client`, so a
V2 payment can go through the one function that decides a payment's fate.

- one pooled `requests.Session`; `Authorization: PortOne <API secret>` on every call (V2 has
  no token to fetch);
- the (connect, read) timeout of every call is cut to the current request's time budget
  (`payments.client.time_budget`), and no redirect is ever followed;
- path ids are percent-escaped as one segment, bodies are JSON;
- `cancel` sends an `Idempotency-Key`: PortOne does not stop a cancel when the shop stops
  waiting, and a retry with the same key returns the first attempt's answer instead of
  cancelling twice.

Deliberately not the official `portone-server-sdk`: its timeout is fixed at 60 s (it cannot
honour the request's time budget) and it has no way to send an `Idempotency-Key`.

How V2 maps onto the shop's payment (V1 wording):
- `id` (the shop's paymentId) is `merchant_uid`, `transactionId` is `imp_uid`;
- READY, PAY_PENDING (approval under way, no money taken yet) and VIRTUAL_ACCOUNT_ISSUED are
  `ready` (an issued account carries its vbank fields, as in V1); PAID and PARTIAL_CANCELLED
  are `paid` (`cancel_amount` says how much went back); FAILED is `failed`, CANCELLED
  `cancelled`;
- `method.type` becomes the V1 pay-method code; an easy-pay wallet (Kakao Pay, Toss Pay, ...)
  is "point", the code Iamport reports for such payments, and the wallet itself is told by
  `pg_provider` (the channel's PG, lowercased: "kakaopay", "tosspayments", "kcp_v2", ...);
- `vbank_code` holds PortOne's bank code ("SHINHAN"), `vbank_name` the bank's name
  (신한은행, `payments.banks`): V2 sends no bank name;
- `channel` is the channel's mode, "LIVE" or "TEST";
- `customData` is the browser's JSON as a string: kept untouched in `raw`, never trusted.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests
from django.conf import settings

from guard.text import storable_json
from payments import banks

# The number and text helpers are the V1 client's own, so that both APIs are read alike.
from payments.client import (
    CancelHistory,
    IamportAuthError,
    IamportBadResponse,
    IamportNotFound,
    IamportPayment,
    IamportRejected,
    PaymentStatus,
    _amount,
    _path,
    _str,
    api_session,
    send,
)
from payments.ids import is_imp_uid

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.portone.io"
# PortOne recommends waiting at least 60 s for an answer; the request's budget cuts it shorter.
DEFAULT_TIMEOUT = (3.05, 60.0)


# --- errors -------------------------------------------------------------------------------
class PortOneRejected(IamportRejected):
    """PortOne answered and refused. `type` is its error type ("PAYMENT_ALREADY_CANCELLED",
    "CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN", ...), `message` its text; V2 has no numeric
    `code`, so that stays None."""

    def __init__(self, message: str, *, error_type: str, http_status: int) -> None:
        super().__init__(message or error_type, code=None, http_status=http_status)
        self.type = error_type


class PortOneAuthError(IamportAuthError, PortOneRejected):
    """The API secret is missing, wrong, expired, or not allowed this call (HTTP 401/403)."""


class PortOneNotFound(IamportNotFound, PortOneRejected):
    """No such payment (HTTP 404)."""


# --- typed replies ------------------------------------------------------------------------
STATUSES = {
    "READY": PaymentStatus.READY,
    "PAY_PENDING": PaymentStatus.READY,
    "VIRTUAL_ACCOUNT_ISSUED": PaymentStatus.READY,
    "PAID": PaymentStatus.PAID,
    "FAILED": PaymentStatus.FAILED,
    "PARTIAL_CANCELLED": PaymentStatus.PAID,
    "CANCELLED": PaymentStatus.CANCELLED,
}
PAY_METHODS = {
    "PaymentMethodCard": "card",
    "PaymentMethodVirtualAccount": "vbank",
    "PaymentMethodTransfer": "trans",
    "PaymentMethodEasyPay": "point",
    "PaymentMethodMobile": "phone",
    "PaymentMethodGiftCertificate": "giftcertificate",
    "PaymentMethodConvenienceStore": "cvs",
    "PaymentMethodCrypto": "crypto",
}
# What PortOne's schema requires of every payment, and of each status besides.
REQUIRED = (
    "id",
    "transactionId",
    "merchantId",
    "storeId",
    "version",
    "requestedAt",
    "updatedAt",
    "statusChangedAt",
    "orderName",
    "amount",
    "currency",
    "customer",
    "origin",
)
REQUIRED_BY_STATUS = {
    "READY": (),
    "PAY_PENDING": ("channel",),
    "VIRTUAL_ACCOUNT_ISSUED": ("channel",),
    "PAID": ("channel", "paidAt", "disputes"),
    "FAILED": ("failedAt", "failure"),
    "PARTIAL_CANCELLED": ("channel", "cancellations", "cancelledAt"),
    "CANCELLED": ("channel", "cancellations", "cancelledAt"),
}


def _object(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    """A nested object, {} when absent; anything else is an unreadable reply."""
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise IamportBadResponse(f"{key} is not an object")
    return value


def _time(data: Mapping[str, Any], key: str) -> datetime | None:
    """An RFC 3339 time as an aware UTC datetime, in whole seconds like V1's."""
    value = data.get(key)
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise IamportBadResponse(f"{key} is not an RFC 3339 time: {value!r}")
    try:
        return parsed.astimezone(UTC).replace(microsecond=0)
    except OverflowError:  # e.g. 9999-12-31T23:59:59-23:59, past datetime's last moment in UTC
        raise IamportBadResponse(f"{key} is out of range: {value!r}") from None


def _check_required(data: dict[str, Any], status: str) -> None:
    missing = [key for key in (*REQUIRED, *REQUIRED_BY_STATUS[status]) if data.get(key) is None]
    if missing:
        raise IamportBadResponse(f"the {status} payment lacks {', '.join(missing)}")
    if not _str(data, "id") or not _str(data, "transactionId"):
        raise IamportBadResponse("the payment has no id or transactionId")
    if not is_imp_uid(_str(data, "transactionId")):
        # Kept as the payment record's key (Payment.imp_uid): letters, digits, "_", "-", <= 64.
        raise IamportBadResponse("the transactionId is not a usable id")


@dataclass(frozen=True)
class Cancellation:
    """One cancel of a payment. `status` is PortOne's: SUCCEEDED, or REQUESTED while the PG
    is still working on it (its outcome then arrives by webhook), or FAILED."""

    id: str
    status: str
    amount: int
    reason: str
    requested_at: datetime | None
    cancelled_at: datetime | None
    pg_cancellation_id: str
    receipt_url: str
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Any) -> Cancellation:
        if not isinstance(data, dict):
            raise IamportBadResponse("the cancellation is not an object")
        status = _str(data, "status")
        if not _str(data, "id") or status not in ("REQUESTED", "SUCCEEDED", "FAILED"):
            raise IamportBadResponse(f"unreadable cancellation (status {status!r})")
        return cls(
            id=_str(data, "id"),
            status=status,
            amount=_amount(data, "totalAmount", required=True),
            reason=_str(data, "reason"),
            requested_at=_time(data, "requestedAt"),
            cancelled_at=_time(data, "cancelledAt"),
            pg_cancellation_id=_str(data, "pgCancellationId"),
            receipt_url=_str(data, "receiptUrl"),
            raw=storable_json(data),
        )

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"

    def as_history(self) -> CancelHistory:
        """The entry of the shop's cancel history (PortOne's id identifies it)."""
        return CancelHistory(
            amount=self.amount,
            reason=self.reason,
            cancelled_at=self.cancelled_at or self.requested_at,
            pg_tid=self.pg_cancellation_id,
            receipt_url=self.receipt_url,
            cancellation_id=self.id,
        )


def _cancellations(data: dict[str, Any]) -> tuple[Cancellation, ...]:
    entries = data.get("cancellations") or []
    if not isinstance(entries, list):
        raise IamportBadResponse("cancellations is not a list")
    return tuple(Cancellation.from_api(entry) for entry in entries)


def _cancel_history(cancellations: tuple[Cancellation, ...]) -> tuple[CancelHistory, ...]:
    """The cancels that gave money back; requested and failed ones did not (yet)."""
    return tuple(c.as_history() for c in cancellations if c.succeeded)


def _cancel_pending(cancellations: tuple[Cancellation, ...]) -> int:
    """What the PG is still giving back: cancels PortOne took that have not finished."""
    return sum(c.amount for c in cancellations if c.status == "REQUESTED")


def _vbank(status: str, method: dict[str, Any]) -> dict[str, Any]:
    """The V1 vbank fields. An issued account without its number could not be shown to the
    buyer, so it is an unreadable reply rather than a ready payment without an account."""
    if method.get("type") != "PaymentMethodVirtualAccount":
        if status == "VIRTUAL_ACCOUNT_ISSUED":
            raise IamportBadResponse("the issued virtual account has no account method")
        method = {}
    if status == "VIRTUAL_ACCOUNT_ISSUED" and not _str(method, "accountNumber"):
        raise IamportBadResponse("the issued virtual account has no accountNumber")
    return {
        "vbank_code": _str(method, "bank"),
        "vbank_name": banks.name_of_v2(_str(method, "bank")),
        "vbank_num": _str(method, "accountNumber"),
        "vbank_holder": _str(method, "remitteeName"),
        "vbank_date": _time(method, "expiredAt"),
    }


def _amounts(data: dict[str, Any]) -> tuple[int, int]:
    amount = _object(data, "amount")
    total = _amount(amount, "total", required=True)
    cancelled = _amount(amount, "cancelled", required=True)
    if cancelled > total:
        raise IamportBadResponse(f"amount.cancelled {cancelled} exceeds amount.total {total}")
    return total, cancelled


def _fail_reason(data: dict[str, Any]) -> str:
    failure = _object(data, "failure")
    return _str(failure, "reason") or _str(failure, "pgMessage")


def payment_from_api(data: Any) -> IamportPayment:
    """A V2 `Payment` as the shop's payment. Unknown fields are ignored; an unknown status or
    a known one without what PortOne's schema requires is an unreadable reply."""
    if not isinstance(data, dict):
        raise IamportBadResponse("the payment is not an object")
    status = _str(data, "status")
    if status not in STATUSES:
        raise IamportBadResponse(f"unknown payment status {status!r}")
    _check_required(data, status)
    method, channel, customer = (_object(data, k) for k in ("method", "channel", "customer"))
    total, cancelled = _amounts(data)
    cancellations = _cancellations(data)
    history = _cancel_history(cancellations)
    return IamportPayment(
        imp_uid=_str(data, "transactionId"),
        merchant_uid=_str(data, "id"),
        amount=total,
        cancel_amount=cancelled,
        currency=_str(data, "currency") or "KRW",
        status=STATUSES[status],
        pay_method=PAY_METHODS.get(_str(method, "type"), ""),
        pg_provider=_str(channel, "pgProvider").lower(),
        pg_tid=_str(data, "pgTxId"),
        name=_str(data, "orderName"),
        buyer_name=_str(_object(customer, "name"), "full"),
        buyer_email=_str(customer, "email"),
        receipt_url=_str(data, "receiptUrl"),
        paid_at=_time(data, "paidAt"),
        failed_at=_time(data, "failedAt"),
        cancelled_at=_time(data, "cancelledAt"),
        fail_reason=_fail_reason(data),
        cancel_reason=max(history, key=_when).reason if history else "",
        cancel_history=history,
        raw=storable_json(data),
        channel=_str(channel, "type"),
        cancel_pending=_cancel_pending(cancellations),
        cancellations_pending=tuple(c.id for c in cancellations if c.status == "REQUESTED"),
        cancellations_failed=tuple(c.id for c in cancellations if c.status == "FAILED"),
        **_vbank(status, method),
    )


def _when(entry: CancelHistory) -> float:
    return entry.cancelled_at.timestamp() if entry.cancelled_at else 0


# --- the client ---------------------------------------------------------------------------
def idempotency_header(key: str) -> str:
    """`key` as the RFC 8941 string PortOne expects: "…" with \\ and " escaped. PortOne wants
    16 to 256 printable ASCII characters, unique per distinct request."""
    if not 16 <= len(key) <= 256 or not all(" " <= ch <= "~" for ch in key):
        raise ValueError("an idempotency key is 16 to 256 printable ASCII characters")
    return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


class PortOneClient:
    def __init__(
        self,
        *,
        api_secret: str,
        base_url: str = DEFAULT_API_URL,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
    ) -> None:
        self.api_secret = api_secret
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.timeout = timeout
        self.session = session or api_session(self.base_url)
        self.session.headers.update({"Accept": "application/json"})

    def get_payment(self, payment_id: str) -> IamportPayment:
        """The payment; PortOneNotFound (with PortOne's message) when there is none."""
        return payment_from_api(self._send("GET", f"payments/{_path(payment_id)}"))

    def find_payment(self, payment_id: str) -> IamportPayment | None:
        """The payment, or None when PortOne knows no payment of that id."""
        try:
            return self.get_payment(payment_id)
        except PortOneNotFound as exc:
            if exc.type == "PAYMENT_NOT_FOUND":
                return None
            raise

    def cancel(
        self,
        payment_id: str,
        *,
        amount: int,
        reason: str,
        current_cancellable_amount: int,
        refund_account: Mapping[str, str] | None = None,
        idempotency_key: str,
    ) -> Cancellation:
        """Cancel `amount` won of a payment (a refund once paid).

        `current_cancellable_amount` is the balance this shop believes is left; PortOne refuses
        the cancel when its own figure differs (CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN), which
        makes a retried refund safe. The amount is always explicit: an omitted amount means
        "everything left". A funded virtual account is refunded to `refund_account`
        ({"bank", "number", "holderName", "holderPhoneNumber"?}). The answer may be a
        cancellation still REQUESTED, when the PG cancels asynchronously.
        """
        if amount <= 0 or amount > current_cancellable_amount:
            raise ValueError(
                f"cancel amount {amount} must be positive and at most {current_cancellable_amount}"
            )
        if not reason.strip():
            raise ValueError("a cancel needs a reason")
        body: dict[str, Any] = {
            "amount": amount,
            "reason": reason,
            "currentCancellableAmount": current_cancellable_amount,
        }
        if refund_account is not None:
            body["refundAccount"] = dict(refund_account)
        headers = {"Idempotency-Key": idempotency_header(idempotency_key)}
        path = f"payments/{_path(payment_id)}/cancel"
        data = self._send("POST", path, json_body=body, headers=headers)
        if not isinstance(data, dict):
            raise IamportBadResponse("the cancel reply is not an object")
        return Cancellation.from_api(data.get("cancellation"))

    def pre_register(self, payment_id: str, *, total_amount: int) -> None:
        """Tell PortOne the amount to expect (the shop still checks the amount paid)."""
        body = {"totalAmount": total_amount, "currency": "KRW"}
        self._send("POST", f"payments/{_path(payment_id)}/pre-register", json_body=body)

    # Plumbing ------------------------------------------------------------------------------
    def _send(
        self,
        method: str,
        path: str,
        *,
        json_body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        what = f"{method} {path}"
        if not self.api_secret:
            raise PortOneAuthError(
                "no PortOne API secret is configured", error_type="", http_status=0
            )
        reply = send(
            self.session,
            method,
            self.base_url + path,
            json_body=json_body,
            headers={"Authorization": f"PortOne {self.api_secret}", **(headers or {})},
            timeout=self.timeout,
            service="PortOne",
            what=what,
        )
        return _unwrap(reply, what)


def _unwrap(reply: requests.Response, what: str) -> Any:
    """A 2xx JSON body as it is, or the exception for PortOne's {type, message} error.

    As for Iamport, a 5xx (PortOne's own or a PG's, 502 PG_PROVIDER) and a body that is not
    JSON (a proxy's HTML page) are unreadable replies: the outcome is unknown and the caller
    reads the payment again later."""
    status = reply.status_code
    try:
        body = reply.json()
    except (ValueError, json.JSONDecodeError):
        body = None
    error = body if isinstance(body, dict) and isinstance(body.get("type"), str) else None
    if 200 <= status < 300 and body is not None:
        return body
    if status in (401, 403):
        error = error or {"type": "", "message": "PortOne refused the API secret"}
        raise PortOneAuthError(_str(error, "message"), error_type=error["type"], http_status=status)
    if error is None or status >= 500 or not 400 <= status < 500:
        detail = f": {error['type']} {_str(error, 'message')}" if error else ""
        raise IamportBadResponse(
            f"unreadable reply to {what} (HTTP {status}){detail}", http_status=status
        )
    cls = PortOneNotFound if status == 404 else PortOneRejected
    raise cls(_str(error, "message"), error_type=error["type"], http_status=status)


_clients: dict[tuple, PortOneClient] = {}
_clients_lock = threading.Lock()


def get_client() -> PortOneClient:
    """The process-wide client for the configured store (one pooled session)."""
    base_url = settings.PORTONE_API_URL or DEFAULT_API_URL
    secret = settings.PORTONE_API_SECRET
    timeout = tuple(getattr(settings, "PORTONE_TIMEOUT", DEFAULT_TIMEOUT))
    key = (base_url, secret, timeout)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = PortOneClient(
                api_secret=secret, base_url=base_url, timeout=(timeout[0], timeout[1])
            )
        return client
