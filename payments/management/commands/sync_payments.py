"""Reconcile open orders with Iamport: the safety net for a webhook that never arrived.

    python manage.py sync_payments            # open orders of the last 7 days
    python manage.py sync_payments --days 30
    python manage.py sync_payments --merchant-uid o20261127...

For every order still pending or awaiting a deposit, Iamport's payment for its merchant_uid
(a paid attempt first, else the newest) is handed to the same `payment_sync` the webhook uses;
payments the shop refused but could not cancel yet are synced again, which retries the cancel.
Run it from cron every few minutes in production (with DJANGO_DEBUG=0).
"""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

from payments.client import IamportError
from payments.models import Payment
from payments.services import payment_sync, payment_sync_order
from shop.models import Order


class Command(BaseCommand):
    help = "Re-check open orders against Iamport and apply what it says."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=int, default=7, help="look back this many days")
        parser.add_argument("--merchant-uid", help="only this order")

    def handle(self, *args, days: int, merchant_uid: str | None, **options) -> None:
        since = timezone.now() - timedelta(days=days)
        orders = Order.objects.filter(
            status__in=[Order.Status.PENDING, Order.Status.AWAITING_DEPOSIT],
            created_at__gte=since,
        )
        if merchant_uid:
            orders = Order.objects.filter(merchant_uid=merchant_uid)
        checked = changed = failed = 0
        for order in orders.iterator():
            checked += 1
            try:
                result = payment_sync_order(order=order)
            except IamportError as exc:
                failed += 1
                self.stderr.write(f"{order.merchant_uid}: Iamport failed: {exc.message}")
                continue
            if result is None:
                continue  # never paid: Iamport has nothing for it
            if result.order and result.order.status != order.status:
                changed += 1
                self.stdout.write(f"{order.merchant_uid}: {order.status} -> {result.order.status}")
        self.stdout.write(f"checked {checked} open orders: {changed} changed, {failed} failed")
        self._retry_rejected_cancels(since)

    def _retry_rejected_cancels(self, since) -> None:
        """Payments the shop refused (forged, duplicate, sold out) whose cancel did not go
        through: syncing them again retries the cancel while Iamport still holds the money."""
        pending = Payment.objects.filter(
            verdict__in=[
                Payment.Verdict.FORGED,
                Payment.Verdict.DUPLICATE,
                Payment.Verdict.UNFULFILLABLE,
            ],
            status__in=[Payment.Status.PAID, Payment.Status.READY],
            created_at__gte=since,
        )
        retried = 0
        for payment in pending.iterator():
            retried += 1
            try:
                payment_sync(imp_uid=payment.imp_uid)
            except IamportError as exc:
                self.stderr.write(f"{payment.imp_uid}: Iamport failed: {exc.message}")
        self.stdout.write(f"retried {retried} refused payments still holding money")
