"""The order page while a deposit is awaited: the account number grouped for reading with a
copy button, and the status poll (its JSON endpoint and the script that calls it)."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from shop import services
from shop.models import Order
from shop.templatetags.shop_tags import account_digits, account_groups

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def order(order_factory):
    return order_factory(pay_method="vbank", name="에티오피아 원두", price=18000)


@pytest.fixture
def owner(client, order):
    """The browser that placed the order."""
    session = client.session
    session["shop_orders"] = [order.merchant_uid]
    session.save()
    return client


def await_deposit(order: Order, account: str = "123456789012") -> Order:
    services.order_mark_awaiting_deposit(
        order=order,
        bank="국민은행",
        account=account,
        holder="아임포트상점",
        due=timezone.make_aware(datetime(2030, 5, 3, 23, 59)),
    )
    order.refresh_from_db()
    return order


def status_url(order: Order) -> str:
    return reverse("shop:order_status", args=[order.merchant_uid])


# --- the endpoint -------------------------------------------------------------------------
def test_the_buyers_browser_gets_the_status_and_when_it_changed(owner, order):
    await_deposit(order)

    response = owner.get(status_url(order))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "status": "awaiting_deposit",
        "changed": order.updated_at.isoformat(),
    }
    assert "no-store" in response["Cache-Control"]


def test_the_answer_follows_the_database(owner, order):
    await_deposit(order)
    before = owner.get(status_url(order)).json()

    services.order_mark_paid(order=order)

    after = owner.get(status_url(order)).json()
    assert after["status"] == "paid"
    assert after["changed"] != before["changed"]


def test_the_poll_costs_one_query_on_the_orders(owner, order):
    await_deposit(order)

    with CaptureQueriesContext(connection) as captured:
        assert owner.get(status_url(order)).status_code == 200

    on_orders = [q["sql"] for q in captured.captured_queries if "shop_order" in q["sql"]]
    assert len(on_orders) == 1
    assert "shop_orderline" not in on_orders[0]
    # Besides it, only the session is read; nothing is written.
    others = [q["sql"] for q in captured.captured_queries if "shop_order" not in q["sql"]]
    assert len(others) == 1 and "django_session" in others[0]
    assert not any(sql.lstrip().upper().startswith(("INSERT", "UPDATE")) for sql in others)


def test_a_stranger_gets_the_same_404_as_for_an_order_that_does_not_exist(order):
    await_deposit(order)
    stranger = Client()

    theirs = stranger.get(status_url(order))
    unknown = stranger.get(reverse("shop:order_status", args=["o20991231ffffffffffffffffffffffff"]))

    assert theirs.status_code == unknown.status_code == 404
    assert theirs.json() == unknown.json()
    assert "status" not in theirs.json()


def test_the_signed_in_owner_and_staff_with_the_view_permission_may_poll(order, django_user_model):
    from django.contrib.auth.models import Permission

    buyer = django_user_model.objects.create_user("buyer", password="pw")
    Order.objects.filter(pk=order.pk).update(user=buyer)
    clerk = django_user_model.objects.create_user("clerk", password="pw", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_order"))
    someone = django_user_model.objects.create_user("someone", password="pw")

    answers = {}
    for user in (buyer, clerk, someone):
        browser = Client()
        browser.force_login(user)
        answers[user.username] = browser.get(status_url(order)).status_code

    assert answers == {"buyer": 200, "clerk": 200, "someone": 404}


@pytest.mark.parametrize(
    "path",
    [
        "/orders/o2026%20x/status/",
        "/orders/" + "a" * 41 + "/status/",
        "/orders/%ED%95%9C/status/",
        "/orders/../status/",
        "/orders//status/",
    ],
)
def test_badly_formed_ids_are_404(owner, path):
    assert owner.get(path).status_code == 404


def test_only_get_is_answered(owner, order):
    assert owner.post(status_url(order)).status_code == 405


# --- the page -----------------------------------------------------------------------------
def deposit_box(html: str) -> str:
    start = html.index('id="deposit-account"')
    return html[start : html.index("</section>", start)]


def test_the_account_number_is_grouped_for_reading_with_its_digits_kept_exact(owner, order):
    await_deposit(order, account="123456789012")

    box = deposit_box(owner.get(order.get_absolute_url()).content.decode())

    number = re.search(r'<dd id="deposit-number"[^>]*data-account="(\d+)"[^>]*>(.*?)</dd>', box)
    assert number, box
    assert number.group(1) == "123456789012"
    groups = re.findall(r'<span class="account-group">(\d+)</span>', number.group(2))
    assert groups == ["1234", "5678", "9012"]
    # No text between the groups: what a buyer selects is the digits alone.
    assert re.sub(r"<[^>]+>", "", number.group(2)) == "123456789012"


def test_an_account_the_bank_wrote_with_separators_keeps_the_banks_grouping(owner, order):
    await_deposit(order, account="123-456-789012")

    box = deposit_box(owner.get(order.get_absolute_url()).content.decode())

    assert 'data-account="123456789012"' in box
    assert re.findall(r'<span class="account-group">(\d+)</span>', box) == ["123", "456", "789012"]
    for part in ("국민은행", "아임포트상점", "2030년 5월 3일 23:59", "18,000원"):
        assert part in box


def test_the_copy_button_is_there_and_names_the_account(owner, order):
    await_deposit(order)

    box = deposit_box(owner.get(order.get_absolute_url()).content.decode())

    button = re.search(r'<button type="button" id="copy-account"[^>]*>', box, re.S)
    assert button
    assert 'data-copy-target="deposit-number"' in button.group(0)
    # Hidden until the script can copy; its messages come translated from the page.
    assert " hidden" in button.group(0)
    assert 'data-msg-copied="계좌번호를 복사했습니다."' in button.group(0)
    assert "data-msg-failed=" in button.group(0)


def test_the_buyers_page_watches_for_the_deposit(owner, order):
    await_deposit(order)

    html = owner.get(order.get_absolute_url()).content.decode()

    box = deposit_box(html)
    assert f'data-status-url="{status_url(order)}"' in box
    assert 'data-status="awaiting_deposit"' in box
    assert f'data-changed="{order.updated_at.isoformat()}"' in box
    assert re.search(r'<script src="[^"]*js/order\.js" defer></script>', html)
    # No inline script: everything the poll needs is in data attributes.
    assert not re.search(r"<script(?![^>]*\b(src|type=\"application/json\")\b)[^>]*>", html)


def test_a_stranger_sees_the_account_and_the_copy_button_but_gets_no_poll(order):
    await_deposit(order)

    html = Client().get(order.get_absolute_url()).content.decode()

    box = deposit_box(html)
    assert 'id="copy-account"' in box
    assert "data-status-url" not in box


@pytest.mark.parametrize("status", ["pending", "paid", "cancelled"])
def test_no_poll_and_no_order_script_unless_a_deposit_is_awaited(owner, order, status):
    if status == "paid":
        services.order_mark_paid(order=order)
    elif status == "cancelled":
        Order.objects.filter(pk=order.pk).update(status=Order.Status.CANCELLED)

    html = owner.get(order.get_absolute_url()).content.decode()

    assert "js/order.js" not in html
    assert "data-status-url" not in html
    assert 'id="copy-account"' not in html


def test_the_script_reads_what_the_page_gives_it():
    script = (ROOT / "static" / "js" / "order.js").read_text(encoding="utf-8")

    for name in ("statusUrl", "status", "changed", "msgChanged", "copyTarget", "account"):
        assert f"dataset.{name}" in script
    assert "navigator.clipboard" in script and 'execCommand("copy")' in script
    assert "visibilitychange" in script and "document.hidden" in script
    assert "10 * 1000" in script and "30 * 60 * 1000" in script


# --- the grouping itself ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("account", "groups", "digits"),
    [
        ("123456789012", ["1234", "5678", "9012"], "123456789012"),
        ("12345678901234", ["1234", "5678", "9012", "34"], "12345678901234"),
        ("123-456-789012", ["123", "456", "789012"], "123456789012"),
        ("123 456 789012", ["123", "456", "789012"], "123456789012"),
        ("ABC123", ["ABC123"], "ABC123"),
        ("", [], ""),
        (None, [], ""),
    ],
)
def test_account_groups_and_digits(account, groups, digits):
    assert account_groups(account) == groups
    assert account_digits(account) == digits
