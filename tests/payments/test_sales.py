"""The sales overview (/admin/sales/): what counts as a sale and a refund, on which day in
Asia/Seoul; the page, its chart and its CSV; who may see it; bad query strings answered with
400; and a number of queries that does not grow with the number of payments.

The figures are pinned on one mixed fixture (`shop_week`): a week of December 2026 with a
partial and a full refund, a refund of a November payment, a virtual account issued one day
and paid on a later one, one never paid, a forged and a duplicate payment given back, refunds
that failed or are still in flight, two pay methods (three, with the virtual account), two PGs,
and payments just after midnight and just before it in Korea (another UTC day).
"""

from __future__ import annotations

import csv
import importlib
import io
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from payments.admin.sales import BadPeriod, csv_cell, parse_period
from payments.admin.sales_chart import net_chart
from payments.models import Payment, Refund
from payments.names import pay_method_name, pg_name
from payments.sales import Period, sales_report
from shop.models import Order
from tests.payments.helpers import refund_post

KST = ZoneInfo("Asia/Seoul")
WEEK = Period(date(2026, 12, 1), date(2026, 12, 7))
SALES_URL = "/admin/sales/"
CSV_URL = "/admin/sales/export.csv"
WEEK_QUERY = {"period": "custom", "from": "2026-12-01", "to": "2026-12-07"}
Verdict, Status = Payment.Verdict, Payment.Status


def kst(month: int, day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=KST)


# --- building records -------------------------------------------------------------------
def make_order(amount: int, pay_method: str = "card") -> Order:
    return Order.objects.create(
        amount=amount,
        pay_method=pay_method,
        buyer_name="홍길동",
        buyer_email="buyer@example.com",
        buyer_tel="010-1234-5678",
        buyer_addr="서울특별시 강남구 테헤란로 1",
        buyer_postcode="06236",
    )


def make_payment(
    name: str,
    amount: int,
    paid_at: datetime | None,
    *,
    pay_method: str = "card",
    pg: str = "html5_inicis",
    status: str = Status.PAID,
    verdict: str = Verdict.ACCEPTED,
    cancel_amount: int = 0,
    created_at: datetime | None = None,
    **fields,
) -> Payment:
    order = make_order(amount, pay_method)
    payment = Payment.objects.create(
        imp_uid=f"imp_{name}",
        order=order,
        merchant_uid=order.merchant_uid,
        amount=amount,
        cancel_amount=cancel_amount,
        status=status,
        verdict=verdict,
        pay_method=pay_method,
        pg_provider=pg,
        paid_at=paid_at,
        **fields,
    )
    if created_at is not None:
        Payment.objects.filter(pk=payment.pk).update(created_at=created_at)
    return payment


def make_refund(
    payment: Payment,
    amount: int,
    cancelled_at: datetime | None,
    *,
    created_at: datetime | None = None,
    status: str = Refund.Status.SUCCEEDED,
    reason: str = "고객 요청",
) -> Refund:
    refund = Refund.objects.create(
        payment=payment,
        amount=amount,
        checksum=payment.amount,
        reason=reason,
        status=status,
        cancelled_at=cancelled_at,
    )
    Refund.objects.filter(pk=refund.pk).update(created_at=created_at or cancelled_at)
    return refund


