"""Row locks on an order and its stock, named, and always taken in one order.

The order of locks, for every writer of money or stock state (the browser callback, the
webhook, a refund, reconciliation, the admin):

    1. the order's row          (`lock_order`, `lock_order_by_merchant_uid`)
    2. its payment rows          (payments.locks)
    3. product rows, by id       (taken by the conditional stock updates of `shop.services`)

Everything that changes an order's payment state takes the order's lock first, so two
requests for one order run one after the other, and no two writers can deadlock.
"""

from __future__ import annotations

from dataclasses import dataclass

from shop.models import Order, OrderLine


@dataclass(frozen=True)
class LockedOrder:
    """An order read under its row lock, with its lines, inside the caller's transaction.

    Services handed one write to this same instance, so the caller sees what they did without
    reading the row again.
    """

    order: Order
    lines: list[OrderLine]


def lock_order(order_id: int) -> LockedOrder:
    """The order's row, locked until the surrounding transaction ends, with its lines."""
    locked = _locked(OrderLine.objects.filter(order_id=order_id), Order.objects.filter(pk=order_id))
    if locked is None:
        raise Order.DoesNotExist(f"no order {order_id}")
    return locked


def lock_order_by_merchant_uid(merchant_uid: str) -> LockedOrder | None:
    """As `lock_order`, by order number; None when no order has it."""
    return _locked(
        OrderLine.objects.filter(order__merchant_uid=merchant_uid),
        Order.objects.filter(merchant_uid=merchant_uid),
    )


def _locked(lines, orders) -> LockedOrder | None:
    # One statement reads the order (locked) and its lines: the lines are snapshots written at
    # checkout and never change, so only the order's row needs the lock.
    found = list(lines.select_related("order").select_for_update(of=("order",)).order_by("id"))
    if found:
        order = found[0].order
        for line in found:
            line.order = order
        return LockedOrder(order, found)
    order = orders.select_for_update().first()  # an order without lines (never made by checkout)
    return LockedOrder(order, []) if order is not None else None
