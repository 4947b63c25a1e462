"""A `responses`-backed PortOne V2, and signed V2 webhook deliveries, for the tests.

Replies are the recorded V2 shapes of tests/fixtures/portone_v2/ (every field PortOne's schema
requires), adjusted per test; nothing reaches the network. `payment_from_v1` says what PortOne
V2 would answer for a payment described in Iamport's (V1) words, so that one scenario can be
played against either API (tests/payments/apis.py).
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
import responses
from standardwebhooks.webhooks import Webhook

from payments import banks
from payments.portone_v2 import PAY_METHODS

FIXTURES = Path(__file__).parent / "fixtures" / "portone_v2"
API = "https://api.portone.io/"
# tests/settings.py's PORTONE_WEBHOOK_SECRET (the worked example of PortOne's facts).
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def load_fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


# What a cancel callback answers: (HTTP status, JSON body), or an exception the request raises.
CancelAnswer = tuple[int, dict[str, Any]] | Exception


@dataclass(frozen=True)
class SentCancel:
    """One POST payments/{paymentId}/cancel as the shop sent it, with the attempt PortOne was
    showing for that paymentId when it arrived."""

    payment_id: str
    transaction_id: str
    body: dict[str, Any]
    idempotency_key: str


@dataclass
class _Turn:
    answer: Callable[[dict[str, Any]], CancelAnswer]
    used: bool = False


def _deep_update(target: dict[str, Any], changes: dict[str, Any]) -> None:
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _deep_update(target[key], value)
        else:
            target[key] = value


class FakePortOne:
    """Registers PortOne V2 replies on a `responses` mock. One paymentId answers with one
    payment (its current attempt), as PortOne does."""

    def __init__(self, rsps: responses.RequestsMock) -> None:
        self.rsps = rsps
        # What GET payments/{paymentId} answers: the payment, None (404) or an exception raised.
        self._payments: dict[str, dict[str, Any] | Exception | None] = {}
        self._cancel_answers: dict[str, list[_Turn]] = {}
        self.sent_cancels: list[SentCancel] = []

    def payment(
        self,
        payment_id: str,
        *,
        fixture: str = "payment_paid",
        tx: str = "0193a1b2-tx-1",
        amount: int | None = None,
        channel: str = "LIVE",
        **changes: Any,
    ) -> dict[str, Any]:
        """Register GET payments/{payment_id}; returns the payment it answers with. `amount`
        sets the total (and what was paid, for a paid one); `changes` are merged in deeply."""
        body = load_fixture(fixture)
        body.update(id=payment_id, transactionId=tx)
        if "channel" in body:
            body["channel"]["type"] = channel
        if amount is not None:
            body["amount"]["total"] = amount
            if body["status"] == "PAID":
                body["amount"]["paid"] = amount
        _deep_update(body, changes)
        return self.serve(body)

    def serve(self, body: dict[str, Any]) -> dict[str, Any]:
        """Later GETs of the paymentId answer with `body` (and with what cancels change)."""
        self._answer_lookups(body["id"], body)
        return body

    def _answer_lookups(self, payment_id: str, answer: dict[str, Any] | Exception | None) -> None:
        if payment_id not in self._payments:
            self.rsps.add_callback(
                responses.GET,
                API + f"payments/{payment_id}",
                callback=lambda request: self._lookup(payment_id),
                content_type="application/json",
            )
        self._payments[payment_id] = answer

    def _lookup(self, payment_id: str) -> tuple[int, dict, str] | Exception:
        answer = self._payments[payment_id]
        if answer is None:
            return 404, {}, json.dumps(load_fixture("error_not_found"), ensure_ascii=False)
        if isinstance(answer, Exception):
            return answer
        return 200, {}, json.dumps(answer)

    def replace(self, payment: dict[str, Any], **changes: Any) -> dict[str, Any]:
        """Make later GETs of this payment answer with changed fields."""
        new = copy.deepcopy(payment)
        _deep_update(new, changes)
        return self.serve(new)

    def shown(self, payment_id: str) -> dict[str, Any] | Exception | None:
        """What GET payments/{payment_id} answers now (None: 404, or nothing registered)."""
        return self._payments.get(payment_id)

    def not_found(self, payment_id: str) -> None:
        """Later GETs of the paymentId answer 404 PAYMENT_NOT_FOUND."""
        self._answer_lookups(payment_id, None)

    def unreadable(self, payment_id: str, exc: Exception) -> None:
        """Later GETs of the paymentId raise `exc` (a connection error, a timeout)."""
        self._answer_lookups(payment_id, exc)

    def cancel_ok(
        self, payment: dict[str, Any], amount: int | None = None, reason: str = "환불"
    ) -> dict[str, Any]:
        """Register successful cancels: each POST cancels what it asks (default `amount`), and
        later GETs show it in `cancellations`. Returns the payment as the first cancel leaves it."""
        payment_id = payment["id"]

        def cancel(request) -> tuple[int, dict, str]:
            asked = json.loads(request.body).get("amount") or amount
            current = self._payments[payment_id]
            assert isinstance(current, dict), f"no payment {payment_id} to cancel"
            new, cancellation = cancelled(current, asked, reason)
            self._payments[payment_id] = new
            return 200, {}, json.dumps({"cancellation": cancellation})

        self.rsps.add_callback(
            responses.POST,
            API + f"payments/{payment_id}/cancel",
            callback=cancel,
            content_type="application/json",
        )
        return cancelled(payment, amount or payment["amount"]["total"], reason)[0]

    def cancel_refused(
        self, payment_id: str, error_type: str = "PAYMENT_ALREADY_CANCELLED", status: int = 409
    ) -> None:
        self.rsps.post(
            API + f"payments/{payment_id}/cancel",
            status=status,
            json={"type": error_type, "message": "refused"},
        )

    def on_cancel(self, payment_id: str, answer: Callable[[dict[str, Any]], CancelAnswer]) -> None:
        """Answer POST payments/{payment_id}/cancel with `answer(request body)`. As `responses`
        does with replies registered in turn, each answer is used once, the last one for every
        later cancel; every cancel is kept in `sent_cancels`."""
        if payment_id not in self._cancel_answers:
            self._cancel_answers[payment_id] = []
            self.rsps.add_callback(
                responses.POST,
                API + f"payments/{payment_id}/cancel",
                callback=lambda request: self._cancel(payment_id, request),
                content_type="application/json",
            )
        self._cancel_answers[payment_id].append(_Turn(answer))

    def _cancel(
        self, payment_id: str, request: requests.PreparedRequest
    ) -> tuple[int, dict, str] | Exception:
        body = json.loads(request.body or "{}")
        shown = self._payments.get(payment_id)
        self.sent_cancels.append(
            SentCancel(
                payment_id=payment_id,
                transaction_id=shown["transactionId"] if isinstance(shown, dict) else "",
                body=body,
                idempotency_key=request.headers.get("Idempotency-Key", ""),
            )
        )
        answers = self._cancel_answers[payment_id]
        while len(answers) > 1 and answers[0].used:
            answers.pop(0)
        turn = answers.pop(0) if len(answers) > 1 else answers[0]
        turn.used = True
        answer = turn.answer(body)
        if isinstance(answer, Exception):
            return answer
        status, reply = answer
        return status, {}, json.dumps(reply, ensure_ascii=False)

    def pre_register_ok(self, payment_id: str) -> None:
        self.rsps.post(API + f"payments/{payment_id}/pre-register", json={})

    def pre_register_refused(
        self, payment_id: str, message: str, error_type: str = "ALREADY_PAID"
    ) -> None:
        self.rsps.post(
            API + f"payments/{payment_id}/pre-register",
            status=409,
            json={"type": error_type, "message": message},
        )

    def calls(self, method: str, path: str) -> list:
        return [
            call
            for call in self.rsps.calls
            if call.request.method == method and call.request.url == API + path
        ]

    @staticmethod
    def body(call) -> dict[str, Any]:
        return json.loads(call.request.body)


def cancelled(
    payment: dict[str, Any], amount: int, reason: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """`payment` after a successful cancel of `amount`, and that cancellation."""
    number = len(payment.get("cancellations") or []) + 1
    cancellation = {
        "status": "SUCCEEDED",
        "id": f"cancel-{number}",
        "pgCancellationId": f"pg-cancel-{number}",
        "totalAmount": amount,
        "taxFreeAmount": 0,
        "vatAmount": 0,
        "reason": reason,
        "requestedAt": "2024-04-26T09:00:00Z",
        "cancelledAt": f"2024-04-26T09:00:{number:02d}Z",
        "receiptUrl": f"https://receipt.example.com/c/{number}",
        "trigger": "API",
    }
    new = copy.deepcopy(payment)
    new["amount"]["cancelled"] += amount
    full = new["amount"]["cancelled"] >= new["amount"]["total"]
    new["status"] = "CANCELLED" if full else "PARTIAL_CANCELLED"
    new["cancellations"] = [*(payment.get("cancellations") or []), cancellation]
    new["cancelledAt"] = cancellation["cancelledAt"]
    new.setdefault("channel", {"type": "LIVE", "pgProvider": "TOSSPAYMENTS", "pgMerchantId": "m"})
    return new, cancellation


def webhook_body(event_type: str, payment_id: str, tx: str = "0193a1b2-tx-1", **data: str) -> bytes:
    payload = {
        "type": event_type,
        "timestamp": "2024-04-25T10:00:05.000Z",
        "data": {
            "storeId": "store-test-0000",
            "paymentId": payment_id,
            "transactionId": tx,
            **data,
        },
    }
    return json.dumps(payload, ensure_ascii=False).encode()


def signed_headers(
    body: bytes,
    *,
    msg_id: str = "msg_p5jXN8AQM9LWM0D4loKWxJek",
    secret: str = SECRET,
    at: float | None = None,
) -> dict[str, str]:
    """The Standard Webhooks headers PortOne sends with `body` (as Django test-client extras)."""
    when = datetime.fromtimestamp(time.time() if at is None else at, tz=UTC)
    signature = Webhook(secret).sign(msg_id, when, body.decode())
    return {
        "HTTP_WEBHOOK_ID": msg_id,
        "HTTP_WEBHOOK_TIMESTAMP": str(int(when.timestamp())),
        "HTTP_WEBHOOK_SIGNATURE": signature,
    }


# --- a V1-described payment, as PortOne V2 would answer it -----------------------------------
V1_PG_PROVIDERS = {"html5_inicis": "INICIS_V2", "kcp": "KCP_V2", "nice": "NICE_V2"}
V2_METHOD_TYPES = {code: method for method, code in PAY_METHODS.items()}
# Iamport's virtual-account banks by name, as V2's REST `Bank` codes.
V2_BANKS_BY_NAME = {bank.name: bank.v2 for bank in banks.BANKS}
V2_BANKS_BY_CODE = {bank.code: bank.v2 for bank in banks.BANKS}
# When V1 gives no time for something V2 always dates: 2025-11-27 07:01:00 UTC, the fixtures' day.
SOME_TIME = 1764226860


def rfc3339(stamp: Any) -> str | None:
    """Iamport's unix time (0: none) as PortOne's RFC 3339 time."""
    if not stamp:
        return None
    return datetime.fromtimestamp(int(stamp), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def payment_from_v1(v1: Mapping[str, Any]) -> dict[str, Any]:
    """The V2 `Payment` for what Iamport's payment object `v1` says, with every field PortOne's
    schema requires of its status: imp_uid is the transactionId, merchant_uid the paymentId, a
    V1 `ready` virtual account with its number is VIRTUAL_ACCOUNT_ISSUED, a `paid` one with
    money cancelled is PARTIAL_CANCELLED, `cancel_history` the cancellations. Channels are LIVE."""
    status = _v2_status(v1)
    started = v1.get("started_at") or SOME_TIME
    changed = _last_change(v1) or started
    body: dict[str, Any] = {
        "status": status,
        "id": v1["merchant_uid"],
        "transactionId": v1["imp_uid"],
        "merchantId": "merchant-test-0000",
        "storeId": "store-test-0000",
        "version": "V2",
        "requestedAt": rfc3339(started),
        "updatedAt": rfc3339(changed),
        "statusChangedAt": rfc3339(changed),
        "orderName": v1.get("name") or "",
        "amount": _v2_amount(v1, status),
        "currency": v1.get("currency") or "KRW",
        "customer": _v2_customer(v1),
        "origin": {"platformType": "PC", "ipAddress": "127.0.0.1"},
        "method": _v2_method(v1),
        "pgTxId": v1.get("pg_tid") or None,
        "receiptUrl": v1.get("receipt_url") or None,
    }
    if status != "READY":
        pg = v1.get("pg_provider") or ""
        body["channel"] = {
            "type": "LIVE",
            "pgProvider": V1_PG_PROVIDERS.get(pg, pg.upper()),
            "pgMerchantId": v1.get("pg_id") or "merchant",
        }
    body.update(_v2_status_fields(v1, status, changed))
    return {key: value for key, value in body.items() if value is not None}


def cancellation_from_v1(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A V1 `cancel_history` entry as a SUCCEEDED V2 cancellation (V2 always gives an id)."""
    stamp = entry.get("cancelled_at") or SOME_TIME
    cancellation = {
        "status": "SUCCEEDED",
        "id": entry.get("cancellation_id") or f"cancellation-{entry['amount']}-{stamp}",
        "pgCancellationId": entry.get("pg_tid") or None,
        "totalAmount": entry["amount"],
        "taxFreeAmount": 0,
        "vatAmount": 0,
        "reason": entry.get("reason") or "",
        "requestedAt": rfc3339(stamp),
        "cancelledAt": rfc3339(stamp),
        "receiptUrl": entry.get("receipt_url") or None,
        "trigger": "API" if entry.get("cancellation_id") else "CONSOLE",
    }
    return {key: value for key, value in cancellation.items() if value is not None}