@pytest.fixture
def shop_week(db):
    """The mixed fixture; the expected figures are in the tests below."""
    p1 = make_payment("p1_card_inicis", 30000, kst(12, 1, 0, 20))  # 11-30 15:20 UTC
    # Cancelled at Iamport on 12-02, found by the reconciliation on 12-04.
    make_refund(p1, 5000, kst(12, 2, 15), created_at=kst(12, 4, 3))
    make_refund(p1, 3000, None, created_at=kst(12, 6), status=Refund.Status.FAILED)
    make_refund(p1, 1000, None, created_at=kst(12, 6), status=Refund.Status.UNKNOWN)
    make_payment("p2_card_kcp", 20000, kst(12, 1, 23, 30), pg="kcp")
    p3 = make_payment(
        "p3_trans_kcp",
        10000,
        kst(12, 2, 0, 30),
        pay_method="trans",
        pg="kcp",
        status=Status.CANCELLED,
        cancel_amount=10000,
    )
    make_refund(p3, 10000, kst(12, 3, 9))
    # Issued on 12-02, deposited on 12-04; one refund recorded before cancelled_at was kept.
    p4 = make_payment(
        "p4_vbank",
        50000,
        kst(12, 4, 9),
        pay_method="vbank",
        created_at=kst(12, 2, 10),
        vbank_num="T0309260000001",
    )
    make_refund(p4, 2000, None, created_at=kst(12, 6, 11))
    # Issued, never deposited: holds no money yet.
    make_payment(
        "p5_vbank_open",
        45000,
        None,
        pay_method="vbank",
        status=Status.READY,
        vbank_num="T0309260000002",
        created_at=kst(12, 3),
    )
    # Refused and given back whole: never sales, and their cancels are not refunds.
    forged = make_payment(
        "p6_forged",
        100,
        kst(12, 3, 14),
        verdict=Verdict.FORGED,
        status=Status.CANCELLED,
        cancel_amount=100,
    )
    make_refund(forged, 100, kst(12, 3, 14, 1))
    duplicate = make_payment(
        "p9_duplicate",
        20000,
        kst(12, 5, 8),
        pay_method="trans",
        pg="kcp",
        verdict=Verdict.DUPLICATE,
        status=Status.CANCELLED,
        cancel_amount=20000,
    )
    make_refund(duplicate, 20000, kst(12, 5, 8, 2))
    make_payment("p10_failed", 9000, None, status=Status.FAILED, verdict=Verdict.FAILED)
    # Paid in November (late evening), refunded in this week.
    p7 = make_payment("p7_november", 40000, kst(11, 30, 23, 30), pg="kcp")
    make_refund(p7, 15000, kst(12, 5, 10))
    # Just after the week, in Korea (still 12-07 in UTC).
    make_payment("p8_after", 7000, kst(12, 8, 0, 10))


# --- the figures --------------------------------------------------------------------------
def test_the_week_in_total(shop_week):
    total = sales_report(WEEK).total

    assert (total.orders, total.gross, total.refunded, total.net) == (4, 110000, 32000, 78000)
    assert total.average == 27500


def test_each_day_counts_payments_when_paid_and_refunds_when_iamport_cancelled(shop_week):
    report = sales_report(WEEK)

    by_day = {
        day.isoformat(): (f.orders, f.gross, f.refunded, f.net)
        for day, f in report.by_bucket.items()
    }
    assert by_day == {
        "2026-12-01": (2, 50000, 0, 50000),  # 00:20 and 23:30 in Korea
        "2026-12-02": (1, 10000, 5000, 5000),  # 00:30 in Korea; the refund found on 12-04
        "2026-12-03": (0, 0, 10000, -10000),
        "2026-12-04": (1, 50000, 0, 50000),  # the deposit, not the issue
        "2026-12-05": (0, 0, 15000, -15000),  # a November payment's refund
        "2026-12-06": (0, 0, 2000, -2000),  # no cancelled_at: the day it was recorded
        "2026-12-07": (0, 0, 0, 0),
    }


def test_figures_by_pay_method_and_pg(shop_week):
    report = sales_report(WEEK)

    def figures(groups):
        return {key: (f.orders, f.gross, f.refunded, f.net) for key, f in groups.items()}

    assert figures(report.by_pay_method) == {
        "card": (2, 50000, 20000, 30000),
        "trans": (1, 10000, 10000, 0),
        "vbank": (1, 50000, 2000, 48000),
    }
    assert figures(report.by_pg) == {
        "html5_inicis": (2, 80000, 7000, 73000),
        "kcp": (2, 30000, 25000, 5000),
    }


