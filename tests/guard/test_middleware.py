"""Requests refused at the door: NUL characters anywhere, bodies over the limit."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    "url",
    ["/orders/a%00b/", "/orders/a\x00b/", "/?q=%00", "/admin/shop/order/?q=a%00b", "/cart/?x=\x00"],
)
def test_a_nul_in_the_path_or_query_is_400(client, db, url):
    response = client.get(url)

    assert response.status_code == 400
    assert "NUL" in response.content.decode()


def test_a_nul_in_a_form_body_is_400(client, db, product_factory):
    product = product_factory()

    response = client.post(f"/cart/add/{product.pk}/", {"quantity": "1", "next": "/\x00"})

    assert response.status_code == 400


def test_an_encoded_nul_in_a_form_body_is_400(client, db, product_factory):
    product = product_factory()

    response = client.post(
        f"/cart/add/{product.pk}/",
        "quantity=1%00",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 400


@pytest.mark.parametrize("url", ["/payments/webhook/", "/payments/complete/", "/checkout/"])
def test_a_body_over_the_upload_limit_is_413_before_it_is_read(client, db, settings, url):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

    response = client.post(url, "x" * 1001, content_type="application/json")

    assert response.status_code == 413


def test_a_file_upload_is_left_to_django_s_own_limits(client, db, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10

    response = client.post("/checkout/", {"buyer_name": "x" * 5})  # multipart by default

    assert response.status_code != 413


def test_ordinary_requests_pass(client, db):
    assert client.get("/?page=1").status_code == 200
