"""Parsing at the edge: amounts, flags, vbank_due and the request_pay parameter object."""

from __future__ import annotations

from datetime import datetime

import pytest
from django.utils import timezone

from sandbox.params import (
    InvalidParam,
    parse_amount,
    parse_bool,
    parse_optional_amount,
    parse_pay_request,
    parse_vbank_due,
)


def local(moment: datetime) -> tuple[int, ...]:
    moment = timezone.localtime(moment, timezone.get_default_timezone())
    return (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(12000, 12000), (12000.0, 12000), ("12000", 12000), (" 12000 ", 12000), ("12000.00", 12000)],
)
def test_parse_amount_accepts_whole_won(value, expected):
    assert parse_amount(value) == expected


@pytest.mark.parametrize("value", [True, "12,000", "1e4", 12000.5, None, [], -1, "-1"])
def test_parse_amount_refuses_everything_else(value):
    with pytest.raises(InvalidParam):
        parse_amount(value)


def test_strict_amount_refuses_numeric_strings():
    with pytest.raises(InvalidParam):
        parse_amount("12000", strict=True)


def test_optional_amount_and_bool():
    assert parse_optional_amount("", field="amount") is None
    assert parse_optional_amount(None, field="amount") is None
    assert parse_optional_amount("0", field="amount") == 0
    assert parse_bool(True) and parse_bool("true") and parse_bool("1")
    assert not parse_bool(False) and not parse_bool("false") and not parse_bool("")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("20990131235959", (2099, 1, 31, 23, 59, 59)),
        ("209901312359", (2099, 1, 31, 23, 59, 0)),
        ("20990131", (2099, 1, 31, 23, 59, 59)),
        ("2099-01-31", (2099, 1, 31, 23, 59, 59)),
        ("2099-01-31 10:30", (2099, 1, 31, 10, 30, 0)),
        ("2099-01-31 10:30:15", (2099, 1, 31, 10, 30, 15)),
    ],
)
def test_vbank_due_formats_are_local_time(value, expected):
    assert local(parse_vbank_due(value)) == expected


def test_vbank_due_as_unix_timestamp_and_absent():
    assert parse_vbank_due(4102444800).timestamp() == 4102444800
    assert parse_vbank_due(None) is None
    assert parse_vbank_due("") is None


@pytest.mark.parametrize("value", ["tomorrow", "20991399", "2099-02-30", "2099/01/31"])
def test_vbank_due_refuses_other_shapes(value):
    with pytest.raises(InvalidParam):
        parse_vbank_due(value)


def test_pay_request_defaults_and_conversions(settings):
    settings.IAMPORT_PG = "kcp"
    request = parse_pay_request(
        {
            "merchant_uid": " order_1 ",
            "amount": 1000,
            "pay_method": "trans",
            "custom_data": "already a string",
            "notice_url": ["http://a.test/hook", "http://b.test/hook"],
            "buyer_tel": 1012345678,
            "vbank_due": "not looked at for trans",
        }
    )

    assert request.merchant_uid == "order_1"
    assert (request.pg_provider, request.pg_id) == ("kcp", "")
    assert request.currency == "KRW"
    assert request.custom_data == "already a string"
    assert request.notice_url == "http://a.test/hook"
    assert request.buyer_tel == "1012345678"
    assert request.vbank_due is None


@pytest.mark.parametrize(
    "param",
    [
        None,
        [],
        {"amount": 1000, "pay_method": "card"},
        {"merchant_uid": "o", "pay_method": "card"},
        {"merchant_uid": "o", "amount": 1000, "pay_method": "  "},
        {"merchant_uid": "o", "amount": 1000, "pay_method": "card", "name": {"a": 1}},
        {"merchant_uid": "o", "amount": 1000, "pay_method": "card", "buyer_name": True},
    ],
)
def test_pay_request_refusals(param):
    with pytest.raises(InvalidParam):
        parse_pay_request(param)