def test_a_long_range_is_grouped_by_month_in_korean_time(shop_week):
    report = sales_report(Period(date(2026, 10, 1), date(2026, 12, 31)))

    assert WEEK.monthly is False
    assert report.period.monthly is True
    by_month = {m.isoformat(): (f.orders, f.gross, f.refunded) for m, f in report.by_bucket.items()}
    assert by_month == {
        "2026-10-01": (0, 0, 0),
        "2026-11-01": (1, 40000, 0),  # 11-30 23:30 in Korea
        "2026-12-01": (5, 117000, 32000),  # 12-01 00:20 in Korea is 11-30 in UTC
    }


def test_a_single_day_starts_and_ends_at_midnight_in_korea(shop_week):
    first = sales_report(Period(date(2026, 12, 1), date(2026, 12, 1))).total
    eighth = sales_report(Period(date(2026, 12, 8), date(2026, 12, 8))).total

    assert (first.orders, first.gross) == (2, 50000)
    assert (eighth.orders, eighth.gross) == (1, 7000)


# --- the page -----------------------------------------------------------------------------
def test_the_page_shows_totals_names_tables_and_the_chart(admin_client, shop_week):
    response = admin_client.get(SALES_URL, WEEK_QUERY)

    assert response.status_code == 200
    page = response.content.decode()
    for text in ["매출 현황", "2026-12-01 ~ 2026-12-07", "110,000원", "32,000원", "78,000원"]:
        assert text in page
    for name in ["KG이니시스", "NHN KCP", "신용카드", "실시간 계좌이체", "가상계좌 (무통장입금)"]:
        assert name in page
    assert "html5_inicis" not in page
    assert '<svg class="sales-chart"' in page and 'role="img"' in page
    assert "<title>2026-12-03: 순매출 -10,000원</title>" in page
    assert 'class="bar negative"' in page
    assert "<script" not in page.split('<div id="content-main">')[1]
    assert reverse("payments_sales_csv") in page


def test_the_page_without_sales_says_so(admin_client, db):
    response = admin_client.get(SALES_URL, {"period": "today"})

    assert response.status_code == 200
    assert "이 기간에는 결제도 환불도 없습니다." in response.content.decode()


def test_today_counts_a_payment_made_now(admin_client, db):
    now = timezone.now()
    make_payment("now", 12000, now)
    make_payment("yesterday", 5000, now - timedelta(days=1))

    response = admin_client.get(SALES_URL, {"period": "today"})

    assert response.status_code == 200
    assert response.context["report"].total.gross == 12000
    assert response.context["period_name"] == "today"


def test_the_page_answers_only_get(admin_client, db):
    assert admin_client.post(SALES_URL).status_code == 405
    assert admin_client.post(CSV_URL).status_code == 405


# --- presets and bad query strings --------------------------------------------------------
@pytest.mark.parametrize(
    ("query", "first", "last"),
    [
        ({}, "2026-12-10", "2026-12-16"),
        ({"period": "today"}, "2026-12-16", "2026-12-16"),
        ({"period": "7d"}, "2026-12-10", "2026-12-16"),
        ({"period": "month"}, "2026-12-01", "2026-12-16"),
        ({"from": "2026-11-01", "to": "2026-11-30"}, "2026-11-01", "2026-11-30"),
        ({"period": "custom", "from": "2026-11-20"}, "2026-11-20", "2026-12-16"),
        ({"period": "7d", "from": "bad", "to": "bad"}, "2026-12-10", "2026-12-16"),
    ],
)
def test_periods_from_the_query_string(rf, query, first, last):
    _name, period = parse_period(rf.get("/", query).GET, today=date(2026, 12, 16))

    assert (period.first.isoformat(), period.last.isoformat()) == (first, last)


