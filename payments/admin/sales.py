"""The sales overview in the admin (`/admin/sales/`): what the shop took in over a period, and
the period's payments and refunds as a CSV file.

Wired by `config/urls.py` (this module is its URLconf for `admin/sales/`), each view wrapped
in `admin.site.admin_view`, so it sits inside the admin: anonymous visitors go to the admin's
login, staff without `payments.view_payment` get 403. The figures are `payments.sales`'; here
the query string is read, and a bad one is answered with 400 and what was wrong with it.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseNotAllowed,
    QueryDict,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import formats, timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from payments.admin.sales_chart import net_chart
from payments.models import Payment
from payments.names import pay_method_name, pg_name
from payments.sales import Figures, Line, Period, SalesReport, period_lines, sales_report

VIEW_PERMISSION = "payments.view_payment"
DEFAULT_PERIOD = "7d"
# The named periods, as links above the page; "custom" (from/to) is the form beside them.
PRESETS = {
    "today": gettext_lazy("오늘"),
    "7d": gettext_lazy("최근 7일"),
    "month": gettext_lazy("이번 달"),
}
MAX_DAYS = 731  # two years: a longer range is a job for the CSV of each year
EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)
DATE_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# A text cell starting with one of these is read by spreadsheets as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class BadPeriod(Exception):
    """The query string names no period this page can show; the message says why."""


# --- the query string -> a period ---------------------------------------------------------
def parse_period(params: QueryDict, *, today: date) -> tuple[str, Period]:
    """The period asked for: a name (`today`, `7d`, `month`) or `custom` with `from` and `to`
    (YYYY-MM-DD, days in the shop's time zone). Nothing asked for: the last 7 days."""
    name = params.get("period", "")
    first_text, last_text = params.get("from", "").strip(), params.get("to", "").strip()
    if not name:
        name = "custom" if first_text or last_text else DEFAULT_PERIOD
    if name == "today":
        return name, Period(today, today)
    if name == "7d":
        return name, Period(today - timedelta(days=6), today)
    if name == "month":
        return name, Period(today.replace(day=1), today)
    if name == "custom":
        return name, _custom_period(first_text, last_text, today)
    raise BadPeriod(
        _("알 수 없는 기간입니다. 오늘, 최근 7일, 이번 달 또는 기간 지정 중에서 고르세요.")
    )


def _custom_period(first_text: str, last_text: str, today: date) -> Period:
    if not first_text:
        raise BadPeriod(_("시작일을 입력해 주세요."))
    first = _parse_date(first_text)
    last = _parse_date(last_text) if last_text else max(today, first)
    if first > last:
        raise BadPeriod(_("시작일이 종료일보다 늦습니다."))
    period = Period(first, last)
    if period.days > MAX_DAYS:
        raise BadPeriod(
            _("한 번에 최대 %(days)s일까지 조회할 수 있습니다. 기간을 줄여 주세요.")
            % {"days": MAX_DAYS}
        )
    return period


def _parse_date(text: str) -> date:
    try:
        value = date.fromisoformat(text) if DATE_TEXT.fullmatch(text) else None
    except ValueError:
        value = None
    if value is None:
        raise BadPeriod(_("날짜는 YYYY-MM-DD 형식으로 입력해 주세요 (예: 2026-12-01)."))
    if not EARLIEST <= value <= LATEST:
        raise BadPeriod(
            _("날짜는 %(earliest)s부터 %(latest)s 사이여야 합니다.")
            % {"earliest": EARLIEST.isoformat(), "latest": LATEST.isoformat()}
        )
    return value


def _checked(request: HttpRequest) -> None:
    if not request.user.has_perm(VIEW_PERMISSION):
        raise PermissionDenied


def _dates_typed(params: QueryDict) -> dict[str, str]:
    """What the custom range's fields show again: only text that looks like a date."""
    typed = {key: params.get(key, "").strip() for key in ("from", "to")}
    return {key: value if DATE_TEXT.fullmatch(value) else "" for key, value in typed.items()}


# --- the page -----------------------------------------------------------------------------
def sales_view(request: HttpRequest) -> HttpResponse:
    """The overview: totals, the chart, and the figures by day (or month), pay method, PG."""
    _checked(request)
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    context: dict[str, Any] = {
        **admin.site.each_context(request),
        "title": _("매출 현황"),
        "opts": Payment._meta,
        "typed": _dates_typed(request.GET),
        "earliest": EARLIEST.isoformat(),
        "latest": LATEST.isoformat(),
    }
    try:
        name, period = parse_period(request.GET, today=timezone.localdate())
    except BadPeriod as exc:
        context.update(error=str(exc), presets=_presets(None))
        return TemplateResponse(request, "admin/payments/sales.html", context, status=400)
    report = sales_report(period)
    context.update(
        period_name=name,
        period=period,
        presets=_presets(name),
        report=report,
        first=_day(period.first),
        last=_day(period.last),
        csv_url=_csv_url(period),
        **_tables(report),
    )
    if name == "custom":
        context["typed"] = {"from": period.first.isoformat(), "to": period.last.isoformat()}
    return TemplateResponse(request, "admin/payments/sales.html", context)


def _presets(current: str | None) -> list[dict[str, Any]]:
    here = reverse("payments_sales")
    return [
        {"label": label, "url": f"{here}?{urlencode({'period': key})}", "current": key == current}
        for key, label in PRESETS.items()
    ]


def _csv_url(period: Period) -> str:
    query = {"period": "custom", "from": period.first.isoformat(), "to": period.last.isoformat()}
    return f"{reverse('payments_sales_csv')}?{urlencode(query)}"


def _day(value: date) -> str:
    return formats.date_format(value, "Y-m-d")


def _bucket_label(value: date, monthly: bool) -> str:
    return formats.date_format(value, "Y-m" if monthly else "Y-m-d")


def _named_rows(groups: dict[str, Figures], name_of: Callable[[str], str]) -> list[dict]:
    """One row per name, largest first: codes that name one PG (inicis, html5_inicis) merge."""
    merged: dict[str, Figures] = {}
    for code, figures in groups.items():
        into = merged.setdefault(name_of(code), Figures())
        into.orders += figures.orders
        into.gross += figures.gross
        into.refunded += figures.refunded
    rows = [{"label": name, "figures": figures} for name, figures in merged.items()]
    return sorted(rows, key=lambda row: (-row["figures"].gross, row["label"]))


def _tables(report: SalesReport) -> dict[str, Any]:
    monthly = report.period.monthly
    rows: list[dict[str, Any]] = [
        {"label": _bucket_label(bucket, monthly), "figures": figures}
        for bucket, figures in sorted(report.by_bucket.items())
    ]
    return {
        "monthly": monthly,
        "bucket_rows": rows,
        "pay_method_rows": _named_rows(report.by_pay_method, pay_method_name),
        "pg_rows": _named_rows(report.by_pg, pg_name),
        "chart": net_chart(
            [(row["label"], row["figures"].net) for row in rows],
            # Under a bar a day: "12-01"; a month keeps its year.
            short_labels=[row["label"] if monthly else row["label"][5:] for row in rows],
            monthly=monthly,
        ),
    }


# --- the CSV ------------------------------------------------------------------------------
def sales_csv_view(request: HttpRequest) -> HttpResponseBase:
    """The period's payments and refunds, one line each in time order: UTF-8 with a BOM so
    that Excel reads the Korean, refunds as negative amounts so that the column sums to net."""
    _checked(request)
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    try:
        _name, period = parse_period(request.GET, today=timezone.localdate())
    except BadPeriod as exc:
        return HttpResponseBadRequest(str(exc), content_type="text/plain; charset=utf-8")
    response = StreamingHttpResponse(_csv_chunks(period), content_type="text/csv; charset=utf-8")
    filename = f"sales_{period.first:%Y%m%d}-{period.last:%Y%m%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class _Line:
    """The file-like object csv.writer writes one line into, handed back as a string."""

    def write(self, text: str) -> str:
        return text


def csv_cell(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return f"'{value}"
    return value


def _csv_chunks(period: Period) -> Iterator[str]:
    writer = csv.writer(_Line())
    header = [
        _("일시 (한국 시간)"),
        _("구분"),
        _("주문번호"),
        "merchant_uid",
        "imp_uid",
        _("결제 수단"),
        _("PG사"),
        _("금액 (원)"),
        _("환불 사유"),
    ]
    yield "\ufeff" + writer.writerow(header)
    for line in period_lines(period):
        yield writer.writerow([csv_cell(cell) for cell in _csv_row(line)])


def _csv_row(line: Line) -> list[Any]:
    payment = line.payment
    return [
        # Seconds kept: a spreadsheet sorts and matches lines against the PG's statement.
        timezone.localtime(line.at).strftime("%Y-%m-%d %H:%M:%S"),
        _("환불") if line.is_refund else _("결제"),
        payment.order.number,
        payment.merchant_uid,
        payment.imp_uid,
        pay_method_name(payment.pay_method),
        pg_name(payment.pg_provider),
        line.amount,
        line.reason,
    ]


urlpatterns = [
    path("", admin.site.admin_view(sales_view), name="payments_sales"),
    path("export.csv", admin.site.admin_view(sales_csv_view), name="payments_sales_csv"),
]
