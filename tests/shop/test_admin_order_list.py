"""The admin's order list fits a 1,280 px screen: few, narrow columns, the short order number
instead of the merchant_uid, times in one format; orders are found by their number; the order
page shows both parts of the address."""

from __future__ import annotations

from datetime import UTC, datetime
from html.parser import HTMLParser

from django.urls import reverse

from shop.models import Order

CHANGELIST = "/admin/shop/order/"
# Checkbox + number, buyer, amount (and refunded), status, pay method, ordered at.
MOST_COLUMNS = 7


class ResultTable(HTMLParser):
    """The changelist's result table: its column headings and each row's cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.in_table = False
        self.headings = 0
        self.rows: list[list[str]] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("id") == "result_list":
            self.in_table = True
        elif self.in_table and tag == "th" and attrs.get("scope") == "col":
            self.headings += 1
        elif self.in_table and tag == "tr" and self.headings:
            self.rows.append([])
        elif self.in_table and tag in ("td", "th") and self.rows:
            self.cell = []

    def handle_endtag(self, tag):
        if tag == "table":
            self.in_table = False
        elif tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append("".join(self.cell).strip())
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def result_table(content: str) -> ResultTable:
    table = ResultTable()
    table.feed(content)
    return table


def test_the_order_list_shows_the_short_number_in_few_columns(admin_client, order_factory):
    order = order_factory()
    Order.objects.filter(pk=order.pk).update(created_at=datetime(2026, 12, 2, 6, 4, 5, tzinfo=UTC))

    response = admin_client.get(CHANGELIST)

    assert response.status_code == 200
    table = result_table(response.content.decode())
    assert 1 < table.headings <= MOST_COLUMNS
    [row] = [cells for cells in table.rows if cells]
    assert order.number in row
    assert not any(order.merchant_uid in cell for cell in row)
    assert {"홍길동", "12,000원", "결제 대기", "신용카드"} <= set(row)
    assert "2026-12-02 15:04" in row  # the shop's time zone, the admin's one format


def test_what_was_refunded_is_listed_under_the_amount(admin_client, order_factory):
    order = order_factory()
    Order.objects.filter(pk=order.pk).update(
        status=Order.Status.PARTIALLY_REFUNDED, refunded_amount=2000
    )

    table = result_table(admin_client.get(CHANGELIST).content.decode())

    [row] = [cells for cells in table.rows if cells]
    assert "12,000원환불 2,000원" in row
    assert "부분 환불" in row


def test_the_order_number_links_to_the_order_page(admin_client, order_factory):
    order = order_factory()

    content = admin_client.get(CHANGELIST).content.decode()

    link = f'<a href="{reverse("admin:shop_order_change", args=[order.pk])}">'
    assert f"{link}<span" in content
    assert f">{order.number}</span></a>" in content


def test_orders_are_found_by_their_short_number(admin_client, order_factory):
    order, other = order_factory(), order_factory()

    response = admin_client.get(CHANGELIST, {"q": order.number})

    assert list(response.context["cl"].result_list) == [order]
    assert other.number not in response.content.decode()


def test_the_order_page_shows_both_parts_of_the_address(admin_client, order_factory):
    order = order_factory()
    Order.objects.filter(pk=order.pk).update(buyer_addr_detail="101동 1203호")

    content = admin_client.get(reverse("admin:shop_order_change", args=[order.pk])).content
    content = content.decode()

    assert 'name="buyer_addr" value="서울특별시 강남구 테헤란로 1"' in content
    assert 'name="buyer_addr_detail" value="101동 1203호"' in content
    assert "상세주소" in content


def test_the_detail_address_can_be_corrected_on_the_order_page(admin_client, order_factory):
    order = order_factory()
    data = {
        "buyer_name": order.buyer_name,
        "buyer_email": order.buyer_email,
        "buyer_tel": order.buyer_tel,
        "buyer_addr": order.buyer_addr,
        "buyer_addr_detail": "2층",
        "buyer_postcode": order.buyer_postcode,
        "lines-TOTAL_FORMS": "1",
        "lines-INITIAL_FORMS": "1",
        "payments-TOTAL_FORMS": "0",
        "payments-INITIAL_FORMS": "0",
    }

    response = admin_client.post(reverse("admin:shop_order_change", args=[order.pk]), data)

    assert response.status_code == 302
    order.refresh_from_db()
    assert order.full_addr == "서울특별시 강남구 테헤란로 1 2층"