BAD_QUERIES = [
    ({"from": "2026-12-07", "to": "2026-12-01"}, "시작일이 종료일보다 늦습니다."),
    ({"from": "2026-13-01", "to": "2026-12-31"}, "YYYY-MM-DD"),
    ({"from": "2026-02-30", "to": "2026-03-01"}, "YYYY-MM-DD"),
    ({"from": "0000-01-01", "to": "2026-01-01"}, "YYYY-MM-DD"),
    ({"from": "0001-01-01", "to": "0001-01-02"}, "2000-01-01"),
    ({"from": "2026-01-01", "to": "99999-01-01"}, "YYYY-MM-DD"),
    ({"from": "9999-12-30", "to": "9999-12-31"}, "2100-12-31"),
    ({"from": "2021-01-01", "to": "2023-12-31"}, "731"),
    ({"from": "12/01/2026", "to": "12/07/2026"}, "YYYY-MM-DD"),
    ({"period": "custom"}, "시작일을 입력해 주세요."),
    ({"period": "year"}, "알 수 없는 기간입니다."),
    ({"from": "٢٠٢٦-١٢-٠١", "to": "2026-12-07"}, "YYYY-MM-DD"),
    ({"from": "2026-12-01" * 1000, "to": "2026-12-07"}, "YYYY-MM-DD"),
]


@pytest.mark.parametrize(("query", "message"), BAD_QUERIES)
def test_a_bad_query_string_gets_400_with_the_reason(admin_client, db, query, message):
    page = admin_client.get(SALES_URL, query)
    export = admin_client.get(CSV_URL, query)

    assert page.status_code == 400
    assert message in page.content.decode()
    assert 'class="errornote"' in page.content.decode()
    assert export.status_code == 400
    assert message in export.content.decode()


def test_a_bad_date_is_not_shown_again_in_the_form(admin_client, db):
    response = admin_client.get(SALES_URL, {"from": '"><b>x', "to": "2026-12-07"})

    assert response.status_code == 400
    assert response.context["typed"] == {"from": "", "to": "2026-12-07"}
    assert "<b>x" not in response.content.decode()


def test_a_nul_byte_or_broken_utf8_in_the_query_string_gets_400(admin_client, rf, db):
    # The shop's middleware turns NUL bytes away before any view; the period reader would too.
    assert admin_client.get(SALES_URL + "?from=2026-12-01%00&to=2026-12-07").status_code == 400
    assert admin_client.get(CSV_URL + "?period=today%00").status_code == 400
    assert admin_client.get(SALES_URL + "?from=%FF%FE&to=2026-12-07").status_code == 400
    for query in ({"period": "today\x00"}, {"from": "2026-12-01\x00", "to": "2026-12-07"}):
        with pytest.raises(BadPeriod):
            parse_period(rf.get("/", query).GET, today=date(2026, 12, 16))


def test_the_longest_range_allowed_is_two_years(rf):
    query = rf.get("/", {"from": "2025-01-01", "to": "2026-12-31"}).GET
    assert parse_period(query, today=date(2026, 12, 16))[1].days == 730
    with pytest.raises(BadPeriod):
        parse_period(
            rf.get("/", {"from": "2024-12-30", "to": "2026-12-31"}).GET,
            today=date(2026, 12, 16),
        )


# --- the CSV ------------------------------------------------------------------------------
def read_csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body[1:])))


def test_the_csv_lists_payments_and_refunds_in_time_order(admin_client, shop_week):
    response = admin_client.get(CSV_URL, WEEK_QUERY)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="sales_20261201-20261207.csv"'
    header, *rows = read_csv(response)
    assert header[:2] == ["일시 (한국 시간)", "구분"]
    assert [(row[0], row[1], row[4], row[7]) for row in rows] == [
        ("2026-12-01 00:20:00", "결제", "imp_p1_card_inicis", "30000"),
        ("2026-12-01 23:30:00", "결제", "imp_p2_card_kcp", "20000"),
        ("2026-12-02 00:30:00", "결제", "imp_p3_trans_kcp", "10000"),
        ("2026-12-02 15:00:00", "환불", "imp_p1_card_inicis", "-5000"),
        ("2026-12-03 09:00:00", "환불", "imp_p3_trans_kcp", "-10000"),
        ("2026-12-04 09:00:00", "결제", "imp_p4_vbank", "50000"),
        ("2026-12-05 10:00:00", "환불", "imp_p7_november", "-15000"),
        ("2026-12-06 11:00:00", "환불", "imp_p4_vbank", "-2000"),
    ]
    assert sum(int(row[7]) for row in rows) == 78000  # the net of the page
    first = rows[0]
    order = Order.objects.get(payments__imp_uid="imp_p1_card_inicis")
    assert first[2:7] == [
        order.number,
        order.merchant_uid,
        order.payments.get().imp_uid,
        "신용카드",
        "KG이니시스",
    ]
    assert rows[3][8] == "고객 요청"


