"""Parsing a payment reply into an IamportPayment: typed fields, whole-won amounts (anything
else is a bad response), unix timestamps as aware UTC datetimes, required ids and known
statuses, cancel history, the remaining amount, virtual-account fields and defaults.

Every reply is registered on the `iamport` fixture's `responses` mock (tests/conftest.py);
nothing reaches the network. Shared constants and reply builders are in tests/payments/helpers.py.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from payments.client import CancelHistory, IamportBadResponse, IamportPayment, get_client
from tests.conftest import API, load_fixture
from tests.payments.helpers import IMP_UID, MERCHANT_UID, envelope, paid_payment, serve_payment


# --- typed fields and timestamps ----------------------------------------------------------
def test_paid_payment_is_parsed_into_typed_fields(iamport):
    iamport.payment(MERCHANT_UID, imp_uid=IMP_UID)

    payment = get_client().find_by_imp_uid(IMP_UID)

    assert isinstance(payment, IamportPayment)
    assert payment.imp_uid == IMP_UID
    assert payment.merchant_uid == MERCHANT_UID
    assert payment.amount == 12000
    assert type(payment.amount) is int
    assert payment.cancel_amount == 0
    assert type(payment.cancel_amount) is int
    assert payment.currency == "KRW"
    assert payment.status == "paid"
    assert payment.pay_method == "card"
    assert payment.pg_provider == "html5_inicis"
    assert payment.pg_tid == "StdpayCARDINIpayTest20261127120000123456"
    assert payment.name == "유기농 원두 200g"
    assert payment.buyer_name == "홍길동"
    assert payment.buyer_email == "buyer@example.com"
    assert payment.receipt_url.startswith("https://iniweb.inicis.com/")
    assert payment.fail_reason == ""  # null -> "", never "None"
    assert payment.cancel_reason == ""
    assert payment.cancel_history == ()
    assert payment.remaining_amount == 12000
    assert payment.raw["apply_num"] == "30012345"


def test_unix_timestamps_become_aware_utc_datetimes_and_zero_becomes_none(iamport):
    iamport.payment(MERCHANT_UID, imp_uid=IMP_UID)

    payment = get_client().find_by_imp_uid(IMP_UID)

    assert payment.paid_at == datetime(2025, 11, 27, 8, 1, 30, tzinfo=UTC)
    assert payment.paid_at.utcoffset().total_seconds() == 0
    assert payment.failed_at is None
    assert payment.cancelled_at is None
    assert payment.vbank_date is None


@pytest.mark.parametrize("value", [None, ""])
def test_missing_timestamp_becomes_none(iamport, value):
    iamport.payment(MERCHANT_UID, imp_uid=IMP_UID, paid_at=value)

    assert get_client().find_by_imp_uid(IMP_UID).paid_at is None


# --- amounts ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(12000, 12000, id="int"),
        pytest.param(12000.0, 12000, id="whole-float"),
        pytest.param("12000", 12000, id="numeric-string"),
    ],
)
def test_amounts_are_parsed_as_int(iamport, value, expected):
    iamport.payment(MERCHANT_UID, imp_uid=IMP_UID, amount=value, cancel_amount=value)

    payment = get_client().find_by_imp_uid(IMP_UID)

    assert payment.amount == expected
    assert type(payment.amount) is int
    assert payment.cancel_amount == expected
    assert type(payment.cancel_amount) is int


@pytest.mark.parametrize("field", ["amount", "cancel_amount"])
@pytest.mark.parametrize(
    "value",
    [
        pytest.param(12000.5, id="fraction"),
        pytest.param(True, id="true"),
        pytest.param(False, id="false"),
        pytest.param("12,000", id="formatted-string"),
        pytest.param("12000.5", id="fractional-string"),
        pytest.param("abc", id="word"),
        pytest.param([12000], id="list"),
        pytest.param({"value": 12000}, id="object"),
    ],
)
def test_amount_that_is_not_whole_won_is_a_bad_response(iamport, field, value):
    iamport.payment(MERCHANT_UID, imp_uid=IMP_UID, **{field: value})

    with pytest.raises(IamportBadResponse):
        get_client().find_by_imp_uid(IMP_UID)


# --- ids, statuses and shape --------------------------------------------------------------
@pytest.mark.parametrize("field", ["imp_uid", "merchant_uid"])
@pytest.mark.parametrize("value", [None, ""])
def test_payment_without_its_ids_is_a_bad_response(iamport, field, value):
    payment = paid_payment(**{field: value})
    serve_payment(iamport, payment)

    with pytest.raises(IamportBadResponse):
        get_client().find_by_imp_uid(IMP_UID)


@pytest.mark.parametrize("field", ["imp_uid", "merchant_uid"])
def test_payment_with_an_id_missing_altogether_is_a_bad_response(iamport, field):
    payment = paid_payment()
    del payment[field]
    serve_payment(iamport, payment)

    with pytest.raises(IamportBadResponse):
        get_client().find_by_imp_uid(IMP_UID)


@pytest.mark.parametrize("status", ["PAID", "partial_cancelled", "unknown", "", None])
def test_unknown_payment_status_is_a_bad_response(iamport, status):
    serve_payment(iamport, paid_payment(status=status))

    with pytest.raises(IamportBadResponse):
        get_client().find_by_imp_uid(IMP_UID)


@pytest.mark.parametrize("fixture", ["payment_paid", "payment_cancelled", "payment_failed"])
def test_every_known_status_fixture_is_parsed(iamport, fixture):
    body = load_fixture(fixture)
    iamport.payment(MERCHANT_UID, imp_uid=IMP_UID, fixture=fixture)

    assert get_client().find_by_imp_uid(IMP_UID).status == body["response"]["status"]


def test_payment_that_is_not_an_object_is_a_bad_response(iamport):
    iamport.rsps.get(API + f"payments/{IMP_UID}", json=envelope([paid_payment()]))

    with pytest.raises(IamportBadResponse):
        get_client().find_by_imp_uid(IMP_UID)


# --- cancel history and what is left ------------------------------------------------------
def test_cancel_history_is_parsed(iamport):
    iamport.payment(MERCHANT_UID, imp_uid=IMP_UID, fixture="payment_cancelled")

    payment = get_client().find_by_imp_uid(IMP_UID)

    assert payment.status == "cancelled"
    assert payment.cancel_amount == 12000
    assert payment.cancelled_at == datetime(2025, 11, 27, 9, 0, tzinfo=UTC)
    assert payment.cancel_reason == "고객 요청"
    assert payment.cancel_history == (
        CancelHistory(
            amount=12000,
            reason="고객 요청",
            cancelled_at=datetime(2025, 11, 27, 9, 0, tzinfo=UTC),
            pg_tid="StdpayCARDINIpayTest20261127120000123456",
            receipt_url="https://iniweb.inicis.com/receipt/cancel/1",
            cancellation_id="cncl_001",
        ),
    )
    assert payment.cancel_pending == 0  # Iamport cancels at once: nothing left in progress


def test_several_partial_cancels_keep_their_order(iamport):
    history = [
        {"amount": 2000, "reason": "부분 환불 1", "cancelled_at": 1764234000},
        {"amount": 3000.0, "reason": "부분 환불 2", "cancelled_at": 1764234001},
    ]
    serve_payment(iamport, paid_payment(cancel_amount=5000, cancel_history=history))

    payment = get_client().find_by_imp_uid(IMP_UID)

    assert [(h.amount, h.reason) for h in payment.cancel_history] == [
        (2000, "부분 환불 1"),
        (3000, "부분 환불 2"),
    ]
    assert payment.cancel_history[0].cancellation_id == ""  # absent -> ""
    assert payment.status == "paid"
    assert payment.remaining_amount == 7000


@pytest.mark.parametrize("history", [None, []])
def test_no_cancel_history_is_an_empty_tuple(iamport, history):
    serve_payment(iamport, paid_payment(cancel_history=history))

    assert get_client().find_by_imp_uid(IMP_UID).cancel_history == ()


@pytest.mark.parametrize("history", ["cancelled", {"amount": 100}])
def test_cancel_history_that_is_not_a_list_is_a_bad_response(iamport, history):
    serve_payment(iamport, paid_payment(cancel_history=history))

    with pytest.raises(IamportBadResponse):
        get_client().find_by_imp_uid(IMP_UID)


def test_cancel_history_with_a_fractional_amount_is_a_bad_response(iamport):
    history = [{"amount": 100.5, "reason": "r", "cancelled_at": 1764234000}]
    serve_payment(iamport, paid_payment(cancel_amount=100, cancel_history=history))

    with pytest.raises(IamportBadResponse):
        get_client().find_by_imp_uid(IMP_UID)


@pytest.mark.parametrize(
    ("amount", "cancel_amount", "remaining"),
    [
        (12000, 0, 12000),
        (12000, 5000, 7000),
        (12000, 12000, 0),
    ],
)
def test_remaining_amount_is_what_can_still_be_cancelled(iamport, amount, cancel_amount, remaining):
    serve_payment(iamport, paid_payment(amount=amount, cancel_amount=cancel_amount))

    assert get_client().find_by_imp_uid(IMP_UID).remaining_amount == remaining


@pytest.mark.parametrize(
    ("cancel_amount", "status"),
    [
        (5000, "paid"),  # a partial cancel: the rest is still paid, whatever the reply says
        (12000, "cancelled"),
        (0, "cancelled"),  # a full cancel may come without its amount
    ],
)
def test_a_partial_cancel_reported_as_cancelled_is_read_as_paid(iamport, cancel_amount, status):
    serve_payment(iamport, paid_payment(status="cancelled", cancel_amount=cancel_amount))

    payment = get_client().find_by_imp_uid(IMP_UID)

    assert (payment.status, payment.cancel_amount) == (status, cancel_amount)
    assert payment.holds_money is (status == "paid")


def test_more_cancelled_than_paid_is_an_unreadable_reply(iamport):
    serve_payment(iamport, paid_payment(amount=12000, cancel_amount=13000))

    with pytest.raises(IamportBadResponse, match="cancel_amount 13000 exceeds amount 12000"):
        get_client().find_by_imp_uid(IMP_UID)


@pytest.mark.parametrize("field", ["pg_tid", "vbank_num", "fail_reason", "name", "buyer_name"])
@pytest.mark.parametrize("bad", ["a\x00b", "a\ud800b"])
def test_text_the_database_cannot_hold_is_replaced_at_the_edge(iamport, field, bad):
    serve_payment(iamport, paid_payment(**{field: bad}))

    assert getattr(get_client().find_by_imp_uid(IMP_UID), field) == "a\ufffdb"


# --- virtual accounts, defaults and out-of-range values -----------------------------------
def test_virtual_account_fields_are_parsed(iamport):
    iamport.payment(MERCHANT_UID, imp_uid=IMP_UID, fixture="payment_vbank_ready")

    payment = get_client().find_by_imp_uid(IMP_UID)

    assert payment.status == "ready"
    assert payment.pay_method == "vbank"
    assert payment.vbank_code == "004"
    assert payment.vbank_name == "KB국민은행"
    assert payment.vbank_num == "12345678901234"
    assert payment.vbank_holder == "아임포트 상점"
    assert payment.vbank_date == datetime(2099, 12, 31, 14, 59, 59, tzinfo=UTC)
    assert payment.paid_at is None


def test_card_payment_has_empty_virtual_account_fields(iamport):
    iamport.payment(MERCHANT_UID, imp_uid=IMP_UID)

    payment = get_client().find_by_imp_uid(IMP_UID)

    vbank = (payment.vbank_code, payment.vbank_name, payment.vbank_num, payment.vbank_holder)
    assert vbank == ("", "", "", "")  # null -> "", never "None"


def test_missing_currency_defaults_to_krw(iamport):
    payment = paid_payment()
    del payment["currency"]
    serve_payment(iamport, payment)

    assert get_client().find_by_imp_uid(IMP_UID).currency == "KRW"


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(1764230490000, id="milliseconds"),
        pytest.param(10**20, id="beyond-time_t"),
    ],
)
def test_out_of_range_timestamp_is_a_bad_response(iamport, value):
    serve_payment(iamport, paid_payment(paid_at=value))

    with pytest.raises(IamportBadResponse):
        get_client().find_by_imp_uid(IMP_UID)


@pytest.mark.parametrize("amount", [None, "", "1_000", "١٢٠٠٠", " 12000", -1, "-500", 10**15])
def test_missing_or_oddly_written_amount_is_a_bad_response(iamport, amount):
    payment = paid_payment(amount=amount)
    if amount is None:
        del payment["amount"]
    serve_payment(iamport, payment)

    with pytest.raises(IamportBadResponse, match="amount"):
        get_client().find_by_imp_uid(IMP_UID)


def test_the_raw_reply_kept_on_the_record_is_storable_too(iamport):
    serve_payment(iamport, paid_payment(pg_tid="a\x00b", custom_data={"k\x00": ["\ud800"]}))

    raw = get_client().find_by_imp_uid(IMP_UID).raw

    assert raw["pg_tid"] == "a\ufffdb"
    assert raw["custom_data"] == {"k\ufffd": ["\ufffd"]}
