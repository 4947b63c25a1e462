"""Pre-registering an order's amount so that Iamport's payment window refuses any other."""

from __future__ import annotations

from payments.client import (
    IamportNotFound,
    IamportRejected,
    get_client,
)
from shop.models import Order


def payment_prepare(*, order: Order) -> int:
    """Register the order's amount with Iamport so the payment window refuses any other.

    Safe to repeat: an existing registration is read back and corrected if it differs.
    Returns the registered amount.
    """
    client = get_client()
    try:
        return client.prepare(merchant_uid=order.merchant_uid, amount=order.amount).amount
    except IamportRejected as exc:
        if isinstance(exc, IamportNotFound):
            raise
        try:
            existing = client.find_prepared(order.merchant_uid)
        except IamportNotFound:
            raise exc from None
    if existing.amount != order.amount:
        return client.prepare_update(merchant_uid=order.merchant_uid, amount=order.amount).amount
    return existing.amount