def _v2_status(v1: Mapping[str, Any]) -> str:
    status, cancelled = v1["status"], v1.get("cancel_amount") or 0
    if status == "ready":
        issued = v1.get("pay_method") == "vbank" and v1.get("vbank_num")
        return "VIRTUAL_ACCOUNT_ISSUED" if issued else "READY"
    if status == "failed":
        return "FAILED"
    if status == "paid":
        return "PARTIAL_CANCELLED" if cancelled else "PAID"
    # Iamport may say "cancelled" of a partial cancel; PortOne says what it is.
    return "PARTIAL_CANCELLED" if 0 < cancelled < v1["amount"] else "CANCELLED"


def _last_change(v1: Mapping[str, Any]) -> int:
    stamps = [v1.get(key) or 0 for key in ("paid_at", "failed_at", "cancelled_at")]
    stamps += [entry.get("cancelled_at") or 0 for entry in v1.get("cancel_history") or []]
    return max(stamps)


def _v2_amount(v1: Mapping[str, Any], status: str) -> dict[str, int]:
    total, cancelled = v1["amount"], v1.get("cancel_amount") or 0
    funded = status in ("PAID", "PARTIAL_CANCELLED") or bool(v1.get("paid_at"))
    return {
        "total": total,
        "taxFree": 0,
        "vat": 0,
        "discount": 0,
        "paid": total - cancelled if funded else 0,
        "cancelled": cancelled,
        "cancelledTaxFree": 0,
    }


