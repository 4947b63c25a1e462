"""Pre-registering an order's amount so that the payment window refuses any other."""

from __future__ import annotations

from payments import gateways
from shop.models import Order


def payment_prepare(*, order: Order) -> int:
    """Register the order's amount with the API new payments go through, so that its payment
    window refuses any other (the amount paid is verified on the server either way).

    Safe to repeat. Returns the registered amount.
    """
    return gateways.gateway().prepare(merchant_uid=order.merchant_uid, amount=order.amount)
