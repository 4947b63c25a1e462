"""A `responses`-backed PortOne V2, and signed V2 webhook deliveries, for the tests.

Replies are the recorded V2 shapes of tests/fixtures/portone_v2/ (every field PortOne's schema
requires), adjusted per test; nothing reaches the network.
"""

from __future__ import annotations

import copy
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import responses
from standardwebhooks.webhooks import Webhook

FIXTURES = Path(__file__).parent / "fixtures" / "portone_v2"
API = "https://api.portone.io/"
# tests/settings.py's PORTONE_WEBHOOK_SECRET (the worked example of PortOne's facts).
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def load_fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


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
        self._payments: dict[str, dict[str, Any]] = {}

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
        return self._serve(body)

    def _serve(self, body: dict[str, Any]) -> dict[str, Any]:
        """Later GETs of the paymentId answer with `body` (and with what cancels change)."""
        payment_id = body["id"]
        if payment_id not in self._payments:
            self.rsps.add_callback(
                responses.GET,
                API + f"payments/{payment_id}",
                callback=lambda request: (200, {}, json.dumps(self._payments[payment_id])),
                content_type="application/json",
            )
        self._payments[payment_id] = body
        return body

    def replace(self, payment: dict[str, Any], **changes: Any) -> dict[str, Any]:
        """Make later GETs of this payment answer with changed fields."""
        new = copy.deepcopy(payment)
        _deep_update(new, changes)
        return self._serve(new)

    def not_found(self, payment_id: str) -> None:
        self.rsps.get(
            API + f"payments/{payment_id}", status=404, json=load_fixture("error_not_found")
        )

    def cancel_ok(
        self, payment: dict[str, Any], amount: int | None = None, reason: str = "환불"
    ) -> dict[str, Any]:
        """Register successful cancels: each POST cancels what it asks (default `amount`), and
        later GETs show it in `cancellations`. Returns the payment as the first cancel leaves it."""
        payment_id = payment["id"]

        def cancel(request) -> tuple[int, dict, str]:
            asked = json.loads(request.body).get("amount") or amount
            current = self._payments[payment_id]
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

    def pre_register_ok(self, payment_id: str) -> None:
        self.rsps.post(API + f"payments/{payment_id}/pre-register", json={})

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