def test_the_csv_keeps_spreadsheets_from_running_text_as_formulas(admin_client, db):
    payment = make_payment("formula", 10000, kst(12, 1), pg="=cmd|' /C calc'!A0")
    make_refund(payment, 1000, kst(12, 2), reason='=HYPERLINK("http://evil.example","x")')
    make_refund(payment, 1000, kst(12, 3), reason="-2+3")
    make_refund(payment, 1000, kst(12, 4), reason="@SUM(A1)")

    _header, *rows = read_csv(admin_client.get(CSV_URL, WEEK_QUERY))

    assert rows[0][6] == "'=cmd|' /C calc'!A0"
    assert [row[8] for row in rows[1:]] == [
        '\'=HYPERLINK("http://evil.example","x")',
        "'-2+3",
        "'@SUM(A1)",
    ]
    assert [row[7] for row in rows[1:]] == ["-1000", "-1000", "-1000"]  # numbers stay numbers


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@A1", "\t=1", "\r=1"])
def test_a_text_cell_that_a_spreadsheet_would_run_is_quoted(text):
    assert csv_cell(text) == "'" + text
    assert csv_cell("홍길동") == "홍길동"
    assert csv_cell(-5000) == -5000


# --- who may see it -----------------------------------------------------------------------
@pytest.fixture
def staff(client, django_user_model):
    def make(*perms: str):
        user = django_user_model.objects.create_user(username="staff", password="pw", is_staff=True)
        for perm in perms:
            app_label, codename = perm.split(".")
            user.user_permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        client.force_login(user)
        return client

    return make


def test_anonymous_visitors_go_to_the_admin_login(client, db):
    for url in (SALES_URL, CSV_URL):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))


def test_staff_without_the_payment_view_permission_get_403(staff, shop_week):
    client = staff("shop.view_order")

    assert client.get(SALES_URL, WEEK_QUERY).status_code == 403
    assert client.get(CSV_URL, WEEK_QUERY).status_code == 403
    assert client.get(SALES_URL, {"from": "bad"}).status_code == 403
    assert reverse("payments_sales") not in client.get(reverse("admin:index")).content.decode()


def test_staff_with_the_payment_view_permission_see_it_from_the_index(staff, shop_week):
    client = staff("payments.view_payment")

    index = client.get(reverse("admin:index")).content.decode()
    assert f'href="{reverse("payments_sales")}"' in index and "매출 현황" in index
    assert client.get(SALES_URL, WEEK_QUERY).status_code == 200
    assert client.get(CSV_URL, WEEK_QUERY).status_code == 200


def test_non_staff_users_go_to_the_admin_login(client, django_user_model, db):
    user = django_user_model.objects.create_user(username="buyer", password="pw")
    user.user_permissions.add(Permission.objects.get(codename="view_payment"))
    client.force_login(user)

    assert client.get(SALES_URL).status_code == 302


# --- queries ------------------------------------------------------------------------------
def payments_with_refunds(first: int, last: int) -> None:
    """Payments number `first` to `last` - 1 of the week: three pay methods, two PGs, and a
    refund for every third."""
    for n in range(first, last):
        payment = make_payment(
            f"q{n}",
            1000 + n,
            kst(12, 1 + n % 7, 10),
            pg="kcp" if n % 2 else "html5_inicis",
            pay_method=("card", "trans", "vbank")[n % 3],
        )
        if n % 3 == 0:
            make_refund(payment, 500, kst(12, 1 + n % 7, 18))


def queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, WEEK_QUERY)
        assert response.status_code == 200
        if response.streaming:
            b"".join(response.streaming_content)
    return len(captured)


def test_the_number_of_queries_does_not_grow_with_the_payments(admin_client, db):
    payments_with_refunds(0, 3)
    three = (queries(admin_client, SALES_URL), queries(admin_client, CSV_URL))
    payments_with_refunds(3, 30)
    thirty = (queries(admin_client, SALES_URL), queries(admin_client, CSV_URL))

    assert sales_report(WEEK).total.orders == 30
    assert three == thirty
    assert max(thirty) < 10  # the session, the user, and a couple of grouped reads


# --- names, the chart, the refund's day -----------------------------------------------------
def test_pg_and_pay_method_names():
    assert pg_name("html5_inicis") == "KG이니시스"
    assert pg_name("kcp") == "NHN KCP"
    assert pg_name("tosspayments") == "토스페이먼츠"
    assert pg_name("danal_tpay") == "다날"
    assert pg_name("some_new_pg") == "some_new_pg"
    assert pg_name("") == "(알 수 없음)"
    assert pay_method_name("vbank") == "가상계좌 (무통장입금)"
    assert pay_method_name("point") == "간편결제 포인트"
    assert pay_method_name("weird") == "weird"


def test_the_chart_stands_refund_days_below_the_zero_line():
    chart = net_chart(
        [("2026-12-01", 30000), ("2026-12-02", -10000), ("2026-12-03", 0)],
        short_labels=["12-01", "12-02", "12-03"],
        monthly=False,
    )

    assert chart is not None
    up, down, nothing = chart.bars
    zero = float(chart.zero_y)
    assert float(up.y) + float(up.height) == pytest.approx(zero)
    assert float(down.y) == pytest.approx(zero) and down.negative
    assert float(up.height) == pytest.approx(3 * float(down.height))
    assert float(nothing.height) == 0
    assert "가장 많은 날은 2026-12-01 (30,000원)" in chart.description
    assert net_chart([], short_labels=[], monthly=False) is None


def test_a_refund_made_through_the_admin_keeps_when_iamport_cancelled(admin_client, paid, iamport):
    order, remote = paid
    iamport.cancel_ok(remote, 2000)  # Iamport's cancel_history says 1764234000

    refund_post(admin_client, order, amount="2000")

    refund = Refund.objects.get()
    assert refund.status == Refund.Status.SUCCEEDED
    assert refund.cancelled_at == datetime.fromtimestamp(1764234000, tz=UTC)


def test_the_migration_fills_in_when_earlier_refunds_were_cancelled(db):
    migration = importlib.import_module("payments.migrations.0002_refund_cancelled_at")
    payment = make_payment("old", 10000, kst(12, 1))
    history = [
        {"cancellation_id": "cncl_001", "cancelled_at": 1764234000, "amount": 1000},
        {"cancellation_id": "", "pg_tid": "tid", "amount": 2000, "cancelled_at": "1764300000"},
    ]
    by_id = make_refund(payment, 1000, None, created_at=kst(12, 9))
    by_key = make_refund(payment, 2000, None, created_at=kst(12, 9))
    unknown = make_refund(payment, 3000, None, created_at=kst(12, 9))
    Refund.objects.filter(pk=by_id.pk).update(cancellation_id="cncl_001")
    Refund.objects.filter(pk=by_key.pk).update(cancellation_id="tid:2000:1764300000")
    Refund.objects.update(raw={"cancel_history": history})

    migration.fill_cancelled_at(apps, None)

    filled = {r.pk: r.cancelled_at for r in Refund.objects.all()}
    assert filled[by_id.pk] == datetime.fromtimestamp(1764234000, tz=UTC)
    assert filled[by_key.pk] == datetime.fromtimestamp(1764300000, tz=UTC)
    assert filled[unknown.pk] == kst(12, 9)
