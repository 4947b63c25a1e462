"""Everything that moves money or an order because of Iamport.

- `sync`: `payment_sync`, the one function that decides a payment's fate;
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
    payment_refund,
)
from payments.services.sync import (
    MESSAGES,
    SyncOutcome,
    SyncResult,
    payment_sync,
    payment_sync_order,
)

__all__ = [
    "MESSAGES",
    "RefundAlreadyRequested",
    "RefundError",
    "SyncOutcome",
    "SyncResult",
    "payment_prepare",
    "payment_refund",
    "payment_sync",
    "payment_sync_order",
    "refundable_payment",
]
