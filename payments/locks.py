"""Row locks on money state, always taken in one order: the order, then its payment(s), then
products (taken by `shop.services` when stock moves). Every writer of an order's payment state
takes the order's lock first, so the browser callback, the webhook, a refund and reconciliation
for one order run one after another, and no two of them can deadlock."""

from __future__ import annotations

from payments.models import Payment
from shop.models import Order


def lock_order(order_id: int) -> Order:
    """The order's row, locked until the surrounding transaction ends, freshly read."""
    return Order.objects.select_for_update().get(pk=order_id)


def lock_payment(payment_id: int) -> Payment:
    """A payment's row, locked and freshly read; take its order's lock first."""
    return Payment.objects.select_for_update().get(pk=payment_id)
