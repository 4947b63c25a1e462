"""Everything that moves money or an order because of Iamport.

- `sync`: the one decision of a payment's fate (`payment_sync` for V1's imp_uid,
  `payment_sync_v2` for V2's paymentId, `payment_resync` for a stored payment), over the
  API adapters of `payments.gateways`;
- `cancels`: giving money back for payments the shop refuses;
- `records`: the one writer of payment state (Iamport's replies and cancel history);
- `refunds`: refunds an admin asks for;
- `deadlines`: expired virtual accounts and orders nobody paid, for reconciliation;
- `prepare`: pre-registering an order's amount;
- `webhooks`: storing webhook deliveries and what came of them.
"""

from payments.selectors import refundable_payment
from payments.services.prepare import payment_prepare
from payments.services.refunds import (
    RefundAlreadyRequested,
    RefundError,
    RefundPending,
    payment_refund,
)
from payments.services.sync import (
    MESSAGES,
    SyncOutcome,
    SyncResult,
    payment_resync,
    payment_sync,
    payment_sync_order,
    payment_sync_v2,
)

__all__ = [
    "MESSAGES",
    "RefundAlreadyRequested",
    "RefundError",
    "RefundPending",
    "SyncOutcome",
    "SyncResult",
    "payment_prepare",
    "payment_refund",
    "payment_resync",
    "payment_sync",
    "payment_sync_order",
    "payment_sync_v2",
    "refundable_payment",
]
