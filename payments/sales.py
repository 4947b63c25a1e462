"""Reads for the sales overview: what the shop took in, and gave back, over a period.

What counts, decided once here:
- a sale is a payment the shop accepted for its order (`verdict` accepted) that took money:
  Iamport shows it paid, or cancelled after it was paid (a refunded sale stays a sale on the
  day it was paid). It belongs to the day of `paid_at` in the shop's time zone: a virtual
  account to the day of the deposit, never the day it was issued (an open one holds no money
  yet, though `Payment.holds_money` says it holds something);
- a refund is a cancel Iamport made (`Refund` succeeded) of such a sale, on the day Iamport
  made it (`Refund.cancelled_at`, else the day it was recorded);
- payments the shop refused (forged, duplicate, unfulfillable) are given back whole and are
  never sales, nor are their cancels refunds.

Every figure is summed by the database, grouped by day (or month), pay method and PG, so the
number of queries does not grow with the number of payments.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, DateField, DateTimeField, F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate, TruncMonth

from payments.models import Payment, Refund

# Beyond this many days the figures are grouped by month: a bar a day would be unreadable.
DAILY_MAX_DAYS = 62


def shop_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


@dataclass(frozen=True)
class Period:
    """Whole days in the shop's time zone, `first` to `last` inclusive."""

    first: date
    last: date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def monthly(self) -> bool:
        return self.days > DAILY_MAX_DAYS

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time.min, tzinfo=shop_zone())

    @property
    def end(self) -> datetime:
        """The first moment after the period (exclusive)."""
        return datetime.combine(self.last + timedelta(days=1), time.min, tzinfo=shop_zone())

    def buckets(self) -> list[date]:
        """Every day of the period, or the first day of every month it touches."""
        if not self.monthly:
            return [self.first + timedelta(days=n) for n in range(self.days)]
        months, month = [], self.first.replace(day=1)
        while month <= self.last:
            months.append(month)
            month = (month + timedelta(days=32)).replace(day=1)
        return months


@dataclass
class Figures:
    """Sales of one group (a day, a pay method, a PG, or all). Whole won."""

    orders: int = 0
    gross: int = 0
    refunded: int = 0

    @property
    def net(self) -> int:
        return self.gross - self.refunded

    @property
    def average(self) -> int:
        """The average paid order, rounded to the won (0 when nothing was paid)."""
        if not self.orders:
            return 0
        return (self.gross * 2 + self.orders) // (self.orders * 2)


@dataclass
class SalesReport:
    period: Period
    total: Figures = field(default_factory=Figures)
    by_bucket: dict[date, Figures] = field(default_factory=dict)
    by_pay_method: dict[str, Figures] = field(default_factory=dict)
    by_pg: dict[str, Figures] = field(default_factory=dict)

    def groups(self, row: Mapping[str, Any]) -> Iterator[Figures]:
        """The figures one grouped database row adds to."""
        yield self.total
        yield self.by_bucket.setdefault(row["bucket"], Figures())
        yield self.by_pay_method.setdefault(row["pay_method"], Figures())
        yield self.by_pg.setdefault(row["pg_provider"], Figures())


# --- what counts --------------------------------------------------------------------------
def sales() -> QuerySet[Payment]:
    """Payments that are sales: accepted for their order, and money was paid."""
    return Payment.objects.filter(
        verdict=Payment.Verdict.ACCEPTED,
        status__in=[Payment.Status.PAID, Payment.Status.CANCELLED],
        paid_at__isnull=False,
    )


def sale_refunds() -> QuerySet[Refund]:
    """Refunds of sales that Iamport made."""
    return Refund.objects.filter(
        status=Refund.Status.SUCCEEDED,
        payment__verdict=Payment.Verdict.ACCEPTED,
        payment__status__in=[Payment.Status.PAID, Payment.Status.CANCELLED],
        payment__paid_at__isnull=False,
    )


def refunded_at() -> Coalesce:
    """When a refund's money went back: Iamport's cancel time, else when it was recorded."""
    return Coalesce("cancelled_at", "created_at", output_field=DateTimeField())


def sales_in(period: Period) -> QuerySet[Payment]:
    return sales().filter(paid_at__gte=period.start, paid_at__lt=period.end)


def sale_refunds_in(period: Period) -> QuerySet[Refund]:
    # As `refunded_at()` in the period, spelled so that the database can use the columns.
    cancelled = Q(cancelled_at__gte=period.start, cancelled_at__lt=period.end)
    recorded = Q(cancelled_at__isnull=True, created_at__gte=period.start, created_at__lt=period.end)
    return sale_refunds().filter(cancelled | recorded)


# --- the figures --------------------------------------------------------------------------
def _bucket(moment: str | Coalesce, period: Period) -> TruncDate | TruncMonth:
    if period.monthly:
        return TruncMonth(moment, output_field=DateField(), tzinfo=shop_zone())
    return TruncDate(moment, tzinfo=shop_zone())


def _sale_rows(period: Period) -> Iterable[Mapping[str, Any]]:
    return (
        sales_in(period)
        .annotate(bucket=_bucket("paid_at", period))
        .values("bucket", "pay_method", "pg_provider")
        .annotate(orders=Count("id"), gross=Sum("amount"))
        .order_by()
    )


def _refund_rows(period: Period) -> Iterable[Mapping[str, Any]]:
    return (
        sale_refunds_in(period)
        .annotate(
            bucket=_bucket(refunded_at(), period),
            pay_method=F("payment__pay_method"),
            pg_provider=F("payment__pg_provider"),
        )
        .values("bucket", "pay_method", "pg_provider")
        .annotate(refunded=Sum("amount"))
        .order_by()
    )


def sales_report(period: Period) -> SalesReport:
    """Orders paid, gross, refunded and net over the period: in all, by day (or month), by
    pay method and by PG. Two queries, whatever the number of payments."""
    report = SalesReport(period=period)
    for bucket in period.buckets():
        report.by_bucket[bucket] = Figures()
    for row in _sale_rows(period):
        for figures in report.groups(row):
            figures.orders += row["orders"]
            figures.gross += row["gross"]
    for row in _refund_rows(period):
        for figures in report.groups(row):
            figures.refunded += row["refunded"]
    return report


# --- the lines of the export --------------------------------------------------------------
@dataclass(frozen=True)
class Line:
    """One payment or refund of the period: `amount` is negative for a refund, so that the
    lines of a period add up to its net sales."""

    at: datetime
    is_refund: bool
    payment: Payment
    amount: int
    reason: str = ""


def _sale_lines(period: Period) -> Iterator[Line]:
    queryset = sales_in(period).select_related("order").order_by("paid_at", "id")
    for payment in queryset.iterator(chunk_size=500):
        paid_at = cast(datetime, payment.paid_at)  # never empty on a sale
        yield Line(at=paid_at, is_refund=False, payment=payment, amount=payment.amount)


def _refund_lines(period: Period) -> Iterator[Line]:
    queryset = (
        sale_refunds_in(period)
        .annotate(refunded_at=refunded_at())
        .select_related("payment__order")
        .order_by("refunded_at", "id")
    )
    for refund in queryset.iterator(chunk_size=500):
        yield Line(
            at=refund.refunded_at,
            is_refund=True,
            payment=refund.payment,
            amount=-refund.amount,
            reason=refund.reason,
        )


def period_lines(period: Period) -> Iterator[Line]:
    """The period's sales and refunds of sales in time order (a sale before a refund made in
    the same second), with their payments and orders: two queries, read in chunks."""
    return heapq.merge(
        _sale_lines(period),
        _refund_lines(period),
        key=lambda line: (line.at, line.is_refund),
    )
