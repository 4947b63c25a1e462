"""Deadlines of open orders, for reconciliation: expired virtual accounts, orders nobody paid.

`order_reconcile` is what `manage.py sync_payments` does with each open order. Iamport is
always asked first, through the same `payment_sync_order` as any lost notification (a paid
attempt before the newest one), so that money which already arrived wins over a deadline:

- an order awaiting a deposit past its account's deadline is released back to pending by the
  sync of that account (`sync._release`, which says why pending and not cancelled);
- a pending order nobody paid for SHOP_PENDING_ORDER_MAX_AGE_DAYS is closed (cancelled). Its
  age counts from its creation, or from the deadline of its last expired virtual account, so a
  buyer told to pay again gets the full time. A payment that still arrives for a closed order
  is a duplicate of a settled one, and the sync gives it back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from payments import gateways
from payments.models import Payment
from payments.services.sync import (
    SyncResult,
    payment_release_replaced,
    payment_resync,
    payment_sync_order,
)
from shop import services as shop_services
from shop.models import Order

OrderStatus = Order.Status
OPEN = [OrderStatus.PENDING, OrderStatus.AWAITING_DEPOSIT]


@dataclass(frozen=True)
class Reconciled:
    order: Order  # as it is now
    result: SyncResult | None  # the last sync made for it (None: Iamport has no payment)


def max_pending_age() -> timedelta:
    return timedelta(days=settings.SHOP_PENDING_ORDER_MAX_AGE_DAYS)


def _overdue_deposit(now: datetime) -> Q:
    return Q(status=OrderStatus.AWAITING_DEPOSIT, deposit_due__lte=now)


def _unpaid_too_long(now: datetime) -> Q:
    cutoff = now - max_pending_age()
    return Q(status=OrderStatus.PENDING, created_at__lt=cutoff) & ~Q(
        payments__vbank_date__gte=cutoff
    )


def orders_to_reconcile(*, since: datetime, now: datetime | None = None) -> QuerySet[Order]:
    """The open orders created since `since`, and, however old, those with a deadline due:
    accounts past their deadline and pending orders past the age at which they close."""
    now = now or timezone.now()
    recent = Q(status__in=OPEN, created_at__gte=since)
    return Order.objects.filter(recent | _overdue_deposit(now) | _unpaid_too_long(now)).order_by(
        "created_at", "id"
    )


def order_reconcile(*, order: Order, now: datetime | None = None) -> Reconciled:
    """Sync one open order with Iamport, then apply its deadlines. Raises IamportError when
    Iamport cannot be asked: nothing is released or closed without its answer.

    `order` is as it was read before the sync. One that was waiting for a deposit is not closed
    in the same pass, even if the sync released it: its buyer has just been told to pay again.
    """
    now = now or timezone.now()
    result = payment_sync_order(order=order)
    current = Order.objects.get(pk=order.pk)
    if Order.objects.filter(_overdue_deposit(now), pk=order.pk).exists():
        result = _sync_held_account(current, result)
        current = Order.objects.get(pk=order.pk)
    elif (
        order.status == OrderStatus.PENDING
        and Order.objects.filter(_unpaid_too_long(now), pk=order.pk).exists()
    ):
        days = settings.SHOP_PENDING_ORDER_MAX_AGE_DAYS
        current = shop_services.order_close_unpaid(order=current, days=days)
    return Reconciled(current, result)


def _sync_held_account(order: Order, result: SyncResult | None) -> SyncResult | None:
    """Sync the virtual account that holds the order, when the order's newest payment at
    Iamport was another one (a failed attempt after it, say): its sync releases the order."""
    accepted = order.payments.filter(verdict=Payment.Verdict.ACCEPTED)
    if result is not None and result.payment is not None:
        accepted = accepted.exclude(pk=result.payment.pk)  # synced already, and kept the order
    held = accepted.first()
    if held is None:
        return result
    try:
        return payment_resync(held)
    except gateways.AttemptReplaced:
        return payment_release_replaced(held)
