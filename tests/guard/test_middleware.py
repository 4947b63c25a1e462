"""Requests refused at the door: NUL characters anywhere, bodies over the limit, lengths that
are not numbers."""

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


def test_a_file_upload_is_not_refused_for_its_size_alone(client, db, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100  # applies to form fields, not to files

    picture = SimpleUploadedFile("big.png", b"x" * 1000, content_type="image/png")
    response = client.post("/checkout/", {"buyer_name": "홍길동", "picture": picture})

    assert response.status_code != 413


def test_form_fields_over_the_limit_in_a_multipart_body_are_413(client, db, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100

    response = client.post("/checkout/", {"buyer_name": "x" * 1000})

    assert response.status_code == 413


@pytest.mark.parametrize("charset", ["latin-1", "utf-16", "utf-7"])
def test_a_form_that_is_not_utf8_is_400_even_with_csrf_checks(db, charset):
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post(
        "/checkout/",
        "buyer_name=%ED%99%8D",
        content_type=f"application/x-www-form-urlencoded; charset={charset}",
    )

    assert response.status_code == 400


def test_more_form_fields_than_allowed_is_400(client, db):
    body = "&".join(f"f{number}=1" for number in range(1200))

    response = client.post("/checkout/", body, content_type="application/x-www-form-urlencoded")

    assert response.status_code == 400


def test_ordinary_requests_pass(client, db):
    assert client.get("/?page=1").status_code == 200


@pytest.mark.parametrize("declared", ["²", "١٢", "-1", "1e9", "12 ", "0x10"])
@pytest.mark.parametrize("url", ["/payments/webhook/", "/payments/complete/", "/checkout/"])
def test_a_content_length_that_is_not_a_number_is_400(client, db, url, declared):
    # Gunicorn refuses such a header itself; a server in front of the shop may pass it on.
    response = client.post(url, "{}", content_type="application/json", CONTENT_LENGTH=declared)

    assert response.status_code == 400
    assert "Content-Length" in response.content.decode()


def test_a_request_without_a_content_length_is_served(client, db):
    assert client.get("/", CONTENT_LENGTH="").status_code == 200
