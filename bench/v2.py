"""What PortOne V2 sends when a payment is paid: a `Transaction.Paid` webhook, signed the
Standard Webhooks way with the shop's secret (`PORTONE_WEBHOOK_SECRET`). The shop believes only
the signature and the paymentId; it fetches the payment from the stand-in (bench/standin.py)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

from bench.standin import V2_STORE_ID

WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"bench-portone-webhook-secret-000").decode()


def paid_webhook(imp_uid: str, merchant_uid: str) -> tuple[bytes, dict[str, str]]:
    """(body, headers) of the webhook for the order's payment, one delivery id per payment."""
    when = datetime.now(UTC)
    body = json.dumps(
        {
            "type": "Transaction.Paid",
            "timestamp": when.isoformat().replace("+00:00", "Z"),
            "data": {"storeId": V2_STORE_ID, "paymentId": merchant_uid, "transactionId": imp_uid},
        }
    ).encode()
    delivery = f"msg_{imp_uid}"
    return body, {
        "Content-Type": "application/json",
        "webhook-id": delivery,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": Webhook(WEBHOOK_SECRET).sign(delivery, when, body.decode()),
    }
