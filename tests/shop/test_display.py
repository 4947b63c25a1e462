"""Display helpers: won amounts and the masking shown to someone who only has the link."""

from __future__ import annotations

import pytest
from django.template import Context, Template

from shop.selectors import mask_addr, mask_email, mask_name, mask_tel
from shop.templatetags.shop_tags import pay_method_label, won


@pytest.mark.parametrize(
    ("value", "shown"),
    [(12000, "12,000원"), (0, "0원"), (4500, "4,500원"), ("89000", "89,000원"), (None, "")],
)
def test_won(value, shown):
    assert won(value) == shown


@pytest.mark.parametrize("value", [12.5, "abc", True])
def test_won_refuses_what_is_not_whole_won(value):
    assert won(value) == ""


def test_won_in_a_template():
    rendered = Template("{% load shop_tags %}{{ amount|won }}").render(Context({"amount": 1234567}))

    assert rendered == "1,234,567원"


def test_pay_method_label_comes_from_settings():
    assert pay_method_label("card") == "신용카드"
    assert pay_method_label("unknown") == "unknown"


@pytest.mark.parametrize(
    ("name", "masked"), [("홍길동", "홍*동"), ("남궁민수", "남**수"), ("홍길", "홍*"), ("홍", "*")]
)
def test_mask_name(name, masked):
    assert mask_name(name) == masked


def test_mask_email_tel_and_address():
    assert mask_email("hong@example.com") == "ho**@example.com"
    assert mask_email("a@example.com") == "a**@example.com"
    assert mask_tel("010-1234-5678") == "010-****-5678"
    assert mask_tel("02-123-4567") == "02-***-4567"
    assert mask_addr("서울특별시 강남구 테헤란로 1") == "서울특별시 강남구 ***"


def test_a_phone_number_too_short_to_mask_partly_is_hidden_entirely():
    assert mask_tel("1234") == "****"
