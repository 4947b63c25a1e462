"""Checking that a PortOne V2 webhook delivery really comes from PortOne.

V2 deliveries are signed the Standard Webhooks way (`webhook-id`, `webhook-timestamp`,
`webhook-signature` headers; HMAC-SHA256 over "id.timestamp.raw body" with a `whsec_` secret;
at most 5 minutes of clock difference either way). The reference `standardwebhooks` library
does the cryptography; this module turns its many exceptions into one rejection with a reason,
tries every configured secret (PortOne keeps two alive while one is rotated) and reads the few
fields the shop acts on. The body is still only a hint: the payment is fetched from the API
before anything is decided.
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from shop.ids import is_merchant_uid

REQUIRED_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


class V2WebhookRejected(Exception):
    """The delivery is not a genuine, fresh, readable PortOne V2 webhook (answered 400)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class V2Event:
    webhook_id: str
    type: str
    timestamp: str
    payment_id: str
    transaction_id: str
    cancellation_id: str | None = None

    @property
    def is_transaction(self) -> bool:
        """Payment events; others (billing keys, types added later) are ignored by the shop."""
        return self.type.startswith("Transaction.")


def verify_delivery(body: bytes, headers: Mapping[str, str], secrets: list[str]) -> V2Event:
    """The verified event, or `V2WebhookRejected`.

    `body` must be the raw bytes as received (re-serialised JSON breaks the signature);
    `headers` may be Django's `request.headers` (names are matched case-insensitively).
    """
    lowered = {key.lower(): value for key, value in headers.items()}
    missing = [name for name in REQUIRED_HEADERS if not lowered.get(name)]
    if missing:
        raise V2WebhookRejected(f"missing headers: {', '.join(missing)}")
    if not secrets:
        raise V2WebhookRejected("no webhook secret configured")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise V2WebhookRejected("body is not UTF-8") from None
    reason = "no matching signature"
    for secret in secrets:
        try:
            Webhook(secret).verify(text, lowered, json_parse=False)
        except WebhookVerificationError as exc:
            reason = str(exc) or reason
            if "timestamp" in reason.lower() or "header" in reason.lower():
                break  # the same for every secret
            continue
        except (ValueError, binascii.Error):
            # A signature entry that is not "v1,<base64>" (the library unpacks and decodes it).
            reason = "malformed webhook-signature header"
            break
        return _event(lowered["webhook-id"], text)
    raise V2WebhookRejected(reason)


def _event(webhook_id: str, text: str) -> V2Event:
    try:
        payload = json.loads(text)
    except (ValueError, RecursionError):
        raise V2WebhookRejected("body is not JSON (or nested too deep)") from None
    if not isinstance(payload, dict):
        raise V2WebhookRejected("body is not a JSON object")
    data = payload.get("data")
    data = data if isinstance(data, dict) else {}
    event = V2Event(
        webhook_id=webhook_id,
        type=_text(payload.get("type")),
        timestamp=_text(payload.get("timestamp")),
        payment_id=_text(data.get("paymentId")),
        transaction_id=_text(data.get("transactionId")),
        cancellation_id=_text(data.get("cancellationId")) or None,
    )
    if event.is_transaction and not is_merchant_uid(event.payment_id):
        raise V2WebhookRejected("transaction event without a usable paymentId")
    return event


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
