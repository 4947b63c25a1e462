"""The checkout form's cleaning: Korean phone numbers and postcodes."""

from __future__ import annotations

import pytest

from shop.forms import CheckoutForm, normalise_phone


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("010-1234-5678", "010-1234-5678"),
        ("01012345678", "010-1234-5678"),
        ("010 1234 5678", "010-1234-5678"),
        ("010.1234.5678", "010-1234-5678"),
        (" 011-123-4567 ", "011-123-4567"),
        ("+82 10-1234-5678", "010-1234-5678"),
        ("+82 (0)10 1234 5678", "010-1234-5678"),
        ("02-123-4567", "02-123-4567"),
        ("0212345678", "02-1234-5678"),
        ("031-123-4567", "031-123-4567"),
        ("070-1234-5678", "070-1234-5678"),
    ],
)
def test_korean_phone_numbers_are_normalised(raw, expected):
    assert normalise_phone(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["", "12345", "010-123-456", "010-1234-56789", "+1 202 555 0100", "010-abcd-5678", "0101234"],
)
def test_other_phone_numbers_are_refused(raw):
    assert normalise_phone(raw) is None


def test_the_form_cleans_the_buyer(checkout_data):
    form = CheckoutForm(
        {
            **checkout_data,
            "buyer_name": "  홍   길동 ",
            "buyer_postcode": " 06236 ",
            "buyer_addr": "서울특별시   강남구  테헤란로 1 ",
        }
    )

    assert form.is_valid(), form.errors
    buyer = form.buyer()
    assert buyer.name == "홍 길동"
    assert buyer.tel == "010-1234-5678"
    assert buyer.postcode == "06236"
    assert buyer.addr == "서울특별시 강남구 테헤란로 1"


def test_the_first_pay_method_is_preselected(settings):
    settings.SHOP_PAY_METHODS = {
        "vbank": {"label": "가상계좌", "pg": None, "pay_method": "vbank"},
        "card": {"label": "신용카드", "pg": None, "pay_method": "card"},
    }

    form = CheckoutForm()

    assert form.fields["pay_method"].initial == "vbank"
    assert form.fields["pay_method"].choices == [("vbank", "가상계좌"), ("card", "신용카드")]
