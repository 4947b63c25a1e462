"""The session cart: adding, changing, removing, and what it does with bad input."""

from __future__ import annotations

import pytest
from django.contrib.sessions.backends.signed_cookies import SessionStore
from django.urls import reverse

from shop.cart import Cart, CartError, parse_quantity
from tests.shop.helpers import cart_in, has_message

BAD_QUANTITIES = ["0", "-1", "abc", "1.5", "", " ", "1e3", "１", "0x10"]


@pytest.mark.parametrize("raw", ["1", " 3 ", "10"])
def test_parse_quantity_accepts_positive_whole_numbers(raw):
    assert parse_quantity(raw) == int(raw)


@pytest.mark.parametrize("raw", [*BAD_QUANTITIES, None, -2])
def test_parse_quantity_refuses_anything_else(raw):
    with pytest.raises(CartError, match="1 이상의 정수"):
        parse_quantity(raw)


# --- add ---------------------------------------------------------------------------------


def test_add_puts_the_quantity_in_the_session_and_redirects_to_the_cart(
    client, product_factory, add_to_cart
):
    product = product_factory(stock=5)

    response = add_to_cart(client, product, "2")

    assert response.status_code == 302
    assert response.url == reverse("shop:cart")
    assert cart_in(client) == {str(product.pk): 2}


def test_adding_again_adds_up(client, product_factory, add_to_cart):
    product = product_factory(stock=5)
    add_to_cart(client, product, "2")
    add_to_cart(client, product, "1")

    assert cart_in(client) == {str(product.pk): 3}


def test_add_without_quantity_adds_one(client, product_factory):
    product = product_factory()
    client.post(reverse("shop:cart_add", args=[product.pk]))

    assert cart_in(client) == {str(product.pk): 1}


@pytest.mark.parametrize("raw", BAD_QUANTITIES)
def test_add_with_a_bad_quantity_explains_and_changes_nothing(
    client, product_factory, add_to_cart, raw
):
    product = product_factory(stock=5)

    response = add_to_cart(client, product, raw)

    assert response.status_code == 302
    assert response.url == product.get_absolute_url()
    assert cart_in(client) == {}
    followed = client.get(response.url)
    assert "1 이상의 정수" in followed.content.decode()


def test_add_more_than_stock_is_refused_with_the_limit(client, product_factory, add_to_cart):
    product = product_factory(name="한지 노트", stock=3)

    response = add_to_cart(client, product, "4")

    assert cart_in(client) == {}
    assert "3개까지" in client.get(response.url).content.decode()


def test_add_that_would_pass_stock_with_what_is_in_the_cart_is_refused(
    client, product_factory, add_to_cart
):
    product = product_factory(stock=3)
    add_to_cart(client, product, "2")

    response = add_to_cart(client, product, "2")

    assert cart_in(client) == {str(product.pk): 2}
    assert "장바구니에 2개 있음" in client.get(response.url).content.decode()


def test_a_huge_quantity_is_refused_not_a_500(client, product_factory, add_to_cart):
    product = product_factory(stock=3)

    response = add_to_cart(client, product, "9" * 40)

    assert response.status_code == 302
    assert cart_in(client) == {}


def test_sold_out_product_cannot_be_added(client, product_factory, add_to_cart):
    product = product_factory(name="천연 캔들", stock=0)

    response = add_to_cart(client, product, "1")

    assert cart_in(client) == {}
    assert "품절" in client.get(response.url).content.decode()


@pytest.mark.parametrize("active", [False, None])
def test_unknown_or_withdrawn_product_cannot_be_added(client, product_factory, active):
    pk = product_factory(is_active=False).pk if active is False else 987654

    response = client.post(reverse("shop:cart_add", args=[pk]), {"quantity": "1"}, follow=True)

    assert response.status_code == 200
    assert has_message(response, "판매하지 않는 상품")
    assert cart_in(client) == {}


def test_cart_endpoints_refuse_get(client, product_factory):
    product = product_factory()
    for name in ("shop:cart_add", "shop:cart_update", "shop:cart_remove"):
        assert client.get(reverse(name, args=[product.pk])).status_code == 405


def test_add_may_return_to_a_safe_next_page_only(client, product_factory):
    product = product_factory()
    url = reverse("shop:cart_add", args=[product.pk])

    back = client.post(url, {"quantity": "1", "next": "/"})
    away = client.post(url, {"quantity": "1", "next": "https://evil.example/"})

    assert back.url == "/"
    assert away.url == reverse("shop:cart")


@pytest.mark.parametrize(
    "target",
    ["abc", "shop:cart", "//evil.example/", "/\\evil.example", "javascript:alert(1)", "https:x"],
)
def test_a_next_that_is_not_a_path_on_this_site_goes_to_the_cart(client, product_factory, target):
    product = product_factory()

    response = client.post(
        reverse("shop:cart_add", args=[product.pk]), {"quantity": "1", "next": target}
    )

    assert response.status_code == 302
    assert response.url == reverse("shop:cart")


# --- update / remove ---------------------------------------------------------------------


def test_update_sets_the_quantity(client, product_factory, add_to_cart):
    product = product_factory(stock=5)
    add_to_cart(client, product, "1")

    response = client.post(reverse("shop:cart_update", args=[product.pk]), {"quantity": "4"})

    assert response.status_code == 302
    assert response.url == reverse("shop:cart")
    assert cart_in(client) == {str(product.pk): 4}


