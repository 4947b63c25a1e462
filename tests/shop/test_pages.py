"""Catalogue pages and the frame every page shares (shop name, cart badge, sandbox banner)."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.test import override_settings
from django.urls import reverse


def test_product_list_shows_products_on_sale_with_won_prices(client, product_factory):
    product_factory(name="한지 노트 세트", price=4500)
    product_factory(name="단종 상품", is_active=False)

    html = client.get(reverse("shop:product_list")).content.decode()

    assert "한지 노트 세트" in html and "4,500원" in html
    assert "단종 상품" not in html


def test_a_sold_out_product_shows_as_sold_out_without_an_add_button(client, product_factory):
    product = product_factory(name="천연 소이 캔들", stock=0)

    listing = client.get(reverse("shop:product_list")).content.decode()
    detail = client.get(product.get_absolute_url()).content.decode()

    assert "is-sold-out" in listing
    assert reverse("shop:cart_add", args=[product.pk]) not in listing
    assert "품절" in detail
    assert reverse("shop:cart_add", args=[product.pk]) not in detail


def test_product_detail_offers_at_most_the_stock_left(client, product_factory, add_to_cart):
    product = product_factory(stock=5)
    add_to_cart(client, product, "2")

    html = client.get(product.get_absolute_url()).content.decode()

    assert 'max="3"' in html
    assert "장바구니에 2개 담김" in html


@pytest.mark.parametrize("pk", [999999, None])
def test_unknown_or_withdrawn_product_is_404(client, product_factory, pk):
    pk = pk or product_factory(is_active=False).pk

    assert client.get(reverse("shop:product_detail", args=[pk])).status_code == 404


def test_a_product_image_is_shown_and_a_placeholder_otherwise(client, product_factory):
    with_image = product_factory(name="머그")
    with_image.image.save("mug.png", ContentFile(b"\x89PNG fake"), save=True)
    product_factory(name="도마")

    html = client.get(reverse("shop:product_list")).content.decode()

    assert f'src="{with_image.image.url}"' in html
    assert "product-image-placeholder" in html


def test_every_page_names_the_shop(client, db, settings):
    settings.SHOP_NAME = "테스트 상점"

    html = client.get(reverse("shop:cart")).content.decode()

    assert "테스트 상점" in html


@pytest.mark.parametrize("name", ["shop:product_list", "shop:cart", "shop:order_list"])
def test_the_sandbox_banner_is_on_every_page_while_the_sandbox_is_enabled(client, db, name):
    html = client.get(reverse(name)).content.decode()

    assert 'id="sandbox-banner"' in html
    assert "SANDBOX — 실제 돈이 오가지 않는 테스트 결제 환경입니다" in html
    assert 'href="/sandbox/console/"' in html


@override_settings(SANDBOX_ENABLED=False)
def test_no_sandbox_banner_when_the_sandbox_is_off(client, db):
    html = client.get(reverse("shop:product_list")).content.decode()

    assert 'id="sandbox-banner"' not in html
    assert "SANDBOX" not in html


# --- pagination ---------------------------------------------------------------------------
def test_the_product_list_is_paginated(client, product_factory):
    from shop.views import PRODUCTS_PER_PAGE

    for number in range(PRODUCTS_PER_PAGE + 3):
        product_factory(name=f"상품 {number:03d}")

    first = client.get("/").content.decode()
    second = client.get("/?page=2").content.decode()

    assert first.count("data-product-id=") == PRODUCTS_PER_PAGE
    assert second.count("data-product-id=") == 3
    assert 'rel="next" href="?page=2"' in first
    assert "2 / 2 페이지" in second


@pytest.mark.parametrize("page", ["0", "-1", "abc", "999", "1e9", "\u0661"])
def test_an_odd_page_number_shows_a_page_not_an_error(client, product_factory, page):
    product_factory()

    response = client.get("/", {"page": page})

    assert response.status_code == 200
    assert 'class="product-card' in response.content.decode()


def test_my_orders_are_paginated(client, order_factory):
    from shop.views import ORDERS_PER_PAGE

    orders = [order_factory() for _ in range(ORDERS_PER_PAGE + 1)]
    session = client.session
    session["shop_orders"] = [order.merchant_uid for order in orders]
    session.save()

    first = client.get("/orders/").content.decode()
    second = client.get("/orders/?page=2").content.decode()

    assert first.count('class="card order-list-item"') == ORDERS_PER_PAGE
    assert second.count('class="card order-list-item"') == 1
