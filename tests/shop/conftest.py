"""Helpers for the shopper-facing tests: a valid checkout form and a cart filled over HTTP."""

from __future__ import annotations

import pytest
from django.urls import reverse


@pytest.fixture
def checkout_data() -> dict[str, str]:
    return {
        "buyer_name": "홍길동",
        "buyer_email": "buyer@example.com",
        "buyer_tel": "01012345678",
        "buyer_postcode": "06236",
        "buyer_addr": "서울특별시 강남구 테헤란로 1",
        "pay_method": "card",
    }


@pytest.fixture
def add_to_cart():
    def add(client, product, quantity="1"):
        return client.post(reverse("shop:cart_add", args=[product.pk]), {"quantity": quantity})

    return add
