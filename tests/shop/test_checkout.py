"""Checkout: the buyer form, order creation priced from the database, and every refusal."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from shop import services
from shop.models import Order
from tests.shop.helpers import cart_in, page_messages

CHECKOUT = reverse("shop:checkout")


@pytest.fixture
def coffee(product_factory):
    return product_factory(name="에티오피아 원두", price=18000, stock=10)


@pytest.fixture
def mug(product_factory):
    return product_factory(name="도자기 머그", price=24000, stock=5)


def test_checkout_with_an_empty_cart_sends_the_buyer_back_to_the_cart(client, db):
    response = client.get(CHECKOUT)

    assert response.status_code == 302
    assert response.url == reverse("shop:cart")


def test_checkout_form_offers_the_pay_methods_from_settings(client, coffee, add_to_cart, settings):
    settings.SHOP_PAY_METHODS = {
        "card": {"label": "신용카드", "pg": None, "pay_method": "card"},
        "vbank": {"label": "무통장입금", "pg": None, "pay_method": "vbank"},
    }
    add_to_cart(client, coffee)

    response = client.get(CHECKOUT)

    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('type="radio"') == 2
    assert 'value="vbank"' in html and "무통장입금" in html
    assert "카카오페이" not in html


def test_placing_an_order_creates_a_pending_order_priced_from_the_database(
    client, coffee, mug, add_to_cart, checkout_data
):
    add_to_cart(client, coffee, "2")
    add_to_cart(client, mug, "1")

    response = client.post(CHECKOUT, checkout_data)

    order = Order.objects.get()
    assert response.status_code == 302
    assert response.url == order.get_absolute_url()
    assert order.status == Order.Status.PENDING
    assert order.amount == 2 * 18000 + 24000
    assert order.pay_method == "card"
    assert (order.buyer_name, order.buyer_email, order.buyer_tel) == (
        "홍길동",
        "buyer@example.com",
        "010-1234-5678",
    )
    assert (order.buyer_postcode, order.buyer_addr) == ("06236", "서울특별시 강남구 테헤란로 1")


def test_a_tampered_price_or_amount_in_the_post_is_ignored(
    client, coffee, add_to_cart, checkout_data
):
    add_to_cart(client, coffee, "2")
    tampered = {**checkout_data, "amount": "100", "price": "1", "unit_price": "1", "total": "100"}

    client.post(CHECKOUT, tampered)

    order = Order.objects.get()
    assert order.amount == 36000
    assert [line.unit_price for line in order.lines.all()] == [18000]


def test_lines_snapshot_the_name_and_price_at_checkout(client, coffee, add_to_cart, checkout_data):
    add_to_cart(client, coffee, "3")
    client.post(CHECKOUT, checkout_data)
    coffee.name, coffee.price = "이름이 바뀐 원두", 99000
    coffee.save()

    line = Order.objects.get().lines.get()
    page = client.get(line.order.get_absolute_url()).content.decode()

    assert (line.product_name, line.unit_price, line.quantity) == ("에티오피아 원두", 18000, 3)
    assert "에티오피아 원두" in page and "이름이 바뀐 원두" not in page
    assert "54,000원" in page


def test_success_clears_the_cart_and_remembers_the_order(
    client, coffee, add_to_cart, checkout_data
):
    add_to_cart(client, coffee)
    client.post(CHECKOUT, checkout_data)
    first = Order.objects.get().merchant_uid
    add_to_cart(client, coffee)
    client.post(CHECKOUT, checkout_data)
    second = Order.objects.exclude(merchant_uid=first).get().merchant_uid

    assert cart_in(client) == {}
    assert client.session["shop_orders"] == [second, first]
    listing = client.get(reverse("shop:order_list")).content.decode()
    assert first in listing and second in listing


@pytest.mark.parametrize("kept", [None, 12, "o2026", {"a": 1}, [None, 3]])
def test_whatever_else_the_session_holds_as_its_orders_is_ignored(
    client, coffee, add_to_cart, checkout_data, kept
):
    session = client.session
    session["shop_orders"] = kept
    session.save()
    add_to_cart(client, coffee)

    client.post(CHECKOUT, checkout_data)

    order = Order.objects.get()
    assert client.session["shop_orders"] == [order.merchant_uid]
    assert client.get(reverse("shop:order_list")).status_code == 200
    assert client.get(order.get_absolute_url()).status_code == 200


def test_placing_an_order_gives_the_browser_a_new_session_key(
    client, coffee, add_to_cart, checkout_data
):
    add_to_cart(client, coffee)
    planted = client.session.session_key  # e.g. fixed by someone else before the buyer came

    client.post(CHECKOUT, checkout_data)

    order = Order.objects.get()
    assert client.session.session_key != planted
    assert client.session["shop_orders"] == [order.merchant_uid]
    intruder = Client()
    intruder.cookies["sessionid"] = planted
    page = intruder.get(order.get_absolute_url()).content.decode()
    assert "buyer@example.com" not in page


def test_more_than_the_stock_left_is_refused_and_nothing_is_created(
    client, coffee, add_to_cart, checkout_data
):
    add_to_cart(client, coffee, "4")
    coffee.stock = 2
    coffee.save()

    response = client.post(CHECKOUT, checkout_data)

    html = response.content.decode()
    assert response.status_code == 409
    assert Order.objects.count() == 0
    assert "에티오피아 원두" in html and "재고가 2개뿐" in html
    assert 'value="홍길동"' in html and 'value="buyer@example.com"' in html


def test_a_price_changed_after_the_page_showed_its_total_is_said_before_ordering(
    client, coffee, add_to_cart, checkout_data
):
    add_to_cart(client, coffee, "2")
    page = client.get(CHECKOUT).content.decode()
    seen = re.search(r'name="total_seen" value="(\d+)"', page)
    assert seen and seen[1] == "36000"
    coffee.price = 20000  # changed in the admin while the buyer fills in the form
    coffee.save()

    refused = client.post(CHECKOUT, {**checkout_data, "total_seen": seen[1]})

    html = refused.content.decode()
    assert refused.status_code == 409
    assert Order.objects.count() == 0
    assert "36,000원에서 40,000원" in html
    assert 'name="total_seen" value="40000"' in html  # what this page shows now
    assert 'value="홍길동"' in html

    placed = client.post(CHECKOUT, {**checkout_data, "total_seen": "40000"})

    assert placed.status_code == 302
    assert Order.objects.get().amount == 40000


@pytest.mark.parametrize("seen", ["", "abc", "٣٦٠٠٠", "9" * 40])
def test_a_total_seen_that_is_not_a_number_is_no_reason_to_refuse(
    client, coffee, add_to_cart, checkout_data, seen
):
    add_to_cart(client, coffee)

    assert client.post(CHECKOUT, {**checkout_data, "total_seen": seen}).status_code == 302


def test_a_sold_out_product_is_refused_and_the_input_kept(
    client, coffee, add_to_cart, checkout_data
):
    add_to_cart(client, coffee, "1")
    coffee.stock = 0
    coffee.save()

    response = client.post(CHECKOUT, checkout_data)

    html = response.content.decode()
    assert response.status_code == 409
    assert Order.objects.count() == 0
    assert "품절" in html
    assert 'value="홍길동"' in html


@pytest.mark.parametrize(
    "error",
    [
        services.OutOfStock(["에티오피아 원두"]),
        services.ProductUnavailable(["에티오피아 원두"]),
        services.EmptyCart(),
    ],
    ids=["out_of_stock", "unavailable", "empty"],
)
def test_a_refusal_from_the_order_service_is_shown_and_nothing_is_lost(
    client, coffee, add_to_cart, checkout_data, monkeypatch, error
):
    # Stock can go between the cart check and the order (another buyer, same second).
    def refuse(**kwargs):
        raise error

    monkeypatch.setattr(services, "order_create", refuse)
    add_to_cart(client, coffee, "2")

    response = client.post(CHECKOUT, checkout_data)

    html = response.content.decode()
    assert response.status_code == 409
    assert str(error) in html
    assert 'id="checkout-errors"' in html
    assert 'value="홍길동"' in html and 'value="06236"' in html
    assert cart_in(client) == {str(coffee.pk): 2}
    assert Order.objects.count() == 0


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("buyer_name", "   ", "필수 항목"),
        ("buyer_email", "not-an-email", "이메일"),
        ("buyer_tel", "12345", "010-1234-5678 형식"),
        ("buyer_tel", "010-1234-567a", "010-1234-5678 형식"),
        ("buyer_postcode", "1234", "5자리"),
        ("buyer_postcode", "123-456", "5자리"),
        ("buyer_addr", "", "필수 항목"),
    ],
)
def test_an_invalid_form_keeps_the_input_and_creates_nothing(
    client, coffee, add_to_cart, checkout_data, field, value, message
):
    add_to_cart(client, coffee)

    response = client.post(CHECKOUT, {**checkout_data, field: value})

    html = response.content.decode()
    assert response.status_code == 400
    assert message in html
    assert Order.objects.count() == 0
    kept = {k: v for k, v in checkout_data.items() if k not in (field, "pay_method")}
    for other in kept.values():
        assert f'value="{other}"' in html
    assert re.search(r'value="card"[^>]*checked', html)


@pytest.mark.parametrize("pay_method", ["bitcoin", "", "kakaopay"])
def test_a_pay_method_outside_settings_is_refused(
    client, coffee, add_to_cart, checkout_data, settings, pay_method
):
    settings.SHOP_PAY_METHODS = {"card": {"label": "신용카드", "pg": None, "pay_method": "card"}}
    add_to_cart(client, coffee)

    response = client.post(CHECKOUT, {**checkout_data, "pay_method": pay_method})

    assert response.status_code == 400
    assert Order.objects.count() == 0
    assert response.context["form"].has_error("pay_method")


def test_a_signed_in_buyer_owns_the_order(
    client, coffee, add_to_cart, checkout_data, django_user_model
):
    user = django_user_model.objects.create_user("buyer", "buyer@example.com", "pw")
    client.force_login(user)
    add_to_cart(client, coffee)

    client.post(CHECKOUT, checkout_data)

    assert Order.objects.get().user == user


def test_the_checkout_page_shows_what_is_being_ordered(client, coffee, add_to_cart):
    add_to_cart(client, coffee, "2")

    html = client.get(CHECKOUT).content.decode()

    assert "에티오피아 원두" in html
    assert "36,000원" in html


def test_posting_with_an_empty_cart_keeps_the_input(client, db, checkout_data):
    response = client.post(CHECKOUT, checkout_data)

    html = response.content.decode()
    assert response.status_code == 409
    assert "장바구니가 비어" in html
    assert 'value="홍길동"' in html
    assert page_messages(response) == []


def test_a_signed_in_buyer_finds_the_form_prefilled_and_their_orders_listed(
    client, coffee, add_to_cart, order_factory, django_user_model
):
    user = django_user_model.objects.create_user(
        "buyer", "me@example.com", "pw", first_name="길동", last_name="홍"
    )
    earlier = order_factory(product=coffee)
    Order.objects.filter(pk=earlier.pk).update(user=user)
    client.force_login(user)
    add_to_cart(client, coffee)

    form = client.get(CHECKOUT).context["form"]
    listing = client.get(reverse("shop:order_list")).content.decode()

    assert form.initial == {"buyer_name": user.get_full_name(), "buyer_email": "me@example.com"}
    assert earlier.merchant_uid in listing


def test_a_short_number_already_taken_that_day_is_drawn_again(
    client, coffee, add_to_cart, checkout_data, order_factory, monkeypatch
):
    taken = order_factory(product=coffee).number
    free = f"{taken[:8]}-BBBBBB"
    draws = iter([taken, taken, free])
    monkeypatch.setattr("shop.models.new_order_number", lambda day: next(draws))
    add_to_cart(client, coffee)

    response = client.post(CHECKOUT, checkout_data)

    order = Order.objects.exclude(number=taken).get()
    assert response.status_code == 302
    assert response.url == order.get_absolute_url()
    assert order.number == free
    assert [line.product_name for line in order.lines.all()] == ["에티오피아 원두"]
    assert Order.objects.count() == 2