def _v2_customer(v1: Mapping[str, Any]) -> dict[str, Any]:
    customer: dict[str, Any] = {"name": {"full": v1.get("buyer_name") or ""}}
    if v1.get("buyer_email"):
        customer["email"] = v1["buyer_email"]
    return customer


def _v2_method(v1: Mapping[str, Any]) -> dict[str, Any]:
    pay_method = v1.get("pay_method") or "card"
    method: dict[str, Any] = {"type": V2_METHOD_TYPES.get(pay_method, "PaymentMethodCard")}
    if pay_method == "vbank" and v1.get("vbank_num"):
        name = v1.get("vbank_name") or ""
        code = V2_BANKS_BY_CODE.get(v1.get("vbank_code") or "", "")
        method.update(
            # The shop shows a code it does not know as it is: an unknown bank keeps its name.
            bank=V2_BANKS_BY_NAME.get(name, name) if name else code,
            accountNumber=v1["vbank_num"],
            remitteeName=v1.get("vbank_holder") or "",
            expiredAt=rfc3339(v1.get("vbank_date")),
            issuedAt=rfc3339(v1.get("vbank_issued_at")),
        )
    return {key: value for key, value in method.items() if value is not None}


def _v2_status_fields(v1: Mapping[str, Any], status: str, changed: int) -> dict[str, Any]:
    """What PortOne's schema requires of `status` besides the common fields."""
    fields: dict[str, Any] = {}
    if status in ("PAID", "PARTIAL_CANCELLED", "CANCELLED"):
        if v1.get("paid_at") or status != "CANCELLED":
            fields["paidAt"] = rfc3339(v1.get("paid_at") or changed)
        fields["disputes"] = []
    if status in ("PARTIAL_CANCELLED", "CANCELLED"):
        fields["cancellations"] = [
            cancellation_from_v1(entry) for entry in v1.get("cancel_history") or []
        ]
        fields["cancelledAt"] = rfc3339(v1.get("cancelled_at") or changed)
    if status == "FAILED":
        fields["failedAt"] = rfc3339(v1.get("failed_at") or changed)
        fields["failure"] = {"reason": v1["fail_reason"]} if v1.get("fail_reason") else {}
    return fields
