"""Replies that are odd but honest: any 2xx with the envelope, timestamps with fractions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from payments.client import IamportBadResponse, IamportPayment, PaymentStatus, get_client
from tests.conftest import API, load_fixture

IMP = "imp_123456789012"


def payment(**fields) -> IamportPayment:
    return IamportPayment.from_api({**load_fixture("payment_paid")["response"], **fields})


@pytest.mark.parametrize("status", [200, 201, 202, 203])
def test_any_2xx_reply_with_the_envelope_is_an_answer(iamport, status):
    body = load_fixture("payment_paid")
    body["response"].update(imp_uid=IMP)
    iamport.rsps.get(API + f"payments/{IMP}", json=body, status=status)

    assert get_client().find_by_imp_uid(IMP).imp_uid == IMP


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1764300000.789, datetime(2025, 11, 28, 3, 20, tzinfo=UTC)),
        ("1764300000.5", datetime(2025, 11, 28, 3, 20, tzinfo=UTC)),
        ("1764300000", datetime(2025, 11, 28, 3, 20, tzinfo=UTC)),
        (0, None),
        (0.0, None),
        (None, None),
        ("", None),
    ],
)
def test_timestamps_keep_whole_seconds(value, expected):
    assert payment(paid_at=value).paid_at == expected


@pytest.mark.parametrize("value", ["soon", True, [1], {"t": 1}, "١٧٦٤٣٠٠٠٠٠", float("nan"), 1e300])
def test_a_bad_timestamp_is_named_as_a_timestamp(value):
    with pytest.raises(IamportBadResponse, match="paid_at is not a unix timestamp"):
        payment(paid_at=value)


def test_amounts_still_refuse_fractions_of_a_won():
    with pytest.raises(IamportBadResponse, match="amount is not a whole number of won"):
        payment(amount=12000.5)


def test_status_is_typed():
    parsed = payment(status="paid")

    assert parsed.status is PaymentStatus.PAID
    assert parsed.status == "paid"


def test_an_unknown_status_is_refused():
    with pytest.raises(IamportBadResponse, match="unknown payment status 'refunded'"):
        payment(status="refunded")


def test_virtual_account_properties():
    issued = payment(status="ready", pay_method="vbank", vbank_num="56211-103-010101")
    funded = payment(status="paid", pay_method="vbank", vbank_num="56211-103-010101")
    refunded = payment(
        status="cancelled", pay_method="vbank", amount=12000, cancel_amount=12000, vbank_num="1"
    )
    card = payment(status="paid", pay_method="card")

    assert (issued.is_issued_virtual_account, issued.is_funded_virtual_account) == (True, False)
    assert (funded.is_issued_virtual_account, funded.is_funded_virtual_account) == (False, True)
    assert (refunded.holds_money, issued.holds_money, funded.holds_money) == (False, True, True)
    assert (card.is_virtual_account, card.holds_money) == (False, True)
    assert not payment(status="ready", pay_method="card").holds_money
