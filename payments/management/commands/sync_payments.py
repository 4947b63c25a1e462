"""Reconcile with Iamport and send the outbox: the shop's worker / cron step.

    python manage.py sync_payments                 # once (cron: every few minutes)
    python manage.py sync_payments --every 60      # as a worker, where there is no cron
    python manage.py sync_payments --days 30
    python manage.py sync_payments --merchant-uid o20261127...

Each run, under a lock that holds across machines (one run at a time, wherever it starts; a
second one says so and does nothing):
1. every order still pending or awaiting a deposit (created in the last --days, and, however
   old, those with a deadline due): Iamport's payment for its merchant_uid (a paid attempt
   first, else the newest) goes through the same `payment_sync` as a webhook; then its
   deadlines (`payments.services.deadlines`): a virtual account past its deadline with no
   deposit releases its order back to pending (payable again; the buyer is mailed), and a
   pending order nobody paid for SHOP_PENDING_ORDER_MAX_AGE_DAYS is closed (cancelled);
2. payments the shop refused but Iamport still holds: synced again, which retries the cancel;
3. refunds whose request died or lost its answer: matched to Iamport's cancel history, or
   recorded as not applied; then payments whose cancels add up to more than their booked
   refunds (a cancel left to a refund's reply that never showed it): read again, which books it;
4. mail in the outbox that is due.
Every order's Iamport calls share one time budget (IAMPORT_REQUEST_BUDGET), as a request's do.
"""

from __future__ import annotations

import signal
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections
from django.utils import timezone

from guard.locks import exclusive
from payments.client import IamportError, time_budget
from payments.models import Payment
from payments.services import payment_resync
from payments.services.deadlines import order_reconcile, orders_to_reconcile
from payments.services.records import REFUSED, cancels_not_booked
from payments.services.refunds import refund_settle, refunds_in_flight
from shop.ids import is_merchant_uid
from shop.mail import mail_send_due
from shop.models import Order

LOCK_NAME = "sync_payments"


class Command(BaseCommand):
    help = (
        "Reconcile open orders (releasing expired virtual accounts, closing orders nobody "
        "paid), refused payments and refunds with Iamport; send due mail."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=int, default=7, help="look back this many days")
        parser.add_argument("--merchant-uid", help="only this order")
        parser.add_argument(
            "--every", type=int, metavar="SECONDS", help="keep running, once every SECONDS"
        )

    def handle(self, *args, days: int, merchant_uid: str | None, every: int | None, **options):
        if merchant_uid is not None and not is_merchant_uid(merchant_uid):
            raise CommandError(f"{merchant_uid!r} is not an order number")
        if every is None:
            self.run_once(days=days, merchant_uid=merchant_uid)
            return
        if every < 1:
            raise CommandError("--every must be at least 1 second")
        self._work_until_stopped(every, days=days, merchant_uid=merchant_uid)

    def _work_until_stopped(self, every: int, **run) -> None:
        stopping = False

        def stop(signum, frame) -> None:
            nonlocal stopping
            stopping = True

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        self.stdout.write(f"sync_payments: running every {every} s (SIGTERM stops it)")
        try:
            while not stopping:
                started = time.monotonic()
                close_old_connections()  # a restarted database costs a reconnect, not the worker
                self.run_once(**run)
                while not stopping and time.monotonic() - started < every:
                    time.sleep(0.2)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.stdout.write("sync_payments: stopped after the run in progress")

    def run_once(self, *, days: int, merchant_uid: str | None) -> None:
        with exclusive(LOCK_NAME) as acquired:
            if not acquired:
                self.stdout.write("another sync_payments run is in progress: nothing done")
                return
            since = timezone.now() - timedelta(days=days)
            self._sync_open_orders(since, merchant_uid)
            self._retry_refused_cancels(since)
            self._settle_refunds_in_flight()
            self._book_cancels(since)
            mail = mail_send_due()
            self.stdout.write(f"sent {mail.sent} mails, {mail.failed} failed")

    def _sync_open_orders(self, since: datetime, merchant_uid: str | None) -> None:
        """Step 1: open orders, and their deadlines (see the module's docstring)."""
        if merchant_uid:
            orders = Order.objects.filter(merchant_uid=merchant_uid)
        else:
            orders = orders_to_reconcile(since=since)
        checked = failed = 0
        moves: list[tuple[str, str]] = []
        for order in orders.iterator():
            checked += 1
            try:
                with time_budget(settings.IAMPORT_REQUEST_BUDGET):
                    now = order_reconcile(order=order).order
            except IamportError as exc:
                failed += 1
                self.stderr.write(f"{order.merchant_uid}: Iamport failed: {exc.message}")
                continue
            if now.status != order.status:
                moves.append((order.status, now.status))
                self.stdout.write(f"{order.merchant_uid}: {order.status} -> {now.status}")
        expired = moves.count((Order.Status.AWAITING_DEPOSIT, Order.Status.PENDING))
        closed = moves.count((Order.Status.PENDING, Order.Status.CANCELLED))
        self.stdout.write(
            f"checked {checked} open orders: {len(moves)} changed, {failed} failed "
            f"({expired} virtual accounts expired, {closed} pending orders closed unpaid)"
        )

    def _retry_refused_cancels(self, since: datetime) -> None:
        """Payments the shop refused (forged, duplicate, sold out) whose cancel did not go
        through: syncing them again retries the cancel while Iamport still holds the money."""
        pending = Payment.objects.filter(
            verdict__in=REFUSED,
            status__in=[Payment.Status.PAID, Payment.Status.READY],
            created_at__gte=since,
        )
        retried = 0
        for payment in pending.iterator():
            retried += 1
            try:
                with time_budget(settings.IAMPORT_REQUEST_BUDGET):
                    result = payment_resync(payment)
            except IamportError as exc:
                self.stderr.write(f"{payment.imp_uid}: Iamport failed: {exc.message}")
                continue
            if result.cancel_error is not None:
                self.stderr.write(f"{payment.imp_uid}: cancel failed: {result.cancel_error}")
        self.stdout.write(f"retried {retried} refused payments still holding money")

    def _book_cancels(self, since: datetime) -> None:
        """Payments whose cancels Iamport showed are not all booked as refunds: read again."""
        read = 0
        for payment in cancels_not_booked(since=since).iterator():
            try:
                with time_budget(settings.IAMPORT_REQUEST_BUDGET):
                    payment_resync(payment)
            except IamportError as exc:
                self.stderr.write(f"{payment.imp_uid}: Iamport failed: {exc.message}")
                continue
            read += 1
        self.stdout.write(f"read again {read} payments with cancels not booked as refunds")

    def _settle_refunds_in_flight(self) -> None:
        applied = not_applied = 0
        for refund in refunds_in_flight():
            try:
                with time_budget(settings.IAMPORT_REQUEST_BUDGET):
                    refund = refund_settle(refund=refund)
            except IamportError as exc:
                self.stderr.write(f"refund {refund.pk}: Iamport failed: {exc.message}")
                continue
            if refund.status == refund.Status.SUCCEEDED:
                applied += 1
            elif refund.status == refund.Status.FAILED:
                not_applied += 1
            self.stdout.write(
                f"refund {refund.pk} ({refund.payment.imp_uid}, {refund.amount} won): "
                f"{refund.status}"
            )
        self.stdout.write(f"settled refunds in flight: {applied} applied, {not_applied} not")