@pytest.mark.parametrize(
    ("raw", "reason"), [*((raw, "1 이상의 정수") for raw in BAD_QUANTITIES), ("6", "5개까지")]
)
def test_update_with_a_bad_quantity_keeps_the_old_one(
    client, product_factory, add_to_cart, raw, reason
):
    product = product_factory(stock=5)
    add_to_cart(client, product, "2")

    response = client.post(
        reverse("shop:cart_update", args=[product.pk]), {"quantity": raw}, follow=True
    )

    assert response.status_code == 200
    assert has_message(response, reason)
    assert cart_in(client) == {str(product.pk): 2}


def test_update_of_a_product_not_in_the_cart_is_refused(client, product_factory):
    product = product_factory()

    response = client.post(
        reverse("shop:cart_update", args=[product.pk]), {"quantity": "1"}, follow=True
    )

    assert has_message(response, "장바구니에 없는 상품")
    assert cart_in(client) == {}


def test_update_of_a_withdrawn_product_drops_it(client, product_factory, add_to_cart):
    product = product_factory()
    add_to_cart(client, product, "1")
    product.is_active = False
    product.save()

    response = client.post(
        reverse("shop:cart_update", args=[product.pk]), {"quantity": "2"}, follow=True
    )

    assert has_message(response, "판매하지 않는")
    assert cart_in(client) == {}


def test_remove_takes_the_product_out(client, product_factory, add_to_cart):
    keep, drop = product_factory(name="머그"), product_factory(name="도마")
    add_to_cart(client, keep)
    add_to_cart(client, drop)

    response = client.post(reverse("shop:cart_remove", args=[drop.pk]))

    assert response.status_code == 302
    assert cart_in(client) == {str(keep.pk): 1}


def test_remove_of_something_not_in_the_cart_just_says_so(client):
    response = client.post(reverse("shop:cart_remove", args=[424242]), follow=True)

    assert response.status_code == 200
    assert has_message(response, "이미 장바구니에 없는")


# --- the cart page -----------------------------------------------------------------------


def test_cart_page_prices_lines_from_the_database(client, product_factory, add_to_cart):
    product = product_factory(name="원두", price=12000, stock=5)
    add_to_cart(client, product, "2")
    product.price = 15000
    product.save()

    response = client.get(reverse("shop:cart"))

    cart = response.context["cart"]
    assert [(line.product.pk, line.unit_price, line.line_total) for line in cart.lines] == [
        (product.pk, 15000, 30000)
    ]
    assert cart.total == 30000
    assert isinstance(cart.total, int)
    assert "30,000원" in response.content.decode()


def test_cart_page_drops_withdrawn_deleted_and_sold_out_products_with_a_message(
    client, product_factory, add_to_cart
):
    kept = product_factory(name="머그")
    withdrawn = product_factory(name="단종 상품")
    deleted = product_factory(name="삭제될 상품")
    sold_out = product_factory(name="캔들")
    for product in (kept, withdrawn, deleted, sold_out):
        add_to_cart(client, product)
    withdrawn.is_active = False
    withdrawn.save()
    deleted.delete()
    sold_out.stock = 0
    sold_out.save()

    response = client.get(reverse("shop:cart"))

    assert has_message(response, "'단종 상품'은(는) 더 이상 판매하지 않아")
    assert has_message(response, "상품 하나은(는) 더 이상 판매하지 않아")
    assert has_message(response, "'캔들'이(가) 품절되어")
    assert cart_in(client) == {str(kept.pk): 1}


def test_cart_page_lowers_a_quantity_above_the_stock_left(client, product_factory, add_to_cart):
    product = product_factory(name="도마", stock=5)
    add_to_cart(client, product, "4")
    product.stock = 2
    product.save()

    response = client.get(reverse("shop:cart"))

    assert has_message(response, "재고가 2개뿐")
    assert cart_in(client) == {str(product.pk): 2}


def test_garbage_in_the_session_cart_is_ignored(client, product_factory):
    product = product_factory()
    session = client.session
    session["shop_cart"] = {
        "abc": 1,
        str(product.pk): "2",
        "7": -1,
        "²": 1,  # a digit to str.isdigit(), not to int()
        "99999999999999999999": 1,  # too large for any primary key
    }
    session.save()

    response = client.get(reverse("shop:cart"))

    assert response.status_code == 200
    assert cart_in(client) == {}


def test_header_shows_the_number_of_items(client, product_factory, add_to_cart):
    add_to_cart(client, product_factory(name="A"), "2")
    add_to_cart(client, product_factory(name="B"), "1")

    response = client.get(reverse("shop:product_list"))

    assert response.context["cart_count"] == 3
    assert 'id="cart-count"' in response.content.decode()


def test_cart_clear_empties_the_session():
    session = SessionStore()  # signed cookies: no database needed
    session["shop_cart"] = {"1": 2}
    cart = Cart(session)

    cart.clear()

    assert cart.count == 0
    assert "shop_cart" not in session


def test_the_cart_itself_refuses_withdrawn_products_and_unknown_lines(product_factory):
    cart = Cart(SessionStore())
    withdrawn = product_factory(is_active=False)
    on_sale = product_factory()

    with pytest.raises(CartError, match="판매하지 않는"):
        cart.add(withdrawn)
    with pytest.raises(CartError, match="장바구니에 없는"):
        cart.update(on_sale, 1)
    assert cart.count == 0
